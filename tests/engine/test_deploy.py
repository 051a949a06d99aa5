"""The engine's deploy loop, on the in-memory provider: order, failures, plans, records, logs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest

from launchdeck.compose.load import load
from launchdeck.engine import lock, logs, ps
from launchdeck.engine.deploy import deploy, plan, preflight
from launchdeck.engine.destroy import destroy
from launchdeck.engine.events import Recorder, State
from launchdeck.engine.plan import Action
from launchdeck.engine.results import LogLine
from launchdeck.engine.seams import DeployOptions, Kind, LogQuery
from launchdeck.errors import ConfigMissing, ProviderError
from testkit import MemoryProvider

THREE = """\
services:
  web:
    build: ./web
    environment: [API_KEY]
    depends_on:
      api: {condition: service_healthy}
  api:
    image: api:1
    depends_on: [db]
  db:
    image: postgres:16
    x-defang-postgres: true
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "compose.yaml").write_text(THREE)
    return tmp_path


@pytest.fixture
def memory() -> MemoryProvider:
    made = MemoryProvider()
    return made


def _deploy(provider: MemoryProvider, root: Path, **options):
    recorder = Recorder()
    loaded = load(cwd=root, os_environ={})
    anyio.run(provider.config_store(loaded.project.name, "dev").set, "API_KEY", "k-1")
    result = anyio.run(lambda: deploy(loaded, provider, stack="dev", sink=recorder,
                                      options=DeployOptions(**options)))
    return result, recorder


def _hold(provider: MemoryProvider, project: str, stack: str) -> None:
    """A live deploy of this process holds the (project, stack)."""
    holder = json.dumps(lock.holder("deploy", "held00000000")).encode()
    anyio.run(lambda: provider.stored.write(lock.key(project, stack), holder))


def _plan(provider: MemoryProvider, root: Path):
    loaded = load(cwd=root, os_environ={})
    return anyio.run(lambda: _plan_async(provider, loaded))


async def _plan_async(provider, loaded):
    return await plan(await preflight(loaded, provider, stack="dev"))


def test_units_are_applied_after_their_dependencies(memory, root) -> None:
    """db before api before web: each waits for what its depends_on names."""
    result, _ = _deploy(memory, root)
    assert result.ok
    assert [name for op, name in memory.changes] == ["db", "api", "web"]
    assert {c.service: c.action for c in result.changes} == dict.fromkeys(
        ["web", "api", "db"], Action.CREATE)


def test_an_unchanged_project_plans_and_applies_nothing(memory, root) -> None:
    """A second deploy finds every digest equal: all NOOP, no change, no rebuild."""
    _deploy(memory, root)
    memory.changes.clear()
    memory.built.clear()
    again, _ = _deploy(memory, root)
    assert again.ok and {c.action for c in again.changes} == {Action.NOOP}
    assert memory.changes == [] and memory.built == []


def test_an_unchanged_project_prepares_nothing(memory, root) -> None:
    """No unit is applied, so nothing they stand on is made or checked; a change prepares again."""
    _deploy(memory, root)
    assert memory.prepared == 1
    _deploy(memory, root)
    assert memory.prepared == 1
    _deploy(memory, root, force=True)
    assert memory.prepared == 2


class _InParts:
    """A memory session that prepares in parts (``PreparesInParts``): a store stands on nothing
    prepare makes, a service on all of it, and prepare ends only once the store is made (or
    fails at once, when ``failing``)."""

    def __init__(self, inner, *, failing: bool = False) -> None:
        self.inner, self.failing = inner, failing
        self.ended = anyio.Event()
        self.seen: list[str] = []

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    async def prepare(self) -> None:
        if self.failing:
            raise ProviderError("the network could not be made", provider="memory")
        while ("create", "db") not in self.inner.provider.changes:
            await anyio.sleep(0.001)
        await self.inner.prepare()
        self.seen.append(f"prepared once {[name for _, name in self.inner.provider.changes]} were made")
        self.ended.set()

    async def prepared_for(self, unit) -> None:
        self.seen.append(f"asked for {unit.name}")
        if unit.kind is not Kind.STORE:
            await self.ended.wait()


