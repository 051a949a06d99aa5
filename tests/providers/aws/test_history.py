"""The history from the command line with --provider aws, kept in the region's S3 bucket of
the moto server: a deploy and a destroy are listed, with who did them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.providers.aws.test_cli import isolated, run  # noqa: F401


def test_deployments_lists_a_deploy_and_a_destroy_with_the_caller(aws_env, shop,
                                                                  isolated) -> None:  # noqa: F811
    """up then down: deployments lists both, newest first, each by the caller whoami shows."""
    env = {**isolated, **aws_env.env}
    cwd = Path(shop.working_directory)
    assert run("compose", "up", "--provider", "aws", "--detach", cwd=cwd, env=env).returncode == 0
    assert run("compose", "down", "--provider", "aws", cwd=cwd, env=env).returncode == 0
    listed = run("deployments", "ls", "--provider", "aws", "--format", "json", cwd=cwd, env=env)
    assert listed.returncode == 0, listed.stderr
    found = json.loads(listed.stdout)["deployments"]
    whoami = json.loads(run("whoami", "--provider", "aws", "--format", "json", cwd=cwd,
                            env=env).stdout)
    assert [(d["operation"], d["outcome"]) for d in found] == \
        [("destroy", "destroyed"), ("deploy", "succeeded")]
    assert [d["who"] for d in found] == [whoami["target"]["principal"]] * 2
