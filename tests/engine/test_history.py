"""The history of a (project, stack) and rollbacks, on the in-memory provider."""

from __future__ import annotations

import subprocess
from pathlib import Path

import anyio
import pytest

from launchdeck.compose.load import load
from launchdeck.engine import history, records
from launchdeck.engine.deploy import deploy, preflight
from launchdeck.engine.destroy import destroy
from launchdeck.engine.events import State
from launchdeck.engine.plan import Action
from launchdeck.engine.rollback import preview, rollback
from launchdeck.errors import DeployRefused, ProviderError, UsageError
from testkit import MemoryProvider

SECRET = "s3cret-value-never-shown"

COMPOSE = """\
services:
  web:
    build: ./web
    environment: [API_KEY]
    depends_on: [api]
  api:
    image: api:{version}
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "compose.yaml").write_text(COMPOSE.format(version=1))
    subprocess.run(["git", "init", "-q", "-b", "main", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "-c", "user.email=t@example.com", "-c",
                    "user.name=t", "commit", "-q", "--allow-empty", "-m", "v"], check=True)
    return tmp_path


@pytest.fixture
def memory() -> MemoryProvider:
    return MemoryProvider()


def _deploy(provider: MemoryProvider, root: Path, version: int):
    (root / "compose.yaml").write_text(COMPOSE.format(version=version))
    loaded = load(cwd=root, os_environ={})
    anyio.run(provider.config_store(loaded.project.name, "dev").set, "API_KEY", SECRET)
    return anyio.run(lambda: deploy(loaded, provider, stack="dev"))


def _entries(provider: MemoryProvider, root: Path) -> list[history.Deployment]:
    return anyio.run(history.History(provider.stored, root.name, "dev").entries)


def _three(provider: MemoryProvider, root: Path) -> list[str]:
    """v1, v2 (a changed image), v3 (api never healthy); their ids."""
    ids = [_deploy(provider, root, 1).deployment_id, _deploy(provider, root, 2).deployment_id]
    provider.failing_services.add("api")
    ids.append(_deploy(provider, root, 3).deployment_id)
    provider.failing_services.clear()
    return ids


def _ready(provider: MemoryProvider, root: Path):
    loaded = load(cwd=root, os_environ={})
    return anyio.run(lambda: preflight(loaded, provider, stack="dev"))


def _find(provider: MemoryProvider, root: Path, ref: str) -> history.Deployment:
    return anyio.run(history.History(provider.stored, root.name, "dev").find, ref)


def test_each_deploy_appends_an_entry_with_its_outcome(memory, root) -> None:
    """Three deploys leave three entries, oldest first, with their outcomes."""
    ids = _three(memory, root)
    entries = _entries(memory, root)
    assert [e.id for e in entries] == ids
    assert [e.outcome for e in entries] == ["succeeded", "succeeded", "failed"]


def test_an_entry_keeps_each_units_image_reference(memory, root) -> None:
    """The image each service ran is kept as its reference, for a rollback."""
    _three(memory, root)
    assert [e.unit("api").image for e in _entries(memory, root)] == ["api:1", "api:2", "api:3"]


def test_an_entry_says_where_it_came_from(memory, root) -> None:
    """The git commit and branch, a clean tree, the compose digest and the version."""
    _deploy(memory, root, 1)
    head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    origin = _entries(memory, root)[0].origin
    assert (origin.commit, origin.branch, origin.compose_digest is not None, origin.version) == \
        (head, "main", True, "0.1.0")


def test_an_entry_keeps_config_names_with_digests_only(memory, root) -> None:
    """API_KEY is named with a digest; its value is in no object the target keeps."""
    _three(memory, root)
    entry = _entries(memory, root)[0]
    assert list(entry.unit("web").config) == ["API_KEY"]
    assert all(SECRET.encode() not in data for data, _ in memory.stored.objects.values())


def test_the_timeline_has_every_state_change(memory, root) -> None:
    """The failed deploy's timeline shows api going pending, then failed."""
    _three(memory, root)
    timeline = _entries(memory, root)[2].timeline
    states = [m.state for m in timeline if m.unit == "api" and m.state]
    assert states[-2:] == [State.SERVICE_DEPLOYMENT_PENDING, State.SERVICE_DEPLOYMENT_FAILED]


def test_the_last_record_stays_where_every_release_kept_it(memory, root) -> None:
    """deployments/<project>/<stack>.json still holds the last deploy's result."""
    ids = _three(memory, root)
    record = anyio.run(records.Records(memory.stored, root.name, "dev").read)
    assert record is not None and record.result.deployment_id == ids[-1]
    assert anyio.run(records.recorded, memory.stored) == [(root.name, "dev")]


