"""The contract a deployment target keeps with the engine: the specification a new provider
follows, checked on every target there is: the in-memory double, the real Docker Engine, AWS
through a moto server and GCP through the local GCP.

A target passes when, driven only through the engine's own functions (deploy, plan, ps,
destroy) and its config store:

1. a first deploy creates every service, and a second deploy of the same project changes
   nothing (every unit NOOP);
2. a plan after one setting changed names that service alone, with the setting that changed
   as its reason, changes nothing on the target and does not take the deploy lock;
3. deploying that change applies it to that service alone, as planned;
4. destroy leaves ps finding every service NOT_DEPLOYED;
5. its config store answers for the names that are set and leaves out the others;
6. its blobs keep the history: a rollback to an earlier deployment runs that deployment's
   image again, builds nothing, and is an entry of its own.

To add a target: give the ``target`` fixture a branch that makes the provider and a way to
see whether anything on the target changed, then make these tests pass.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest

from launchdeck.compose.load import load, normalize_project_name
from launchdeck.engine import lock, ps
from launchdeck.engine.deploy import deploy, plan, preflight
from launchdeck.engine.destroy import destroy
from launchdeck.engine.events import State
from launchdeck.engine.plan import Action
from launchdeck.engine.seams import DeployOptions
from testkit import BUSYBOX, MemoryProvider

COMPOSE = """\
services:
  web:
    image: @IMAGE@
    command: ["httpd", "-f", "-p", "8080", "-h", "/etc"]
    ports: ["8080"]
    environment:
      GREETING: "@GREETING@"
      TOKEN:
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://localhost:8080/hosts"]
      interval: 1s
      retries: 20
    deploy:
      resources:
        reservations: {memory: 256M}
  worker:
    image: @IMAGE@
    command: ["sleep", "3600"]
    deploy:
      resources:
        reservations: {memory: 256M}
"""
TOKEN = "tok-contract-1f2e"


@dataclass
class Target:
    """One provider under contract, and what it has made: two equal snapshots mean nothing on
    the target changed in between."""

    provider: Any
    snapshot: Callable[[], Any]


@pytest.fixture(params=["memory", "local", "aws", "gcp"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    """Each target there is, fresh, with what counts as a change on it."""
    if request.param == "memory":
        memory = MemoryProvider()
        yield Target(memory, lambda: copy.deepcopy(memory.changes))
    elif request.param == "local":
        from launchdeck.providers.local import spec as S
        from launchdeck.providers.local.provider import LocalProvider

        api = request.getfixturevalue("docker_api")
        project = normalize_project_name(tmp_path.name)
        label = {"label": [f"{S.PROJECT}={project}"]}

        def docker_state() -> Any:
            return (sorted((c["Id"], c["State"]) for c in api.containers(all=True, filters=label)),
                    sorted(n["Id"] for n in api.networks(filters=label)))

        yield Target(LocalProvider(state_root=tmp_path / "state", poll=0.1), docker_state)
        for c in api.containers(all=True, filters=label):
            api.remove_container(c["Id"], force=True)
        for n in api.networks(filters=label):
            api.remove_network(n["Id"])
    elif request.param == "aws":
        from launchdeck.providers.aws.api import Aws
        from launchdeck.providers.aws.provider import AwsProvider

        session = request.getfixturevalue("boto")
        recorded = request.getfixturevalue("calls")
        yield Target(AwsProvider(Aws(session), poll=0.01), lambda: len(recorded.mutating()))
    else:
        from launchdeck.providers.gcp.provider import GcpProvider

        fake = request.getfixturevalue("fake")
        gcp = request.getfixturevalue("gcp")
        yield Target(GcpProvider(gcp, poll=0), lambda: len(fake.mutations()))


def _services(changes: list[Any]) -> dict[str, Action]:
    """Each compose service's action (a provider may plan units of its own besides)."""
    return {c.service: c.action for c in changes if c.kind in ("service", "store")}


def _write(root: Path, greeting: str, worker: str = BUSYBOX) -> None:
    text = COMPOSE.replace("@GREETING@", greeting).replace("@IMAGE@", BUSYBOX)
    (root / "compose.yaml").write_text(text.replace(f"image: {BUSYBOX}\n    command: [\"sleep\"",
                                                    f"image: {worker}\n    command: [\"sleep\""))


def _loaded(root: Path) -> Any:
    return load(cwd=root, os_environ={})


def _deploy(target: Target, root: Path) -> Any:
    loaded = _loaded(root)
    return anyio.run(lambda: deploy(loaded, target.provider, stack="dev",
                                    options=DeployOptions(wait_timeout=60)))


def _plan(target: Target, root: Path) -> tuple[Any, bool]:
    """The plan, and whether the target changed while it was made."""

    async def run() -> tuple[Any, bool]:
        ready = await preflight(_loaded(root), target.provider, stack="dev")
        # holding the deploy lock proves the plan does not try to take it
        async with lock.held(target.provider.blobs(), ready.project.name, "dev", "test", "000000000000",
                             provider=target.provider.name):
            before = target.snapshot()
            planned = await plan(ready)
            return planned, target.snapshot() != before

    return anyio.run(run)


