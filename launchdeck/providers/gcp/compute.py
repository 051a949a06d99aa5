"""Making and removing Compute resources the way a deploy cut short can be finished: by name.

An insert is skipped when the resource exists; one another (killed) deploy asked for is
waited for rather than refused; a delete of what is not there is not an error.
"""

from __future__ import annotations

from typing import Any

from launchdeck.engine import poll
from launchdeck.providers.gcp.api import Gcp, GcpError

_MADE = 600.0
"""Seconds to wait for a resource another deploy asked for."""


async def insert(
    gcp: Gcp, client: str, kind: str, resource: Any, *, check: bool = True, **scope: str
) -> None:
    """Insert a Compute resource unless one of that name exists, and wait for it."""
    name = {kind: resource.name}  # each client's get names the resource by its kind
    if (
        check
        and await gcp.maybe(f"compute.{client}", "get", project=gcp.project, **scope, **name) is not None
    ):
        return
    try:
        op = await gcp.call(
            f"compute.{client}", "insert", project=gcp.project, **scope, **{f"{kind}_resource": resource}
        )
    except GcpError as exc:
        if exc.code != 409:
            raise

        # asked for by a deploy cut short: wait until it is there, as its own operation would
        async def made() -> bool | None:
            found = await gcp.maybe(f"compute.{client}", "get", project=gcp.project, **scope, **name)
            return True if found is not None else None

        if await poll.until(made, interval=gcp.poll_interval, timeout=_MADE) is None:
            raise GcpError(
                f"{resource.name} is still being made",
                code=409,
                status="ALREADY_EXISTS",
                hint="Deploy again in a minute.",
            ) from exc
        return
    await gcp.wait(op, what=f"make {resource.name}", api="compute")


async def delete(gcp: Gcp, client: str, **name: str) -> bool:
    """Delete a Compute resource and wait; False when it was not there."""
    op = await gcp.maybe(f"compute.{client}", "delete", project=gcp.project, **name)
    if op is None:
        return False
    await gcp.wait(op, what=f"delete {next(iter(name.values()))}", api="compute")
    return True
