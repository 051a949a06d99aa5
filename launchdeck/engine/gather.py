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


class Once:
    """A step that runs once however many callers ask for it: the first caller runs it, the
    others wait for it to end; each gets its error (an interruption, which is not an error of
    its own, as ``interrupted()``), so no caller goes on as if it had been done."""

    def __init__(self, step: Callable[[], Awaitable[None]], interrupted: Callable[[], Exception]) -> None:
        self._step, self._interrupted = step, interrupted
        self._done: anyio.Event | None = None
        self._error: Exception | None = None

    async def __call__(self) -> None:
        if self._done is not None:
            await self._done.wait()
            if self._error is not None:
                raise self._error
            return
        self._done = anyio.Event()
        try:
            await self._step()
        except BaseException as exc:
            self._error = exc if isinstance(exc, Exception) else self._interrupted()
            raise
        finally:
            self._done.set()
