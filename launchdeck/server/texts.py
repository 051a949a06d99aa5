"""What the MCP server says: next steps worded as tool calls, errors, and short summaries.

Structured output carries the data; these texts are for clients that show only text, and
they name other tools (never CLI flags), since an agent reads them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from mcp.server.mcpserver.exceptions import ToolError

from launchdeck.errors import Action, ConfigMissing, DeployRefused, LaunchdeckError
from launchdeck.providers import default

if TYPE_CHECKING:
    from launchdeck.engine.results import ChangeSummary, PlanResult, ServiceStatus
    from launchdeck.server.tools_deploy import DeployOutput
    from launchdeck.tools.check import CheckResult

_TOOLS = {"check": "deploy", "plan": "deploy", "debug": "debug_failure"}


def call(action: Action) -> str:
    """An action as the tool call that does it."""
    args = dict(action.args)
    if action.operation in ("check", "plan"):
        args["dry_run"] = True
    shown = ", ".join(f"{key}={value!r}" for key, value in args.items()
                      if not (key == "provider" and value == default())
                      and not (key == "stack" and value == "dev"))
    return f"{_TOOLS.get(action.operation, action.operation)}({shown})"


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn an error the user can fix into a tool error that says how."""
    try:
        yield
    except ConfigMissing as exc:
        raise ToolError(
            f"config not set: {', '.join(exc.names)}. Call config_set for each name (without a "
            "value the user is asked directly; random=true generates a password), then deploy "
            "again.") from exc
    except DeployRefused as exc:
        raise ToolError(f"{exc.message}\nFix the compose file as each fix says, then deploy "
                        "again.") from exc
    except LaunchdeckError as exc:
        steps = "".join(f"\nNext: call {call(action)}" for action in exc.actions)
        raise ToolError(str(exc) + steps) from exc


def first_line(text: str) -> str:
    return text.splitlines()[0] if text else ""


def service_line(s: ServiceStatus) -> str:
    endpoints = f" {' '.join(s.endpoints)}" if s.endpoints else ""
    health = f" {s.health}" if s.health else ""
    detail = f" - {first_line(s.message)}" if s.message and s.state.failed else ""
    return f"- {s.name}: {s.state.value} {s.replicas_running}/{s.replicas_desired}{health}" \
           f"{endpoints}{detail}"


def change_line(c: ChangeSummary) -> str:
    return f"- {c.service} ({c.kind}): {c.action.value}{' - ' + c.reason if c.reason else ''}"


def plan(result: PlanResult) -> str:
    changed = result.changed
    head = (f"target: {result.target}\nplan for {result.project} ({result.stack}) on {result.provider}: "
            f"{len(changed)} change(s), {len(result.changes) - len(changed)} unchanged; nothing "
            "was changed.")
    if result.mode:
        from launchdeck.engine.modes import of

        head += f"\nmode {result.mode}: {of(result.mode).summary}"
    return "\n".join([head, *[change_line(c) for c in result.changes]])


def check(result: CheckResult) -> str:
    """Each finding on its line, then the verdict."""
    lines = [f"- {f.severity.value} {f.file}:{f.line} {f.field}: {f.message} (fix: {f.fix})"
             for f in result.findings]
    verdict = (f"{result.project} can deploy to {result.provider} as written" if result.ok else
               f"{result.errors} error(s) stop {result.project} deploying to {result.provider}: "
               "fix the compose file as each fix says, then call check again")
    config = (f"; it reads config {', '.join(result.config)} (config_list shows which are set)"
              if result.config else "")
    return "\n".join([*lines, verdict + config + "."])


def deploy(result: DeployOutput) -> str:
    lines = [f"target: {result.target}",
             f"deployment {result.deployment_id} of {result.project} ({result.stack}, "
             f"{result.provider}): {'finished' if result.finished else 'still running'}"]
    lines += [service_line(s) for s in result.services]
    lines += [change_line(c) for c in result.changes if c.action != "NOOP"]
    lines.append(result.next_step)
    return "\n".join(lines)
