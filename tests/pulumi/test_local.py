"""The dynamic provider against the real Docker Engine: Pulumi's create, diff, update and
delete called as Pulumi's dynamic provider host calls them, on a program run under mocks."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest

from launchdeck.compose.load import normalize_project_name
from launchdeck.engine.plan import config_digest
from launchdeck.providers.local import spec as S
from launchdeck.providers.local.provider import LocalProvider
from launchdeck.pulumi import DeploymentFailed, Project, Service
from launchdeck.pulumi.provider import LaunchdeckProvider
from testkit import BUSYBOX
from tests.pulumi.conftest import Ran, run_program

TOKEN = "tok-pulumi-7c1d9e4b2a"
ROTATED = "tok-pulumi-rotated-5f0e"
WEB_DOCKERFILE = f'FROM {BUSYBOX}\nRUN mkdir -p /site && echo hello > /site/index.html\n' \
                 'CMD ["httpd", "-f", "-p", "8080", "-h", "/site"]\n'


def _probe(port: int) -> dict[str, Any]:
    return {"test": ["CMD", "wget", "-q", "-O", "/dev/null", f"http://localhost:{port}/"],
            "interval": "1s", "retries": 30}


def demo(project: str, *, greeting: str = "hello", worker_command: str = "sleep 3600",
         stack: str | None = None) -> Callable[[], Any]:
    """A built web front with 2 replicas and a config value, and a worker that waits for it."""

    def program() -> Any:
        web = Service("web", build="./web", ports=[{"target": 8080, "mode": "ingress"}],
                      environment={"GREETING": greeting, "TOKEN": None}, healthcheck=_probe(8080),
                      deploy={"replicas": 2, "resources": {"reservations": {"memory": "64M"}}})
        worker = Service("worker", image=BUSYBOX, command=worker_command, environment={"TOKEN": None},
                         depends_on={web: "service_healthy"},
                         deploy={"resources": {"reservations": {"memory": "32M"}}})
        return Project("demo", services=[web, worker], project_name=project, stack=stack).endpoints

    return program


@dataclass
class Deployed:
    """A project created through the dynamic provider, and what Pulumi would keep of it."""

    ran: Ran
    provider: LaunchdeckProvider
    news: dict[str, Any]
    outs: dict[str, Any]
    id: str

    def declare(self, program: Callable[[], Any], config: dict[str, str] | None = None
                ) -> tuple[LaunchdeckProvider, dict[str, Any]]:
        """Run another version of the program: its configured provider and checked inputs."""
        ran = run_program(program, config=config or {"TOKEN": TOKEN})
        provider = ran.provider()
        return provider, provider.check(self.outs, ran.inputs).inputs


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The program's folder (Pulumi runs programs in theirs), with the web front's Dockerfile."""
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "Dockerfile").write_text(WEB_DOCKERFILE)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def name(tmp_path: Path) -> str:
    return normalize_project_name(f"pl-{tmp_path.name}")


@pytest.fixture
def engine(docker_api, state: Path, name: str) -> Iterator[Any]:
    """The real Docker Engine; whatever a test leaves of its project (images too) is removed
    after it."""
    yield docker_api
    label = {"label": [f"{S.PROJECT}={name}"]}
    for c in docker_api.containers(all=True, filters=label):
        docker_api.remove_container(c["Id"], force=True)
    for n in docker_api.networks(filters=label):
        docker_api.remove_network(n["Id"])
    for image in docker_api.images(filters={"reference": f"{name}/*"}):
        for tag in image["RepoTags"] or []:
            if tag.startswith(f"{name}/"):  # the tag only: the image may carry other tests' names
                docker_api.remove_image(tag)


@pytest.fixture
def deployed(engine, folder: Path, name: str) -> Deployed:
    ran = run_program(demo(name), config={"TOKEN": TOKEN})
    provider = ran.provider()
    checked = provider.check({}, ran.inputs)
    assert checked.failures == []
    created = provider.create(checked.inputs)
    return Deployed(ran, provider, checked.inputs, created.outs, created.id)


def _containers(api: Any, name: str) -> dict[str, list[str]]:
    """Each service's running container ids."""
    out: dict[str, list[str]] = {}
    for c in api.containers(filters={"label": [f"{S.PROJECT}={name}"]}):
        out.setdefault(c["Labels"][S.SERVICE], []).append(c["Id"])
    return {k: sorted(v) for k, v in out.items()}


def _stored(name: str) -> dict[str, str]:
    store = LocalProvider().config_store(name, "dev")
    return anyio.run(store.values, ["TOKEN"])


def test_create_deploys_every_service_through_the_engine(deployed: Deployed, engine, name: str) -> None:
    """create builds and starts each service, 2 replicas of web, and reports them completed."""
    assert deployed.id == f"local/{name}/dev"
    assert {n: s["state"] for n, s in deployed.outs["services"].items()} == {
        "web": "SERVICE_DEPLOYMENT_COMPLETED", "worker": "SERVICE_DEPLOYMENT_COMPLETED"}
    assert {n: len(ids) for n, ids in _containers(engine, name).items()} == {"web": 2, "worker": 1}
    assert deployed.outs["endpoints"]["web"] and deployed.outs["endpoints"]["web"][0].startswith("http://")


