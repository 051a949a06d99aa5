"""Running one task per service in depends_on order, independent ones at the same time.

A service starts when each of its dependencies has reached the milestone its condition
names (started, healthy, completed successfully). When a dependency fails, its dependents
do not start and fail with a reason that names it. Cancelling the run (Ctrl-C, a client's
cancel) cancels every task; what was done is labelled, so the next deploy repairs it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import anyio

from launchdeck.compose.order import dependency_order
from launchdeck.errors import LaunchdeckError

Condition = str  # service_started | service_healthy | service_completed_successfully


class DependencyCycle(LaunchdeckError):
    """depends_on forms a loop, so no service can start first."""


@dataclass
class Milestones:
    """What a service's task has reached, for its dependents to wait on."""

    started: anyio.Event = field(default_factory=anyio.Event)
    healthy: anyio.Event = field(default_factory=anyio.Event)
    finished: anyio.Event = field(default_factory=anyio.Event)
    failure: str | None = None
    exit_code: int | None = None

    def fail(self, reason: str) -> None:
        self.failure = reason
        for event in (self.started, self.healthy, self.finished):
            event.set()


Work = Callable[[str, Milestones], Awaitable[None]]


def order(graph: Mapping[str, Mapping[str, Condition]]) -> list[str]:
    """Services in an order that puts each after its dependencies; raise on a cycle."""
    done, loop = dependency_order({name: graph[name] for name in sorted(graph)})
    if loop:
        raise DependencyCycle(f"depends_on forms a cycle: {' -> '.join(loop)}",
                              hint="Remove one of these dependencies.")
    return done


async def run(graph: Mapping[str, Mapping[str, Condition]], work: Work) -> dict[str, Milestones]:
    """Run ``work`` for every service of ``graph`` in dependency order; return the milestones.

    ``work`` sets ``started`` and ``healthy`` as it reaches them and returns when its service
    is settled; it reports a failure with ``Milestones.fail``. An exception fails that
    service only.
    """
    order(graph)  # refuse cycles before anything starts
    milestones = {name: Milestones() for name in graph}

    async def one(name: str) -> None:
        mine = milestones[name]
        for dep, condition in graph[name].items():
            theirs = milestones.get(dep)
            if theirs is None:
                continue
            reason = await _reached(dep, theirs, condition)
            if reason:
                mine.fail(reason)
                return
        try:
            await work(name, mine)
        except LaunchdeckError as exc:
            mine.fail(str(exc))
        finally:
            if mine.failure is None:
                mine.started.set()
                mine.healthy.set()
            mine.finished.set()

    async with anyio.create_task_group() as group:
        for name in graph:
            group.start_soon(one, name)
    return milestones


async def _reached(dep: str, theirs: Milestones, condition: Condition) -> str | None:
    """None once ``dep`` satisfies ``condition``; otherwise why it never will."""
    if condition == "service_completed_successfully":
        await theirs.finished.wait()
        if theirs.failure is None and theirs.exit_code not in (None, 0):
            return f"dependency {dep} exited with code {theirs.exit_code}"
    elif condition == "service_healthy":
        await theirs.healthy.wait()
    else:
        await theirs.started.wait()
    if theirs.failure is not None:
        return f"dependency {dep} failed"
    return None
