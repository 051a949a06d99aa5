"""The history from the command line with --provider gcp, kept in the region's Cloud Storage
bucket of the local GCP: a deploy, a rollback to it and a destroy are listed in order."""

from __future__ import annotations

import json
from pathlib import Path

from tests.providers.gcp.test_cli import env, run  # noqa: F401


def test_deployments_lists_a_deploy_a_rollback_and_a_destroy(shop, env) -> None:  # noqa: F811
    """up, rollback --yes to it, then down: deployments lists the three, newest first."""
    cwd = Path(shop.working_directory)
    up = run("compose", "up", "--provider", "gcp", "--detach", cwd=cwd, env=env)
    assert up.returncode == 0, up.stderr
    first = json.loads(run("deployments", "show", "latest", "--provider", "gcp", "--format",
                           "json", cwd=cwd, env=env).stdout)["deployment"]["id"]
    back = run("rollback", first, "--provider", "gcp", "--yes", cwd=cwd, env=env)
    assert back.returncode == 0, back.stderr
    assert run("compose", "down", "--provider", "gcp", cwd=cwd, env=env).returncode == 0
    listed = run("deployments", "ls", "--provider", "gcp", "--format", "json", cwd=cwd, env=env)
    assert listed.returncode == 0, listed.stderr
    found = json.loads(listed.stdout)["deployments"]
    assert [(d["operation"], d["outcome"], d["rollback_of"]) for d in found] == \
        [("destroy", "destroyed", None), ("rollback", "succeeded", first),
         ("deploy", "succeeded", None)]
