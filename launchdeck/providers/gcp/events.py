"""Cloud Run's own word on a stack's services, for `logs --type deploy`: each revision (of a
Cloud Run service, or of a worker pool for a service without ports) made in
a deployment's time and its conditions (Ready, or why not: an image that cannot be pulled, a
container that did not listen), beside what launchdeck saw."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from launchdeck.engine.results import LogLine
from launchdeck.providers.gcp import names
from launchdeck.providers.gcp.api import Gcp, if_found


async def revision_conditions(gcp: Gcp, named: names.Names, services: Sequence[str],
                              since: datetime, until: datetime | None) -> list[LogLine]:
    """A line per condition of each revision of ``services`` created from ``since`` until
    ``until``
    (https://cloud.google.com/run/docs/reference/rest/v2/Condition); a service's revisions are
    listed under its Cloud Run service or its worker pool
    (https://cloud.google.com/run/docs/reference/rest/v2/projects.locations.workerPools.revisions/list),
    whichever it is (or was, in that time); a service that is gone has none."""
    from google.cloud import run_v2

    parent = f"projects/{gcp.project}/locations/{gcp.region}"
    out = []
    for service in services:
        made = []
        for kind in ("services", "workerPools"):
            name = f"{parent}/{kind}/{named.service(service)}"
            made += await if_found(lambda name=name: gcp.all("run.revisions", "list_revisions",
                                                             parent=name)) or []
        for revision in made:
            at = revision.create_time
            if at is None or at < since or (until is not None and at >= until):
                continue
            short = revision.name.rsplit("/", 1)[-1]
            for condition in revision.conditions:
                state = run_v2.Condition.State(condition.state).name.removeprefix("CONDITION_")
                reason = run_v2.Condition.CommonReason(condition.reason).name
                said = " ".join(filter(None, [reason if reason != "COMMON_REASON_UNDEFINED"
                                              else "", condition.message]))
                changed = condition.last_transition_time
                out.append(LogLine(at=changed if changed and changed.year > 1970 else at,
                                   service=service,
                                   text=f"Cloud Run: revision {short} {condition.type_} {state}"
                                        + (f": {said}" if said else "")))
    return out
