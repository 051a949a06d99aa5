"""What Cloud Run cannot run as written, deployed anyway: images of other registries through an
Artifact Registry remote repository, and workers (no port) as Cloud Run worker pools."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import anyio
import pytest

from launchdeck.compose.load import load
from launchdeck.compose.validate import Severity
from launchdeck.engine import ps
from launchdeck.engine.deploy import deploy
from launchdeck.engine.destroy import destroy
from launchdeck.engine.events import Recorder, State
from launchdeck.engine.plan import Action
from launchdeck.engine.seams import DeployOptions
from launchdeck.errors import ProviderError
from launchdeck.providers.gcp import names
from launchdeck.providers.gcp.provider import GcpProvider
from launchdeck.tools.project import ProjectRef
from testkit.gcp import FakeGcp
from tests.providers.gcp.conftest import LOCATION, PROJECT

GHCR = """\
name: tiny
services:
  api:
    image: ghcr.io/acme/api:1.2
    ports: [{target: 8080, mode: ingress}]
  probe:
    image: quay.io/acme/probe@sha256:""" + "a" * 64 + """
    expose: ["9000"]
"""
WORKER = """\
name: tiny
services:
  api:
    image: nginx
    ports: [{target: 80, mode: ingress}]
  worker:
    image: busybox
    command: ["sh", "-c", "while true; do sleep 5; done"]
    deploy: {replicas: 2}
