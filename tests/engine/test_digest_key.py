"""Config digests are keyed with a per-stack secret kept with the config values: a record or a
tag that holds them cannot be checked against guessed values by whoever lacks the key. A stack
deployed before it had a key keeps its units (they plan NOOP) while it gets one."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from launchdeck.compose.load import load
from launchdeck.compose.validate import DIGEST_KEY, validate
from launchdeck.engine import deploy as engine_deploy
from launchdeck.engine.deploy import deploy, plan, preflight
from launchdeck.engine.plan import Action, config_digest
from launchdeck.engine.records import Records
from launchdeck.errors import UsageError
from launchdeck.tools import config as config_tool
from testkit import MemoryProvider

COMPOSE = """\
services:
  web:
    image: web:1
    environment: [API_KEY]
  db:
    image: postgres:16
    x-defang-postgres: true
    environment: [POSTGRES_PASSWORD]
"""
SHORT = "k1"
"""A value short enough that an unkeyed digest gives it away offline in a moment."""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    return tmp_path


@pytest.fixture
def memory(root: Path) -> MemoryProvider:
    provider = MemoryProvider()
    store = provider.config_store(root.name, "dev")
    anyio.run(store.set, "API_KEY", SHORT)
    anyio.run(store.set, "POSTGRES_PASSWORD", "pw-1")
    return provider


def _deploy(provider: MemoryProvider, root: Path):
    loaded = load(cwd=root, os_environ={})
    return anyio.run(lambda: deploy(loaded, provider, stack="dev"))


def _plan(provider: MemoryProvider, root: Path) -> dict[str, Action]:
    loaded = load(cwd=root, os_environ={})

    async def run():
        return await plan(await preflight(loaded, provider, stack="dev"))

    return {c.service: c.action for c in anyio.run(run).changes}


def _recorded(provider: MemoryProvider, project: str) -> dict[str, dict[str, str]]:
    record = anyio.run(Records(provider.blobs(), project, "dev").read)
    assert record is not None
    return {name: {k: v for k, v in parts.items() if k.startswith("config:")}
            for name, parts in record.parts.items()}


def test_the_first_deploy_keys_the_digests_it_records(memory: MemoryProvider, root: Path) -> None:
    assert _deploy(memory, root).ok
    held = memory.config[(root.name, "dev")]
    key = held[DIGEST_KEY]
    assert len(key) >= 40  # 256 bits, URL-safe
    recorded = _recorded(memory, root.name)
    assert recorded["web"] == {"config:API_KEY": config_digest(root.name, "dev", "API_KEY", SHORT, key)}
    unkeyed = config_digest(root.name, "dev", "API_KEY", SHORT)
    kept = b"".join(data for data, _ in memory.stored.objects.values()).decode()
    assert unkeyed not in kept
    assert recorded["db"] == {"config:POSTGRES_PASSWORD": config_digest(
        root.name, "dev", "POSTGRES_PASSWORD", "pw-1", key)}
    # the key is a secret like the values: kept in the store, never in a record
    assert key not in kept
    assert set(_plan(memory, root).values()) == {Action.NOOP}
    # the key is made once: a second deploy keeps it
    assert _deploy(memory, root).ok and memory.config[(root.name, "dev")][DIGEST_KEY] == key


def test_another_stack_has_another_key(memory: MemoryProvider, root: Path) -> None:
    assert _deploy(memory, root).ok
    other = memory.config_store(root.name, "prod")
    anyio.run(other.set, "API_KEY", SHORT)
    anyio.run(other.set, "POSTGRES_PASSWORD", "pw-1")
    loaded = load(cwd=root, os_environ={})
    assert anyio.run(lambda: deploy(loaded, memory, stack="prod")).ok
    assert memory.config[(root.name, "prod")][DIGEST_KEY] != memory.config[(root.name, "dev")][DIGEST_KEY]


def test_a_stack_deployed_before_keys_plans_noop_and_then_follows_its_values(
        memory: MemoryProvider, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What an earlier release deployed (unkeyed digests, no key in the store) is the same
    units: the first deploy after the upgrade makes the key and changes nothing; a value
    changed later is still seen."""
    async def unkeyed(ready):  # the earlier release made no key
        return ready, False

    monkeypatch.setattr(engine_deploy, "_keyed", unkeyed)
    assert _deploy(memory, root).ok
    assert DIGEST_KEY not in memory.config[(root.name, "dev")]
    monkeypatch.undo()
    before = list(memory.changes)

    again = _deploy(memory, root)
    assert again.ok and {c.action for c in again.changes} == {Action.NOOP}
    assert memory.changes == before  # nothing applied
    assert DIGEST_KEY in memory.config[(root.name, "dev")]
    assert set(_plan(memory, root).values()) == {Action.NOOP}

    anyio.run(memory.config_store(root.name, "dev").set, "API_KEY", "k2")
    assert _plan(memory, root) == {"web": Action.REPLACE, "db": Action.NOOP}


