"""Logs for every target: lines merged in time order, tailed, and followed by polling.

A provider only reads: the lines of a (project, stack) that match a query, in any order.
Merging, the tail, and following (asking again for what came after the last line seen,
without repeating a line) happen here once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import datetime

from launchdeck.engine import poll
from launchdeck.engine.results import LogLine
from launchdeck.engine.seams import LogQuery, Provider, TellsEvents


async def read(provider: Provider, project: str, stack: str, query: LogQuery) -> list[LogLine]:
    """The matching lines in time order; the last ``query.tail`` of them when it is set."""
    lines = sorted(await provider.read_logs(project, stack, query), key=lambda line: line.at)
    return lines[-query.tail:] if query.tail is not None else lines


async def follow(provider: Provider, project: str, stack: str, query: LogQuery, *,
                 interval: float | None = None) -> AsyncIterator[LogLine]:
    """The matching lines (the last ``query.tail`` first), then every new one as it comes."""
    seen: set[tuple[object, ...]] = set()
    since = query.since
    tail = query.tail
    async for _ in poll.ticks(interval if interval is not None else provider.description.log_interval):
        batch = await read(provider, project, stack, replace(query, since=since, tail=tail,
                                                              until=None))
        tail = None  # the tail applies to what was there at the start only
        fresh = [line for line in batch if _key(line) not in seen]
        if fresh:
            newest = fresh[-1].at
            # lines at the newest instant can be read again next time: remember only those
            seen = {_key(line) for line in batch if line.at >= newest}
            since = newest
        for line in fresh:
            yield line


async def platform(provider: Provider, project: str, stack: str, services: Sequence[str],
                   since: datetime, until: datetime | None) -> list[LogLine]:
    """The platform's own events about ``services`` between ``since`` and ``until``, in time
    order; none from a target that keeps none (the local engine's are its containers' states,
    which the timeline already has)."""
    if not isinstance(provider, TellsEvents) or not services:
        return []
    found = await provider.platform_events(project, stack, services, since, until)
    return sorted(found, key=lambda line: line.at)


def _key(line: LogLine) -> tuple[object, ...]:
    return (line.at, line.service, line.replica, line.text)
