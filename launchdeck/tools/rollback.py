"""rollback: deploy the project again with the images an earlier deployment ran (no build),
after a preview of what changes; the rollback is itself a deployment in the history."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from launchdeck.engine.events import Sink, discard
from launchdeck.engine.history import Preview
from launchdeck.engine.results import DeployResult
from launchdeck.tools.project import ProjectRef

if TYPE_CHECKING:
    from launchdeck.engine.deploy import Ready
    from launchdeck.engine.history import Deployment


class RollbackPreview(Preview):
    """What a rollback would change (nothing was changed)."""

    target: str | None = None


class RollbackResult(DeployResult):
    rolled_back_to: str = Field(description="The deployment whose images now run.")


async def _prepare(ref: ProjectRef, to: str, *, pin: bool) -> tuple[Ready, Deployment]:
    from launchdeck.engine.history import History
    from launchdeck.tools.deploy import prepare

    loaded = ref.load()
    entry = await History(ref.target().blobs(), loaded.project.name, ref.stack).find(to)
    return await prepare(ref, loaded, pin=pin), entry


async def preview(ref: ProjectRef, to: str = "previous") -> RollbackPreview:
    """What rolling back to ``to`` (an id, ``previous`` or ``latest``) would change; refused,
    naming it, when an image it needs is gone."""
    from launchdeck import redact
    from launchdeck.engine import rollback as engine

    ready, entry = await _prepare(ref, to, pin=False)
    shown = await engine.preview(ready, entry)
    result = RollbackPreview(**{**dict(shown), "target": await ref.line()})
    result.plan.target = result.target
    return redact.model(result, redact.secrets(ready.config.values()))


async def rollback(ref: ProjectRef, to: str = "previous", *, wait_seconds: float = 300,
                   sink: Sink = discard, deployment_id: str | None = None) -> RollbackResult:
    """Roll back to ``to``: its images, today's compose settings and config values (as
    deployment ``deployment_id``, else a new one)."""
    from launchdeck.engine import rollback as engine
    from launchdeck.tools.deploy import options

    ready, entry = await _prepare(ref, to, pin=True)
    result = await engine.rollback(ready, entry, options=options(wait_seconds=wait_seconds),
                                   sink=sink, deployment_id=deployment_id)
    return RollbackResult(**{**dict(result), "target": await ref.line()},
                          rolled_back_to=entry.id)
