"""Building an image on a target's remote builder: the one loop every cloud's builder runs in.

A built service's image is named by its context's digest, so an image the registry already
has is never built again. Otherwise the context is packed as the archive the builder reads,
uploaded under the archive's own digest, and the build is started and followed: BUILD_QUEUED
when it is accepted, BUILD_RUNNING once the builder works on it, each step it reaches as a
message. A failed build is a BuildError naming the step that failed, the builder's reason and
the last lines of its log; one that outlasts BUILD_WAIT is one too. Once a build has ended, its
log (the last KEPT_LINES) is reported as the unit's own output, which the deployment's history
keeps (`logs --type build`). The target supplies only a
``RemoteBuilder``: its registry, storage and builder API calls.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

import anyio.to_thread

from launchdeck.compose.model import Service
from launchdeck.engine import build_context, poll
from launchdeck.engine.events import State
from launchdeck.errors import BuildError, LaunchdeckError

if TYPE_CHECKING:
    from launchdeck.engine.seams import Progress

BUILD_WAIT = 3600.0
"""Seconds a remote build may take."""
LOG_LINES = 20
"""Lines of a failed build's log its error shows."""
KEPT_LINES = 500
"""Lines of a build's log reported as output once it ends (what a deployment's history keeps)."""
FIX = ("Fix the Dockerfile or the code it builds (`docker build` locally shows the same error), "
       "then deploy again.")


@dataclass(frozen=True)
class Phase:
    """Where a remote build is, as its builder reports it."""

    state: Literal["queued", "running", "succeeded", "failed"]
    step: str = ""
    """The builder's word for the step it is at; for a failed build, the step that failed."""
    reason: str = ""
    """For a failed build: why, in the builder's words."""


class RemoteBuilder(Protocol):
    """A target's image builder: its registry, the storage it reads contexts from, its builds."""

    name: str
    """What the builder is called (its console, in messages)."""
    archive: build_context.Archive
    """The archive the builder reads a context from."""

    async def has(self, image: str) -> bool:
        """Whether the registry already has ``image`` (a reference with its tag)."""
        ...

    async def upload(self, key: str, data: bytes) -> None:
        """Store a packed context under ``key``, unless it is stored already."""
        ...

    async def start(self, key: str, image: str, service: Service) -> str:
        """Start building ``service`` from the context at ``key`` and pushing it as ``image``;
        the build's id."""
        ...

    async def poll(self, build_id: str) -> Phase: ...

    async def log_tail(self, build_id: str, lines: int) -> list[str]:
        """The last ``lines`` lines of a build's log (none when it has no log)."""
        ...


def context_key(packed: build_context.Packed, archive: build_context.Archive) -> str:
    """Where a packed context is stored: named by its own digest, so it is uploaded once."""
    return f"contexts/{packed.digest}.{archive}"


async def image(builder: RemoteBuilder, service: Service, source: build_context.Source, image: str,
                progress: Progress, *, interval: float, timeout: float = BUILD_WAIT,
                ready: Callable[[], Awaitable[None]] | None = None) -> str:
    """``image`` (tagged with ``source``'s digest), built by ``builder`` unless its registry
    has it; a BuildError names the failing step, or the deadline. ``ready`` is what starting
    the build waits for once its context is uploaded (the builder's identity and grants)."""
    if await builder.has(image):
        progress(None, f"image {source.digest[:12]} is up to date")
        return image
    packed = await anyio.to_thread.run_sync(build_context.pack, source.context, builder.archive)
    progress(None, f"build context: {packed.files} file{'s' if packed.files != 1 else ''}, "
                   f"{len(packed.data) // 1024} KB")
    key = context_key(packed, builder.archive)
    await builder.upload(key, packed.data)
    if ready is not None:
        await ready()
    build_id = await builder.start(key, image, service)
    short = build_id.rsplit(":", 1)[-1][:8]  # an id may start with its builder project's name
    progress(State.BUILD_QUEUED, f"{builder.name} {short}")
    seen: list[str] = []
    """The steps reported so far: none while the build is queued."""

    async def check() -> str | None:
        phase = await builder.poll(build_id)
        if phase.state != "queued" and (not seen or seen[-1] != phase.step):
            step = phase.step or "building"
            progress(State.BUILD_RUNNING if not seen else None, step)
            seen.append(phase.step)
        if phase.state == "failed":
            kept = await _report_log(builder, build_id, progress)
            tail = "\n".join(line.rstrip() for line in kept[-LOG_LINES:])
            where = f" at {phase.step}" if phase.step else ""
            raise BuildError(f"image build failed{where}: {phase.reason or 'no reason given'}"
                             + (f"; last log lines:\n{tail}" if tail else ""),
                             service=service.name, hint=FIX)
        return image if phase.state == "succeeded" else None

    built = await poll.until(check, interval=interval, timeout=timeout)
    if built is not None:
        await _report_log(builder, build_id, progress)
    if built is None:
        raise BuildError(f"the image build did not finish in {_duration(timeout)}",
                         service=service.name,
                         hint=f"See build {short} in the {builder.name} console, then deploy again.")
    return built


async def _report_log(builder: RemoteBuilder, build_id: str, progress: Progress) -> list[str]:
    """The build's log (its last KEPT_LINES), each line reported as the unit's output; none
    when it cannot be read (the build's outcome stands)."""
    try:
        lines = await builder.log_tail(build_id, KEPT_LINES)
    except LaunchdeckError:
        return []
    for line in lines:
        progress(None, line.rstrip(), log=True)
    return lines


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes} minutes" if minutes >= 2 else f"{seconds:g} seconds"
