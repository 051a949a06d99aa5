"""logs: what the services printed, merged in time order, filtered and bounded."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from launchdeck.engine import logs as engine
from launchdeck.engine.status import LogLine
from launchdeck.errors import UnknownService, UsageError
from launchdeck.providers.base import LogQuery
from launchdeck.tools.project import ProjectRef

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h|d)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class LogsResult(BaseModel):
    project: str
    stack: str
    lines: list[LogLine]


def parse_time(text: str | None, *, now: datetime | None = None) -> datetime | None:
    """An RFC 3339 time, or a duration before now (``10m``, ``2h``, ``1d``)."""
    if not text:
        return None
    match = _DURATION.match(text.strip())
    if match:
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
        return (now or datetime.now(UTC)) - timedelta(seconds=seconds)
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"cannot read the time {text!r}",
                         hint="Use RFC 3339 (2026-01-02T15:04:05Z) or a duration such as "
                              "30s, 10m, 2h, 1d.") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _query(ref: ProjectRef, services: Sequence[str], since: str | None, until: str | None,
           tail: int | None, deployment: str | None) -> tuple[str, LogQuery]:
    project = ref.load().project
    for name in services:
        if name not in project.services:
            raise UnknownService(name, list(project.services))
    if tail is not None and tail < 0:
        raise UsageError("tail cannot be negative", hint="Give the number of last lines.")
    return project.name, LogQuery(services=tuple(services), since=parse_time(since),
                                  until=parse_time(until), tail=tail, deployment=deployment)


async def logs(ref: ProjectRef, *, services: Sequence[str] = (), since: str | None = None,
               until: str | None = None, tail: int | None = None,
               deployment: str | None = None) -> LogsResult:
    name, query = _query(ref, services, since, until, tail, deployment)
    lines = await engine.read(ref.target(), name, ref.stack, query)
    return LogsResult(project=name, stack=ref.stack, lines=lines)


async def follow(ref: ProjectRef, *, services: Sequence[str] = (), since: str | None = None,
                 tail: int | None = None) -> AsyncIterator[LogLine]:
    name, query = _query(ref, services, since, None, tail, None)
    async for line in engine.follow(ref.target(), name, ref.stack, query):
        yield line