def _in_parts(memory: MemoryProvider, **knobs) -> list[_InParts]:
    made: list[_InParts] = []
    plain = memory.session

    async def session(*args, **kwargs):
        made.append(_InParts(await plain(*args, **kwargs), **knobs))
        return made[-1]

    memory.session = session
    return made


def test_a_unit_starts_on_its_own_part_of_prepare(memory, root) -> None:
    """A session that prepares in parts: the store is made before prepare ends (which waits for
    it here), the services after; each unit asked for its part first."""
    made = _in_parts(memory)
    loaded = load(cwd=root, os_environ={})
    anyio.run(memory.config_store(loaded.project.name, "dev").set, "API_KEY", "k-1")

    async def bounded():
        with anyio.fail_after(20):  # a deploy that waited for all of prepare first never ends
            return await deploy(loaded, memory, stack="dev")

    result = anyio.run(bounded)
    assert result.ok
    assert [name for _, name in memory.changes] == ["db", "api", "web"]
    assert made[0].seen[0] == "asked for db"
    assert "prepared once ['db'] were made" in made[0].seen
    assert {"asked for api", "asked for web"} < set(made[0].seen)


def test_a_failing_prepare_in_parts_fails_the_deploy_and_starts_no_service(memory, root) -> None:
    """prepare's error is the deploy's, as when every unit waits for all of it; no service that
    stands on it is applied."""
    _in_parts(memory, failing=True)
    with pytest.raises(ProviderError, match="the network could not be made"):
        _deploy(memory, root)
    assert not {"api", "web"} & {name for _, name in memory.changes}


def test_a_plan_changes_nothing_and_takes_no_lock(memory, root) -> None:
    """plan reads and renders only: the target is as it was, and the lock stays free."""
    _deploy(memory, root)
    before = {k: dict(v) for k, v in memory.units.items()}
    memory.changes.clear()
    (root / "compose.yaml").write_text(THREE.replace("image: api:1", "image: api:2"))
    _hold(memory, "other", "dev")  # a lock elsewhere does not matter
    memory.stored.writes.clear()
    result = _plan(memory, root)
    assert {c.service: c.action for c in result.changes} == {
        "web": Action.NOOP, "api": Action.REPLACE, "db": Action.NOOP}
    assert next(c for c in result.changes if c.service == "api").reason == "image changed"
    assert memory.changes == [] and memory.units == before
    assert memory.stored.writes == []  # no lock taken, no record written


def test_the_reason_names_the_setting_and_config_that_changed(memory, root) -> None:
    """With the record's parts at hand, a plan says which setting or config value moved."""
    _deploy(memory, root)
    loaded = load(cwd=root, os_environ={})
    anyio.run(memory.config_store(loaded.project.name, "dev").set, "API_KEY", "k-2")
    web = next(c for c in _plan(memory, root).changes if c.service == "web")
    assert (web.action, web.reason) == (Action.REPLACE, "config API_KEY changed")


def test_a_failed_build_fails_its_dependents_and_ps_remembers_it(memory, root) -> None:
    """web's build fails: it is BUILD_FAILED, others deploy, and ps shows why from the record."""
    memory.failing_builds.add("web")
    result, recorder = _deploy(memory, root)
    states = {s.name: s.state for s in result.services}
    assert states == {"web": State.BUILD_FAILED, "api": State.SERVICE_DEPLOYMENT_COMPLETED,
                      "db": State.SERVICE_DEPLOYMENT_COMPLETED}
    assert recorder.states("web") == [State.BUILD_QUEUED, State.BUILD_RUNNING, State.BUILD_FAILED]
    project = load(cwd=root, os_environ={}).project
    shown = {s.name: s for s in anyio.run(ps.ps, memory, project, "dev")}
    assert shown["web"].state is State.BUILD_FAILED and "step 2/3" in shown["web"].message