"""


def _ref(project, text: str) -> ProjectRef:
    root = project({"compose.yaml": text})
    return ProjectRef(working_directory=str(root), provider="gcp")


def _deploy(provider: GcpProvider, ref: ProjectRef):
    result = anyio.run(partial(deploy, ref.load(), provider, stack="dev", sink=Recorder(),
                               options=DeployOptions()))
    assert result.ok, [(s.name, s.state, s.message) for s in result.services]
    return result


def _down(provider: GcpProvider):
    return anyio.run(partial(destroy, provider, "tiny", "dev", sink=Recorder()))


def _creates(fake: FakeGcp, kind: str) -> list[str]:
    return [e["path"] for e in fake.mutations() if e["method"] == "POST" and f"/{kind}" in e["path"]
            and ":" not in e["path"].split("?")[0].rsplit("/", 1)[-1]]


def _remotes(fake: FakeGcp) -> dict[str, object]:
    registry = fake.api("artifactregistry")
    return {n.rsplit("/", 1)[-1]: r for n, r in registry.repositories.items() if r.mode == 3}


# --- images of other registries --------------------------------------------------------------


def test_an_image_from_ghcr_deploys_through_a_remote_repository(provider, project, fake: FakeGcp) -> None:
    """ghcr.io and quay.io images run from the stack's remote repositories of those registries,
    made once; the same project again is NOOP and makes nothing; down removes them."""
    ref = _ref(project, GHCR)
    _deploy(provider, ref)
    ghcr, quay = (names.Names("tiny", "dev").remote_repository(h) for h in ("ghcr.io", "quay.io"))
    remotes = _remotes(fake)
    assert set(remotes) == {ghcr, quay}
    docker = remotes[ghcr].remote_repository_config.docker_repository
    assert docker.custom_repository.uri == "https://ghcr.io"
    assert dict(remotes[ghcr].labels)[names.STACK] == "dev"
    run = fake.api("run").services
    api = names.Names("tiny", "dev").service("api")
    image = run[f"{LOCATION}/services/{api}"].template.containers[0].image
    assert image == f"us-central1-docker.pkg.dev/{PROJECT}/{ghcr}/acme/api:1.2"
    probe = run[f"{LOCATION}/services/{names.Names('tiny', 'dev').service('probe')}"].template.containers[0]
    assert probe.image == f"us-central1-docker.pkg.dev/{PROJECT}/{quay}/acme/probe@sha256:{'a' * 64}"
    assert len(_creates(fake, "repositories")) == 2

    fake.clear_requests()
    again = _deploy(provider, ref)
    assert {c.action for c in again.changes} == {Action.NOOP}
    assert {e["api"] for e in fake.mutations()} == {"storage"}  # the lock and the history entry

    teardown = _down(provider)
    assert f"remote repository {ghcr}" in teardown.removed
    assert _remotes(fake) == {}


def test_a_remote_repository_made_by_hand_for_something_else_is_named(provider, project, gcp,
                                                                      fake: FakeGcp) -> None:
    """A repository of the remote repository's name that is not one is not pulled through: the
    deploy stops before any service with what to do."""
    from google.cloud import artifactregistry_v1 as ar

    from tests.providers.gcp.conftest import enable

    enable(gcp)
    repository_id = names.Names("tiny", "dev").remote_repository("ghcr.io")

    async def make() -> None:
        operation = await gcp.call("artifactregistry", "create_repository",
                                   parent=LOCATION, repository_id=repository_id,
                                   repository=ar.Repository(format_=ar.Repository.Format.DOCKER))
        await gcp.wait(operation, what="make", api="artifactregistry")

    anyio.run(make)
    with pytest.raises(ProviderError) as refused:
        anyio.run(partial(deploy, _ref(project, GHCR).load(), provider, stack="dev",
                          sink=Recorder(), options=DeployOptions()))
    assert "is not a remote repository of https://ghcr.io" in str(refused.value)
    assert repository_id in refused.value.hint
    assert fake.api("run").services == {}


@pytest.mark.parametrize(
    ("image", "why"),
    [
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1", "private Amazon ECR"),
        ("acme.azurecr.io/app:1", "Azure Container Registry"),
        ("localhost:5000/app", "cannot reach"),
        ("registry.corp:5000/app", "cannot reach"),
        ("10.1.2.3:5000/app", "private network"),
    ],
)
def test_an_image_of_a_private_registry_is_a_located_finding(project, image: str, why: str) -> None:
    """A registry that wants credentials, or that Google cannot reach, is an error at its line
    that says where to put the image instead."""
    root = project({"compose.yaml": f"name: tiny\nservices:\n  api:\n    image: {image}\n"
                                    "    ports: ['80:80']\n"})
    found = [f for f in GcpProvider(poll=0).check(load(cwd=root, os_environ={}), "dev", {})
             if f.field == "services.api.image"]
    assert [(f.severity, f.line) for f in found] == [(Severity.ERROR, 4)]
    assert why in found[0].message and "Artifact Registry" in found[0].fix


# --- workers -----------------------------------------------------------------------------------


def _pool(fake: FakeGcp, name: str = "worker"):
    return fake.api("run").pools.get(f"{LOCATION}/workerPools/{names.Names('tiny', 'dev').service(name)}")


def test_a_worker_without_ports_runs_as_a_worker_pool(provider, project, fake: FakeGcp) -> None:
    """A service with no port is a Cloud Run worker pool of its replicas, not a service that would
    fail to listen; ps shows it; a new replica count updates it in place; down removes it."""
    ref = _ref(project, WORKER)
    _deploy(provider, ref)
    pool = _pool(fake)
    assert pool is not None and pool.scaling.manual_instance_count == 2
    assert pool.template.containers[0].image == "docker.io/library/busybox"
    assert not pool.template.containers[0].ports
    assert pool.template.service_account == names.Names("tiny", "dev").account(PROJECT)
    services = fake.api("run").services
    assert list(services) == [f"{LOCATION}/services/{names.Names('tiny', 'dev').service('api')}"]

    statuses = {s.name: s for s in anyio.run(ps.ps, provider, ref.load().project, "dev")}
    assert statuses["worker"].state is State.SERVICE_DEPLOYMENT_COMPLETED
    assert (statuses["worker"].replicas_desired, statuses["worker"].endpoints) == (2, [])

    Path(ref.working_directory, "compose.yaml").write_text(WORKER.replace("replicas: 2", "replicas: 3"))
    again = _deploy(provider, ref)
    assert {c.service: c.action for c in again.changes} == {"api": Action.NOOP, "worker": Action.UPDATE}
    assert _pool(fake).scaling.manual_instance_count == 3
    assert {c.action for c in _deploy(provider, ref).changes} == {Action.NOOP}

    teardown = _down(provider)
    assert f"Cloud Run worker pool {names.Names('tiny', 'dev').service('worker')}" in teardown.removed
    assert fake.api("run").pools == {} and fake.api("run").services == {}
    statuses = {s.name: s.state for s in anyio.run(ps.ps, provider, ref.load().project, "dev")}
    assert statuses == {"api": State.NOT_DEPLOYED, "worker": State.NOT_DEPLOYED}


def test_a_worker_that_failed_to_start_says_why(provider, project, fake: FakeGcp) -> None:
    """A worker pool whose revision fails is a failed deploy with Cloud Run's reason."""
    fake.knobs.failing_services = {names.Names("tiny", "dev").service("worker"): "exit status 1"}
    result = anyio.run(partial(deploy, _ref(project, WORKER).load(), provider, stack="dev",
                               sink=Recorder(), options=DeployOptions()))
    worker = next(s for s in result.services if s.name == "worker")
    assert worker.state is State.SERVICE_DEPLOYMENT_FAILED and "exit status 1" in worker.message


def test_a_service_that_loses_its_port_moves_to_a_worker_pool_and_back(provider, project,
                                                                        fake: FakeGcp) -> None:
    """The Cloud Run service a worker ran as before (it exposed a port) gives way to its worker
    pool in one deploy, and the reverse; nothing of the other kind is left."""
    exposed = WORKER.replace("    deploy: {replicas: 2}\n", "    expose: ['8080']\n")
    ref = _ref(project, exposed)
    _deploy(provider, ref)
    service = f"{LOCATION}/services/{names.Names('tiny', 'dev').service('worker')}"
    assert service in fake.api("run").services and _pool(fake) is None

    Path(ref.working_directory, "compose.yaml").write_text(WORKER)
    moved = _deploy(provider, ref)
    assert {c.service: c.action for c in moved.changes}["worker"] is Action.UPDATE
    assert service not in fake.api("run").services and _pool(fake) is not None
    assert {c.action for c in _deploy(provider, ref).changes} == {Action.NOOP}

    Path(ref.working_directory, "compose.yaml").write_text(exposed)
    _deploy(provider, ref)
    assert service in fake.api("run").services and _pool(fake) is None


