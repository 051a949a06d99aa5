"""ps: every service of the project with its state, replicas, health and endpoints."""

from __future__ import annotations

from pydantic import BaseModel

from launchdeck.engine.results import ServiceStatus
from launchdeck.tools.project import ProjectRef


class PsResult(BaseModel):
    project: str
    stack: str
    provider: str
    target: str | None = None
    services: list[ServiceStatus]


async def ps(ref: ProjectRef) -> PsResult:
    from launchdeck.engine import ps as engine

    project = ref.load().project
    provider = ref.target()
    from launchdeck import redact

    target = await ref.line()
    services = await engine.ps(provider, project, ref.stack)
    hidden = await redact.of_store(provider.config_store(project.name, ref.stack))
    return redact.model(PsResult(project=project.name, stack=ref.stack, provider=provider.name,
                                 target=target, services=services), hidden)
