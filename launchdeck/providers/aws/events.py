"""ECS's own events of a stack's services (placement, steady state, stopped tasks and why), for
`logs --type deploy`: what the platform said beside what launchdeck saw."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from launchdeck.engine.results import LogLine
from launchdeck.providers.aws import names
from launchdeck.providers.aws.api import Aws


async def service_events(aws: Aws, named: names.Names, services: Sequence[str],
                         since: datetime, until: datetime | None) -> list[LogLine]:
    """The events ECS keeps of each of ``services`` (its last 100, as DescribeServices returns
    them) made from ``since`` until ``until``; a service that is gone has none."""
    by_name = {named.service(s): s for s in services}
    out = []
    wanted = sorted(by_name)
    for start in range(0, len(wanted), 10):  # DescribeServices takes at most 10
        found = await aws.maybe("ecs", "describe_services", ("ClusterNotFoundException",),
                                cluster=names.CLUSTER, services=wanted[start:start + 10])
        for service in (found or {}).get("services", []):
            name = by_name.get(service.get("serviceName", ""))
            if name is None:
                continue
            for event in service.get("events", []):
                at = event.get("createdAt")
                if isinstance(at, datetime) and at >= since and (until is None or at < until):
                    out.append(LogLine(at=at, service=name, text=f"ECS: {event.get('message', '')}"))
    return out
