"""The deploy lock and the deployment record, on in-memory blobs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import anyio
import pytest

from launchdeck.engine import lock, records
from launchdeck.engine.records import Records
from launchdeck.engine.results import DeployRecord, DeployResult
from launchdeck.errors import ProviderError
from testkit import MemoryBlobs

KEY = lock.key("shop", "dev")


def _held(blobs: MemoryBlobs, deployment: str, operation: str = "deploy"):
    return lock.held(blobs, "shop", "dev", operation, deployment, provider="memory")


def _put(blobs: MemoryBlobs, holder: dict) -> None:
    anyio.run(lambda: blobs.write(KEY, json.dumps(holder).encode()))


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_second_taker_is_refused_naming_the_holder() -> None:
    """While one deploy holds the stack, another is refused with the holder's id and a ps action."""
    blobs = MemoryBlobs()

    async def scenario() -> ProviderError:
        async with _held(blobs, "first0000000"):
            with pytest.raises(ProviderError) as caught:
                async with _held(blobs, "second000000", "destroy"):
                    pass
        return caught.value

    error = anyio.run(scenario)
    assert "another deploy of shop (dev) is running (deployment first0000000" in error.message
    assert [a.operation for a in error.actions] == ["ps"]


def test_the_lock_is_an_object_created_only_if_absent_and_gone_after() -> None:
    """Holding writes locks/<project>/<stack>.json naming this process; releasing deletes it."""
    blobs = MemoryBlobs()

    async def scenario() -> dict:
        async with _held(blobs, "first0000000"):
            return json.loads(blobs.objects[KEY][0])

    holder = anyio.run(scenario)
    assert KEY == "locks/shop/dev.json" and KEY not in blobs.objects
    assert (holder["deployment"], holder["pid"], holder["host"]) == \
        ("first0000000", os.getpid(), socket.gethostname())


@pytest.mark.parametrize("holder", [
    {"host": socket.gethostname(), "pid": "dead", "expires": time.time() + 3600},
    {"host": "another-machine", "pid": 1, "expires": time.time() - 1},
    {},
])
def test_a_holder_that_is_gone_is_taken_over(holder: dict) -> None:
    """An ended process of this machine, any holder past its expiry, or an unreadable one: taken over."""
    blobs = MemoryBlobs()
    if holder:
        holder = {**holder, "pid": _dead_pid() if holder["pid"] == "dead" else holder["pid"],
                  "owner": "deploy", "deployment": "gone00000000"}
    _put(blobs, holder)
    seen: list[str] = []

    async def scenario() -> None:
        async with _held(blobs, "mine00000000"):
            seen.append(json.loads(blobs.objects[KEY][0])["deployment"])

    anyio.run(scenario)
    assert seen == ["mine00000000"] and KEY not in blobs.objects


def test_a_live_holder_on_another_machine_is_respected() -> None:
    """A holder elsewhere, not expired, refuses the deploy and keeps its lock."""
    blobs = MemoryBlobs()
    theirs = {"host": "another-machine", "pid": 1, "expires": time.time() + 3600,
              "owner": "destroy", "deployment": "theirs000000", "since": "2026-01-01T00:00:00+00:00"}
    _put(blobs, theirs)
    with pytest.raises(ProviderError, match="another destroy of shop"):
        anyio.run(lambda: _held(blobs, "mine00000000").__aenter__())
    assert json.loads(blobs.objects[KEY][0]) == theirs


def test_two_takers_of_one_stale_lock_have_one_winner() -> None:
    """Both read the same stale version; the takeover replaces only that version, so one wins."""
    blobs = MemoryBlobs()
    _put(blobs, {"host": "x", "pid": 1, "expires": time.time() - 1, "deployment": "gone"})
    outcomes: list[str] = []
    read = blobs.read

    async def slow_read(key: str):  # both takers read before either writes
        found = await read(key)
        await anyio.sleep(0.05)
        return found

    blobs.read = slow_read  # type: ignore[method-assign]

    async def one(deployment: str) -> None:
        try:
            async with _held(blobs, deployment):
                outcomes.append("held")
                await anyio.sleep(0.1)
        except ProviderError:
            outcomes.append("refused")

    async def both() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(one, "first0000000")
            group.start_soon(one, "second000000")

    anyio.run(both)
    assert sorted(outcomes) == ["held", "refused"]


