"""The GitHub Action's logic, in Python so that it is tested: config secrets, annotations, a job
summary and step outputs around one `launchdeck compose up|plan|down`, a pull request's preview
stack (launchdeck/preview.py), or `launchdeck stack gc`.

The action (action.yml) installs launchdeck and runs ``launchdeck ci github``, which reads the
step's environment: the inputs (``INPUT_COMMAND``, ``INPUT_PROVIDER``, ``INPUT_STACK``,
``INPUT_WORKING_DIRECTORY``, ``INPUT_COMPOSE_FILES``; for preview ``INPUT_PREVIEW_STACK``,
``INPUT_TTL``, ``INPUT_GITHUB_TOKEN``), every ``CONFIG_<NAME>`` variable, and the runner's files
(``GITHUB_OUTPUT``, ``GITHUB_STEP_SUMMARY``, ``GITHUB_EVENT_PATH``). For up, plan and down, in
order:

1. every CONFIG_* value is masked (``::add-mask::``, line by line) before anything is printed;
2. the project is loaded and checked for the provider (the check tool); each problem becomes an annotation on
   its compose file line (``::error file=…,line=…::``), and errors stop here;
3. (``up`` only) every CONFIG_<NAME> is checked, then each is stored by the config tool, as
   ``launchdeck config set NAME`` stores it (the project it loaded in 2.): a value never
   reaches a command line or another process, and leaves the environment once read;
4. the command runs through its tool (deploy, plan, destroy), in this process and one event
   loop, its progress on stderr as the CLI shows it; on a failed deploy, the debug tool
   gathers the evidence and findings;
5. the job summary (services, states, endpoints, what changed, the diagnosis) and the step
   outputs (``result``, ``deployment-id``, ``url``, ``endpoints``, ``changes``) are written.

preview (on a pull request's event) runs 2. to 5. as up does for the stack ``pr-<number>``, with
a time to live, and keeps one comment on the pull request; on ``closed`` it removes the stack as
down does. gc removes every stack of the project whose time to live has passed, with its
config values, and edits an expired preview's pull request comment to say so.

The exit status is the step's: 0 when the command did what it should, 1 otherwise.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from launchdeck.errors import ComposeError, LaunchdeckError, UsageError

if TYPE_CHECKING:
    from launchdeck.compose.load import Loaded
    from launchdeck.engine.results import ChangeSummary, DeployResult
    from launchdeck.tools.debug import DebugResult
    from launchdeck.tools.destroy import DestroyResult
    from launchdeck.tools.project import ProjectRef

COMMANDS = ("up", "plan", "down", "preview", "gc")
CONFIG_PREFIX = "CONFIG_"
WAIT_SECONDS = 300.0
"""How long up waits for the services to be healthy (as ``compose up``)."""


@dataclass(frozen=True)
class Inputs:
    """The action's inputs, as the step's environment carries them."""

    command: str
    provider: str
    stack: str
    working_directory: Path
    compose_files: tuple[str, ...]
    preview_stack: str = "pr-{number}"
    """preview: the stack's name, ``{number}`` standing for the pull request's number."""
    ttl: str = "7d"
    """preview: how long a preview stack lives after its last deploy (``stack gc`` removes it)."""
    token: str = field(default="", repr=False)
    """preview: the token that writes the pull request's comment."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Inputs:
        from launchdeck.identity import check_provider, check_stack
        from launchdeck.providers import default

        command = env.get("INPUT_COMMAND", "").strip() or "up"
        if command not in COMMANDS:
            raise UsageError(f"unknown command {command!r}",
                             hint=f"The command input takes one of: {', '.join(COMMANDS)}.")
        workspace = Path(env.get("GITHUB_WORKSPACE") or os.getcwd())
        folder = workspace / (env.get("INPUT_WORKING_DIRECTORY", "").strip() or ".")
        files = tuple(f.strip() for f in re.split(r"[\n,]", env.get("INPUT_COMPOSE_FILES", ""))
                      if f.strip())
        ttl = env.get("INPUT_TTL", "").strip() or "7d"
        if command == "preview":
            ttl_seconds(ttl)  # a bad ttl is refused before anything
        return cls(command=command,
                   provider=check_provider(env.get("INPUT_PROVIDER", "").strip() or default()),
                   stack=check_stack(env.get("INPUT_STACK", "").strip() or "dev"),
                   working_directory=folder, compose_files=files,
                   preview_stack=env.get("INPUT_PREVIEW_STACK", "").strip() or "pr-{number}",
                   ttl=ttl, token=env.get("INPUT_GITHUB_TOKEN", "").strip())


