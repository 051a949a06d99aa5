"""The deploy loop from the command line, on the real Docker Engine: up, ps, logs, config, down."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from launchdeck.compose.load import normalize_project_name
from testkit import BUSYBOX

REPO = Path(__file__).resolve().parent.parent
SECRET = "pw-31c7e0f2a9b84d55"


def run(*args: str, cwd: Path, stdin: str | None = None, env: dict[str, str] | None = None):
    return subprocess.run([sys.executable, "-m", "launchdeck", *args], cwd=cwd, input=stdin,
                          capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, **(env or {})})


@pytest.fixture
def app(tmp_path: Path, state: Path, docker_api):
    """A two-service project; everything it made is removed afterwards."""
    (tmp_path / "compose.yaml").write_text(f"""\
services:
  web:
    image: {BUSYBOX}
    command: ["sh", "-c", "echo web says hi; exec httpd -f -p 8080 -h /"]
    ports:
      - target: 8080
        mode: ingress
    environment:
      - DB_PASSWORD
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://localhost:8080/bin/sh"]
      interval: 1s
      retries: 10
  worker:
    image: {BUSYBOX}
    command: ["sh", "-c", "echo worker ready; sleep 600"]
""")
    yield tmp_path
    run("compose", "down", "--volumes", cwd=tmp_path)


def test_up_ps_logs_down(app: Path, docker_api) -> None:
    """A user sets config, deploys, looks, reads logs and tears down; no secret is shown."""
    refused = run("compose", "up", "--detach", cwd=app)
    assert refused.returncode == 1
    assert "config not set: DB_PASSWORD" in refused.stderr
    assert "launchdeck config set" in refused.stderr

    assert run("config", "set", "DB_PASSWORD", cwd=app, stdin=SECRET + "\n").returncode == 0
    listed = run("config", "ls", cwd=app)
    assert listed.stdout.split() == ["DB_PASSWORD"]

    up = run("compose", "up", "--detach", "--wait-timeout", "60", cwd=app)
    assert up.returncode == 0, up.stderr
    assert "web: SERVICE_DEPLOYMENT_COMPLETED" in up.stderr  # plain progress lines off a TTY
    ps = json.loads(run("compose", "ps", "--format", "json", cwd=app).stdout)
    web = next(s for s in ps["services"] if s["name"] == "web")
    assert web["state"] == "SERVICE_DEPLOYMENT_COMPLETED"
    with urllib.request.urlopen(web["endpoints"][0] + "/bin/sh", timeout=10) as response:
        assert response.status == 200

    logs = run("logs", "worker", cwd=app)
    assert logs.returncode == 0
    assert "worker | worker ready" in logs.stdout and "web says hi" not in logs.stdout

    again = run("compose", "up", "-d", cwd=app)
    assert "nothing changed" in again.stderr

    down = run("compose", "down", cwd=app)
    assert down.returncode == 0
    label = {"label": [f"dev.launchdeck.project={normalize_project_name(app.name)}"]}
    assert docker_api.containers(all=True, filters=label) == []
    for result in (refused, listed, up, logs, again, down):
        assert SECRET not in result.stdout + result.stderr


def test_random_config_value_is_never_printed(app: Path) -> None:
    """config set --random stores a value and prints only the name."""
    result = run("config", "set", "DB_PASSWORD", "--random", cwd=app)
    assert result.returncode == 0
    assert "set DB_PASSWORD" in result.stderr
    store = json.loads(next(Path(os.environ["LAUNCHDECK_STATE_DIR"]).rglob("dev.json")).read_text())
    assert len(store["DB_PASSWORD"]) >= 32
    assert store["DB_PASSWORD"] not in result.stdout + result.stderr
    mode = next(Path(os.environ["LAUNCHDECK_STATE_DIR"]).rglob("dev.json")).stat().st_mode
    assert mode & 0o077 == 0  # readable by the user only


def test_failed_deploy_exits_nonzero_with_the_reason(tmp_path: Path, state: Path, docker_api) -> None:
    """A service that crashes makes `compose up` exit 1 and print why."""
    (tmp_path / "compose.yaml").write_text(
        f"services:\n  app:\n    image: {BUSYBOX}\n"
        "    command: [\"sh\", \"-c\", \"echo boom: missing module app; exit 1\"]\n")
    try:
        result = run("compose", "up", "-d", "--wait-timeout", "30", cwd=tmp_path)
        assert result.returncode == 1
        assert "SERVICE_DEPLOYMENT_FAILED" in result.stdout
        assert "exited with code 1" in result.stderr and "boom: missing module app" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        run("compose", "down", cwd=tmp_path)


def test_quick_start_example_deploys_and_prints_its_url(docker_api, state: Path) -> None:
    """examples/hello, the README's quick start, comes up and answers at the printed URL."""
    hello = REPO / "examples" / "hello"
    try:
        up = run("compose", "up", "-d", "-C", str(hello), "--stack", "ci", cwd=REPO)
        assert up.returncode == 0, up.stderr
        assert "http://127.0.0.1:8080" in up.stdout
        with urllib.request.urlopen("http://127.0.0.1:8080/", timeout=10) as response:
            assert "Hello from launchdeck" in response.read().decode()
    finally:
        run("compose", "down", "-C", str(hello), "--stack", "ci", cwd=REPO)