def test_a_failed_dependency_stops_its_dependents(memory, root) -> None:
    """api never becomes healthy: web, which waits for it, fails naming it; db is fine."""
    memory.failing_services.add("api")
    result, _ = _deploy(memory, root)
    states = {s.name: (s.state, s.message) for s in result.services}
    assert states["web"] == (State.SERVICE_DEPLOYMENT_FAILED, "dependency api failed")
    assert states["db"][0] is State.SERVICE_DEPLOYMENT_COMPLETED
    assert ("create", "web") not in memory.changes


def test_a_service_taken_out_is_deleted(memory, root) -> None:
    """Dropping web from the file plans and applies DELETE for it, and only it."""
    _deploy(memory, root)
    memory.changes.clear()
    text = THREE[:THREE.index("\n  web:") + 1] + THREE[THREE.index("\n  api:") + 1:]
    (root / "compose.yaml").write_text(text)
    result, _ = _deploy(memory, root)
    assert {c.service: c.action for c in result.changes} == {
        "web": Action.DELETE, "api": Action.NOOP, "db": Action.NOOP}
    assert memory.changes == [("delete", "web")]


def test_force_replaces_every_unit(memory, root) -> None:
    """--force turns every NOOP into a REPLACE and rebuilds."""
    _deploy(memory, root)
    memory.built.clear()
    result, _ = _deploy(memory, root, force=True)
    assert {c.action for c in result.changes} == {Action.REPLACE}
    assert memory.built == ["web"]


def test_missing_config_refuses_before_any_change(memory, root) -> None:
    """A config value the project reads is unset: refused, naming it, nothing changed."""
    loaded = load(cwd=root, os_environ={})
    with pytest.raises(ConfigMissing) as caught:
        anyio.run(lambda: deploy(loaded, memory, stack="dev"))
    assert caught.value.names == ["API_KEY"] and memory.changes == []


def test_a_second_deploy_of_the_stack_is_refused_while_one_runs(memory, root) -> None:
    """The lock holds: a deploy of a stack that is being deployed stops at once."""
    loaded = load(cwd=root, os_environ={})
    anyio.run(memory.config_store(loaded.project.name, "dev").set, "API_KEY", "k")
    _hold(memory, loaded.project.name, "dev")
    with pytest.raises(ProviderError, match="another deploy"):
        anyio.run(lambda: deploy(loaded, memory, stack="dev"))


def test_destroy_leaves_nothing_and_forgets_the_record(memory, root) -> None:
    """After destroy ps says NOT_DEPLOYED everywhere, even where a build had failed."""
    memory.failing_builds.add("web")
    _deploy(memory, root)
    project = load(cwd=root, os_environ={}).project
    anyio.run(lambda: destroy(memory, project.name, "dev"))
    assert {s.state for s in anyio.run(ps.ps, memory, project, "dev")} == {State.NOT_DEPLOYED}


def _line(seconds: int, service: str, text: str) -> LogLine:
    return LogLine(at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds),
                   service=service, text=text)


def test_logs_are_merged_in_time_order_and_tailed(memory) -> None:
    """Lines from every service come back sorted by time; tail keeps the last N overall."""
    memory.log_lines = [_line(3, "a", "three"), _line(1, "b", "one"), _line(2, "a", "two")]
    lines = anyio.run(logs.read, memory, "p", "dev", LogQuery())
    assert [line.text for line in lines] == ["one", "two", "three"]
    tail = anyio.run(logs.read, memory, "p", "dev", LogQuery(tail=2))
    assert [line.text for line in tail] == ["two", "three"]


def test_follow_yields_each_line_once_as_it_comes(memory) -> None:
    """follow starts with the tail, then every new line once, even lines at the same instant."""
    memory.log_lines = [_line(1, "a", "one"), _line(2, "a", "two")]
    seen: list[str] = []

    async def run() -> None:
        async def later() -> None:
            await anyio.sleep(0.05)
            memory.log_lines += [_line(2, "b", "two-b"), _line(3, "a", "three")]

        with anyio.move_on_after(0.3):
            async with anyio.create_task_group() as group:
                group.start_soon(later)
                async for line in logs.follow(memory, "p", "dev", LogQuery(tail=1),
                                              interval=0.01):
                    seen.append(line.text)

    anyio.run(run)
    assert seen == ["two", "two-b", "three"]
