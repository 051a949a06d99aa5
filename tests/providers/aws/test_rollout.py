"""Judging an ECS rollout by the deployment of the task definition just registered."""

from __future__ import annotations

import anyio
import pytest
from botocore.exceptions import ClientError

from launchdeck.engine.events import State
from launchdeck.providers.aws import rollout
from launchdeck.providers.aws.api import Aws
from testkit import aws as T

NEW = "arn:aws:ecs:us-east-1:123456789012:task-definition/shop-dev-web:8"
OLD = "arn:aws:ecs:us-east-1:123456789012:task-definition/shop-dev-web:7"


def _service(*deployments: dict, desired: int = 1, running: int = 1, status: str = "ACTIVE",
             events: tuple[str, ...] = ()) -> dict:
    return {"status": status, "desiredCount": desired, "runningCount": running,
            "deployments": list(deployments), "events": [{"message": m} for m in events]}


def _deployment(task: str, status: str, rollout_state: str, reason: str = "", running: int = 1) -> dict:
    return {"taskDefinition": task, "status": status, "rolloutState": rollout_state,
            "rolloutStateReason": reason, "runningCount": running}


@pytest.mark.parametrize(("service", "state", "reason"), [
    (_service(_deployment(NEW, "PRIMARY", "COMPLETED")), State.SERVICE_DEPLOYMENT_COMPLETED, ""),
    (_service(_deployment(NEW, "PRIMARY", "IN_PROGRESS", running=0), _deployment(OLD, "ACTIVE", "COMPLETED")),
     State.SERVICE_DEPLOYMENT_PENDING, "0/1 running"),
    (_service(_deployment(NEW, "PRIMARY", "FAILED", "tasks failed to start")),
     State.SERVICE_DEPLOYMENT_FAILED, "tasks failed to start"),
    (_service(_deployment(OLD, "PRIMARY", "IN_PROGRESS"),
              _deployment(NEW, "ACTIVE", "FAILED", "ECS deployment circuit breaker: tasks failed to start.")),
     State.SERVICE_DEPLOYMENT_FAILED,
     "ECS deployment circuit breaker: tasks failed to start.; ECS rolled back to shop-dev-web:7"),
    (_service(_deployment(OLD, "PRIMARY", "COMPLETED"), events=("(service web) has started 1 tasks",)),
     State.SERVICE_DEPLOYMENT_FAILED, "ECS rolled back to shop-dev-web:7: the new deployment failed; "
                                      "recent events: (service web) has started 1 tasks"),
    (_service(_deployment(OLD, "PRIMARY", "IN_PROGRESS"), _deployment(NEW, "ACTIVE", "IN_PROGRESS")),
     State.SERVICE_DEPLOYMENT_FAILED, "ECS is rolling back to shop-dev-web:7: the new deployment failed"),
    (_service(_deployment(NEW, "PRIMARY", "COMPLETED", running=0), desired=0, running=0), State.STOPPED, ""),
    (_service(status="DRAINING"), State.STOPPED, "the ECS service is draining"),
])
def test_judge_looks_at_the_deployment_of_the_new_task_definition(service, state, reason) -> None:
    """A rollback that completes is the deploy failing, not succeeding."""
    assert rollout.judge(service, NEW) == (state, reason)


def test_without_a_task_definition_a_failed_last_deployment_reads_as_failed() -> None:
    """ps: ECS rolled back and the old tasks run on, but what was deployed last failed."""
    service = _service(_deployment(OLD, "PRIMARY", "COMPLETED"),
                       _deployment(NEW, "ACTIVE", "FAILED", "tasks failed to start"))
    assert rollout.judge(service) == (State.SERVICE_DEPLOYMENT_FAILED,
                                      "tasks failed to start; ECS rolled back to shop-dev-web:7")


def test_without_a_task_definition_a_settled_service_is_completed() -> None:
    assert rollout.judge(_service(_deployment(NEW, "PRIMARY", "COMPLETED")))[0] is \
        State.SERVICE_DEPLOYMENT_COMPLETED


def _deleted_service(boto) -> str:
    T.ecs_cluster(boto)
    ecs = boto.client("ecs")
    task = ecs.register_task_definition(family="api", containerDefinitions=[{"name": "c", "image": "nginx",
                                                                               "memory": 64}])
    ecs.create_service(cluster="launchdeck", serviceName="api", desiredCount=1,
                       taskDefinition=task["taskDefinition"]["taskDefinitionArn"])
    ecs.delete_service(cluster="launchdeck", service="api", force=True)
    return task["taskDefinition"]["taskDefinitionArn"]


def test_creating_a_service_that_still_drains_is_refused_as_aws_refuses_it(boto, aws_env) -> None:
    """Deleted a moment ago, the name is not free yet."""
    task = _deleted_service(boto)
    with pytest.raises(ClientError, match="Unable to Start a service that is still Draining"):
        boto.client("ecs").create_service(cluster="launchdeck", serviceName="api", desiredCount=1,
                                          taskDefinition=task)


def test_drained_waits_until_the_old_service_is_inactive_then_creating_works(boto, aws_env, calls) -> None:
    """The first look after a deletion sees DRAINING; drained waits it out, and creating works."""
    task = _deleted_service(boto)
    calls.clear()
    anyio.run(lambda: rollout.drained(Aws(boto), "launchdeck", "api", interval=0.01))
    described = [c for c in calls.made if c.operation == "DescribeServices"]
    assert len(described) >= 2  # it saw DRAINING, then waited with services_inactive
    made = boto.client("ecs").create_service(cluster="launchdeck", serviceName="api", desiredCount=1,
                                             taskDefinition=task)
    assert made["service"]["status"] == "ACTIVE"


def test_drained_returns_at_once_for_a_name_never_used(boto, aws_env) -> None:
    T.ecs_cluster(boto)
    said: list[str] = []
    anyio.run(lambda: rollout.drained(Aws(boto), "launchdeck", "fresh", interval=0.01, say=said.append))
    assert said == []


def test_only_placement_events_since_the_deployment_started_are_its_own() -> None:
    """An earlier deploy's "unable to place a task" does not count against this one's rollout."""
    from datetime import UTC, datetime, timedelta

    started = datetime(2026, 1, 1, tzinfo=UTC)
    full = ("(service web) was unable to place a task. Reason: You've reached the limit on the number "
            "of vCPUs you can run concurrently.")
    deployment = {"createdAt": started, "desiredCount": 2, "runningCount": 1, "pendingCount": 0}
    old = {"events": [{"message": "(service web) has reached a steady state.",
                       "createdAt": started + timedelta(seconds=5)},
                      {"message": full, "createdAt": started - timedelta(minutes=3)}]}
    assert rollout.placement(old, deployment) is None
    new = {"events": [{"message": full, "createdAt": started + timedelta(seconds=9)}, *old["events"]]}
    assert rollout.placement(new, deployment) == full and rollout.out_of_vcpus(full)
    assert rollout.unplaced(deployment) == 1
    assert rollout.tasks_said([{"lastStatus": s} for s in ("PENDING", "PROVISIONING", "RUNNING",
                                                           "PROVISIONING")]) == "2 provisioning, 1 pending"
