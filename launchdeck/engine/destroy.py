"""destroy for every target: under the deploy lock, remove what the (project, stack) owns."""

from __future__ import annotations

from launchdeck.engine import lock
from launchdeck.engine.events import Sink, discard
from launchdeck.engine.records import Records
from launchdeck.engine.seams import Provider, Teardown
from launchdeck.identity import new_deployment_id


async def destroy(provider: Provider, project: str, stack: str, *, volumes: bool = False,
                  sink: Sink = discard) -> Teardown:
    """Remove everything; data volumes and databases only when ``volumes``."""
    blobs = provider.blobs()
    async with lock.held(blobs, project, stack, "destroy", new_deployment_id(), provider=provider.name):
        teardown = await provider.destroy(project, stack, volumes=volumes, sink=sink)
        await Records(blobs, project, stack).delete()
    return teardown
