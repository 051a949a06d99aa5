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
    from launchdeck.engine import destroy as engine

    project = (loaded or ref.load()).project
    provider = ref.target()
    target = (await ref.identity(pin=True)).describe()
    teardown = await engine.destroy(provider, project.name, ref.stack, volumes=volumes, sink=sink)
    return DestroyResult(project=project.name, stack=ref.stack, provider=provider.name,
                         target=target,
                         removed=teardown.removed, kept=teardown.kept)
