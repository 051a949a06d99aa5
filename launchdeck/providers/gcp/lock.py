"""One deploy or destroy per (project, stack) at a time, across machines: an object in the bucket.

Taking the lock writes ``locks/<project>/<stack>.json`` with ``ifGenerationMatch=0``, which
only one writer can do. The object names its owner and when it expires; a lock whose owner
is gone (a process on this machine that no longer runs, or any owner past its expiry) is
taken over by deleting exactly the generation read, so two takers cannot both win. Releasing
deletes only our own generation.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from launchdeck.engine import lock
from launchdeck.errors import ProviderError
from launchdeck.providers.gcp import names
from launchdeck.providers.gcp.api import GcpError
from launchdeck.providers.gcp.bucket import Bucket


@asynccontextmanager
async def held(
    bucket: Bucket, project: str, stack: str, deployment_id: str, what: str = "deploy"
) -> AsyncIterator[None]:
    key = names.lock_key(project, stack)
    mine = lock.holder(what, deployment_id)
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
        holder = lock.parse(await bucket.read(key) or b"")
        if holder.get("deployment") == mine["deployment"] and holder.get("pid") == mine["pid"]:
            return found  # our own write, answered with an error and retried
        if not lock.stale(holder):
            raise lock.busy(holder, provider="gcp", project=project, stack=stack)
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
