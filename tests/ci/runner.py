"""A simulated GitHub Actions runner for a composite action: its steps, read from action.yml, run
as the runner runs them (bash -eo pipefail, the step's env with ``${{ }}`` expressions evaluated,
fresh GITHUB_OUTPUT / GITHUB_ENV / GITHUB_PATH files per step, GITHUB_STEP_SUMMARY for the job),
and workflow commands read from their output as the runner reads them (masks, annotations).

Only ``actions/setup-python`` is simulated among ``uses:`` steps (its python-path output is a
Python 3.11+ of this machine); any other ``uses:``, or an expression outside what is listed in
``_evaluate``, fails the test, so action.yml cannot drift from what is exercised here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ACTION = Path(__file__).resolve().parents[2] / "action.yml"
_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_COMMAND = re.compile(r"^::([a-z-]+)(?: ([^:]*))?::(.*)$")


@dataclass
class Annotation:
    level: str
    message: str
    properties: dict[str, str]


@dataclass
class Run:
    """What one run of the action left: per step output, the job's files, the action's outputs."""

    ok: bool = True
    steps: dict[str, dict[str, str]] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    raw: str = ""
    """Everything the steps printed, before masking (what the runner receives)."""
    log: str = ""
    """The log as GitHub shows it: masked values replaced by ***."""
    masks: list[str] = field(default_factory=list)
    annotations: list[Annotation] = field(default_factory=list)
    summary: str = ""
    files: str = ""
    """Everything written to GITHUB_OUTPUT and GITHUB_ENV, raw."""


def _unescape(text: str, *, property_: bool = False) -> str:
    if property_:
        text = text.replace("%3A", ":").replace("%2C", ",")
    return text.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def _read_pairs(text: str) -> dict[str, str]:
    """GITHUB_OUTPUT / GITHUB_ENV syntax: NAME=value lines and NAME<<DELIMITER blocks."""
    out: dict[str, str] = {}
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, index + 1)
            out[name] = "\n".join(lines[index + 1:end])
            index = end + 1
            continue
        if line:
            name, _, value = line.partition("=")
            out[name] = value
        index += 1
    return out


class Runner:
    """Runs action.yml's steps in ``workspace`` with the given inputs and environment."""

    def __init__(self, workspace: Path, temp: Path, *, env: dict[str, str],
                 action: Path = ACTION) -> None:
        self.workspace = workspace
        self.temp = temp
        self.env = env
        self.action = action
        self.spec: dict[str, Any] = yaml.safe_load(action.read_text())

    def run(self, inputs: dict[str, str], *, env: dict[str, str] | None = None,
            skip: tuple[str, ...] = (), path: tuple[str, ...] = ()) -> Run:
        """Run every step but those whose id is in ``skip``; ``path``: directories already on
        PATH, as an earlier GITHUB_PATH would have put them."""
        declared = self.spec["inputs"]
        unknown = set(inputs) - set(declared)
        assert not unknown, f"inputs not declared in action.yml: {unknown}"
        defaults = {"inputs": {}, "steps": {}, "action_path": str(self.action.parent),
                    "token": {**self.env, **(env or {})}.get("GITHUB_TOKEN", "")}
        values = {name: self._evaluate(str(spec.get("default", "")), defaults)
                  for name, spec in declared.items()}
        values.update(inputs)
        self.temp.mkdir(parents=True, exist_ok=True)
        summary = self.temp / "step_summary.md"
        summary.write_text("")
        result = Run()
        job_env = {**self.env, **(env or {}), "GITHUB_ACTIONS": "true",
                   "GITHUB_WORKSPACE": str(self.workspace), "RUNNER_TEMP": str(self.temp),
                   "GITHUB_ACTION_PATH": str(self.action.parent),
                   "GITHUB_STEP_SUMMARY": str(summary)}
        paths = list(path)
        for index, step in enumerate(self.spec["runs"]["steps"]):
            step_id = step.get("id", f"step{index}")
            if step_id in skip:
                continue
            context = {"inputs": values, "steps": result.steps, "action_path": str(self.action.parent)}
            if "uses" in step:
                result.steps[step_id] = self._uses(step, context)
                continue
            assert step.get("shell") == "bash", f"step {step_id}: composite run steps need shell: bash"
            step_env = {k: self._evaluate(str(v), context) for k, v in step.get("env", {}).items()}
            files = {name: self.temp / f"{step_id}.{name.lower()}" for name in
                     ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH")}
            for file in files.values():
                file.write_text("")
            script = self.temp / f"{step_id}.sh"
            script.write_text(step["run"])
            full_env = {**job_env, **step_env, **{k: str(v) for k, v in files.items()}}
            full_env["PATH"] = os.pathsep.join([*paths, job_env.get("PATH", os.defpath)])
            done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                                  cwd=self.workspace, env=full_env, capture_output=True, text=True,
                                  timeout=900, check=False)
            self._read_commands(done.stdout, result)
            result.raw += done.stdout + done.stderr
            outputs = files["GITHUB_OUTPUT"].read_text()
            env_file = files["GITHUB_ENV"].read_text()
            result.files += outputs + env_file
            result.steps[step_id] = _read_pairs(outputs)
            job_env.update(_read_pairs(env_file))
            paths = [p for p in files["GITHUB_PATH"].read_text().splitlines() if p] + paths
            if done.returncode != 0:
                result.ok = False
                break
        result.summary = summary.read_text()
        result.log = result.raw
        for secret in sorted(result.masks, key=len, reverse=True):
            result.log = result.log.replace(secret, "***")
        context = {"inputs": values, "steps": result.steps, "action_path": str(self.action.parent)}
        result.outputs = {name: self._evaluate(str(spec["value"]), context)
                          for name, spec in self.spec.get("outputs", {}).items()}
        return result

    def _uses(self, step: dict[str, Any], context: dict[str, Any]) -> dict[str, str]:
        action = step["uses"].split("@")[0]
        assert action == "actions/setup-python", f"no simulation for {step['uses']}"
        wanted = {k: self._evaluate(str(v), context) for k, v in step.get("with", {}).items()}
        assert set(wanted) <= {"python-version", "update-environment", "cache"}, wanted
        found = shutil.which("python3") or sys.executable
        version = subprocess.run([found, "-c", "import sys; print(sys.version_info >= (3, 11))"],
                                 capture_output=True, text=True, check=True).stdout.strip()
        assert version == "True", "the simulated setup-python needs a Python 3.11+ on PATH"
        return {"python-path": found, "python-version": wanted.get("python-version", "")}

    def _evaluate(self, text: str, context: dict[str, Any]) -> str:
        def one(match: re.Match[str]) -> str:
            expression = match.group(1)
            if expression == "github.action_path":
                return context["action_path"]
            if expression == "github.token" and "token" in context:  # input defaults only
                return context["token"]
            found = re.fullmatch(r"inputs\.([\w-]+)", expression)
            if found:
                assert found.group(1) in context["inputs"], f"undeclared input in {expression}"
                return context["inputs"][found.group(1)]
            found = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expression)
            if found:
                return context["steps"].get(found.group(1), {}).get(found.group(2), "")
            raise AssertionError(f"the simulated runner does not evaluate ${{{{ {expression} }}}}")

        return _EXPRESSION.sub(one, text)

    @staticmethod
    def _read_commands(stdout: str, result: Run) -> None:
        for line in stdout.splitlines():
            match = _COMMAND.match(line)
            if not match:
                continue
            name, props, data = match.group(1), match.group(2) or "", _unescape(match.group(3))
            if name == "add-mask":
                result.masks.append(data)
            elif name in ("error", "warning", "notice"):
                properties = dict(p.split("=", 1) for p in props.split(",") if "=" in p)
                result.annotations.append(Annotation(name, data, {
                    k: _unescape(v, property_=True) for k, v in properties.items()}))