def ttl_seconds(ttl: str) -> float:
    """The seconds of a time to live such as 12h or 7d (as ``compose up --ttl`` reads it)."""
    from launchdeck.compose.quantity import parse_duration

    try:
        seconds = parse_duration(ttl, days=True)
    except ValueError:
        seconds = -1
    if seconds <= 0:
        raise UsageError(f"cannot read the time to live {ttl[:32]!r}",
                         hint="The ttl input takes a duration such as 12h or 7d.")
    return seconds


def config_values(env: Mapping[str, str]) -> dict[str, str]:
    """CONFIG_<NAME> variables as {NAME: value}, sorted by name."""
    return {key[len(CONFIG_PREFIX):]: value for key, value in sorted(env.items())
            if key.startswith(CONFIG_PREFIX) and len(key) > len(CONFIG_PREFIX)}


# -- GitHub's workflow commands and files -------------------------------------------------------


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


class Relay:
    """A stream for text the step relays (progress, a failed service's log lines): a line
    that starts with ``::`` would be run by the runner as a workflow command
    (``::stop-commands::``, ``::set-output``), so its ``::`` is broken by a zero-width space."""

    def __init__(self, inner: TextIO) -> None:
        self.inner = inner
        self._at_start = True

    def write(self, text: str) -> int:
        self.inner.write(neutralise(text, at_start=self._at_start))
        if text:
            self._at_start = text.endswith("\n")
        return len(text)

    def flush(self) -> None:
        self.inner.flush()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:
        return getattr(self.inner, "encoding", None) or "utf-8"


_COMMAND_AT_LINE_START = re.compile(r"(\n[ \t]*):(?=:)")


def neutralise(text: str, *, at_start: bool = True) -> str:
    """``text`` with no line that the runner would read as a workflow command."""
    marked = ("\n" if at_start else "") + text
    marked = _COMMAND_AT_LINE_START.sub("\\1:\u200b", marked)
    return marked[1:] if at_start else marked


@dataclass
class Runner:
    """Where a step talks to GitHub: workflow commands on stdout, outputs and summary files."""

    env: Mapping[str, str]
    out: TextIO = field(default_factory=lambda: sys.stdout)
    hidden: list[str] = field(default_factory=list)
    """Config values (and each of their lines) the summary and outputs must not show."""

    def command(self, name: str, message: str, **properties: str | int) -> None:
        props = ",".join(f"{k}={escape_property(str(v))}" for k, v in properties.items() if v != "")
        self.out.write(f"::{name}{' ' + props if props else ''}::{escape_data(message)}\n")
        self.out.flush()

    def mask(self, value: str) -> None:
        for line in value.splitlines() or [value]:
            if line.strip():
                self.command("add-mask", line)

    def output(self, name: str, value: str) -> None:
        from launchdeck import redact

        delimiter = f"ghadelimiter_{secrets.token_hex(8)}"
        value = redact.text(value, self.hidden)
        self._append("GITHUB_OUTPUT", f"{name}<<{delimiter}\n{value}\n{delimiter}\n")

    def summary(self, markdown: str) -> None:
        from launchdeck import redact

        self._append("GITHUB_STEP_SUMMARY", redact.text(markdown.rstrip("\n"), self.hidden)
                     + "\n")

    def _append(self, variable: str, text: str) -> None:
        path = self.env.get(variable)
        if not path:  # outside GitHub Actions: show it instead
            self.out.write(neutralise(text))
            return
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)


# -- the steps ------------------------------------------------------------------------------------