def _set_token(target: Target, root: Path) -> str:
    name = _loaded(root).project.name
    anyio.run(target.provider.config_store(name, "dev").set, "TOKEN", TOKEN)
    return name


def test_a_first_deploy_creates_every_service_and_a_second_changes_nothing(
        target: Target, tmp_path: Path) -> None:
    """Rule 1: a deploy creates every service and reaches SERVICE_DEPLOYMENT_COMPLETED; the same
    project deployed again plans every unit NOOP."""
    _write(tmp_path, "hello")
    _set_token(target, tmp_path)

    first = _deploy(target, tmp_path)
    assert first.ok, [(s.name, s.state, s.message) for s in first.services]
    assert _services(first.changes) == {"web": Action.CREATE, "worker": Action.CREATE}

    again = _deploy(target, tmp_path)
    assert again.ok and {c.action for c in again.changes} == {Action.NOOP}, again.changes


def test_a_plan_names_the_changed_setting_and_changes_nothing(target: Target, tmp_path: Path) -> None:
    """Rule 2: after one setting changed, a plan names that service alone with the setting as
    its reason, changes nothing on the target and does not take the deploy lock."""
    _write(tmp_path, "hello")
    _set_token(target, tmp_path)
    assert _deploy(target, tmp_path).ok

    _write(tmp_path, "bonjour")
    planned, touched = _plan(target, tmp_path)
    changed = {c.service: c.reason for c in planned.changes if c.action is not Action.NOOP}
    assert changed == {"web": "environment changed"}
    assert not touched, "a plan changed the target"


def test_a_deploy_applies_what_its_plan_named_and_nothing_else(target: Target, tmp_path: Path) -> None:
    """Rule 3: deploying a change does to each unit what the plan said: the changed service
    gets the planned action, every other unit is NOOP."""
    _write(tmp_path, "hello")
    _set_token(target, tmp_path)
    assert _deploy(target, tmp_path).ok

    _write(tmp_path, "bonjour")
    planned, _ = _plan(target, tmp_path)
    applied = _deploy(target, tmp_path)
    assert applied.ok, [(s.name, s.state, s.message) for s in applied.services]
    assert {c.service: c.action for c in applied.changes} == \
        {c.service: c.action for c in planned.changes}
    assert _services(applied.changes) == {"web": _services(planned.changes)["web"],
                                          "worker": Action.NOOP}


def test_destroy_leaves_every_service_not_deployed(target: Target, tmp_path: Path) -> None:
    """Rule 4: after destroy, ps finds every service of the project NOT_DEPLOYED."""
    _write(tmp_path, "hello")
    name = _set_token(target, tmp_path)
    assert _deploy(target, tmp_path).ok

    anyio.run(lambda: destroy(target.provider, name, "dev"))
    statuses = anyio.run(ps.ps, target.provider, _loaded(tmp_path).project, "dev")
    assert {s.name: s.state for s in statuses} == {"web": State.NOT_DEPLOYED,
                                                   "worker": State.NOT_DEPLOYED}


def test_config_values_leave_out_names_not_set(target: Target, tmp_path: Path) -> None:
    """Rule 5: a config store's values() answers only for names that are set, since preflight
    finds the missing config by what it leaves out."""
    store = target.provider.config_store(normalize_project_name(tmp_path.name), "dev")

    async def run() -> dict[str, str]:
        await store.set("TOKEN", TOKEN)
        return await store.values(["TOKEN", "UNSET"])

    assert anyio.run(run) == {"TOKEN": TOKEN}


def test_a_rollback_runs_the_earlier_image_and_is_an_entry_of_its_own(
        target: Target, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Rule 6: v1, then v2 with another image for worker, then a rollback to v1: worker runs
    v1's image again (by the reference v1 kept), and the history has the three entries."""
    from launchdeck.engine.history import History
    from launchdeck.engine.rollback import rollback
    from testkit import DEBIAN

    if target.provider.name == "local":
        request.getfixturevalue("debian_image")
    _write(tmp_path, "hello")
    name = _set_token(target, tmp_path)
    first = _deploy(target, tmp_path)
    assert first.ok, [(s.name, s.state, s.message) for s in first.services]
    _write(tmp_path, "hello", worker=DEBIAN)
    assert _deploy(target, tmp_path).ok

    history = History(target.provider.blobs(), name, "dev")

    async def back() -> Any:
        ready = await preflight(_loaded(tmp_path), target.provider, stack="dev")
        return await rollback(ready, await history.find(first.deployment_id),
                              options=DeployOptions(wait_timeout=60))

    result = anyio.run(back)
    assert result.ok, [(s.name, s.state, s.message) for s in result.services]
    assert _services(result.changes)["worker"] is not Action.NOOP
    entries = anyio.run(history.entries)
    assert [(e.operation, e.outcome) for e in entries] == \
        [("deploy", "succeeded"), ("deploy", "succeeded"), ("rollback", "succeeded")]
    assert entries[2].unit("worker").image == entries[0].unit("worker").image != \
        entries[1].unit("worker").image