def test_release_leaves_a_lock_that_was_taken_over_meanwhile() -> None:
    """A holder whose lock was taken over (it had expired) deletes only its own version."""
    blobs = MemoryBlobs()
    successor = {"host": "another-machine", "pid": 1, "expires": time.time() + 3600,
                 "deployment": "next00000000"}

    async def scenario() -> None:
        async with _held(blobs, "mine00000000"):
            await blobs.write(KEY, json.dumps(successor).encode())

    anyio.run(scenario)
    assert json.loads(blobs.objects[KEY][0]) == successor


def test_a_cancelled_holder_still_lets_go() -> None:
    """Cancelling the work under the lock (Ctrl-C, an MCP cancel) releases the stack at once."""
    blobs = MemoryBlobs()

    async def scenario() -> bool:
        with anyio.move_on_after(0.05) as scope:
            async with _held(blobs, "mine00000000"):
                await anyio.sleep(10)
        return scope.cancelled_caught

    assert anyio.run(scenario) and KEY not in blobs.objects
    assert [op for op, _ in blobs.writes] == ["write", "delete"]


def test_our_own_write_answered_as_refused_is_ours() -> None:
    """A write that landed but was answered with a failure (then retried) is recognised as ours."""
    blobs = MemoryBlobs()
    write = blobs.write

    async def landed_but_refused(key: str, data: bytes, *, if_generation=None):
        await write(key, data, if_generation=if_generation)
        return None

    blobs.write = landed_but_refused  # type: ignore[method-assign]
    seen: list[str] = []

    async def scenario() -> None:
        async with _held(blobs, "mine00000000"):
            seen.append(json.loads(blobs.objects[KEY][0])["deployment"])

    anyio.run(scenario)
    assert seen == ["mine00000000"] and KEY not in blobs.objects


def test_a_lock_that_keeps_changing_gives_up_with_a_hint() -> None:
    """When every attempt meets a new version, taking the lock stops with 'try again'."""
    blobs = MemoryBlobs()

    async def never(key: str, data: bytes, *, if_generation=None):
        return None

    async def gone(key: str):
        return None

    blobs.write, blobs.read = never, gone  # type: ignore[method-assign]
    with pytest.raises(ProviderError, match="could not take the deploy lock") as caught:
        anyio.run(lambda: _held(blobs, "mine00000000").__aenter__())
    assert "Try again" in caught.value.hint


# -- the deployment record ---------------------------------------------------------------------


def _record(deployment: str) -> DeployRecord:
    result = DeployResult(project="shop", stack="dev", provider="memory", deployment_id=deployment,
                          services=[], changes=[])
    return DeployRecord(result=result, parts={"web": {"image": "web:1"}})


def test_a_record_is_kept_where_every_release_kept_it() -> None:
    """write, read and delete go to deployments/<project>/<stack>.json, as JSON of the record."""
    blobs = MemoryBlobs()
    store = Records(blobs, "shop", "dev")
    anyio.run(store.write, _record("abc123def456"))
    assert list(blobs.objects) == ["deployments/shop/dev.json"]
    assert DeployRecord.model_validate_json(blobs.objects["deployments/shop/dev.json"][0]) == \
        _record("abc123def456")
    assert anyio.run(store.read) == _record("abc123def456")
    anyio.run(store.delete)
    assert anyio.run(store.read) is None and blobs.objects == {}


def test_a_record_from_before_parts_were_kept_is_read() -> None:
    """A bare result, as early releases stored it, reads as a record without parts."""
    blobs = MemoryBlobs()
    bare = _record("old000000000").result.model_dump_json().encode()
    anyio.run(lambda: blobs.write("deployments/shop/dev.json", bare))
    found = anyio.run(Records(blobs, "shop", "dev").read)
    assert found is not None and found.result.deployment_id == "old000000000" and found.parts == {}


def test_records_are_listed_by_project_and_stack() -> None:
    """recorded lists (project, stack) of every record, and nothing else the blobs hold."""
    blobs = MemoryBlobs()
    for project, stack in (("shop", "prod"), ("blog", "dev"), ("shop", "dev")):
        anyio.run(Records(blobs, project, stack).write, _record("x"))
    anyio.run(lambda: blobs.write(lock.key("shop", "dev"), b"{}"))
    anyio.run(lambda: blobs.write("deployments/shop/dev/history.json", b"{}"))
    assert anyio.run(records.recorded, blobs) == [("blog", "dev"), ("shop", "dev"), ("shop", "prod")]
