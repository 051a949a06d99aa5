"""One deploy or destroy per (project, stack) at a time, across machines: a lock in SSM.

Taking the lock creates an SSM parameter without overwrite, which only one caller can do.
Its value names the owner and when it expires; a lock whose owner is gone (a process on
this machine that no longer runs, or any owner past its expiry) is taken over.
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
from launchdeck.providers.aws import names
from launchdeck.providers.aws.api import Aws, AwsError

EXPIRY = 2 * 3600
"""Seconds a lock lasts: longer than any deploy (a new database takes about ten minutes)."""


@asynccontextmanager
async def held(aws: Aws, project: str, stack: str, deployment_id: str,
               what: str = "deploy") -> AsyncIterator[None]:
    path = f"{names.LOCKS}/{project}/{stack}"
    mine = {"owner": what, "deployment": deployment_id, "host": socket.gethostname(), "pid": os.getpid(),
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
            "expires": time.time() + EXPIRY}
    for _ in range(2):
        try:
            await aws("ssm", "put_parameter", Name=path, Value=json.dumps(mine), Type="String",
                      Overwrite=False)
            break
        except AwsError as exc:
            if exc.code != "ParameterAlreadyExists":
                raise
        found = await aws.maybe("ssm", "get_parameter", ("ParameterNotFound",), Name=path)
        holder = _parse(found["Parameter"]["Value"]) if found else {}
        if found and not _stale(holder):
            raise ProviderError(
                f"another {holder.get('owner', 'deploy')} of {project} ({stack}) is running "
                f"(deployment {holder.get('deployment', '?')} on {holder.get('host', '?')}, "
                f"since {holder.get('since', '?')})",
                provider="aws",
                hint="Wait for it to finish (ps follows it), then try again.",
                actions=[Action("ps", {"provider": "aws", "stack": stack})])
        await aws.maybe("ssm", "delete_parameter", ("ParameterNotFound",), Name=path)
    else:
        raise ProviderError(f"could not take the deploy lock of {project} ({stack})",
                            provider="aws", hint="Try again in a moment.")
    try:
        yield
    finally:
        with anyio.CancelScope(shield=True):  # a cancelled deploy still lets go of the lock
            await aws.maybe("ssm", "delete_parameter", ("ParameterNotFound",), Name=path)


def _parse(text: str) -> dict:
    try:
        value = json.loads(text)
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
