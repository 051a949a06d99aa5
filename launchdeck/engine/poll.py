"""Waiting for something on a target to happen: the one polling loop every wait goes through.

Intervals are the caller's (tests pass tiny ones); the deadline is on anyio's clock, so a
cancelled or timed-out wait stops between two reads, never in the middle of one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import anyio

T = TypeVar("T")


async def until(check: Callable[[], Awaitable[T | None]], *, interval: float,
                timeout: float | None = None, deadline: float | None = None,
                backoff: float = 1.0, max_interval: float | None = None) -> T | None:
    """Call ``check`` until it returns something other than None, and return that; None once
    ``timeout`` seconds (or the clock's ``deadline``) have passed. The first wait is
    ``interval``; each next one ``backoff`` times longer, up to ``max_interval``."""
    if timeout is not None:
        end = anyio.current_time() + timeout
        deadline = end if deadline is None else min(deadline, end)
    longest = interval if max_interval is None else max_interval
    delay = interval
    while True:
        found = await check()
        if found is not None:
            return found
        now = anyio.current_time()
        if deadline is not None and now >= deadline:
            return None
        await anyio.sleep(delay if deadline is None else min(delay, deadline - now))
        delay = min(delay * backoff, max(longest, interval))


async def ticks(interval: float) -> AsyncIterator[int]:
    """0, 1, 2 … with ``interval`` seconds between them, for loops that never finish alone."""
    count = 0
    while True:
        yield count
        count += 1
        await anyio.sleep(interval)


def clock() -> float:
    """The clock deadlines are measured on."""
    return anyio.current_time()
