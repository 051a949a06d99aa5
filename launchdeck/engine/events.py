"""What the engine reports while it works: typed events that any front end can render.

The engine and providers never print. They hand Events to a Sink: the CLI draws them, the
MCP server turns them into progress notifications, tests record them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum


class State(StrEnum):
    """A service's deployment state, named as users of the reference platform know them."""

    BUILD_QUEUED = "BUILD_QUEUED"
    BUILD_RUNNING = "BUILD_RUNNING"
    BUILD_FAILED = "BUILD_FAILED"
    UPDATE_QUEUED = "UPDATE_QUEUED"
    SERVICE_DEPLOYMENT_PENDING = "SERVICE_DEPLOYMENT_PENDING"
    SERVICE_DEPLOYMENT_COMPLETED = "SERVICE_DEPLOYMENT_COMPLETED"
    SERVICE_DEPLOYMENT_FAILED = "SERVICE_DEPLOYMENT_FAILED"
    NOT_DEPLOYED = "NOT_DEPLOYED"
    STOPPED = "STOPPED"

    @property
    def final(self) -> bool:
        return self in _FINAL

    @property
    def failed(self) -> bool:
        return self in (State.BUILD_FAILED, State.SERVICE_DEPLOYMENT_FAILED)


_FINAL = frozenset({State.BUILD_FAILED, State.SERVICE_DEPLOYMENT_COMPLETED,
                    State.SERVICE_DEPLOYMENT_FAILED, State.STOPPED, State.NOT_DEPLOYED})


@dataclass(frozen=True, slots=True)
class Event:
    """One step of progress. ``state`` is set when a service changes state; ``message``
    carries detail (a build line, a reason); ``log`` marks output of the service itself."""

    service: str | None
    state: State | None = None
    message: str = ""
    log: bool = False
    at: float = field(default_factory=time.time)


Sink = Callable[[Event], None]
"""Receives events. Must be quick: it runs on the engine's event loop."""


def discard(event: Event) -> None:
    """A sink for callers that do not watch progress."""


class Recorder:
    """A sink that keeps every event, for tests and for summaries."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def states(self, service: str) -> list[State]:
        return [e.state for e in self.events if e.service == service and e.state]
