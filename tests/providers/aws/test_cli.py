"""The CLI with --provider aws, as a separate process against the moto server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.providers.aws.conftest import SECRETS

NO_AWS = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
          "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL"}


def run(*args: str, cwd: Path, env: dict[str, str], stdin: str | None = None):
    clean = {k: v for k, v in os.environ.items() if k not in NO_AWS}
    return subprocess.run([sys.executable, "-m", "launchdeck", *args], cwd=cwd, input=stdin,
                          capture_output=True, text=True, timeout=300, check=False,
                          env={**clean, "AWS_EC2_METADATA_DISABLED": "true", **env})


@pytest.fixture
def isolated(tmp_path: Path) -> dict[str, str]:
    """No AWS configuration on disk, whatever this machine has."""
    return {"AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
            "LAUNCHDECK_STATE_DIR": str(tmp_path / "state")}


def test_no_credentials_is_a_clear_error_without_traceback(shop, isolated) -> None:
    """With no keys, profile or SSO, every aws command says how to sign in."""
    done = run("config", "ls", "--provider", "aws", cwd=Path(shop.working_directory),
               env={**isolated, "AWS_REGION": "us-east-1"})
    assert done.returncode != 0
    assert "no AWS credentials found" in done.stderr
    assert "aws configure" in done.stderr and "Traceback" not in done.stderr


def test_no_region_is_a_clear_error(shop, isolated) -> None:
    done = run("compose", "ps", "--provider", "aws", cwd=Path(shop.working_directory),
               env={**isolated, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"})
    assert done.returncode != 0
    assert "no AWS region is set" in done.stderr and "Traceback" not in done.stderr


def test_config_up_ps_down_from_the_command_line(aws_env, shop, isolated) -> None:
    """config set/ls/rm on SSM, then up, ps and down, reaching moto through AWS_ENDPOINT_URL."""
    env = {**isolated, **aws_env.env}
    cwd = Path(shop.working_directory)
    done = run("config", "set", "EXTRA", "--provider", "aws", cwd=cwd, env=env, stdin="extra-value-42\n")
    assert done.returncode == 0, done.stderr
    listed = run("config", "ls", "--provider", "aws", cwd=cwd, env=env)
    assert listed.stdout.split() == ["API_KEY", "EXTRA", "POSTGRES_PASSWORD"]
    assert run("config", "rm", "EXTRA", "--provider", "aws", cwd=cwd, env=env).returncode == 0
    up = run("compose", "up", "--provider", "aws", "--detach", cwd=cwd, env=env)
    assert up.returncode == 0, up.stderr
    assert "https://shop.example.com" in up.stdout + up.stderr
    ps = run("compose", "ps", "--provider", "aws", "--format", "json", cwd=cwd, env=env)
    assert ps.returncode == 0, ps.stderr
    assert ps.stdout.count("SERVICE_DEPLOYMENT_COMPLETED") == 4
    down = run("compose", "down", "--provider", "aws", cwd=cwd, env=env)
    assert down.returncode == 0, down.stderr
    assert "final snapshot" in down.stdout + down.stderr
    for text in (up.stdout, up.stderr, ps.stdout, down.stdout, down.stderr, listed.stdout):
        assert not any(value in text for value in [*SECRETS.values(), "extra-value-42"])
