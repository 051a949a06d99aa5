"""A deploy's session without AWS: the order its units start in, and its waits giving up."""

from __future__ import annotations

import anyio
import pytest

from launchdeck.compose.load import load
from launchdeck.engine import kinds
from launchdeck.engine.events import State
from launchdeck.engine.seams import DeployOptions
from launchdeck.errors import ProviderError
from launchdeck.providers.aws import names
from launchdeck.providers.aws import session as aws_session


class _Aws:
    """Answers only what making a namespace asks, with an operation that never finishes."""

    region = "us-east-1"

    async def __call__(self, service: str, operation: str, /, **params):
        if operation == "create_http_namespace":
            return {"OperationId": "op-1"}
        assert operation == "get_operation", operation
        return {"Operation": {"Status": "PENDING"}}


def _session(project, text: str, said: list | None = None,
             config: dict | None = None) -> aws_session.AwsSession:
    loaded = load(cwd=str(project({"compose.yaml": text})), os_environ={})
    sink = (lambda event: said.append(event.message)) if said is not None else (lambda event: None)
    return aws_session.AwsSession(_Aws(), "123456789012", loaded.project, "dev", config or {}, "etag",
                                  DeployOptions(), sink, 0.001, names.Names.fresh(loaded.project.name, "dev"))


def _render(session: aws_session.AwsSession, name: str):
    return kinds.render(session, session.project, session.stack, session.config, name, "nginx")


STORES = """\
name: demo
services:
  docs:
    image: nginx
    environment:
      mongodb_url: mongodb://mongo.example.com:27017/app
  api:
    image: nginx
    environment:
      DATABASE_URL: postgres://u:${PW}@db:5432/app
      QUEUE: http://worker:7000
  worker:
    image: nginx
    expose: ["7000"]
    depends_on: [db]
  db:
    image: postgres:16
    x-defang-postgres: true
    environment: {POSTGRES_PASSWORD: }
"""


def test_a_service_starts_after_the_stores_it_names_as_hosts_or_depends_on(project) -> None:
    """A store named as a host, or in depends_on, comes first (as healthy, its endpoint known);
    text that merely contains a store's name (``mongodb_url``) does not make a service wait."""
    session = _session(project, STORES, config={"PW": "pw-1a2b3c4d", "POSTGRES_PASSWORD": "pw-1a2b3c4d"})
    after = {name: _render(session, name).after for name in ("docs", "api", "worker")}
    assert after == {"docs": frozenset(), "api": {"db", "worker"}, "worker": {"db"}}


def test_a_namespace_cloud_map_never_makes_is_given_up_on_with_its_status(project, monkeypatch) -> None:
    """A namespace operation stuck in PENDING ends in an error naming it, not an endless wait."""
    monkeypatch.setattr(aws_session, "NAMESPACE_WAIT", 0.05)
    said: list[str] = []
    session = _session(project, "name: demo\nservices:\n  web:\n    image: nginx\n", said)
    with pytest.raises(ProviderError, match="gave up waiting for the service namespace .*: still pending"):
        anyio.run(session._namespace)
    assert said[0] == "the service namespace: pending"


class _Rolling(_Aws):
    """An ECS service whose rollout never completes: one more task runs at each read."""

    def __init__(self) -> None:
        self.reads = 0

    async def __call__(self, service: str, operation: str, /, **params):
        assert operation == "describe_services", operation
        self.reads += 1
        deployment = {"status": "PRIMARY", "taskDefinition": "td:2", "rolloutState": "IN_PROGRESS",
                      "runningCount": self.reads}
        return {"services": [{"serviceName": params["services"][0], "status": "ACTIVE",
                              "desiredCount": 5, "runningCount": self.reads,
                              "deployments": [deployment], "tags": []}]}


def test_a_rollout_that_outlasts_the_wait_is_reported_from_the_last_read(project) -> None:
    """Once the deadline passes, the report is what the last read saw: ECS is not asked again."""
    session = _session(project, "name: demo\nservices:\n  web:\n    image: nginx\n")
    session.aws = aws = _Rolling()
    session.registered["web"] = "td:2"
    unit = _render(session, "web")
    status = anyio.run(lambda: kinds.settle(session, unit, wait_timeout=0, progress=lambda *a, **k: None))
    assert aws.reads == 1
    assert status.state is State.SERVICE_DEPLOYMENT_PENDING
    assert status.message == "still rolling out after 0s: 1/5 running"


def test_more_than_ten_live_services_are_described_at_once_not_in_turn(boto) -> None:
    """DescribeServices takes ten services a call: a project's 25 are three calls made
    together (one step of the chain of calls a deploy waits for), each answer kept."""
    from testkit import aws as T

    T.ecs_cluster(boto)
    ecs = boto.client("ecs")
    arns = {}
    for i in range(25):
        name = f"many-dev-s{i}"
        made = ecs.create_service(cluster="launchdeck", serviceName=name, desiredCount=0, tags=[
            {"key": "launchdeck:project", "value": "many"}, {"key": "launchdeck:stack", "value": "dev"},
            {"key": "launchdeck:service", "value": f"s{i}"}])
        arns[made["service"]["serviceArn"]] = {}
    chain = T.Chain()
    found = {"ecs:service": arns}
    live = anyio.run(lambda: aws_session._services(chain.aws(boto), "many", "dev", found))
    assert sorted(live) == sorted(f"s{i}" for i in range(25))
    assert chain.depth == 1
