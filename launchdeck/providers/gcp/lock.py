"""One deploy or destroy per (project, stack) at a time, across machines: an object in the bucket.

Taking the lock writes ``locks/<project>/<stack>.json`` with ``ifGenerationMatch=0``, which
only one writer can do. The object names its owner and when it expires; a lock whose owner
is gone (a process on this machine that no longer runs, or any owner past its expiry) is
taken over by deleting exactly the generation read, so two takers cannot both win. Releasing
deletes only our own generation.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import anyio

from launchdeck.errors import Action, ProviderError
from launchdeck.providers.gcp import names
from launchdeck.providers.gcp.api import GcpError
from launchdeck.providers.gcp.bucket import Bucket

EXPIRY = 2 * 3600
"""Seconds a lock lasts: longer than any deploy (a new Cloud SQL instance takes ten minutes)."""


@asynccontextmanager
async def held(
    bucket: Bucket, project: str, stack: str, deployment_id: str, what: str = "deploy"
) -> AsyncIterator[None]:
    key = names.lock_key(project, stack)
    mine = {
        "owner": what,
        "deployment": deployment_id,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
        "expires": time.time() + EXPIRY,
    }
    generation = await _take(bucket, key, mine, project, stack)
    try:
        yield
    finally:
        with anyio.CancelScope(shield=True):  # a cancelled deploy still lets go of the lock
            try:
                await bucket.delete(key, if_generation_match=generation)
            except GcpError as exc:
                if exc.code != 412:  # taken over meanwhile (ours had expired): not ours to delete
                    raise


async def _take(bucket: Bucket, key: str, mine: dict, project: str, stack: str) -> int:
    for _ in range(3):
        try:
            return await bucket.write(key, json.dumps(mine).encode(), if_generation_match=0)
        except GcpError as exc:
            if exc.code != 412:
                raise
        found = await bucket.generation(key)
        if found is None:
            continue  # released between our two calls
        holder = _parse(await bucket.read(key) or b"")
        if holder.get("deployment") == mine["deployment"] and holder.get("pid") == mine["pid"]:
            return found  # our own write, answered with an error and retried
        if not _stale(holder):
            raise ProviderError(
                f"another {holder.get('owner', 'deploy')} of {project} ({stack}) is running "
                f"(deployment {holder.get('deployment', '?')} on {holder.get('host', '?')}, "
                f"since {holder.get('since', '?')})",
                provider="gcp",
                hint="Wait for it to finish (the services' state follows it), then try again.",
                actions=[Action("ps", {"provider": "gcp", "stack": stack})],
            )
        try:
            await bucket.delete(key, if_generation_match=found)
        except GcpError as exc:
            if exc.code != 412:  # someone else took it over first: look again
                raise
    raise ProviderError(
        f"could not take the deploy lock of {project} ({stack})",
        provider="gcp",
        hint="Try again in a moment.",
    )


def _parse(data: bytes) -> dict:
    try:
        value = json.loads(data)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _stale(holder: dict) -> bool:
    """Whether the lock's owner is gone: expired, or a process of this machine that has ended."""
    if float(holder.get("expires", 0)) < time.time():
        return True
    if holder.get("host") == socket.gethostname() and isinstance(holder.get("pid"), int):
        try:
            os.kill(holder["pid"], 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
    return False
