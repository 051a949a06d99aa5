"""deploy: build and start the project on its target, then report each service's state."""

from __future__ import annotations

from launchdeck.engine import deploy as engine
from launchdeck.engine.events import Sink, discard
from launchdeck.engine.status import DeployResult
from launchdeck.providers.base import DeployOptions
from launchdeck.tools.project import ProjectRef


async def deploy(ref: ProjectRef, *, wait_seconds: float = 300, force: bool = False,
                 sink: Sink = discard, deployment_id: str | None = None) -> DeployResult:
    """Deploy the project; raise DeployRefused / ConfigMissing before changing anything."""
    loaded = ref.load()
    return await engine.deploy(loaded, ref.target(), stack=ref.stack,
                               options=DeployOptions(wait_timeout=wait_seconds, force=force),
                               sink=sink, deployment_id=deployment_id)


async def missing_config(ref: ProjectRef) -> list[str]:
    """Config names the project reads that are not set on its target."""
    from launchdeck.compose.validate import required_config

    loaded = ref.load()
    store = ref.target().config_store(loaded.project.name, ref.stack)
    present = set(await store.names())
    return [name for name in required_config(loaded) if name not in present]
