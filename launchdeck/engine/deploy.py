"""The deploy flow every provider shares: validate, check config, then hand over to the target.

validate → refuse on error findings → refuse, naming every one, when config is unset →
provider.deploy (build → provision in depends_on order → wait for health) → result.
"""

from __future__ import annotations

import secrets

from launchdeck.compose.load import Loaded
from launchdeck.compose.validate import has_errors, required_config, validate
from launchdeck.engine.events import Sink, discard
from launchdeck.engine.status import DeployResult
from launchdeck.errors import ConfigMissing, DeployRefused
from launchdeck.providers.base import DeployOptions, Provider


def new_deployment_id() -> str:
    """A short, unique id for one deploy (the etag in labels and tags)."""
    return secrets.token_hex(6)


async def deploy(loaded: Loaded, provider: Provider, *, stack: str,
                 options: DeployOptions | None = None, sink: Sink = discard,
                 deployment_id: str | None = None) -> DeployResult:
    """Deploy ``loaded`` to ``provider``; raise DeployRefused or ConfigMissing before any change."""
    project = loaded.project
    findings = validate(loaded, provider.name)
    if has_errors(findings):
        errors = [f for f in findings if f.severity == "error"]
        raise DeployRefused(
            f"{len(errors)} error(s) stop {project.name} deploying to {provider.name}:\n"
            + "\n".join(str(f) for f in errors), findings,
            hint="Fix them and deploy again; `launchdeck compose config` lists every finding.")
    needed = required_config(loaded)
    store = provider.config_store(project.name, stack)
    missing = sorted(set(needed) - set(await store.names()))
    if missing:
        raise ConfigMissing(missing, provider=provider.name, stack=stack)
    values = await store.values(needed)
    return await provider.deploy(project, stack, values, deployment_id or new_deployment_id(),
                                 options or DeployOptions(), sink)
