"""Judging an ECS rollout, and waiting out a service that is still draining.

ECS keeps several deployments per service: the PRIMARY one (what the service is moving to)
and ACTIVE ones (older tasks still running). When the deployment circuit breaker rolls a
failed deployment back, ECS starts a *new* PRIMARY deployment with the previous task
definition, which then completes: a deploy that looked only at "the PRIMARY deployment is
COMPLETED" would report the rollback as its success. ``judge`` therefore asks whether the
deployment of the task definition just registered is the one that completed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from launchdeck.engine.events import State
from launchdeck.providers.aws import wait
from launchdeck.providers.aws.api import Aws

DRAIN_WAIT = 900.0
"""Seconds a deleted ECS service may take to drain (its tasks stop after their deregistration
delay, 300 s), before its name can be used again or what it used removed."""


def judge(service: Mapping[str, Any], task_definition: str | None = None) -> tuple[State, str]:
    """The state of a described ECS service, and why, for the rollout of ``task_definition``.

    Without a task definition (``ps``), the newest deployment is judged: a service whose last
    deployment failed and was rolled back reads as failed, though its old tasks run on.
    """
    status = service.get("status", "ACTIVE")
    if status != "ACTIVE":
        return State.STOPPED, f"the ECS service is {status.lower()}"
    deployments = list(service.get("deployments", []))
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
    desired, running = service.get("desiredCount", 0), service.get("runningCount", 0)
    if task_definition is None:
        failed = [d for d in deployments if d.get("rolloutState") == "FAILED"]
        mine = failed[0] if failed else primary
    else:
        mine = next((d for d in deployments if d.get("taskDefinition") == task_definition), None)
    if primary is None and mine is None:
        return State.SERVICE_DEPLOYMENT_PENDING, "ECS has not started a deployment yet"
    if mine is None:
        # our deployment is gone and another is PRIMARY: ECS rolled back to it
        return State.SERVICE_DEPLOYMENT_FAILED, _why(
            service, f"ECS rolled back to {_revision(primary)}: the new deployment failed")
    if mine.get("rolloutState") == "FAILED":
        reason = mine.get("rolloutStateReason") or "the deployment failed"
        if mine is not primary and primary is not None:
            reason = f"{reason}; ECS rolled back to {_revision(primary)}"
        return State.SERVICE_DEPLOYMENT_FAILED, _why(service, reason)
    if mine is not primary:
        return State.SERVICE_DEPLOYMENT_FAILED, _why(
            service, f"ECS is rolling back to {_revision(primary)}: the new deployment failed")
    if desired == 0:
        return State.STOPPED, ""
    if mine.get("rolloutState") == "COMPLETED" and mine.get("runningCount", running) >= desired:
        return State.SERVICE_DEPLOYMENT_COMPLETED, ""
    failed_tasks = mine.get("failedTasks", 0)
    return State.SERVICE_DEPLOYMENT_PENDING, f"{mine.get('runningCount', running)}/{desired} running" + (
        f", {failed_tasks} failed to start" if failed_tasks else "")


def _revision(deployment: Mapping[str, Any] | None) -> str:
    """``family:7`` of a deployment's task definition ARN."""
    arn = (deployment or {}).get("taskDefinition", "")
    return arn.rsplit("/", 1)[-1] or "the previous task definition"


def _why(service: Mapping[str, Any], reason: str) -> str:
    """``reason`` with ECS's latest events, which name the cause (a failing health check ...)."""
    events = [e.get("message", "") for e in service.get("events", [])[:3]]
    return reason + ("; recent events: " + " | ".join(events) if events else "")


async def drained(aws: Aws, cluster: str, name: str, *, interval: float, timeout: float = DRAIN_WAIT,
                  say: wait.Say = wait._quiet) -> None:
    """Return once no service called ``name`` is DRAINING, so that one can be created.

    A service deleted a moment ago keeps its name while it drains, and creating it again
    then fails: "Unable to Start a service that is still Draining."
    """
    found = await aws("ecs", "describe_services", cluster=cluster, services=[name])
    if any(s.get("status") == "DRAINING" for s in found.get("services", [])):
        await wait.waiter(aws, "ecs", "services_inactive", what=f"the old ECS service {name} to drain",
                          interval=interval, timeout=timeout, say=say, cluster=cluster, services=[name])
