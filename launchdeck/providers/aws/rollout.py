"""Judging an ECS rollout, and waiting out a service that is still draining.

ECS keeps several deployments per service: the PRIMARY one (what the service is moving to)
and ACTIVE ones (older tasks still running). When the deployment circuit breaker rolls a
failed deployment back, ECS starts a *new* PRIMARY deployment with the previous task
definition, which then completes: a deploy that looked only at "the PRIMARY deployment is
COMPLETED" would report the rollback as its success. ``judge`` therefore asks whether the
deployment of the task definition just registered is the one that completed.

While a deployment is under way its tasks go PROVISIONING, PENDING, RUNNING (``tasks_said``
says how far), and ECS may be unable to place some at all: when the account's Fargate vCPU
quota is used up it writes a service event and keeps trying, the deployment IN_PROGRESS
(``placement``); ``quota_refusal`` says what to do about it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from launchdeck.engine.events import State
from launchdeck.providers.aws import wait
from launchdeck.providers.aws.api import Aws

DRAIN_WAIT = 900.0
"""Seconds a deleted ECS service may take to drain (its tasks stop after their deregistration
delay, 300 s), before its name can be used again or what it used removed."""
PLACEMENT_WAIT = 180.0
"""Seconds a rollout may go on without placing, starting or stopping any task while ECS says the
account's Fargate vCPU quota leaves no room, before the deploy reports it: ECS tries again in
later cycles (the deployment stays IN_PROGRESS), a rolling update short of room goes on one task
at a time (a new one healthy, an old one stopped after its deregistration delay, the next one
placed), and vCPUs held elsewhere free up only if something else stops; a raise of the quota is
a request to AWS, not a wait."""
QUOTA = "Fargate On-Demand vCPU resource count"
QUOTA_CODE = "L-3032A538"
"""Service Quotas' name and code of the account's Fargate vCPUs (per region)."""
_STARTING = ("PROVISIONING", "PENDING", "ACTIVATING")
"""A task's states before RUNNING ("Task lifecycle", ECS Developer Guide)."""


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


def deployment(service: Mapping[str, Any], task_definition: str | None) -> Mapping[str, Any] | None:
    """The deployment of ``task_definition`` among the service's, if ECS has it."""
    return next((d for d in service.get("deployments", []) if d.get("taskDefinition") == task_definition),
                None)


def unplaced(deployment: Mapping[str, Any]) -> int:
    """Tasks of ``deployment`` that ECS has not placed yet (neither pending nor running)."""
    return max(0, deployment.get("desiredCount", 0) - deployment.get("runningCount", 0)
               - deployment.get("pendingCount", 0))


def placement(service: Mapping[str, Any], deployment: Mapping[str, Any]) -> str | None:
    """ECS's latest event of the service saying it could not place a task, made since
    ``deployment`` started ("(service x) was unable to place a task. Reason: ...": Service event
    messages, ECS Developer Guide); None if there is none."""
    since = deployment.get("createdAt")
    for event in service.get("events", []):  # newest first
        at = event.get("createdAt")
        if since is not None and at is not None and at < since:
            return None
        message = event.get("message", "")
        if "was unable to place a task" in message:
            return message
    return None


def out_of_vcpus(event: str) -> bool:
    """Whether a placement event says the account's Fargate quota is used up (vCPUs, or tasks
    under the older task-count quota)."""
    return "reached the limit on the number of" in event and "run concurrently" in event


def tasks_said(tasks: list[Mapping[str, Any]]) -> str:
    """How far starting tasks are: ``2 provisioning, 1 pending`` (empty if none is starting)."""
    states = [t.get("lastStatus", "") for t in tasks]
    return ", ".join(f"{states.count(s)} {s.lower()}" for s in _STARTING if s in states)


def quota_refusal(left: int, desired: int, vcpus: float, quota: float | None,
                  region: str | None) -> str:
    """Why a rollout stopped: ECS cannot place ``left`` of ``desired`` tasks of ``vcpus`` each, and
    what to do (the quota's value, and how to raise it)."""
    value = f" is {quota:g} vCPUs" if quota else ""
    wanted = f"{math.ceil(quota + left * vcpus)}" if quota else "<more than now>"
    where = f" --region {region}" if region else ""
    return (f"ECS cannot place {left} of the service's {desired} tasks ({vcpus:g} vCPU each): the "
            f"account's Fargate vCPU quota (\"{QUOTA}\", {QUOTA_CODE}){value}, and tasks already "
            "running in the account hold it (other stacks or services, and the old tasks a rolling "
            "update keeps until the new ones are healthy). ECS keeps trying to place them. Raise the "
            f"quota to at least {wanted} in the Service Quotas console (AWS Fargate, {QUOTA_CODE}) or "
            f"with `aws service-quotas request-service-quota-increase --service-code fargate "
            f"--quota-code {QUOTA_CODE} --desired-value {wanted}{where}`, or stop tasks the account "
            "does not need; then deploy again.")


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
