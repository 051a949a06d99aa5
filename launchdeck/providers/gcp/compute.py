"""Making and removing Compute resources the way a deploy cut short can be finished: by name.

An insert is skipped when the resource exists; one another (killed) deploy asked for is
waited for rather than refused; a delete of what is not there is not an error.
"""

from __future__ import annotations

from typing import Any

from launchdeck.providers.gcp.api import Gcp, create


async def insert(
    gcp: Gcp, client: str, kind: str, resource: Any, *, check: bool = True, **scope: str
) -> None:
    """Insert a Compute resource unless one of that name exists, and wait for it."""
    name = {kind: resource.name}  # each client's get names the resource by its kind

    async def found() -> Any:
        return await gcp.maybe(f"compute.{client}", "get", project=gcp.project, **scope, **name)

    if check and await found() is not None:
        return
    await create(
        gcp,
        lambda: gcp.call(
            f"compute.{client}", "insert", project=gcp.project, **scope, **{f"{kind}_resource": resource}
        ),
        found,
        what=resource.name,
        api="compute",
    )


async def delete(gcp: Gcp, client: str, **name: str) -> bool:
    """Delete a Compute resource and wait; False when it was not there."""
    op = await gcp.maybe(f"compute.{client}", "delete", project=gcp.project, **name)
    if op is None:
        return False
    await gcp.wait(op, what=f"delete {next(iter(name.values()))}", api="compute")
    return True
