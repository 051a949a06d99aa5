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


def _batches():
    """A ``read`` of many keys at once that records each call's keys."""
    calls: list[list[str]] = []

    async def read(keys: list[str]) -> dict[str, str]:
        calls.append(list(keys))
        await anyio.sleep(0.01)
        return {k: k.upper() for k in keys if k != "gone"}

    return read, calls


def test_together_answers_reads_made_at_once_with_one_call_per_ten_keys() -> None:
    """Twelve services looked at together take two DescribeServices calls, not twelve; a key
    the call does not answer is None, and each caller gets its own key's answer."""
    read, calls = _batches()
    together = wait.Together(read, 10)
    keys = [f"s{i}" for i in range(11)] + ["gone"]

    async def main() -> list[str | None]:
        from launchdeck.engine.gather import gather

        return await gather(*[lambda k=k: together(k) for k in keys])

    found = anyio.run(main)
    assert found == [k.upper() for k in keys[:-1]] + [None]
    assert sorted(len(c) for c in calls) == [2, 10]


def test_together_gives_each_caller_the_calls_error() -> None:
    async def read(keys: list[str]) -> dict[str, str]:
        raise AwsError("slow down", code="ThrottlingException")

    together = wait.Together(read, 10)

    async def main() -> list[str]:
        errors: list[str] = []

        async def one(key: str) -> None:
            try:
                await together(key)
            except AwsError as exc:
                errors.append(exc.code)

        async with anyio.create_task_group() as group:
            for key in ("a", "b"):
                group.start_soon(one, key)
        return errors

    assert anyio.run(main) == ["ThrottlingException", "ThrottlingException"]


def test_together_asks_again_for_those_whose_caller_was_cancelled() -> None:
    """The caller that makes the call is cancelled during it: the others ask again and are
    answered all the same."""
    calls: list[list[str]] = []
    reading = anyio.Event()

    async def read(keys: list[str]) -> dict[str, str]:
        calls.append(list(keys))
        if len(calls) == 1:
            reading.set()
            await anyio.sleep_forever()
        return {k: k.upper() for k in keys}

    together = wait.Together(read, 10)

    async def main() -> str | None:
        answers: dict[str, str | None] = {}
        first = anyio.CancelScope()

        async def one() -> None:
            with first:
                await together("a")

        async def other() -> None:
            answers["b"] = await together("b")

        async with anyio.create_task_group() as group:
            group.start_soon(one)
            group.start_soon(other)
            await reading.wait()
            first.cancel()
        return answers["b"]

    assert anyio.run(main) == "B"
    assert calls == [["a", "b"], ["b"]]


def test_chain_counts_calls_that_waited_for_each_other_not_those_made_at_once(boto, aws_env) -> None:
    """Three reads after one another are a chain of three; three at once add one."""
    from launchdeck.providers.aws.api import parallel

    chain = T.Chain()
    aws = chain.aws(boto)

    async def main() -> None:
        for _ in range(3):
            await aws("sts", "get_caller_identity")
        await parallel(*[lambda: aws("sts", "get_caller_identity") for _ in range(3)])
        await aws("sts", "get_caller_identity")

    anyio.run(main)
    assert chain.depth == 5


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
