"""`logs --deployment ID --type deploy` on the clouds: launchdeck's timeline with the platform's
own events of that deployment's time beside it (ECS service events on the moto server, Cloud
Run revision conditions on the local GCP), from the command line; another deployment's events
are not among them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.providers.aws.test_cli import isolated  # noqa: F401
from tests.providers.aws.test_cli import run as run_aws
from tests.providers.gcp.test_cli import env  # noqa: F401
from tests.providers.gcp.test_cli import run as run_gcp

COMPOSE = """\
name: events
services:
  api:
    image: {image}
    ports: ["8080"]
"""


def _up(run, folder: Path, image: str, provider: str, variables: dict[str, str]) -> str:
    """Deploy ``image``; the deployment's id (whether it succeeded or not)."""
    (folder / "compose.yaml").write_text(COMPOSE.format(image=image))
    run("compose", "up", "--provider", provider, "--detach", "--wait-timeout", "60", cwd=folder,
        env=variables)
    shown = run("deployments", "show", "latest", "--provider", provider, "--format", "json",
                cwd=folder, env=variables)
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)["deployment"]["id"]


def _deploy_lines(run, folder: Path, deployment: str, provider: str,
                  variables: dict[str, str]) -> str:
    done = run("logs", "--deployment", deployment, "--type", "deploy", "--provider", provider,
               cwd=folder, env=variables)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_ecs_stopped_task_reason_is_in_the_failed_deployments_deploy_logs(
        aws_env, isolated, tmp_path: Path) -> None:  # noqa: F811
    """v1 runs; v2's tasks keep exiting (the circuit breaker fails it): v2's deploy lines carry
    ECS's event with the stopped reason; v1's do not."""
    variables = {**isolated, **aws_env.env}
    folder = tmp_path / "events"
    folder.mkdir()
    good = _up(run_aws, folder, "busybox:1.36", "aws", variables)
    aws_env.configure(failing={"nginx": "Essential container in task exited"})
    bad = _up(run_aws, folder, "nginx:1.25", "aws", variables)
    failed = _deploy_lines(run_aws, folder, bad, "aws", variables)
    assert "ECS: (service events-dev-api) has stopped 1 running tasks" in failed
    assert "Stopped reason: Essential container in task exited" in failed
    assert "SERVICE_DEPLOYMENT_FAILED" in failed  # the timeline is still there
    assert "Stopped reason" not in _deploy_lines(run_aws, folder, good, "aws", variables)


def test_cloud_run_revision_conditions_are_in_each_deployments_deploy_logs(
        env, tmp_path: Path) -> None:  # noqa: F811
    """Two deploys make two revisions: each deployment's deploy lines name its own revision as
    Ready, and not the other's."""
    folder = tmp_path / "events"
    folder.mkdir()
    first = _up(run_gcp, folder, "busybox:1.36", "gcp", env)
    second = _up(run_gcp, folder, "busybox:1.37", "gcp", env)
    lines = {d: _deploy_lines(run_gcp, folder, d, "gcp", env) for d in (first, second)}
    revisions = {}
    for deployment, text in lines.items():
        said = [line for line in text.splitlines() if "Cloud Run: revision" in line]
        assert said and all("Ready SUCCEEDED" in line for line in said), text
        revisions[deployment] = {line.split("Cloud Run: revision ")[1].split()[0] for line in said}
    assert revisions[first].isdisjoint(revisions[second])