def test_the_key_is_launchdecks_own(memory: MemoryProvider, root: Path) -> None:
    """No user sets, deletes or reads it, and no listing shows it."""
    assert _deploy(memory, root).ok
    with pytest.raises(UsageError, match="launchdeck's own"):
        anyio.run(lambda: config_tool.write(memory, root.name, "dev", {DIGEST_KEY: "x" * 40}))
    with pytest.raises(UsageError, match="launchdeck's own"):
        config_tool.check_own(DIGEST_KEY)
    assert config_tool.shown(sorted(memory.config[(root.name, "dev")])) == ["API_KEY",
                                                                           "POSTGRES_PASSWORD"]
    (root / "compose.yaml").write_text(COMPOSE.replace("[API_KEY]", f"[API_KEY, {DIGEST_KEY}]"))
    findings = validate(load(cwd=root, os_environ={}), "memory", memory.capabilities)
    assert any(f.severity == "error" and DIGEST_KEY in f.message and f.line for f in findings)


def test_a_project_that_reads_no_config_makes_no_key(tmp_path: Path) -> None:
    """Nothing to key: the target's config store is left alone (on GCP it may be off)."""
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: web:1\n")
    provider = MemoryProvider()
    assert _deploy(provider, tmp_path).ok
    assert provider.config.get((tmp_path.name, "dev"), {}) == {}



def test_a_deploy_refused_by_its_target_keeps_no_key(memory: MemoryProvider, root: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """What observing finds the target refuses stops the deploy before any change: the key it
    would have made is not kept either."""
    from launchdeck.errors import ProviderError
    from testkit import _MemorySession

    refused = ProviderError("no zone serves example.com", provider="memory")
    monkeypatch.setattr(_MemorySession, "refusal", refused)
    with pytest.raises(ProviderError):
        _deploy(memory, root)
    assert DIGEST_KEY not in memory.config[(root.name, "dev")]


def test_the_key_goes_with_the_stacks_last_config_value(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """`config rm` of the last value a stack has removes its digest key too: nothing is left
    behind in the store (the local one here; every store is reached through the same tool)."""
    from launchdeck.tools.project import ProjectRef

    monkeypatch.setenv("LAUNCHDECK_STATE_DIR", str(tmp_path / "state"))
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "compose.yaml").write_text(COMPOSE)
    ref = ProjectRef(working_directory=str(folder), provider="local")
    store = ref.target().config_store("p", "dev")
    for name, value in {"API_KEY": SHORT, "POSTGRES_PASSWORD": "pw-1", DIGEST_KEY: "k" * 43}.items():
        anyio.run(store.set, name, value)
    anyio.run(lambda: config_tool.config_delete(ref, "API_KEY"))
    assert sorted(anyio.run(store.names)) == [DIGEST_KEY, "POSTGRES_PASSWORD"]
    anyio.run(lambda: config_tool.config_delete(ref, "POSTGRES_PASSWORD"))
    assert anyio.run(store.names) == []