def main(env: Mapping[str, str], *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the action's command; the exit status the step should have."""
    from launchdeck import redact

    values = config_values(env)
    runner = Runner(env, out or sys.stdout, hidden=redact.secrets(values.values()))
    for value in values.values():  # first: nothing below may print a value unmasked
        runner.mask(value)
    if env is os.environ:  # read once: interpolation, builds and children never see them
        for name in values:
            os.environ.pop(CONFIG_PREFIX + name, None)
    try:
        inputs = Inputs.from_env(env)
    except LaunchdeckError as exc:
        runner.command("error", str(exc), title="launchdeck")
        return 1
    import anyio

    return anyio.run(_steps, inputs, values, runner, Relay(err or sys.stderr))


async def _steps(inputs: Inputs, values: Mapping[str, str], runner: Runner, err: TextIO) -> int:
    """Check, store the config (up), run the command: the tools in this one event loop."""
    if inputs.command == "preview":
        from launchdeck import preview

        return await preview.run(inputs, values, runner, err)
    checked = load_checked(inputs, runner, judged=inputs.command in ("up", "plan"))
    if checked is None:
        return 1
    if inputs.command == "up" and not await store_config(*checked, values, runner, err):
        return 1
    ref, loaded = checked
    step = {"up": _up, "plan": _plan, "down": _down, "gc": _gc}[inputs.command]
    try:
        return await step(inputs, ref, loaded, runner, err)
    except LaunchdeckError as exc:
        return refused(inputs, exc, runner)


def relative(path: str, inputs: Inputs, env: Mapping[str, str]) -> str:
    """A file as GitHub annotates it: relative to the workspace."""
    workspace = Path(env.get("GITHUB_WORKSPACE") or os.getcwd()).resolve()
    full = (inputs.working_directory / path).resolve()
    return str(full.relative_to(workspace)) if full.is_relative_to(workspace) else path


def load_checked(inputs: Inputs, runner: Runner, *, judged: bool = True,
           ) -> tuple[ProjectRef, Loaded] | None:
    """Load and (``judged``: before a deploy or plan) check the project (the check tool);
    annotate every problem; None when it cannot go on."""
    from launchdeck.tools.check import judge
    from launchdeck.tools.project import ProjectRef

    ref = ProjectRef(working_directory=str(inputs.working_directory),
                     compose_files=inputs.compose_files, provider=inputs.provider,
                     stack=inputs.stack)
    try:
        loaded = ref.load()
    except ComposeError as exc:
        for problem in exc.problems:
            runner.command("error", f"{problem.path + ': ' if problem.path else ''}{problem.message}",
                           file=relative(problem.file, inputs, runner.env) if problem.file else "",
                           line=problem.line or "", title="compose file")
        runner.summary(f"### launchdeck {inputs.command}: the compose file cannot be read\n\n"
                       + "\n".join(f"- `{p}`" for p in exc.problems) + "\n")
        runner.output("result", "refused")
        return None
    except LaunchdeckError as exc:
        runner.command("error", str(exc), title="launchdeck")
        runner.output("result", "refused")
        return None
    if not judged:
        return ref, loaded
    checked = judge(loaded, inputs.provider, inputs.stack)
    for finding in checked.findings:
        runner.command("error" if finding.severity == "error" else "warning",
                       f"{finding.field}: {finding.message}\nfix: {finding.fix}",
                       file=relative(finding.file, inputs, runner.env) if finding.file else "",
                       line=finding.line or "", title=f"launchdeck ({inputs.provider})")
    if not checked.ok:
        runner.summary(f"### launchdeck {inputs.command}: {checked.errors} error(s) stop "
                       f"{checked.project} deploying to {inputs.provider}\n\n"
                       + "\n".join(f"- `{f.file}:{f.line}` {f.field}: {f.message} (fix: {f.fix})"
                                   for f in checked.refused) + "\n")
        runner.output("result", "refused")
        return None
    return ref, loaded


async def store_config(ref: ProjectRef, loaded: Loaded, values: Mapping[str, str], runner: Runner,
                      err: TextIO | None) -> bool:
    """Each CONFIG_<NAME> into the target's config store through the config tool, as
    ``launchdeck config set NAME`` stores a value read from standard input (a trailing newline
    dropped); every name and value is checked before any is stored."""
    from launchdeck.tools.config import check_name, store

    for name, value in values.items():
        try:
            check_name(name)
        except LaunchdeckError as exc:
            runner.command("error", f"CONFIG_{name}: {exc}", title="config")
            return False
        if not value.strip():
            runner.command("error", f"CONFIG_{name} is empty: the secret or variable it reads is "
                           "not set in this repository or environment", title="config")
            return False
    project, shown = loaded.project.name, err or sys.stderr
    stored: list[str] = []

    def said(name: str) -> None:
        stored.append(name)
        shown.write(f"set {name} for {project} ({ref.stack}, {ref.provider_name})\n")
        shown.flush()

    try:
        await store(ref, {name: value.rstrip("\r\n") for name, value in values.items()}, loaded,
                    stored=said)
    except LaunchdeckError as exc:
        runner.command("error", f"config set {list(values)[len(stored)]} failed: {exc}",
                       title="config")
        return False
    return True


def refused(inputs: Inputs, error: LaunchdeckError, runner: Runner) -> int:
    """The command stopped before doing anything: its error as annotation and summary."""
    from launchdeck.cli import command

    text = "\n".join([error.message, *([error.hint] if error.hint else []),
                      *(f"run: {command(action)}" for action in error.actions)])
    runner.command("error", text, title=f"launchdeck {inputs.command}")
    runner.summary(f"### launchdeck {inputs.command} ({inputs.provider}, {inputs.stack}): "
                   f"refused\n\n```\n{text}\n```\n")
    runner.output("result", "refused")
    return 1


def announce(ref: ProjectRef, line: str, err: TextIO) -> None:
    """Name the target first in the log, as the CLI does."""
    err.write(f"target: {line} (stack {ref.stack})\n")
    for note in ref.notes():
        err.write(f"note: {note}\n")
    err.flush()


async def _up(inputs: Inputs, ref: ProjectRef, loaded: Loaded, runner: Runner, err: TextIO) -> int:
    result, _ = await deployed(inputs, ref, runner, err)
    return 1 if result.failed else 0


async def deployed(inputs: Inputs, ref: ProjectRef, runner: Runner, err: TextIO, *,
                   ttl: str | None = None) -> tuple[DeployResult, DebugResult | None]:
    """Deploy (the stack expiring ``ttl`` after, if given); the outputs, an annotation for each
    failed service, and the summary (with the diagnosis of a failure) written; the result and
    the diagnosis."""
    from rich.console import Console

    from launchdeck.progress import Progress
    from launchdeck.tools.deploy import deploy

    announce(ref, await ref.line(), err)
    with Progress(Console(file=err, soft_wrap=True, emoji=False)) as progress:
        result = await deploy(ref, wait_seconds=WAIT_SECONDS, network=_network(runner.env),
                              sink=progress, ttl=ttl)
    failed = result.failed
    endpoints = {s.name: s.endpoints for s in result.services if s.endpoints}
    urls = [url for s in result.services for url in s.endpoints]
    runner.output("result", "failed" if failed else "deployed")
    runner.output("deployment-id", result.deployment_id)
    runner.output("endpoints", json.dumps(endpoints))
    runner.output("url", next((u for u in urls if u.startswith(("http://", "https://"))), ""))
    runner.output("changes", str(sum(c.action != "NOOP" for c in result.changes)))
    diagnosis = None
    for service in failed:
        runner.command("error", f"{service.name}: {service.state.value}"
                       f"{': ' + service.message if service.message else ''}",
                       title=f"launchdeck up ({inputs.provider})")
    if failed:
        diagnosis = await _diagnose(ref, err)
    runner.summary(deploy_summary(result, inputs, diagnosis))
    return result, diagnosis


async def _diagnose(ref: ProjectRef, err: TextIO) -> DebugResult | None:
    """What debug finds about the failed services; None if it cannot be gathered."""
    from launchdeck.ai.llm import from_environment
    from launchdeck.tools.debug import debug

    try:
        return await debug(ref, llm=from_environment())
    except LaunchdeckError as exc:
        err.write(f"the diagnosis could not be gathered: {exc}\n")
        return None


async def _plan(inputs: Inputs, ref: ProjectRef, loaded: Loaded, runner: Runner,
                err: TextIO) -> int:
    from launchdeck.tools.deploy import plan

    announce(ref, await ref.line(), err)
    result = await plan(ref, loaded=loaded, network=_network(runner.env))
    changed = [c for c in result.changes if c.action != "NOOP"]
    runner.output("result", "planned")
    runner.output("changes", str(len(changed)))
    runner.summary(f"### launchdeck plan: {result.project} ({result.stack}) on {result.provider}\n\n"
                   f"{len(changed)} change(s), {len(result.changes) - len(changed)} unchanged; "
                   "nothing was changed.\n\n" + changes_table(result.changes, everything=True))
    return 0


async def _down(inputs: Inputs, ref: ProjectRef, loaded: Loaded, runner: Runner,
                err: TextIO) -> int:
    from launchdeck.tools.destroy import destroy

    announce(ref, await ref.line(), err)
    result = await destroy(ref, loaded)
    runner.output("result", "removed")
    runner.summary(down_summary(result))
    return 0


async def _gc(inputs: Inputs, ref: ProjectRef, loaded: Loaded, runner: Runner,
              err: TextIO) -> int:
    """``launchdeck stack gc``: remove every expired stack with its config values (the gc
    tool's one rule); the comment of an expired preview's pull request says it was removed."""
    from launchdeck.preview import expired
    from launchdeck.tools.deployments import gc

    announce(ref, await ref.line(), err)
    result = await gc(ref)
    runner.output("result", "removed" if result.expired else "nothing-expired")
    runner.output("stacks", json.dumps([s.stack for s in result.expired]))
    commented = await expired(inputs, result, runner)
    lines = [f"### launchdeck stack gc: {result.project} on {result.provider}", ""]
    lines += [f"- removed {s.stack} (expired {s.expires.isoformat(timespec='seconds')}, set by "
              f"deployment `{s.deployment}`)"
              + (f"; its config values too: {', '.join(s.config)}" if s.config else "")
              + (f"; the comment on #{commented[s.stack]} says so" if s.stack in commented
                 else "") for s in result.expired]
    if not result.expired:
        lines.append("No stack of the project has expired.")
    runner.summary("\n".join(lines) + "\n")
    return 0


def _network(env: Mapping[str, str]) -> str:
    return env.get("LAUNCHDECK_NETWORK", "").strip() or "default"


# -- the job summary ------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def changes_table(changes: list[ChangeSummary], *, everything: bool = False) -> str:
    rows = [c for c in changes if everything or c.action != "NOOP"]
    if not rows:
        return "Nothing changed.\n"
    lines = ["| unit | kind | action | why |", "| --- | --- | --- | --- |"]
    lines += [f"| {_cell(c.service)} | {c.kind} | {c.action.value} | {_cell(c.reason or '-')} |"
              for c in rows]
    return "\n".join(lines) + "\n"


def deploy_summary(result: DeployResult, inputs: Inputs, diagnosis: DebugResult | None) -> str:
    """The job summary of a deploy: services, states, endpoints, changes, and the diagnosis."""
    failed = [s.name for s in result.failed]
    head = f"failed: {', '.join(failed)}" if failed else "deployed"
    lines = [f"### launchdeck up: {result.project} ({result.stack}) on {result.provider}: {head}",
             "", f"Deployment `{result.deployment_id}`.", "",
             "| service | state | replicas | endpoints |", "| --- | --- | --- | --- |"]
    for s in result.services:
        links = " ".join(f"<{u}>" if u.startswith("http") else f"`{u}`" for u in s.endpoints)
        lines.append(f"| {_cell(s.name)} | {s.state.value} | {s.replicas_running}/"
                     f"{s.replicas_desired} | {links or '-'} |")
    lines += ["", "#### What changed", "", changes_table(result.changes)]
    if failed:
        lines += ["#### Why it failed", ""]
        lines += [diagnosis_markdown(diagnosis) if diagnosis is not None else
                  "The diagnosis could not be gathered; the log above has the deploy's output."]
    return "\n".join(lines) + "\n"


def diagnosis_markdown(diagnosis: DebugResult) -> str:
    """What `launchdeck debug` found: each finding with its fix, then the evidence."""
    lines = []
    for f in diagnosis.findings:
        lines += [f"- **{_cell(f.service)}**: {f.cause} (confidence {f.confidence:.0%})",
                  f"  - fix: {f.fix}"]
        lines += [f"  - evidence: `{_cell(e)}`" for e in f.evidence[:5]]
    if not diagnosis.findings:
        lines.append("No known cause matched; the evidence follows.")
    for e in diagnosis.evidence:
        detail = [f"state: {e.state.value}"]
        if e.exit_code is not None:
            detail.append(f"exit code: {e.exit_code}")
        if e.start_error:
            detail.append(f"start error: {e.start_error}")
        if e.health_output:
            detail.append(f"last health probe: {e.health_output.strip()}")
        logs = "\n".join(e.logs[-30:]).replace("```", "`\u200b``")
        lines += ["", f"<details><summary>evidence for {e.service}</summary>", "",
                  *[f"- {_cell(d)}" for d in detail], "", "```", logs or "(no log lines)", "```",
                  "", "</details>"]
    lines += ["", diagnosis.next_step]
    return "\n".join(lines) + "\n"


def down_summary(result: DestroyResult) -> str:
    lines = [f"### launchdeck down: {result.project} ({result.stack}) on {result.provider}", ""]
    lines += [f"- removed {name}" for name in result.removed] or ["Nothing was left to remove."]
    if result.kept:
        lines += ["", f"Kept data: {', '.join(result.kept)}."]
    return "\n".join(lines) + "\n"
