"""A worker (no port) runs as a Cloud Run worker pool; its output and Cloud Run's word on its
revisions come back through `logs` and `logs --type deploy` like a service's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

import anyio

from launchdeck.engine import logs as engine_logs
from launchdeck.engine.deploy import deploy
from launchdeck.engine.events import Recorder
from launchdeck.engine.seams import DeployOptions, LogQuery
from launchdeck.providers.gcp import names
from launchdeck.tools.project import ProjectRef
from testkit.gcp import FakeGcp
from tests.providers.gcp.conftest import LOCATION
from tests.providers.gcp.test_sources import WORKER


def _deployed(provider, project):
    root = project({"compose.yaml": WORKER})
    ref = ProjectRef(working_directory=str(root), provider="gcp")
    result = anyio.run(partial(deploy, ref.load(), provider, stack="dev", sink=Recorder(),
                               options=DeployOptions()))
    assert result.ok, [(s.name, s.state, s.message) for s in result.services]
    return result


def _revision(fake: FakeGcp, kind: str, name: str) -> str:
    found = getattr(fake.api("run"), "pools" if kind == "workerPools" else "services")
    return found[f"{LOCATION}/{kind}/{names.Names('tiny', 'dev').service(name)}"].latest_ready_revision


def test_a_workers_output_shows_in_logs(provider, project, fake: FakeGcp) -> None:
    """What a worker pool's container prints (Cloud Logging, resource cloud_run_worker_pool) is
    read back as the worker's lines, beside the services', by service and by deployment."""
    result = _deployed(provider, project)
    logging = fake.api("logging")
    logging.container_output(_revision(fake, "services", "api"), ["GET / 200"])
    logging.container_output(_revision(fake, "workerPools", "worker"), ["picked job 1", "picked job 2"])
    stored = {e.resource.type for e, _ in logging.entries if e.log_name.endswith("stdout")}
    assert stored == {"cloud_run_revision", "cloud_run_worker_pool"}

    def read(**query: object) -> list[tuple[str, str]]:
        lines = anyio.run(engine_logs.read, provider, "tiny", "dev", LogQuery(**query))
        return [(line.service, line.text) for line in lines]

    assert sorted(read()) == [("api", "GET / 200"), ("worker", "picked job 1"), ("worker", "picked job 2")]
    assert read(services=("worker",)) == [("worker", "picked job 1"), ("worker", "picked job 2")]
    assert read(services=("worker",), tail=1) == [("worker", "picked job 2")]
    assert read(services=("worker",), deployment=result.deployment_id) == [
        ("worker", "picked job 1"), ("worker", "picked job 2")]
    assert read(services=("worker",), deployment="000000000000") == []


def test_a_workers_revisions_show_in_deploy_events(provider, project, fake: FakeGcp) -> None:
    """`logs --type deploy` tells Cloud Run's conditions of the worker pool's revision too."""
    since = datetime.now(UTC) - timedelta(minutes=1)
    _deployed(provider, project)
    lines = anyio.run(provider.platform_events, "tiny", "dev", ["api", "worker"], since, None)
    short = _revision(fake, "workerPools", "worker").rsplit("/", 1)[-1]
    assert [(line.service, line.text) for line in lines if line.service == "worker"] == [
        ("worker", f"Cloud Run: revision {short} Ready SUCCEEDED")]
    assert any(line.service == "api" for line in lines)
