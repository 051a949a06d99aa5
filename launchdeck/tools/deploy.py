"""deploy: build and start the project on its target, then report each service's state."""

from __future__ import annotations

import os

from launchdeck.compose.load import Loaded
from launchdeck.engine import deploy as engine
from launchdeck.engine.deploy import Ready
from launchdeck.engine.events import Sink, discard
from launchdeck.engine.status import DeployResult, PlanResult
from launchdeck.errors import UsageError
from launchdeck.providers.base import DeployOptions
from launchdeck.tools.project import ProjectRef


async def prepare(ref: ProjectRef, loaded: Loaded | None = None) -> Ready:
    """Load (unless given) and preflight the project: raise DeployRefused / ConfigMissing."""
    return await engine.preflight(loaded or ref.load(), ref.target(), stack=ref.stack)


def options(*, wait_seconds: float = 300, force: bool = False,
            network: str | None = None) -> DeployOptions:
    """Deploy options (cloud network: ``network``, else LAUNCHDECK_NETWORK, else default)."""
    network = network or os.environ.get("LAUNCHDECK_NETWORK") or "default"
    if network not in ("default", "dedicated"):
        raise UsageError(f"unknown network {network!r}", hint="Use default or dedicated.")
    return DeployOptions(wait_timeout=wait_seconds, force=force, network=network)


async def run(ready: Ready, *, wait_seconds: float = 300, force: bool = False,
              network: str | None = None, sink: Sink = discard,
              deployment_id: str | None = None) -> DeployResult:
    """Deploy a prepared project."""
    return await engine.start(ready, options=options(wait_seconds=wait_seconds, force=force,
                                                     network=network),
                              sink=sink, deployment_id=deployment_id)


async def plan(ref: ProjectRef, *, force: bool = False, network: str | None = None) -> PlanResult:
    """What deploying would change, without changing anything or taking the lock."""
    return await engine.plan(await prepare(ref), options=options(force=force, network=network))


async def deploy(ref: ProjectRef, *, wait_seconds: float = 300, force: bool = False,
                 network: str | None = None, sink: Sink = discard,
                 deployment_id: str | None = None) -> DeployResult:
    """Deploy the project; raise DeployRefused / ConfigMissing before changing anything."""
    return await run(await prepare(ref), wait_seconds=wait_seconds, force=force, network=network,
                     sink=sink, deployment_id=deployment_id)


async def missing_config(ref: ProjectRef) -> list[str]:
    """Config names the project reads that are not set on its target."""
    return await engine.missing_config(ref.load(), ref.target(), ref.stack)
