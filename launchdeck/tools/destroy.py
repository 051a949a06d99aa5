"""destroy: remove everything the project's (provider, stack) owns."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from launchdeck.engine.events import Sink, discard
from launchdeck.tools.project import ProjectRef

if TYPE_CHECKING:
    from launchdeck.compose.load import Loaded


class DestroyResult(BaseModel):
    project: str
    stack: str
    provider: str
    target: str | None = None
    removed: list[str]
    kept: list[str] = Field(description="Data kept unless volumes are deleted too.")


async def destroy(ref: ProjectRef, loaded: Loaded | None = None, *, volumes: bool = False,
                  sink: Sink = discard) -> DestroyResult:
    """Remove what the project (loaded here unless given) owns on its target."""
    from launchdeck.tools.deployment import remove

    project = (loaded or ref.load()).project
    target = await ref.line(pin=True)
    return await remove(ref.target(), project.name, ref.stack, volumes=volumes, sink=sink,
                        target=target)