def test_create_puts_the_stacks_secret_in_the_config_store(deployed: Deployed, name: str) -> None:
    """The value read from the stack's config is in launchdeck's config store for the target."""
    assert _stored(name) == {"TOKEN": TOKEN}


def test_pulumi_keeps_digests_of_config_never_a_value(deployed: Deployed, name: str) -> None:
    """Neither the inputs Pulumi stores nor the outputs hold the value; a salted digest does."""
    assert TOKEN not in json.dumps(deployed.news) + json.dumps(deployed.outs)
    assert deployed.outs["digests"] == {"TOKEN": config_digest(name, "dev", "TOKEN", TOKEN)}


def test_an_unchanged_project_diffs_to_no_change(deployed: Deployed, folder: Path, name: str) -> None:
    """The same program again plans all NOOP: Pulumi sees no change."""
    provider, news = deployed.declare(demo(name))
    assert provider.diff(deployed.id, deployed.outs, news).changes is False


def test_a_changed_setting_updates_only_its_service(deployed: Deployed, engine, name: str) -> None:
    """A new environment value is an update (not a replacement) that changes web alone."""
    before = _containers(engine, name)
    provider, news = deployed.declare(demo(name, greeting="bonjour"))
    diff = provider.diff(deployed.id, deployed.outs, news)
    assert diff.changes is True and not diff.replaces
    outs = provider.update(deployed.id, deployed.outs, news).outs
    actions = {c["service"]: c["action"] for c in outs["changes"]}
    assert actions["worker"] == "NOOP" and actions["web"] in ("UPDATE", "REPLACE")
    after = _containers(engine, name)
    assert after["worker"] == before["worker"] and not set(after["web"]) & set(before["web"])


def test_new_code_in_a_build_context_is_an_update_though_the_program_is_the_same(
        deployed: Deployed, folder: Path, name: str) -> None:
    """The diff is the engine's plan, not a comparison of inputs: a changed Dockerfile is seen."""
    (folder / "web" / "Dockerfile").write_text(WEB_DOCKERFILE.replace("hello", "bonjour"))
    provider, news = deployed.declare(demo(name))
    assert news["compose"] == deployed.outs["compose"]
    assert provider.diff(deployed.id, deployed.outs, news).changes is True


def test_a_new_secret_value_is_an_update_that_rewrites_the_store(deployed: Deployed, name: str) -> None:
    """A value changed in the stack's config diffs to a change and lands in the store on update."""
    provider, news = deployed.declare(demo(name), config={"TOKEN": ROTATED})
    assert provider.diff(deployed.id, deployed.outs, news).changes is True
    outs = provider.update(deployed.id, deployed.outs, news).outs
    assert _stored(name) == {"TOKEN": ROTATED}
    assert outs["digests"] == {"TOKEN": config_digest(name, "dev", "TOKEN", ROTATED)}


def test_another_stack_is_a_replacement(deployed: Deployed, name: str) -> None:
    """Moving the project to another stack replaces the resource, the new one made first."""
    provider, news = deployed.declare(demo(name, stack="staging"))
    diff = provider.diff(deployed.id, deployed.outs, news)
    assert diff.replaces == ["stack"] and diff.delete_before_replace is False


def test_delete_leaves_nothing(deployed: Deployed, engine, name: str) -> None:
    """delete is the engine's destroy: no container or network is left, nor the config value."""
    deployed.provider.delete(deployed.id, deployed.outs)
    label = {"label": [f"{S.PROJECT}={name}"]}
    assert engine.containers(all=True, filters=label) == []
    assert engine.networks(filters=label) == []
    assert _stored(name) == {}


def test_a_service_that_fails_fails_create_naming_it(engine, folder: Path, name: str) -> None:
    """create raises with the failed service and its state, and no config value in the words."""
    ran = run_program(demo(name, worker_command="sh -c 'echo \"$$TOKEN\"; exit 3'"), config={"TOKEN": TOKEN})
    provider = ran.provider()
    with pytest.raises(DeploymentFailed) as raised:
        provider.create(provider.check({}, ran.inputs).inputs)
    assert "worker: SERVICE_DEPLOYMENT_FAILED" in raised.value.message
    assert TOKEN not in str(raised.value)


def test_a_config_value_the_provider_cannot_read_fails_check(engine, folder: Path, name: str) -> None:
    """Without the value in the config Pulumi hands the provider, check fails on `config`."""
    ran = run_program(demo(name), config={"TOKEN": TOKEN})
    failures = ran.provider(config={}).check({}, ran.inputs).failures
    assert [(f.property, "TOKEN" in f.reason) for f in failures] == [("config", True)]
