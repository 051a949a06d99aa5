"""The deploy flow every provider shares: validate, check config, then hand over to the target.

preflight: validate → refuse on error findings → refuse, naming every one, when config is
unset; start: provider.deploy (build → provision in depends_on order → wait for health).
The two are apart so that a front end can refuse at once and run the deploy in the background.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from launchdeck.compose.load import Loaded
from launchdeck.compose.model import Project
from launchdeck.compose.validate import has_errors, required_config, validate
from launchdeck.engine.events import Sink, discard
from launchdeck.engine.status import DeployResult
from launchdeck.errors import ConfigMissing, DeployRefused
from launchdeck.providers.base import DeployOptions, Provider


def new_deployment_id() -> str:
    """A short, unique id for one deploy (the etag in labels and tags)."""
    return secrets.token_hex(6)


@dataclass(frozen=True)
class Ready:
    """A project that passed preflight, with the config values its services read."""

    project: Project
    provider: Provider
    stack: str
    config: dict[str, str]


async def missing_config(loaded: Loaded, provider: Provider, stack: str) -> list[str]:
    """Config names the project reads that are not set on its target, sorted."""
    present = set(await provider.config_store(loaded.project.name, stack).names())
    return [name for name in required_config(loaded) if name not in present]


async def preflight(loaded: Loaded, provider: Provider, *, stack: str) -> Ready:
    """Raise DeployRefused or ConfigMissing if the project cannot deploy; else what start needs."""
    project = loaded.project
    findings = validate(loaded, provider.name)
    if has_errors(findings):
        errors = [f for f in findings if f.severity == "error"]
        raise DeployRefused(
            f"{len(errors)} error(s) stop {project.name} deploying to {provider.name}:\n"
            + "\n".join(str(f) for f in errors), findings,
            hint="Fix them and deploy again; `launchdeck compose config` lists every finding.")
    missing = await missing_config(loaded, provider, stack)
    if missing:
        raise ConfigMissing(missing, provider=provider.name, stack=stack)
    values = await provider.config_store(project.name, stack).values(required_config(loaded))
    return Ready(project, provider, stack, values)


async def start(ready: Ready, *, options: DeployOptions | None = None, sink: Sink = discard,
                deployment_id: str | None = None) -> DeployResult:
    """Deploy a project that passed preflight."""
    return await ready.provider.deploy(ready.project, ready.stack, ready.config,
                                       deployment_id or new_deployment_id(),
                                       options or DeployOptions(), sink)


async def deploy(loaded: Loaded, provider: Provider, *, stack: str,
                 options: DeployOptions | None = None, sink: Sink = discard,
                 deployment_id: str | None = None) -> DeployResult:
    """Deploy ``loaded`` to ``provider``; raise DeployRefused or ConfigMissing before any change."""
    ready = await preflight(loaded, provider, stack=stack)
    return await start(ready, options=options, sink=sink, deployment_id=deployment_id)