def test_unknown_service_in_logs_names_the_services(app: Path) -> None:
    """Asking for logs of a service that does not exist lists the ones that do."""
    result = run("logs", "wbe", cwd=app)
    assert result.returncode == 1
    assert "no service 'wbe'" in result.stderr and "web, worker" in result.stderr


def test_generate_then_debug_from_the_command_line(tmp_path: Path, state: Path,
                                                   docker_api) -> None:
    """generate writes a project; debug explains a failed deploy, printing cause and fix."""
    made = run("generate", "a background job queue", "--folder", str(tmp_path / "jobs"),
               "--language", "nodejs", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert "server.js" in made.stdout and "next: launchdeck compose up -C" in made.stderr
    as_json = run("generate", "an api", "--folder", str(tmp_path / "api"), "--format", "json",
                  cwd=tmp_path)
    assert json.loads(as_json.stdout)["template"] == "rest-api"

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "compose.yaml").write_text(
        f"services:\n  app:\n    image: {BUSYBOX}\n"
        "    command: [\"sh\", \"-c\", \"echo 'Error: Cannot find module \\\"express\\\"'; exit 1\"]\n")
    try:
        assert run("compose", "up", "-d", "--wait-timeout", "30", cwd=broken).returncode == 1
        diagnosis = run("debug", cwd=broken)
        assert diagnosis.returncode == 0, diagnosis.stderr
        assert "app: the app imports express, which is not installed" in diagnosis.stdout
        assert "fix: add express to package.json" in diagnosis.stdout
    finally:
        run("compose", "down", cwd=broken)


def test_plan_prints_what_would_change_and_changes_nothing(docker_api, tmp_path, state) -> None:
    """`compose plan` (and `up --dry-run --format json`) list each service's action and why,
    and no container is made."""
    app = tmp_path / "planned"
    app.mkdir()
    (app / "compose.yaml").write_text(
        "services:\n  web:\n    image: launchdeck-test/busybox:latest\n    command: [sleep, '60']\n")
    shown = run("compose", "plan", cwd=app)
    assert shown.returncode == 0, shown.stderr
    assert "1 to create" in shown.stderr
    assert shown.stdout.split("\n")[1].split() == ["web", "service", "CREATE", "new"]
    as_json = run("compose", "up", "--dry-run", "--format", "json", cwd=app)
    assert json.loads(as_json.stdout)["changes"] == [
        {"service": "web", "kind": "service", "action": "CREATE", "reason": "new"}]
    assert docker_api.containers(all=True, filters={"label": ["dev.launchdeck.project=planned"]}) == []


def test_a_secret_the_service_prints_never_reaches_the_output(docker_api, tmp_path, state) -> None:
    """A service that prints its own config value: logs, ps and up show [config value]."""
    app = tmp_path / "leaky"
    app.mkdir()
    (app / "compose.yaml").write_text(
        f"services:\n  web:\n    image: {BUSYBOX}\n    environment: [TOKEN]\n"
        "    command: ['sh', '-c', 'echo token=$$TOKEN; exit 3']\n")
    secret = "tok-9a8b7c6d5e4f3a2b"
    try:
        assert run("config", "set", "TOKEN", cwd=app, stdin=secret + "\n").returncode == 0
        up = run("compose", "up", "-d", "--wait-timeout", "20", cwd=app)
        logs = run("logs", cwd=app)
        ps = run("compose", "ps", "--format", "json", cwd=app)
        seen = up.stdout + up.stderr + logs.stdout + logs.stderr + ps.stdout + ps.stderr
        assert secret not in seen
        assert "token=[config value]" in logs.stdout
    finally:
        run("compose", "down", cwd=app)
