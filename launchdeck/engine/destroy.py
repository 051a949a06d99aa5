"""destroy for every target: under the deploy lock, remove what the (project, stack) owns."""

from __future__ import annotations

from launchdeck.engine.events import Sink, discard
from launchdeck.identity import new_deployment_id
from launchdeck.providers.base import Provider, Teardown


async def destroy(provider: Provider, project: str, stack: str, *, volumes: bool = False,
                  sink: Sink = discard) -> Teardown:
    """Remove everything; data volumes and databases only when ``volumes``."""
    async with provider.lock(project, stack, "destroy", new_deployment_id()):
        teardown = await provider.destroy(project, stack, volumes=volumes, sink=sink)
        await provider.records(project, stack).delete()
    return teardown