def test_the_history_is_pruned_to_the_last_ones_kept(memory, root) -> None:
    """With room for two, the oldest of three entries goes."""
    ids = _three(memory, root)
    kept, last = history.History(memory.stored, root.name, "dev"), _entries(memory, root)[-1]
    anyio.run(lambda: kept.append(last, keep=2))
    assert [e.id for e in _entries(memory, root)] == ids[1:]


def test_a_destroy_is_an_entry_too(memory, root) -> None:
    """Destroying appends an entry that says so."""
    _deploy(memory, root, 1)
    anyio.run(lambda: destroy(memory, root.name, "dev"))
    assert [(e.operation, e.outcome) for e in _entries(memory, root)] == \
        [("deploy", "succeeded"), ("destroy", "destroyed")]


@pytest.mark.parametrize("ref, index", [("latest", 2), ("previous", 1)])
def test_latest_and_previous_name_deployments(memory, root, ref, index) -> None:
    """latest is the last; previous the last successful one before it."""
    ids = _three(memory, root)
    assert _find(memory, root, ref).id == ids[index]


def test_an_id_prefix_names_a_deployment(memory, root) -> None:
    """The first characters of an id are enough when they name one."""
    ids = _three(memory, root)
    assert _find(memory, root, ids[0][:8]).id == ids[0]


def test_an_unknown_id_is_refused_clearly(memory, root) -> None:
    """A name that is no deployment says how to list them."""
    _three(memory, root)
    with pytest.raises(UsageError, match="is not a deployment"):
        _find(memory, root, "zzzz")


def test_a_rollback_runs_the_earlier_images_without_building(memory, root) -> None:
    """Back to v1: api runs api:1 again, nothing is built."""
    ids = _three(memory, root)
    built = list(memory.built)
    ready, entry = _ready(memory, root), _find(memory, root, ids[0])
    result = anyio.run(lambda: rollback(ready, entry))
    assert result.ok
    assert memory.units[(root.name, "dev")]["api"].image == "api:1"
    assert memory.built == built


def test_a_rollback_is_an_entry_of_its_own(memory, root) -> None:
    """The history has four entries, the last a rollback to v1."""
    ids = _three(memory, root)
    ready, entry = _ready(memory, root), _find(memory, root, ids[0])
    anyio.run(lambda: rollback(ready, entry))
    last = _entries(memory, root)[-1]
    assert (len(_entries(memory, root)), last.operation, last.rollback_of) == \
        (4, "rollback", ids[0])


def test_the_preview_lists_what_changes_and_changes_nothing(memory, root) -> None:
    """Rolling back from v3 to v1 replaces api; nothing is applied by the preview."""
    ids = _three(memory, root)
    changes = list(memory.changes)
    ready, entry = _ready(memory, root), _find(memory, root, ids[0])
    shown = anyio.run(lambda: preview(ready, entry))
    assert {c.service: c.action for c in shown.plan.changes}["api"] is not Action.NOOP
    assert shown.images["api"] == "api:1"
    assert memory.changes == changes


def test_the_preview_names_a_config_value_that_changed(memory, root) -> None:
    """API_KEY set anew since v1: the preview names it (never its value)."""
    ids = _three(memory, root)
    anyio.run(memory.config_store(root.name, "dev").set, "API_KEY", "another-value-1")
    ready, entry = _ready(memory, root), _find(memory, root, ids[0])
    shown = anyio.run(lambda: preview(ready, entry))
    assert shown.config_changed == ["API_KEY"]


def test_a_rollback_to_a_removed_image_is_refused_before_any_change(memory, root) -> None:
    """api:1 was removed: the rollback names it and changes nothing."""
    ids = _three(memory, root)
    memory.removed_images.add("api:1")
    changes = list(memory.changes)
    ready, entry = _ready(memory, root), _find(memory, root, ids[0])
    with pytest.raises(DeployRefused, match="api"):
        anyio.run(lambda: rollback(ready, entry))
    assert memory.changes == changes


@pytest.mark.parametrize("value, count", [("2", 2), ("0", 1), ("lots", 50)])
def test_the_number_kept_is_a_setting(monkeypatch, value, count) -> None:
    """LAUNCHDECK_HISTORY_KEEP sets how many are kept (at least one; else 50)."""
    monkeypatch.setenv("LAUNCHDECK_HISTORY_KEEP", value)
    assert history.kept() == count


class _Broken(MemoryProvider):
    """A target whose preparation fails (as a cloud call might), after the lock is taken."""

    async def session(self, *args, **kwargs):
        made = await super().session(*args, **kwargs)

        async def prepare() -> None:
            raise ProviderError("the network could not be made", provider="memory")

        made.prepare = prepare
        return made


def test_a_deploy_that_stops_early_is_an_error_entry(root) -> None:
    """A deploy stopped by a target's error is kept, as error, with its message."""
    broken = _Broken()
    with pytest.raises(ProviderError):
        _deploy(broken, root, 1)
    entry = _entries(broken, root)[0]
    assert (entry.outcome, entry.message) == ("error", "the network could not be made")
