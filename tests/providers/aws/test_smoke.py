"""scripts/aws-smoke, which maintainers run against a real account, run here against moto."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "aws-smoke"


def test_the_smoke_test_deploys_an_example_destroys_it_and_finds_nothing_left(aws_env, tmp_path) -> None:
    """Config, up, ps, down, config rm, snapshot and the tagging check, each step timed."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env = {**clean, **aws_env.env, "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
           "LAUNCHDECK_STATE_DIR": str(tmp_path / "state")}
    command = [sys.executable, str(SCRIPT), "--example", "todo", "--skip-http", "--stack", "smoke-t"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    steps = re.findall(r"^\s+[\d.]+s  (.+)$", done.stdout, re.MULTILINE)
    assert steps[:4] == ["set config", "compose up", "compose ps", "compose down"]
    assert steps[4:] == ["config rm POSTGRES_PASSWORD", steps[5], "tagging API: nothing left"]
    assert steps[5].startswith("delete snapshot todo-db-postgres-")
    assert "1 of 1 example(s) passed" in done.stdout
