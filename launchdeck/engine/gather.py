"""Running independent steps at once, with errors that stay themselves.

anyio's task groups wrap every failure in an ExceptionGroup; a user's error (a missing
hosted zone, a build context that is not a folder) must reach the front end as the
LaunchdeckError it is, so the first failure cancels the other steps and is raised alone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio


async def gather(*steps: Callable[[], Awaitable[Any]]) -> list[Any]:
    """Run ``steps`` at once and return their results in order."""
    results: list[Any] = [None] * len(steps)
    errors: list[Exception] = []

    async def one(index: int, step: Callable[[], Awaitable[Any]], scope: anyio.CancelScope) -> None:
        try:
            results[index] = await step()
        except Exception as exc:
            errors.append(exc)
            scope.cancel()

    async with anyio.create_task_group() as group:
        for index, step in enumerate(steps):
            group.start_soon(one, index, step, group.cancel_scope)
    if errors:
        raise errors[0]
    return results
