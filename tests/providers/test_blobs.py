"""The blob seam every target supplies (engine/blobs.py), checked on each: in memory, files in
the state directory, S3 through a moto server, Cloud Storage on the local GCP.

Reads give the version written; a write with a precondition happens only while the stored
version is the one named (ABSENT: none); a delete with one leaves another version alone;
listing finds keys by prefix; a target with nothing written yet reads and lists nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from launchdeck.engine.blobs import ABSENT
from testkit import MemoryBlobs
from tests.providers.aws.conftest import aws_env, boto, calls, moto_server, strict  # noqa: F401
from tests.providers.gcp.conftest import fake, fake_server  # noqa: F401


@pytest.fixture(params=["memory", "local", "aws", "gcp"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "memory":
        yield MemoryBlobs()
    elif request.param == "local":
        from launchdeck.providers.local.provider import LocalProvider

        yield LocalProvider(state_root=tmp_path / "state").blobs()
    elif request.param == "aws":
        from launchdeck.providers.aws.api import Aws
        from launchdeck.providers.aws.provider import AwsProvider

        yield AwsProvider(Aws(request.getfixturevalue("boto")), poll=0).blobs()
    else:
        from launchdeck.providers.gcp.api import Gcp
        from launchdeck.providers.gcp.provider import GcpProvider
        from tests.providers.gcp.conftest import PROJECT

        server = request.getfixturevalue("fake")
        gcp = Gcp(environ={**server.env, "GCP_PROJECT_ID": PROJECT}, poll_interval=0, backoff=0.001)
        yield GcpProvider(gcp, poll=0).blobs()


def test_a_fresh_target_holds_nothing(blobs: Any) -> None:
    """Before anything is written (no bucket yet, no state directory) reads and lists find nothing."""
    async def scenario() -> tuple[Any, list[str]]:
        await blobs.delete("deployments/shop/dev.json")
        return await blobs.read("deployments/shop/dev.json"), await blobs.list("deployments/")

    assert anyio.run(scenario) == (None, [])


def test_a_write_is_read_back_with_its_version(blobs: Any) -> None:
    """read gives the bytes written and the version the write returned."""
    async def scenario() -> tuple[Any, Any]:
        version = await blobs.write("deployments/shop/dev.json", b'{"a": 1}')
        return version, await blobs.read("deployments/shop/dev.json")

    version, found = anyio.run(scenario)
    assert version and found == (b'{"a": 1}', version)


def test_write_if_absent_happens_once(blobs: Any) -> None:
    """ABSENT creates the object; a second ABSENT write is refused and changes nothing."""
    async def scenario() -> tuple[Any, Any, Any]:
        first = await blobs.write("locks/shop/dev.json", b"first", if_generation=ABSENT)
        second = await blobs.write("locks/shop/dev.json", b"second", if_generation=ABSENT)
        return first, second, await blobs.read("locks/shop/dev.json")

    first, second, found = anyio.run(scenario)
    assert first is not None and second is None and found == (b"first", first)


def test_write_if_version_replaces_only_that_version(blobs: Any) -> None:
    """A write naming the stored version replaces it; one naming an older version is refused."""
    async def scenario() -> tuple[Any, Any, Any]:
        old = await blobs.write("locks/shop/dev.json", b"old", if_generation=ABSENT)
        new = await blobs.write("locks/shop/dev.json", b"new", if_generation=old)
        late = await blobs.write("locks/shop/dev.json", b"late", if_generation=old)
        return new, late, await blobs.read("locks/shop/dev.json")

    new, late, found = anyio.run(scenario)
    assert new is not None and late is None and found == (b"new", new)


def test_a_version_names_an_object_that_is_gone_no_more(blobs: Any) -> None:
    """A write naming a version of an object deleted since is refused (not made again)."""
    async def scenario() -> tuple[Any, Any]:
        old = await blobs.write("locks/shop/dev.json", b"old", if_generation=ABSENT)
        await blobs.delete("locks/shop/dev.json")
        return await blobs.write("locks/shop/dev.json", b"x", if_generation=old), \
            await blobs.read("locks/shop/dev.json")

    assert anyio.run(scenario) == (None, None)


def test_delete_if_version_leaves_another_version(blobs: Any) -> None:
    """A delete naming an older version keeps the object; naming the stored one removes it."""
    async def scenario() -> tuple[Any, Any]:
        old = await blobs.write("locks/shop/dev.json", b"old", if_generation=ABSENT)
        new = await blobs.write("locks/shop/dev.json", b"new", if_generation=old)
        await blobs.delete("locks/shop/dev.json", if_generation=old)
        kept = await blobs.read("locks/shop/dev.json")
        await blobs.delete("locks/shop/dev.json", if_generation=new)
        return kept, await blobs.read("locks/shop/dev.json")

    kept, gone = anyio.run(scenario)
    assert kept is not None and kept[0] == b"new" and gone is None


def test_keys_are_listed_by_prefix(blobs: Any) -> None:
    """list finds every key under a prefix, sorted, and none elsewhere."""
    async def scenario() -> list[str]:
        for key in ("deployments/shop/prod.json", "deployments/blog/dev.json",
                    "deployments/shop/dev.json", "locks/shop/dev.json"):
            await blobs.write(key, b"{}")
        return await blobs.list("deployments/")

    assert anyio.run(scenario) == ["deployments/blog/dev.json", "deployments/shop/dev.json",
                                   "deployments/shop/prod.json"]
