"""The one poll-until loop, its retry, and botocore's waiters run through it against moto."""

from __future__ import annotations

import anyio
import pytest

from launchdeck.errors import ProviderError
from launchdeck.providers.aws import wait
from launchdeck.providers.aws.api import Aws, AwsError
from launchdeck.providers.aws.region import ecs_service_role
from testkit import aws as T


def _reads(*answers):
    """A ``read`` that gives ``answers`` in turn, counting the calls."""
    calls = []

    async def read():
        calls.append(len(calls))
        return answers[min(len(calls) - 1, len(answers) - 1)]

    return read, calls


def test_until_returns_the_value_once_read_has_one_and_reports_each_new_status() -> None:
    """Progress is said when what AWS answers changes, not at every read."""
    read, calls = _reads((None, "creating"), (None, "creating"), (None, "backing-up"), ("done", ""))
    said: list[str] = []
    found = anyio.run(lambda: wait.until(read, what="the database", interval=0.001, timeout=5,
                                         say=said.append))
    assert found == "done" and len(calls) == 4
    assert said == ["the database: creating", "the database: backing-up"]


def test_until_gives_up_after_the_timeout_with_the_last_status() -> None:
    read, _ = _reads((None, "deleting"))
    with pytest.raises(ProviderError, match="gave up waiting for the cache after .*: still deleting") \
            as caught:
        anyio.run(lambda: wait.until(read, what="the cache", interval=0.001, timeout=0.02, hint="Wait more."))
    assert caught.value.hint == "Wait more."


def test_until_stops_at_once_when_read_raises() -> None:
    """A failed state is not waited out."""
    async def read():
        raise ProviderError("the store is failed", provider="aws")

    with pytest.raises(ProviderError, match="the store is failed"):
        anyio.run(lambda: wait.until(read, what="x", interval=0.001, timeout=5))


def test_retry_repeats_while_aws_answers_a_not_yet_code() -> None:
    """DependencyViolation means "later"; the step runs again until AWS accepts it."""
    attempts = []

    async def step():
        attempts.append(1)
        if len(attempts) < 3:
            raise AwsError("in use", code="DependencyViolation")
        return "deleted"

    said: list[str] = []
    found = anyio.run(lambda: wait.retry(step, ("DependencyViolation",), what="deleting sg-1", interval=0.001,
                                         timeout=5, say=said.append))
    assert found == "deleted" and len(attempts) == 3
    assert said == ["deleting sg-1: AWS answers DependencyViolation, retrying"]


def test_retry_raises_any_other_refusal_at_once() -> None:
    attempts = []

    async def step():
        attempts.append(1)
        raise AwsError("denied", code="AccessDenied")

    with pytest.raises(AwsError, match="denied"):
        anyio.run(lambda: wait.retry(step, ("DependencyViolation",), what="x", interval=0.001, timeout=5))
    assert len(attempts) == 1


def _drained_service(boto) -> str:
    """An ECS service, deleted a moment ago: moto drains it as AWS does."""
    T.ecs_cluster(boto)
    ecs = boto.client("ecs")
    task = ecs.register_task_definition(family="w", containerDefinitions=[{"name": "c", "image": "nginx",
                                                                             "memory": 64}])
    ecs.create_service(cluster="launchdeck", serviceName="w", desiredCount=1,
                       taskDefinition=task["taskDefinition"]["taskDefinitionArn"])
    ecs.delete_service(cluster="launchdeck", service="w", force=True)
    return "w"


def test_waiter_follows_botocores_definition_and_reports_what_it_sees(boto, aws_env) -> None:
    """services_inactive: DRAINING is reported, INACTIVE ends the wait."""
    aws = Aws(boto)
    anyio.run(ecs_service_role, aws)  # what a fresh account needs before its first cluster
    name = _drained_service(boto)
    said: list[str] = []
    last = anyio.run(lambda: wait.waiter(aws, "ecs", "services_inactive", what="w to drain", interval=0.01,
                                         say=said.append, cluster="launchdeck", services=[name]))
    assert last["services"][0]["status"] == "INACTIVE"
    assert said == ["w to drain: DRAINING"]


def test_waiter_stops_at_a_documented_failure_state(boto, aws_env) -> None:
    """replication_group_deleted fails on an available group: waiting would never end."""
    cache = boto.client("elasticache")
    cache.create_replication_group(ReplicationGroupId="kept", ReplicationGroupDescription="d",
                                   Engine="redis", EngineVersion="7.1", NumCacheClusters=1)
    with pytest.raises(wait.WaiterFailed, match="cache kept to go cannot finish: available"):
        anyio.run(lambda: wait.waiter(Aws(boto), "elasticache", "replication_group_deleted",
                                      what="cache kept to go", interval=0.01, ReplicationGroupId="kept"))
