"""The GitHub Action, its steps read from action.yml and run in a simulated runner: installed for
real from the repository, then deploying to the real Docker Engine and to a moto server."""

from __future__ import annotations

import json
import os
import secrets
import shutil
from pathlib import Path

import pytest
import yaml

from launchdeck import __version__
from launchdeck.providers.local.spec import PROJECT, SERVICE
from testkit import BUSYBOX
from tests.ci.runner import ACTION, Run, Runner
from tests.providers.aws.conftest import SHOP, aws_env, moto_server  # noqa: F401 (fixtures)

GREETING = "hello-from-ci-7c1e9a52d4"
PASSWORD = "pw-ci-0b9d8e7f6a5c4b3a"
API_KEY = "sk-ci-1f2e3d4c5b6a7980"
NOT_PASSED = ("GITHUB_", "CONFIG_", "INPUT_", "RUNNER_")


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(NOT_PASSED)}


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The action's install step, run for real: a venv with launchdeck from this repository."""
    temp = tmp_path_factory.mktemp("runner")
    workspace = tmp_path_factory.mktemp("workspace")
    done = Runner(workspace, temp, env=_environment()).run({}, skip=("run",))
    assert done.ok, done.raw
    assert f"launchdeck {__version__}" in done.raw
    return temp / "launchdeck" / "bin"


def _run(installed: Path, workspace: Path, inputs: dict[str, str], env: dict[str, str] | None = None,
         ) -> Run:
    runner = Runner(workspace, workspace.parent / f"runner-{secrets.token_hex(3)}", env=_environment())
    return runner.run(inputs, env=env, skip=("python", "install"), path=(str(installed),))


def _no_secret_leaks(run: Run, *values: str) -> None:
    """A value shows up only inside its own ::add-mask:: command: never in the log, the
    annotations, the summary or the outputs."""
    masked = {line for line in run.raw.splitlines() if line.startswith("::add-mask::")}
    unmasked = "\n".join(line for line in run.raw.splitlines() if line not in masked)
    for value in values:
        assert value in run.masks
        assert value not in unmasked and value not in run.summary and value not in run.files
        assert all(value not in a.message for a in run.annotations)


@pytest.fixture
def web(tmp_path: Path, state: Path, docker_api):
    """A one-service project that reads config GREETING; whatever it made is removed after."""
    name = f"ci-{secrets.token_hex(4)}"
    folder = tmp_path / "workspace" / "app"
    folder.mkdir(parents=True)
    (folder / "compose.yaml").write_text(f"""\
name: {name}
services:
  web:
    image: {BUSYBOX}
    command: ["sh", "-c", "exec httpd -f -p 8080 -h /"]
    ports:
      - target: 8080
        mode: ingress
    environment:
      - GREETING
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://localhost:8080/bin/sh"]
      interval: 1s
      retries: 20
""")
    yield folder
    import subprocess
    import sys

    subprocess.run([sys.executable, "-m", "launchdeck", "compose", "down", "-v", "-C", str(folder)],
                   capture_output=True, timeout=300, check=False)


def test_install_step_puts_launchdeck_on_the_path(installed: Path) -> None:
    """The install step left a launchdeck of this repository's version for the next steps."""
    assert (installed / "launchdeck").is_file()


def test_up_sets_config_from_stdin_and_reports(installed: Path, web: Path, docker_api) -> None:
    """CONFIG_GREETING reaches the container; the summary and outputs come from the deploy's
    result; the value appears nowhere but in its mask; down removes it all."""
    workspace = web.parent
    up = _run(installed, workspace, {"provider": "local", "working-directory": "app"},
              env={"CONFIG_GREETING": GREETING})
    assert up.ok, up.log
    assert up.outputs["result"] == "deployed"
    assert up.outputs["url"].startswith("http://127.0.0.1:")
    assert json.loads(up.outputs["endpoints"]) == {"web": [up.outputs["url"]]}
    assert up.outputs["changes"] == "1" and up.outputs["deployment-id"]
    assert "| web | SERVICE_DEPLOYMENT_COMPLETED | 1/1 |" in up.summary
    assert "| web | service | CREATE |" in up.summary
    name = yaml.safe_load((web / "compose.yaml").read_text())["name"]
    running = docker_api.containers(filters={"label": [f"{PROJECT}={name}", f"{SERVICE}=web"]})
    envs = [docker_api.inspect_container(c["Id"])["Config"]["Env"] for c in running]
    assert len(envs) == 1 and f"GREETING={GREETING}" in envs[0]
    _no_secret_leaks(up, GREETING)

    down = _run(installed, workspace, {"provider": "local", "working-directory": "app",
                                       "command": "down"})
    assert down.ok and down.outputs["result"] == "removed", down.log
    assert "removed" in down.summary


