"""One deploy or destroy per (project, stack) at a time, across processes and machines: an
object the target's blobs create only if absent, ``locks/<project>/<stack>.json``.

The object names its holder (owner, deployment, host, process, since, expiry). A second taker
is refused with the holder's words; a holder that is gone (a process of this machine that no
longer runs, or any holder past its expiry) is taken over by replacing exactly the version
read, so of two takers finding the same stale holder one wins. Releasing deletes only our
own version, shielded from cancellation, so a cancelled deploy still lets go and one whose
lock was taken over meanwhile leaves the new holder's alone.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import anyio

from launchdeck.engine.blobs import ABSENT, Blobs, Generation
from launchdeck.errors import Action, ProviderError

EXPIRY = 2 * 3600
"""Seconds a lock lasts: longer than any deploy (a new database takes about ten minutes)."""
_ATTEMPTS = 3


def key(project: str, stack: str) -> str:
    return f"locks/{project}/{stack}.json"


@asynccontextmanager
async def held(blobs: Blobs, project: str, stack: str, operation: str, deployment_id: str, *,
               provider: str) -> AsyncIterator[None]:
    """Hold the (project, stack) for ``operation``; ProviderError naming the holder when another
    deploy or destroy holds it."""
    where = key(project, stack)
    mine = holder(operation, deployment_id)
    generation = await _take(blobs, where, mine, provider=provider, project=project, stack=stack)
    try:
        yield
    finally:
        with anyio.CancelScope(shield=True):  # a cancelled deploy still lets go of the lock
            await blobs.delete(where, if_generation=generation)


async def _take(blobs: Blobs, where: str, mine: dict[str, Any], *, provider: str, project: str,
                stack: str) -> Generation:
    data, expected = json.dumps(mine).encode(), ABSENT
    for _ in range(_ATTEMPTS):
        written = await blobs.write(where, data, if_generation=expected)
        if written is not None:
            return written
        found = await blobs.read(where)
        if found is None:  # released between our two calls
            expected = ABSENT
            continue
        stored, expected = found
        current = parse(stored)
        if current == mine:
            return expected  # our own write, answered with an error and retried
        if not stale(current):
            raise busy(current, provider=provider, project=project, stack=stack)
    raise ProviderError(f"could not take the deploy lock of {project} ({stack})", provider=provider,
                        hint="Try again in a moment.")


def holder(operation: str, deployment_id: str) -> dict[str, Any]:
    """This process, as a lock's holder."""
    return {"owner": operation, "deployment": deployment_id, "host": socket.gethostname(),
            "pid": os.getpid(), "since": datetime.now(UTC).isoformat(timespec="seconds"),
            "expires": time.time() + EXPIRY}


def parse(data: str | bytes) -> dict[str, Any]:
    """A stored holder (an empty one when it cannot be read)."""
    try:
        value = json.loads(data)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def stale(found: dict[str, Any]) -> bool:
    """Whether the holder is gone: expired, or a process of this machine that has ended."""
    try:
        if float(found.get("expires", 0)) < time.time():
            return True
    except (TypeError, ValueError):  # not a holder any release wrote
        return True
    if found.get("host") == socket.gethostname() and isinstance(found.get("pid"), int):
        try:
            os.kill(found["pid"], 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
    return False


def busy(found: dict[str, Any], *, provider: str, project: str, stack: str) -> ProviderError:
    """The refusal a second deploy gets, naming who holds the stack."""
    return ProviderError(
        f"another {found.get('owner', 'deploy')} of {project} ({stack}) is running "
        f"(deployment {found.get('deployment', '?')} on {found.get('host', '?')}, "
        f"since {found.get('since', '?')})", provider=provider,
        hint="Wait for it to finish (ps follows it), then try again.",
        actions=[Action("ps", {"provider": provider, "stack": stack})])
