"""The local provider's blobs: files in the state directory, written whole, with preconditions
that hold across processes; the record and the lock the engine keeps on them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import anyio
import pytest

from launchdeck.engine import lock
from launchdeck.engine.blobs import ABSENT
from launchdeck.engine.records import Records
from launchdeck.errors import UsageError
from launchdeck.providers.local.provider import FileBlobs, LocalProvider


def test_a_write_if_absent_or_if_unchanged_happens_once(tmp_path: Path) -> None:
    """ABSENT writes only a new file; a version writes only over that version; a stale one nothing."""
    blobs = FileBlobs(tmp_path)

    async def scenario() -> list[object]:
        first = await blobs.write("locks/shop/dev.json", b"one", if_generation=ABSENT)
        again = await blobs.write("locks/shop/dev.json", b"two", if_generation=ABSENT)
        second = await blobs.write("locks/shop/dev.json", b"two", if_generation=first)
        stale = await blobs.write("locks/shop/dev.json", b"three", if_generation=first)
        await blobs.delete("locks/shop/dev.json", if_generation=first)  # not that version any more
        kept = await blobs.read("locks/shop/dev.json")
        return [first is not None and second not in (None, first), again, stale, kept == (b"two", second)]

    assert anyio.run(scenario) == [True, None, None, True]
    assert (tmp_path / "locks" / "shop" / "dev.json").read_bytes() == b"two"


def test_one_of_many_processes_creates_the_object(tmp_path: Path) -> None:
    """Four processes write the same key only if absent at the same moment: exactly one succeeds."""
    start = time.time() + 3.0
    child = textwrap.dedent(f"""
        import anyio, os, sys, time
        from pathlib import Path
        from launchdeck.providers.local.provider import FileBlobs
        time.sleep(max(0, {start} - time.time()))
        won = anyio.run(lambda: FileBlobs(Path(sys.argv[1])).write(
            "locks/shop/dev.json", str(os.getpid()).encode(), if_generation="0"))
        print("won" if won else "lost")
    """)
    runs = [subprocess.Popen([sys.executable, "-c", child, str(tmp_path)], stdout=subprocess.PIPE,
                             text=True) for _ in range(4)]
    said = sorted(run.communicate(timeout=60)[0].strip() for run in runs)
    assert said == ["lost"] * 3 + ["won"]


def test_keys_stay_inside_the_state_directory(tmp_path: Path) -> None:
    """A key that climbs out, or names a hidden file, is refused before anything is touched."""
    blobs = FileBlobs(tmp_path / "state")
    for key in ("../outside.json", "/etc/passwd", "deployments/../../x.json", ".blobs.lock"):
        with pytest.raises(UsageError):
            anyio.run(lambda key=key: blobs.write(key, b"x"))
    assert not (tmp_path / "outside.json").exists() and not (tmp_path / "state").exists()


def test_a_record_written_by_the_last_release_is_found(tmp_path: Path) -> None:
    """The record stays at <state>/deployments/<project>/<stack>.json, and is listed there."""
    path = tmp_path / "deployments" / "shop" / "dev.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"result": {"project": "shop", "stack": "dev", "provider": "local", '
                    '"deployment_id": "old000000000", "services": []}, "parts": {}}')
    provider = LocalProvider(state_root=tmp_path)
    found = anyio.run(Records(provider.blobs(), "shop", "dev").read)
    assert found is not None and found.result.deployment_id == "old000000000"
    assert [(p, s) for p, s, _ in provider.recorded()] == [("shop", "dev")]


def test_the_lock_of_a_killed_deploy_is_taken_over(tmp_path: Path) -> None:
    """A process killed while it holds the stack leaves its lock; the next deploy takes it over."""
    child = textwrap.dedent("""
        import anyio, sys
        from pathlib import Path
        from launchdeck.engine import lock
        from launchdeck.providers.local.provider import FileBlobs

        async def hold():
            async with lock.held(FileBlobs(Path(sys.argv[1])), "shop", "dev", "deploy",
                                 "killed000000", provider="local"):
                print("held", flush=True)
                await anyio.sleep(600)

        anyio.run(hold)
    """)
    run = subprocess.Popen([sys.executable, "-c", child, str(tmp_path)], stdout=subprocess.PIPE,
                           text=True)
    assert run.stdout is not None and run.stdout.readline().strip() == "held"
    blobs = FileBlobs(tmp_path)
    with pytest.raises(Exception, match="another deploy of shop \\(dev\\) is running \\(deployment killed"):
        anyio.run(lambda: _take(blobs))
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    left = json.loads((tmp_path / lock.key("shop", "dev")).read_text())
    assert left["deployment"] == "killed000000"
    anyio.run(lambda: _take(blobs))
    assert not (tmp_path / lock.key("shop", "dev")).exists()


async def _take(blobs: FileBlobs) -> None:
    async with lock.held(blobs, "shop", "dev", "deploy", "next00000000", provider="local"):
        pass
