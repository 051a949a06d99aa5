"""The GitHub Action's logic, in Python so that it is tested: config secrets, annotations, a job
summary and step outputs around one `launchdeck compose up|plan|down`.

The action (action.yml) installs launchdeck and runs ``launchdeck ci github``, which reads the
step's environment: the inputs (``INPUT_COMMAND``, ``INPUT_PROVIDER``, ``INPUT_STACK``,
``INPUT_WORKING_DIRECTORY``, ``INPUT_COMPOSE_FILES``), every ``CONFIG_<NAME>`` variable, and the
runner's files (``GITHUB_OUTPUT``, ``GITHUB_STEP_SUMMARY``). In order:

1. every CONFIG_* value is masked (``::add-mask::``, line by line) before anything is printed;
2. the project is loaded and checked for the provider; each problem becomes an annotation on
   its compose file line (``::error file=…,line=…::``), and errors stop here;
3. (``up`` only) every CONFIG_<NAME> is checked, then each is stored as ``launchdeck config set
   NAME`` stores it, in this process (the project it loaded in 2.): a value never reaches a
   command line or another process;
4. the command runs as the CLI does (``--format json``: its structured result); on a failed
   deploy, ``launchdeck debug --format json`` gathers the evidence and findings;
5. the job summary (services, states, endpoints, what changed, the diagnosis) and the step
   outputs (``result``, ``deployment-id``, ``url``, ``endpoints``, ``changes``) are written.

The exit status is the step's: 0 when the command did what it should, 1 otherwise.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from pydantic import ValidationError

from launchdeck.errors import ComposeError, LaunchdeckError, UsageError

if TYPE_CHECKING:
    from launchdeck.compose.load import Loaded
    from launchdeck.engine.status import ChangeSummary, DeployResult
    from launchdeck.tools.debug import DebugResult
    from launchdeck.tools.destroy import DestroyResult
    from launchdeck.tools.project import ProjectRef

COMMANDS = ("up", "plan", "down")
CONFIG_PREFIX = "CONFIG_"
_TAIL = 30
"""Lines of the CLI's error output kept for the summary when a command is refused."""


@dataclass(frozen=True)
class Inputs:
    """The action's inputs, as the step's environment carries them."""

    command: str
    provider: str
    stack: str
    working_directory: Path
    compose_files: tuple[str, ...]

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
        return cls(command=command,
                   provider=check_provider(env.get("INPUT_PROVIDER", "").strip() or default()),
                   stack=check_stack(env.get("INPUT_STACK", "").strip() or "dev"),
                   working_directory=folder, compose_files=files)

    def args(self) -> list[str]:
        """The CLI options that name this project and target."""
        out = ["-C", str(self.working_directory), "--provider", self.provider, "--stack", self.stack]
        for name in self.compose_files:
            out += ["-f", name]
        return out


def config_values(env: Mapping[str, str]) -> dict[str, str]:
    """CONFIG_<NAME> variables as {NAME: value}, sorted by name."""
    return {key[len(CONFIG_PREFIX):]: value for key, value in sorted(env.items())
            if key.startswith(CONFIG_PREFIX) and len(key) > len(CONFIG_PREFIX)}


# -- GitHub's workflow commands and files -------------------------------------------------------


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


@dataclass
class Runner:
    """Where a step talks to GitHub: workflow commands on stdout, outputs and summary files."""

    env: Mapping[str, str]
    out: TextIO = field(default_factory=lambda: sys.stdout)

    def command(self, name: str, message: str, **properties: str | int) -> None:
        props = ",".join(f"{k}={escape_property(str(v))}" for k, v in properties.items() if v != "")
        self.out.write(f"::{name}{' ' + props if props else ''}::{escape_data(message)}\n")
        self.out.flush()

    def mask(self, value: str) -> None:
        for line in value.splitlines() or [value]:
            if line.strip():
                self.command("add-mask", line)

    def output(self, name: str, value: str) -> None:
        delimiter = f"ghadelimiter_{secrets.token_hex(8)}"
        self._append("GITHUB_OUTPUT", f"{name}<<{delimiter}\n{value}\n{delimiter}\n")

    def summary(self, markdown: str) -> None:
        self._append("GITHUB_STEP_SUMMARY", markdown.rstrip("\n") + "\n")

    def _append(self, variable: str, text: str) -> None:
        path = self.env.get(variable)
        if not path:  # outside GitHub Actions: show it instead
            self.out.write(text)
            return
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)


