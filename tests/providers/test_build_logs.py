"""`logs --deployment ID --type build` on the clouds: the builder's own log of that deployment's
build (CodeBuild's CloudWatch stream on the moto server, Cloud Build's log in the bucket of the
local GCP), kept in the deployment's history; a deployment that built nothing has none."""

from __future__ import annotations

import json
from pathlib import Path

import anyio

from launchdeck.compose.load import load
from launchdeck.engine.deploy import deploy
from launchdeck.engine.seams import DeployOptions
from launchdeck.tools.deployments import logs
from launchdeck.tools.project import ProjectRef
from testkit import aws as T
from tests.providers.gcp.test_cli import env  # noqa: F401
from tests.providers.gcp.test_cli import run as run_gcp


def _project(root: Path, dockerfile: str) -> Path:
    (root / "web").mkdir(parents=True, exist_ok=True)
    (root / "web" / "Dockerfile").write_text(dockerfile)
    (root / "compose.yaml").write_text("name: builds\nservices:\n  web:\n    build: ./web\n"
                                       "    ports: ['8080']\n")
    return root


def test_a_failed_codebuild_log_is_the_deployments_build_lines(aws_env, strict,
                                                                tmp_path: Path) -> None:
    """CodeBuild fails web's docker build: the deployment's build lines are CodeBuild's log
    (its phases, the error it printed), for web."""
    from launchdeck.providers.aws.api import Aws
    from launchdeck.providers.aws.provider import AwsProvider

    session = T.session()
    strict.attach(session)
    T.codebuild_pushes(session, failing={"/web:": "npm ERR! missing script: build"})
    root = _project(tmp_path / "builds", "FROM node:20\nRUN npm run build\n")
    provider = AwsProvider(Aws(session), poll=0.01)
    result = anyio.run(lambda: deploy(load(cwd=root, os_environ={}), provider, stack="dev",
                                      options=DeployOptions(wait_timeout=60)))
    assert not result.ok
    ref = ProjectRef(working_directory=str(root), provider="aws", stack="dev")
    found = anyio.run(logs, ref, result.deployment_id, "build")
    texts = [line.text for line in found.lines]
    assert {line.service for line in found.lines} == {"web"}
    assert "npm ERR! missing script: build" in texts
    assert any(t.endswith("Entering phase BUILD") for t in texts)
    assert any("Phase complete: BUILD State: FAILED" in t for t in texts)


def test_cloud_builds_log_is_kept_per_deployment(env, tmp_path: Path) -> None:  # noqa: F811
    """v1 builds (Cloud Build's log names its build and its push); v2 changes nothing and builds
    nothing: its build lines are empty, v1's are still v1's."""
    root = _project(tmp_path / "builds", "FROM busybox:1.36\nCMD [\"httpd\", \"-f\"]\n")
    ids = []
    for _ in range(2):
        assert run_gcp("compose", "up", "--provider", "gcp", "--detach", cwd=root,
                       env=env).returncode == 0
        shown = run_gcp("deployments", "show", "latest", "--provider", "gcp", "--format", "json",
                        cwd=root, env=env)
        ids.append(json.loads(shown.stdout)["deployment"]["id"])
    first = run_gcp("logs", "--deployment", ids[0], "--type", "build", "--provider", "gcp",
                    cwd=root, env=env)
    assert first.returncode == 0, first.stderr
    assert 'starting build "' in first.stdout
    assert "Pushing us-central1-docker.pkg.dev/" in first.stdout
    second = run_gcp("logs", "--deployment", ids[1], "--type", "build", "--provider", "gcp",
                     cwd=root, env=env)
    assert second.returncode == 0, second.stderr
    assert "starting build" not in second.stdout