def test_a_failed_deploy_fails_the_step_with_the_diagnosis(installed: Path, web: Path,
                                                           docker_api) -> None:
    """A service that crashes fails the step; the summary carries debug's evidence and findings."""
    compose = web / "compose.yaml"
    compose.write_text(compose.read_text().replace(
        'exec httpd -f -p 8080 -h /', "echo ModuleNotFoundError: No module named flask; exit 3"))
    up = _run(installed, web.parent, {"provider": "local", "working-directory": "app"},
              env={"CONFIG_GREETING": GREETING})
    assert not up.ok
    assert up.outputs["result"] == "failed"
    assert "SERVICE_DEPLOYMENT_FAILED" in up.summary and "#### Why it failed" in up.summary
    assert "evidence for web" in up.summary and "No module named flask" in up.summary
    assert any(a.level == "error" and a.message.startswith("web: SERVICE_DEPLOYMENT_FAILED")
               for a in up.annotations)
    _no_secret_leaks(up, GREETING)


def test_findings_are_annotations_on_compose_lines(installed: Path, tmp_path: Path) -> None:
    """Errors for the provider become ::error annotations on the file and line; nothing deploys."""
    folder = tmp_path / "workspace" / "app"
    folder.mkdir(parents=True)
    (folder / "compose.yaml").write_text(
        "services:\n  web:\n    image: nginx\n    hostname: web.internal\n"
        "    ports: [{target: 80, mode: ingress}]\n")
    run = _run(installed, folder.parent, {"provider": "aws", "working-directory": "app"})
    assert not run.ok and run.outputs["result"] == "refused"
    hostname = [a for a in run.annotations if a.properties.get("line") == "4"]
    assert hostname and hostname[0].level == "error"
    assert hostname[0].properties["file"] == "app/compose.yaml"
    assert "services.web.hostname" in hostname[0].message and "fix:" in hostname[0].message
    assert "error(s) stop" in run.summary


def test_an_unreadable_compose_file_is_annotated(installed: Path, tmp_path: Path) -> None:
    """A compose file that does not load is annotated at the line the loader names."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "compose.yaml").write_text("services:\n  web:\n    imagee: nginx\n")
    run = _run(installed, workspace, {"provider": "local"})
    assert not run.ok and run.outputs["result"] == "refused"
    assert [(a.properties["file"], a.properties["line"]) for a in run.annotations] == \
        [("compose.yaml", "3")]
    assert "unknown key 'imagee'" in run.annotations[0].message


@pytest.mark.parametrize(("inputs", "env", "says"), [
    ({"command": "deploy"}, {}, "unknown command 'deploy'"),
    ({"provider": "local"}, {"CONFIG_GREETING": ""}, "CONFIG_GREETING is empty"),
    ({"provider": "local"}, {"CONFIG_9LIVES": "x-value-1"}, "invalid config name '9LIVES'"),
])
def test_bad_inputs_fail_before_anything_changes(installed: Path, tmp_path: Path, state: Path,
                                                 inputs: dict[str, str], env: dict[str, str],
                                                 says: str) -> None:
    """A wrong command, an empty secret or a bad name is an error annotation; nothing is set."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "compose.yaml").write_text(
        f"name: ci-{secrets.token_hex(4)}\nservices:\n  web:\n    image: {BUSYBOX}\n"
        "    environment: [GREETING]\n")
    run = _run(installed, workspace, inputs, env=env)
    assert not run.ok
    assert any(says in a.message for a in run.annotations), run.log
    assert not state.exists() or not any(state.rglob("*.json"))


def test_up_plan_down_on_aws(installed: Path, aws_env, tmp_path: Path) -> None:  # noqa: F811
    """Against moto: CONFIG_* land in SSM, the deploy's endpoints are outputs, a plan right after
    changes nothing, and down removes the stack; no value is ever shown."""
    workspace = tmp_path / "workspace"
    shutil.copytree(SHOP, workspace)
    env = {"AWS_EC2_METADATA_DISABLED": "true", "CONFIG_API_KEY": API_KEY,
           "CONFIG_POSTGRES_PASSWORD": PASSWORD}
    up = _run(installed, workspace, {"provider": "aws"}, env=env)
    assert up.ok, up.log
    assert up.outputs["result"] == "deployed" and up.outputs["url"] == "https://shop.example.com"
    assert set(json.loads(up.outputs["endpoints"])) >= {"web", "db", "cache"}
    from testkit import aws as T

    ssm = T.session().client("ssm")
    stored = ssm.get_parameter(Name="/launchdeck/shop/dev/API_KEY", WithDecryption=True)
    assert stored["Parameter"]["Value"] == API_KEY and stored["Parameter"]["Type"] == "SecureString"
    _no_secret_leaks(up, API_KEY, PASSWORD)

    plan = _run(installed, workspace, {"provider": "aws", "command": "plan"}, env=env)
    assert plan.ok and plan.outputs["result"] == "planned" and plan.outputs["changes"] == "0", plan.log
    assert "nothing was changed" in plan.summary
    _no_secret_leaks(plan, API_KEY, PASSWORD)

    down = _run(installed, workspace, {"provider": "aws", "command": "down"}, env=env)
    assert down.ok and down.outputs["result"] == "removed", down.log
    assert "final-snapshot" in down.summary or "final snapshot" in down.summary


def test_run_steps_take_inputs_only_through_env() -> None:
    """No ${{ }} inside a run script (a value there would be pasted into bash: script injection)."""
    steps = yaml.safe_load(ACTION.read_text())["runs"]["steps"]
    scripts = [s["run"] for s in steps if "run" in s]
    assert scripts and all("${{" not in script for script in scripts)
