"""deploy: build and start the project on its target, then report each service's state."""

from __future__ import annotations

from launchdeck.engine import deploy as engine
from launchdeck.engine.events import Sink, discard
from launchdeck.engine.status import DeployResult
from launchdeck.providers.base import DeployOptions
from launchdeck.tools.project import ProjectRef


async def deploy(ref: ProjectRef, *, wait_seconds: float = 300, force: bool = False,
                 sink: Sink = discard) -> DeployResult:
    """Deploy the project; raise DeployRefused / ConfigMissing before changing anything."""
    loaded = ref.load()
    return await engine.deploy(loaded, ref.target(), stack=ref.stack,
                               options=DeployOptions(wait_timeout=wait_seconds, force=force),
                               sink=sink)
