"""A deployment known by its target alone (provider, project, stack), without a folder of
compose files: what the portal shows of the deployments a provider lists and how it removes
one, and how Pulumi (which holds the compose document itself) prepares and removes its own.

The other tools start from a ``ProjectRef`` (a folder of compose files); these start from a
provider and the names its deployment record keeps.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from launchdeck.engine.events import Sink, discard

if TYPE_CHECKING:
    from launchdeck.compose.load import Loaded
    from launchdeck.compose.model import Project
    from launchdeck.engine.deploy import Ready
    from launchdeck.engine.history import Deployment
    from launchdeck.engine.results import DeployRecord, LogLine, ServiceStatus
    from launchdeck.engine.seams import Provider
    from launchdeck.tools.destroy import DestroyResult


@runtime_checkable
class ListsRecords(Protocol):
    """A provider that can list every deployment record it keeps."""

    def recorded(self) -> list[tuple[str, str, datetime]]: ...


def recorded(provider: Provider) -> list[tuple[str, str, datetime]]:
    """(project, stack, written at) of each record ``provider`` keeps, sorted; empty for a
    provider whose records cannot be listed."""
    return provider.recorded() if isinstance(provider, ListsRecords) else []


async def histories(provider: Provider) -> list[tuple[str, str]]:
    """(project, stack) of each deployment history ``provider`` keeps on its blobs, sorted."""
    from launchdeck.engine.history import histories as kept

    return await kept(provider.blobs())


async def history(provider: Provider, project: str, stack: str, *, limit: int = 20,
                  known: dict[str, Deployment] | None = None) -> list[Deployment]:
    """The last ``limit`` deployments of (project, stack), newest first. An entry never
    changes once written, so those in ``known`` (by key, kept to those listed) are not read
    again."""
    from launchdeck.engine.history import Deployment as Entry
    from launchdeck.engine.history import History

    kept = History(provider.blobs(), project, stack)
    known = {} if known is None else known
    out = []
    keys = (await kept.keys())[-max(limit, 1):]
    for gone in set(known) - set(keys):  # pruned, or older than the last ``limit``
        del known[gone]
    for key in reversed(keys):
        if key not in known:
            found = await kept.blobs.read(key)
            if found is None:  # pruned since it was listed
                continue
            try:
                known[key] = Entry.model_validate_json(found[0])
            except ValueError:  # not an entry this release can read
                continue
        out.append(known[key])
    return out


async def record(provider: Provider, project: str, stack: str) -> DeployRecord | None:
    """The last deployment of (project, stack) as ``provider`` keeps it, if any."""
    from launchdeck.engine.records import Records

    return await Records(provider.blobs(), project, stack).read()


async def services(provider: Provider, project: Project, stack: str,
                   record: DeployRecord | None) -> list[ServiceStatus]:
    """Where every service of ``project`` stands, with ``record`` (already read) for those the
    target cannot show (a failed build)."""
    from launchdeck.engine import ps

    return await ps.ps(provider, project, stack, record=record)


async def follow(provider: Provider, project: str, stack: str, *, services: Sequence[str] = (),
                 since: datetime | None = None, tail: int | None = None,
                 interval: float | None = None) -> AsyncIterator[LogLine]:
    """What the services print: the matching lines (the last ``tail`` first), then each new
    one as it comes. Config values are not scrubbed here: the caller knows them."""
    from launchdeck.engine import logs
    from launchdeck.engine.seams import LogQuery

    query = LogQuery(services=tuple(services), since=since, tail=tail)
    async for line in logs.follow(provider, project, stack, query, interval=interval):
        yield line


async def remove(provider: Provider, project: str, stack: str, *, volumes: bool = False,
                 sink: Sink = discard, target: str | None = None) -> DestroyResult:
    """Remove everything (project, stack) owns on ``provider`` (data volumes only with
    ``volumes``); ``target`` names where, for the result."""
    from launchdeck.engine import destroy
    from launchdeck.tools.destroy import DestroyResult

    teardown = await destroy.destroy(provider, project, stack, volumes=volumes, sink=sink)
    return DestroyResult(project=project, stack=stack, provider=provider.name, target=target,
                         removed=teardown.removed, kept=teardown.kept)


async def preflight(provider: Provider, loaded: Loaded, stack: str) -> Ready:
    """Check ``loaded`` for ``provider`` and read the config values it needs: raise
    DeployRefused or ConfigMissing, else what a deploy (tools.deploy.run) takes."""
    from launchdeck.engine import deploy

    return await deploy.preflight(loaded, provider, stack=stack)


async def ready(provider: Provider, project: Project, stack: str, values: dict[str, str]) -> Ready:
    """A project to plan with config ``values`` the caller holds (not read from the store),
    digested with the stack's key, which is read from the store."""
    from launchdeck.compose.validate import DIGEST_KEY
    from launchdeck.engine.deploy import Ready

    key = await provider.config_store(project.name, stack).values([DIGEST_KEY]) if values else {}
    return Ready(project, provider, stack, {**values, **key})
