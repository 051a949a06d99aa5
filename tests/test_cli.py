"""The command line, run as a user runs it: a real process, its output and exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

import launchdeck


def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None):
    return subprocess.run([sys.executable, "-m", "launchdeck", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


def test_version() -> None:
    """--version prints the package version."""
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"launchdeck {launchdeck.__version__}"


def test_help_lists_compose_config() -> None:
    """--help shows the command groups; compose --help shows config."""
    assert "compose" in run("--help").stdout
    assert "config" in run("compose", "--help").stdout


def test_compose_config_prints_normalised_yaml(project, cloud_ready) -> None:
    """compose config prints the normalised project on stdout and exits 0."""
    root = project({"compose.yaml": cloud_ready})
    result = run("compose", "config", "--provider", "aws", cwd=root)
    assert result.returncode == 0, result.stderr
    data = yaml.safe_load(result.stdout)
    assert data["services"]["web"]["ports"] == [{"mode": "ingress", "target": 80,
                                                 "protocol": "tcp"}]
    assert data["services"]["web"]["deploy"]["resources"]["reservations"]["memory"] == "268435456"
    assert "API_KEY" in result.stderr  # the required config is named on stderr


def test_compose_config_json_with_files_and_cwd(project, cloud_ready, tmp_path: Path) -> None:
    """-C, -f and --format json work together; stdout is valid JSON."""
    root = project({"compose.yaml": cloud_ready,
                    "prod.yaml": "services:\n  web:\n    image: nginx:1.27\n"})
    result = run("compose", "config", "-C", str(root), "-f", "compose.yaml", "-f", "prod.yaml",
                 "--format", "json", "-p", "shop", cwd=tmp_path.parent)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["name"], data["services"]["web"]["image"]) == ("shop", "nginx:1.27")


def test_error_findings_exit_1_with_the_fix(project, cloud_ready) -> None:
    """An error finding for the chosen provider makes the exit status 1 and shows the fix."""
    root = project({"compose.yaml": "services:\n  web:\n    image: x\n    hostname: h\n"})
    assert run("compose", "config", cwd=root).returncode == 0  # local accepts hostname
    result = run("compose", "config", "--provider", "gcp", cwd=root)
    assert result.returncode == 1
    assert "compose.yaml:4: services.web.hostname: hostname is not supported on gcp" in result.stderr
    assert "fix: Remove hostname" in result.stderr


def test_provider_from_environment(project, cloud_ready) -> None:
    """LAUNCHDECK_PROVIDER chooses the target when --provider is absent."""
    root = project({"compose.yaml": "services:\n  web:\n    image: x\n    hostname: h\n"})
    assert run("compose", "config", cwd=root, env={"LAUNCHDECK_PROVIDER": "aws"}).returncode == 1


def test_malformed_file_gives_message_not_traceback(project, cloud_ready) -> None:
    """A broken compose file prints file:line and the problem, with no traceback."""
    root = project({"compose.yaml": "services:\n  web:\n    imagee: nginx\n"})
    result = run("compose", "config", cwd=root)
    assert result.returncode == 1
    assert "compose.yaml:3: services.web.imagee: unknown key 'imagee'; did you mean 'image'?" \
        in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_bad_stack_name_is_refused(project, cloud_ready) -> None:
    """An invalid --stack is a usage error that says what a stack name looks like."""
    root = project({"compose.yaml": cloud_ready})
    result = run("compose", "config", "--stack", "Prod!", cwd=root)
    assert result.returncode == 1
    assert "invalid stack name 'Prod!'" in result.stderr and "lowercase" in result.stderr


def test_unknown_provider_is_refused(project, cloud_ready) -> None:
    """--provider accepts only local, aws and gcp."""
    root = project({"compose.yaml": cloud_ready})
    result = run("compose", "config", "--provider", "azure", cwd=root)
    assert result.returncode == 2
    assert "azure" in result.stderr and "Traceback" not in result.stderr
