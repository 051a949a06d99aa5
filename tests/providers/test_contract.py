"""The contract every provider keeps with the engine, checked on each: the in-memory double,
the real Docker Engine, and AWS through a moto server.

Deploy makes every unit; an unchanged project plans and applies nothing; a plan after a
change names only that service and changes nothing (taking no lock); the change deploys to
that service only; destroy leaves ps with nothing deployed. A config store's values leave
out the names not set.
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
from launchdeck.providers.base import DeployOptions
from testkit import BUSYBOX, MemoryProvider
from tests.providers.aws.conftest import aws_env, boto, calls, moto_server, strict  # noqa: F401

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


@dataclass
class Target:
    """One provider under contract, with a way to see whether anything on it changed."""

    provider: Any
    snapshot: Callable[[], Any]
    changed_since: Callable[[Any], bool]


@pytest.fixture(params=["memory", "local", "aws"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    if request.param == "memory":
        memory = MemoryProvider()
        yield Target(memory, lambda: copy.deepcopy(memory.changes),
                     lambda before: memory.changes != before)
    elif request.param == "local":
        from launchdeck.providers.local import spec as S
        from launchdeck.providers.local.provider import LocalProvider

        api = request.getfixturevalue("docker_api")
        project = normalize_project_name(tmp_path.name)
        label = {"label": [f"{S.PROJECT}={project}"]}

        def docker_state() -> Any:
            return (sorted((c["Id"], c["State"]) for c in api.containers(all=True, filters=label)),
                    sorted(n["Id"] for n in api.networks(filters=label)))

        yield Target(LocalProvider(state_root=tmp_path / "state", poll=0.1), docker_state,
                     lambda before: docker_state() != before)
        for c in api.containers(all=True, filters=label):
            api.remove_container(c["Id"], force=True)
        for n in api.networks(filters=label):
            api.remove_network(n["Id"])
    else:
        from launchdeck.providers.aws.api import Aws
        from launchdeck.providers.aws.provider import AwsProvider

        session = request.getfixturevalue("boto")
        recorded = request.getfixturevalue("calls")
        def writes() -> int:  # but the lock the test itself holds around the plan
            return sum(not str(c.params.get("Key", "")).startswith("locks/")
                       for c in recorded.mutating())

        yield Target(AwsProvider(Aws(session), poll=0.01), writes,
                     lambda before: writes() != before)


def _services(changes: list[Any]) -> dict[str, Action]:
    """Each compose service's action (a provider may plan units of its own besides)."""
    return {c.service: c.action for c in changes if c.kind in ("service", "store")}


def _write(root: Path, greeting: str) -> None:
    (root / "compose.yaml").write_text(COMPOSE.replace("@GREETING@", greeting).replace("@IMAGE@", BUSYBOX))


def _loaded(root: Path) -> Any:
    return load(cwd=root, os_environ={})


def _deploy(target: Target, root: Path) -> Any:
    loaded = _loaded(root)
    return anyio.run(lambda: deploy(loaded, target.provider, stack="dev",
                                    options=DeployOptions(wait_timeout=60)))


def _plan(target: Target, root: Path) -> Any:
    async def run() -> Any:
        ready = await preflight(_loaded(root), target.provider, stack="dev")
        # holding the deploy lock proves the plan does not try to take it
        async with lock.held(target.provider.blobs(), ready.project.name, "dev", "test", "000000000000",
                             provider=target.provider.name):
            return await plan(ready)

    return anyio.run(run)


def test_the_deploy_contract(target: Target, tmp_path: Path) -> None:
    """Create all; redeploy nothing; plan one change without changing anything; apply only
    it; destroy everything."""
    root = tmp_path
    _write(root, "hello")
    name = _loaded(root).project.name
    anyio.run(target.provider.config_store(name, "dev").set, "TOKEN", "tok-contract-1f2e")

    first = _deploy(target, root)
    assert first.ok, [(s.name, s.state, s.message) for s in first.services]
    assert _services(first.changes) == {"web": Action.CREATE, "worker": Action.CREATE}

    again = _deploy(target, root)
    assert again.ok and {c.action for c in again.changes} == {Action.NOOP}

    _write(root, "bonjour")
    before = target.snapshot()
    planned = _plan(target, root)
    changed = {c.service: c for c in planned.changes if c.action is not Action.NOOP}
    assert list(changed) == ["web"] and changed["web"].reason == "environment changed"
    assert not target.changed_since(before), "a plan changed the target"

    applied = _deploy(target, root)
    assert applied.ok
    assert _services(applied.changes) == {"web": changed["web"].action, "worker": Action.NOOP}

    anyio.run(lambda: destroy(target.provider, name, "dev"))
    statuses = anyio.run(ps.ps, target.provider, _loaded(root).project, "dev")
    assert {s.name: s.state for s in statuses} == {"web": State.NOT_DEPLOYED,
                                                   "worker": State.NOT_DEPLOYED}


def test_config_values_leave_out_names_not_set(target: Target, tmp_path: Path) -> None:
    """A config store's values() answers only for names that are set: preflight finds the
    missing config by what it leaves out."""
    store = target.provider.config_store(normalize_project_name(tmp_path.name), "dev")

    async def run() -> dict[str, str]:
        await store.set("TOKEN", "tok-contract-1f2e")
        return await store.values(["TOKEN", "UNSET"])

    assert anyio.run(run) == {"TOKEN": "tok-contract-1f2e"}
