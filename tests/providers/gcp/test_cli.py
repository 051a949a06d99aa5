"""The CLI with --provider gcp, as a separate process reaching the fake through LAUNCHDECK_GCP_ENDPOINT."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from testkit.gcp import FakeGcp
from tests.providers.gcp.conftest import PROJECT, SECRETS


def run(*args: str, cwd: Path, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GCP_", "GOOGLE_", "LAUNCHDECK_"))}
    return subprocess.run(
        [sys.executable, "-m", "launchdeck", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**clean, **env},
    )


@pytest.fixture
def env(fake: FakeGcp, tmp_path: Path) -> dict[str, str]:
    """The fake's endpoint and project; no waiting between polls (operations are done when first asked)."""
    fake.knobs.lro_polls = 0
    return {
        **fake.env,
        "GCP_PROJECT_ID": PROJECT,
        "LAUNCHDECK_STATE_DIR": str(tmp_path / "state"),
        "GOOGLE_APPLICATION_CREDENTIALS": str(tmp_path / "none.json"),
    }


def test_no_project_is_a_clear_error_without_traceback(shop, env: dict[str, str]) -> None:
    """Without GCP_PROJECT_ID every gcp command says how to name the project."""
    done = run(
        "config",
        "ls",
        "--provider",
        "gcp",
        cwd=Path(shop.working_directory),
        env={k: v for k, v in env.items() if k != "GCP_PROJECT_ID"},
    )
    assert done.returncode == 1 and "no GCP project is set" in done.stderr
    assert "GCP_PROJECT_ID" in done.stderr and "Traceback" not in done.stderr


def test_a_disabled_api_names_the_command_that_enables_it(shop, env: dict[str, str], fake: FakeGcp) -> None:
    """Secret Manager off and the caller may not enable APIs: config set gives the gcloud command."""
    fake.knobs.disabled_apis = ["secretmanager.googleapis.com"]
    fake.knobs.denied_permissions = ["serviceusage.services.enable"]
    done = run("config", "set", "EXTRA", "--provider", "gcp", cwd=Path(shop.working_directory), env=env,
               stdin="extra-value-42\n")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"gcloud services enable secretmanager.googleapis.com --project {PROJECT}" in done.stderr


def test_config_up_ps_down_from_the_command_line(shop, env: dict[str, str]) -> None:
    """config set/ls/rm in Secret Manager, then up, ps and down of the realistic project."""
    cwd = Path(shop.working_directory)
    done = run("config", "set", "EXTRA", "--provider", "gcp", cwd=cwd, env=env, stdin="extra-value-42\n")
    assert done.returncode == 0, done.stderr
    listed = run("config", "ls", "--provider", "gcp", cwd=cwd, env=env)
    assert listed.stdout.split() == ["API_KEY", "EXTRA", "POSTGRES_PASSWORD"]
    assert run("config", "rm", "EXTRA", "--provider", "gcp", cwd=cwd, env=env).returncode == 0
    up = run("compose", "up", "--provider", "gcp", "--detach", cwd=cwd, env=env)
    assert up.returncode == 0, up.stderr
    assert "https://shop.example.com" in up.stdout
    ps = run("compose", "ps", "--provider", "gcp", "--format", "json", cwd=cwd, env=env)
    assert ps.returncode == 0, ps.stderr
    states = {s["name"]: s["state"] for s in json.loads(ps.stdout)["services"]}
    assert states == dict.fromkeys(["web", "backend", "db", "cache"], "SERVICE_DEPLOYMENT_COMPLETED")
    down = run("compose", "down", "--provider", "gcp", cwd=cwd, env=env)
    assert down.returncode == 0, down.stderr
    assert "removed Cloud Run service shop-dev-web" in down.stderr and "final backup" in down.stderr
    for text in (up.stdout, up.stderr, ps.stdout, down.stdout, down.stderr, listed.stdout):
        assert not any(value in text for value in [*SECRETS.values(), "extra-value-42"])