def test_a_worker_taken_out_of_the_project_is_removed(provider, project, fake: FakeGcp) -> None:
    """Dropping the worker deletes its worker pool."""
    ref = _ref(project, WORKER)
    _deploy(provider, ref)
    Path(ref.working_directory, "compose.yaml").write_text(WORKER[: WORKER.index("  worker:")])
    result = _deploy(provider, ref)
    assert {c.service: c.action for c in result.changes} == {"api": Action.NOOP, "worker": Action.DELETE}
    assert fake.api("run").pools == {}


# --- the local GCP's rules, over the wire ----------------------------------------------------


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({"format": "DOCKER", "mode": "REMOTE_REPOSITORY"}, "requires remote_repository_config"),
        ({"format": "DOCKER", "mode": "REMOTE_REPOSITORY",
          "remoteRepositoryConfig": {"dockerRepository": {"customRepository": {"uri": "ftp://ghcr.io"}}}},
         "http or https"),
        ({"format": "DOCKER", "mode": "REMOTE_REPOSITORY",
          "remoteRepositoryConfig": {"dockerRepository": {}}},
         "public_repository or a custom_repository"),
        ({"format": "DOCKER",
          "remoteRepositoryConfig": {"dockerRepository": {"publicRepository": "DOCKER_HUB"}}},
         "only allowed for a remote repository"),
    ],
)
def test_the_local_artifact_registry_checks_a_remote_repositorys_config(enabled: FakeGcp, body: dict,
                                                                         said: str) -> None:
    """A remote repository needs an upstream of its format; a standard one takes none."""
    import requests

    answer = requests.post(enabled.endpoint("artifactregistry") + f"/v1/{LOCATION}/repositories"
                           "?repositoryId=remote", json=body, timeout=10)
    assert answer.status_code == 400 and said in answer.json()["error"]["message"]


def test_a_remote_repository_serves_any_path_and_takes_no_push(enabled: FakeGcp) -> None:
    """What the upstream holds is pulled through it; a push is refused (it is read-only)."""
    import requests

    from testkit.gcp.core import ApiError

    body = {"format": "DOCKER", "mode": "REMOTE_REPOSITORY",
            "remoteRepositoryConfig": {"dockerRepository": {"customRepository": {"uri": "https://ghcr.io"}}}}
    made = requests.post(enabled.endpoint("artifactregistry") + f"/v1/{LOCATION}/repositories"
                         "?repositoryId=ghcr", json=body, timeout=10)
    assert made.status_code == 200
    registry = enabled.api("artifactregistry")
    registry.creating[f"{LOCATION}/repositories/ghcr"].finish()  # its operation, done
    image = f"us-central1-docker.pkg.dev/{PROJECT}/ghcr/acme/api:1"
    assert registry.has_image(image)
    assert not registry.has_image(f"us-central1-docker.pkg.dev/{PROJECT}/elsewhere/acme/api:1")
    with pytest.raises(ApiError, match="read-only"):
        registry.push(image, "content")


@pytest.mark.parametrize(
    ("pool_id", "body", "said"),
    [
        ("Worker", {"template": {"containers": [{"image": "busybox"}]}}, "must begin with a letter"),
        ("worker", {"template": {"containers": []}}, "at least one container"),
        ("worker", {"template": {"containers": [{"image": "ghcr.io/acme/w"}]}}, "Expected an image path"),
        ("worker", {"template": {"containers": [{"image": "busybox"}]},
                    "scaling": {"manualInstanceCount": -1}},
         "must be 0 or more"),
    ],
)
def test_the_local_cloud_run_checks_a_worker_pool(enabled: FakeGcp, pool_id: str, body: dict,
                                                  said: str) -> None:
    """A worker pool's id, containers, image source and instance count are checked as a service's."""
    import requests

    answer = requests.post(enabled.endpoint("run") + f"/v2/{LOCATION}/workerPools?workerPoolId={pool_id}",
                           json=body, timeout=10)
    assert answer.status_code == 400 and said in answer.json()["error"]["message"]


def test_a_move_cut_short_is_finished_by_the_next_deploy(provider, project, fake: FakeGcp) -> None:
    """A worker pool made while the Cloud Run service it replaces is still there (a deploy cut
    short between the two) is not NOOP: the next deploy removes the service."""
    exposed = WORKER.replace("    deploy: {replicas: 2}\n", "    expose: ['8080']\n")
    ref = _ref(project, exposed)
    _deploy(provider, ref)
    run = fake.api("run")
    service = f"{LOCATION}/services/{names.Names('tiny', 'dev').service('worker')}"
    kept = run.services[service]
    Path(ref.working_directory, "compose.yaml").write_text(WORKER)
    _deploy(provider, ref)
    run.services[service] = kept  # as if the deploy had stopped before removing it
    result = _deploy(provider, ref)
    assert {c.service: c.action for c in result.changes}["worker"] is Action.UPDATE
    assert service not in run.services and _pool(fake) is not None