# -- the CLI, as a child process ------------------------------------------------------------------


@dataclass
class Done:
    code: int
    stdout: str
    errors: list[str]
    """The last lines the command wrote on stderr (shown live in the log as well)."""


def launchdeck(args: list[str], *, env: Mapping[str, str], cwd: Path,
               err: TextIO | None = None) -> Done:
    """Run ``launchdeck ARGS`` with this interpreter: stdout captured, stderr passed through,
    no standard input (it never waits on a terminal)."""
    process = subprocess.Popen([sys.executable, "-m", "launchdeck", *args], cwd=cwd, env=dict(env),
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, encoding="utf-8",
                               errors="replace")
    assert process.stdout is not None
    tail: deque[str] = deque(maxlen=_TAIL)
    shown = err or sys.stderr

    def relay() -> None:  # the log shows progress as it comes; the tail explains a refusal
        assert process.stderr is not None
        for line in process.stderr:
            shown.write(line)
            shown.flush()
            tail.append(line.rstrip("\n"))

    reader = threading.Thread(target=relay, daemon=True)
    reader.start()
    stdout = process.stdout.read()
    process.wait()
    reader.join()
    return Done(process.returncode, stdout, list(tail))


# -- the steps ------------------------------------------------------------------------------------


def main(env: Mapping[str, str], *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the action's command; the exit status the step should have."""
    runner = Runner(env, out or sys.stdout)
    values = config_values(env)
    for value in values.values():  # first: nothing below may print a value unmasked
        runner.mask(value)
    try:
        inputs = Inputs.from_env(env)
    except LaunchdeckError as exc:
        runner.command("error", str(exc), title="launchdeck")
        return 1
    child = {k: v for k, v in env.items() if not k.startswith(CONFIG_PREFIX)}
    checked = _check(inputs, runner)
    if checked is None:
        return 1
    if inputs.command == "up" and not _set_config(*checked, values, runner, err):
        return 1
    return {"up": _up, "plan": _plan, "down": _down}[inputs.command](inputs, child, runner, err)


def _relative(path: str, inputs: Inputs, env: Mapping[str, str]) -> str:
    """A file as GitHub annotates it: relative to the workspace."""
    workspace = Path(env.get("GITHUB_WORKSPACE") or os.getcwd()).resolve()
    full = (inputs.working_directory / path).resolve()
    return str(full.relative_to(workspace)) if full.is_relative_to(workspace) else path


def _check(inputs: Inputs, runner: Runner) -> tuple[ProjectRef, Loaded] | None:
    """Load and check the project; annotate every problem; None when it cannot go on."""
    from launchdeck.compose import has_errors, validate
    from launchdeck.tools.project import ProjectRef

    ref = ProjectRef(working_directory=str(inputs.working_directory),
                     compose_files=inputs.compose_files, provider=inputs.provider,
                     stack=inputs.stack)
    try:
        loaded = ref.load()
    except ComposeError as exc:
        for problem in exc.problems:
            runner.command("error", f"{problem.path + ': ' if problem.path else ''}{problem.message}",
                           file=_relative(problem.file, inputs, runner.env) if problem.file else "",
                           line=problem.line or "", title="compose file")
        runner.summary(f"### launchdeck {inputs.command}: the compose file cannot be read\n\n"
                       + "\n".join(f"- `{p}`" for p in exc.problems) + "\n")
        runner.output("result", "refused")
        return None
    except LaunchdeckError as exc:
        runner.command("error", str(exc), title="launchdeck")
        runner.output("result", "refused")
        return None
    if inputs.command == "down":
        return ref, loaded
    findings = validate(loaded, inputs.provider)
    for finding in findings:
        runner.command("error" if finding.severity == "error" else "warning",
                       f"{finding.field}: {finding.message}\nfix: {finding.fix}",
                       file=_relative(finding.file, inputs, runner.env) if finding.file else "",
                       line=finding.line or "", title=f"launchdeck ({inputs.provider})")
    if has_errors(findings):
        errors = [f for f in findings if f.severity == "error"]
        runner.summary(f"### launchdeck {inputs.command}: {len(errors)} error(s) stop "
                       f"{loaded.project.name} deploying to {inputs.provider}\n\n"
                       + "\n".join(f"- `{f.file}:{f.line}` {f.field}: {f.message} (fix: {f.fix})"
                                   for f in errors) + "\n")
        runner.output("result", "refused")
        return None
    return ref, loaded


def _set_config(ref: ProjectRef, loaded: Loaded, values: Mapping[str, str], runner: Runner,
                err: TextIO | None) -> bool:
    """Each CONFIG_<NAME> into the target's config store, as ``launchdeck config set NAME``
    stores a value read from standard input (a trailing newline dropped); every name and value
    is checked before any is stored."""
    import anyio

    from launchdeck.tools.config import check_name

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

    async def store_all() -> None:
        store = ref.target().config_store(project, ref.stack)
        for name, value in values.items():
            await store.set(name, value.rstrip("\r\n"))
            stored.append(name)
            shown.write(f"set {name} for {project} ({ref.stack}, {ref.provider_name})\n")
            shown.flush()

    try:
        anyio.run(store_all)
    except LaunchdeckError as exc:
        runner.command("error", f"config set {list(values)[len(stored)]} failed: {exc}",
                       title="config")
        return False
    return True


def _refused(inputs: Inputs, done: Done, runner: Runner) -> int:
    """The command stopped before doing anything: its error as annotation and summary."""
    text = "\n".join(line for line in done.errors if line.strip()) or f"exit status {done.code}"
    runner.command("error", text, title=f"launchdeck {inputs.command}")
    runner.summary(f"### launchdeck {inputs.command} ({inputs.provider}, {inputs.stack}): "
                   f"refused\n\n```\n{text}\n```\n")
    runner.output("result", "refused")
    return 1


def _parse(model: Callable[[str], object], done: Done) -> object | None:
    try:
        return model(done.stdout)
    except (ValidationError, ValueError):
        return None


def _up(inputs: Inputs, env: Mapping[str, str], runner: Runner, err: TextIO | None) -> int:
    from launchdeck.engine.status import DeployResult

    done = launchdeck(["compose", "up", "--detach", "--format", "json", *inputs.args()], env=env,
                      cwd=inputs.working_directory, err=err)
    result = _parse(DeployResult.model_validate_json, done)
    if not isinstance(result, DeployResult):
        return _refused(inputs, done, runner)
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
        from launchdeck.tools.debug import DebugResult

        found = launchdeck(["debug", "--format", "json", *inputs.args()], env=env,
                           cwd=inputs.working_directory, err=err)
        parsed = _parse(DebugResult.model_validate_json, found)
        diagnosis = parsed if isinstance(parsed, DebugResult) else None
    runner.summary(deploy_summary(result, inputs, diagnosis))
    return 1 if failed else 0


def _plan(inputs: Inputs, env: Mapping[str, str], runner: Runner, err: TextIO | None) -> int:
    from launchdeck.engine.status import PlanResult

    done = launchdeck(["compose", "plan", "--format", "json", *inputs.args()], env=env,
                      cwd=inputs.working_directory, err=err)
    result = _parse(PlanResult.model_validate_json, done)
    if not isinstance(result, PlanResult):
        return _refused(inputs, done, runner)
    changed = [c for c in result.changes if c.action != "NOOP"]
    runner.output("result", "planned")
    runner.output("changes", str(len(changed)))
    runner.summary(f"### launchdeck plan: {result.project} ({result.stack}) on {result.provider}\n\n"
                   f"{len(changed)} change(s), {len(result.changes) - len(changed)} unchanged; "
                   "nothing was changed.\n\n" + _changes_table(result.changes, everything=True))
    return 0


def _down(inputs: Inputs, env: Mapping[str, str], runner: Runner, err: TextIO | None) -> int:
    from launchdeck.tools.destroy import DestroyResult

    done = launchdeck(["compose", "down", "--format", "json", *inputs.args()], env=env,
                      cwd=inputs.working_directory, err=err)
    result = _parse(DestroyResult.model_validate_json, done)
    if not isinstance(result, DestroyResult):
        return _refused(inputs, done, runner)
    runner.output("result", "removed")
    runner.summary(down_summary(result))
    return 0


# -- the job summary ------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _changes_table(changes: list[ChangeSummary], *, everything: bool = False) -> str:
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
    lines += ["", "#### What changed", "", _changes_table(result.changes)]
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
