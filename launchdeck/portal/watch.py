"""Deploys, rollbacks and destroys started from the portal, and the events the portal keeps of them.

The deployment record keeps a deploy's result and changes, not the events on the way, so the
portal keeps the events of the deploys it starts itself (in memory, for its own life): they
make the page's timeline. Each target has a change signal that wakes the pages watching it
as soon as something happens, instead of at their next poll.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import anyio
import anyio.abc
from pydantic import BaseModel, Field

from launchdeck.engine.events import Event, State

if TYPE_CHECKING:
    from launchdeck.portal.catalog import Catalog, Target
    from launchdeck.tools.deploy import Running
    from launchdeck.tools.destroy import DestroyResult

log = logging.getLogger("launchdeck.portal")

MAX_ENTRIES = 2000
"""Events kept per deploy: enough for a long build's output, bounded for a long-lived portal."""


class TimelineEntry(BaseModel):
    at: datetime
    service: str | None = None
    state: State | None = None
    message: str = ""
    output: bool = Field(False, description="A line of the service's own output (a build step).")


@dataclass
class Timeline:
    """The events of the last deploy (or destroy) the portal started on one target."""

    operation: str
    deployment_id: str | None
    entries: deque[TimelineEntry] = field(default_factory=lambda: deque(maxlen=MAX_ENTRIES))
    finished: bool = False
    error: str | None = None

    def add(self, event: Event) -> None:
        self.entries.append(TimelineEntry(at=datetime.fromtimestamp(event.at, UTC),
                                          service=event.service, state=event.state,
                                          message=event.message, output=event.log))


class Watch:
    """The portal's deploys (run in its task group, so a closed page does not stop them), their
    timelines, and a change signal per target."""

    def __init__(self, tasks: anyio.abc.TaskGroup, catalog: Catalog) -> None:
        from launchdeck.tools.deploy import Deploys

        self.tasks = tasks
        self.catalog = catalog
        self.deploys = Deploys(tasks)
        self.timelines: dict[str, Timeline] = {}
        self.rollbacks: dict[str, Running] = {}
        self._signals: dict[str, anyio.Event] = {}

    def signal(self, key: str) -> anyio.Event:
        """Set at the next change of the target ``key``; ask again after it fires."""
        return self._signals.setdefault(key, anyio.Event())

    def changed(self, key: str) -> None:
        self._signals.pop(key, anyio.Event()).set()

    def running(self, target: Target) -> Running | None:
        rolling = self.rollbacks.get(target.key)
        if rolling is not None and not rolling.done.is_set():
            return rolling
        return self.deploys.running(target.provider, target.project, target.stack)

    async def rollback(self, target: Target, to: str) -> str:
        """Start rolling the target back to deployment ``to`` (the project on disk with that
        deployment's images); its deployment id. Refused before anything changes (as the
        rollback tool refuses): an unknown deployment, an image that is gone, unset config, or
        a deploy of the target already running."""
        from launchdeck.errors import LaunchdeckError, UsageError
        from launchdeck.identity import new_deployment_id
        from launchdeck.tools.deploy import Running
        from launchdeck.tools.rollback import preview, rollback

        if self.running(target) is not None:
            raise UsageError(f"a deploy of {target.project} ({target.stack}) is already running",
                             hint="Wait for it to finish, then roll back.")
        ref = self.catalog.ref(target.provider)
        await preview(ref, to)  # refuses before any change
        running = Running(new_deployment_id())
        self.rollbacks[target.key] = running
        timeline = self._follow(target, running, "rollback")

        async def background() -> None:
            try:
                running.result = await rollback(ref, to, wait_seconds=600, sink=running.sink,
                                                deployment_id=running.deployment_id)
            except LaunchdeckError as exc:
                running.error = exc
            except Exception as exc:  # said on the page, never a traceback
                log.exception("rollback %s failed", running.deployment_id)
                running.error = LaunchdeckError(f"the rollback failed unexpectedly "
                                                f"({type(exc).__name__})")
            finally:
                running.done.set()

        self.tasks.start_soon(background)
        self.tasks.start_soon(self._finish, target.key, running, timeline)
        self.changed(target.key)
        return running.deployment_id

    def _follow(self, target: Target, running: Running, kind: str) -> Timeline:
        """The timeline of ``running`` (a deploy or rollback of ``target``): the page's view
        of it, told of each event."""
        timeline = Timeline(kind, running.deployment_id)
        self.timelines[target.key] = timeline

        def listen(event: Event) -> None:
            timeline.add(event)
            self.changed(target.key)

        running.listeners.append(listen)
        return timeline

    async def redeploy(self, target: Target) -> str:
        """Start deploying the project on disk to ``target``; its deployment id. Refused (as the
        deploy tool refuses) before anything changes: a bad compose file, unset config, or a
        deploy of the target already running."""
        from launchdeck.tools.deploy import prepare

        ref = self.catalog.ref(target.provider)
        ready = await prepare(ref, self.catalog.reload())
        running = self.deploys.start(ready, wait_seconds=600)
        timeline = self._follow(target, running, "deploy")
        self.tasks.start_soon(self._finish, target.key, running, timeline)
        self.changed(target.key)
        return running.deployment_id

    async def _finish(self, key: str, running: Running, timeline: Timeline) -> None:
        await running.done.wait()
        timeline.finished = True
        if running.error is not None:
            timeline.error = str(running.error)
        self.changed(key)

    async def destroy(self, target: Target, *, volumes: bool = False) -> DestroyResult:
        """Remove everything the target owns (data volumes only with ``volumes``)."""
        from launchdeck.tools.deployment import remove

        timeline = Timeline("destroy", None)
        self.timelines[target.key] = timeline

        def listen(event: Event) -> None:
            timeline.add(event)
            self.changed(target.key)

        provider = self.catalog.provider(target.provider)
        try:
            return await remove(provider, target.project, target.stack, volumes=volumes,
                                sink=listen)
        except Exception as exc:
            timeline.error = str(exc)
            raise
        finally:
            timeline.finished = True
            self.changed(target.key)
