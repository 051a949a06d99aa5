"""ps for every target: what runs now (as a deploy observes it), and what the last deployment
says of what does not.

A build that failed leaves no container or cloud service to ask, so a service the target
does not have shows the state the last deployment record gave it when that was a failure.
Services the target still runs but the project no longer has are listed last.
"""

from __future__ import annotations

from types import EllipsisType

from launchdeck.compose.model import Project
from launchdeck.engine.events import State, discard
from launchdeck.engine.records import Records
from launchdeck.engine.results import DeployRecord, ServiceStatus
from launchdeck.engine.seams import DeployOptions, Kind, Provider

ORPHAN = "not in the compose file any more; the next deploy removes it"


async def ps(provider: Provider, project: Project, stack: str, *,
             record: DeployRecord | None | EllipsisType = ...) -> list[ServiceStatus]:
    """Every service of ``project`` on ``provider``, in the project's order, then orphans.
    ``record``: the deployment record, when the caller has read it already (None: there is
    none); else it is read here."""
    session = await provider.session(project, stack, {}, "ps", DeployOptions(), discard)
    live = {name: found.status for name, found in (await session.observe()).items()
            if found.status is not None and found.kind is not Kind.INGRESS}
    if isinstance(record, EllipsisType):
        record = await Records(provider.blobs(), project.name, stack).read()
    recorded = {s.name: s for s in record.result.services} if record else {}
    out = []
    for name in project.services:
        status = live.pop(name, None) or ServiceStatus(name=name, state=State.NOT_DEPLOYED)
        earlier = recorded.get(name)
        if status.state is State.NOT_DEPLOYED and earlier is not None and earlier.state.failed:
            status = earlier
        out.append(status)
    for name in sorted(live):
        orphan = live[name]
        orphan.message = ORPHAN
        out.append(orphan)
    return out
