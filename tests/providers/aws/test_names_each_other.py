"""Services that name each other on a first deploy to a new AWS account (issue 21, item 6).

Service Connect gives a task the names that exist in its namespace when the task starts
("Existing tasks can't resolve and connect to the new endpoint. Only new tasks ... that start
running after this deployment can", Amazon ECS Service Connect components, ECS Developer
Guide): of two services that name each other, the one started first must be restarted once
the other exists.
"""

from __future__ import annotations

import anyio

from launchdeck.engine.deploy import deploy
from launchdeck.engine.events import Recorder, State
from launchdeck.engine.seams import DeployOptions
from launchdeck.providers.aws import names
from launchdeck.tools.project import ProjectRef

LOOP = """\
name: loop
services:
  ping:
    image: nginx
    expose: ["80"]
    environment: {PEER: "http://pong:80"}
  pong:
    image: nginx
    expose: ["80"]
    environment: {PEER: "http://ping:80"}
"""


def _deploy(provider, ref):
    recorder = Recorder()
    result = anyio.run(lambda: deploy(ref.load(), provider, stack=ref.stack, sink=recorder,
                                      options=DeployOptions()))
    return result, recorder.events


def _ecs(calls, operation: str) -> list[dict]:
    return [c.params for c in calls.made if (c.service, c.operation) == ("ecs", operation)]


def test_the_service_started_before_the_other_existed_is_restarted(provider, project, calls) -> None:
    """pong starts first (ping waits for it); once ping exists, pong gets a new deployment,
    and the deploy reports pong after that deployment has completed."""
    ref = ProjectRef(working_directory=str(project({"compose.yaml": LOOP})), provider="aws")
    result, events = _deploy(provider, ref)
    assert result.ok, [s.message for s in result.services]
    ping, pong = names.Names("loop", "dev").service("ping"), names.Names("loop", "dev").service("pong")
    created = [p["serviceName"] for p in _ecs(calls, "CreateService")]
    assert created == [pong, ping]
    forced = [str(p["service"]).rsplit("/", 1)[-1] for p in _ecs(calls, "UpdateService")
              if p.get("forceNewDeployment")]
    assert forced == [pong]  # ping started after pong existed: it resolves it already
    order = [(c.operation, c.params.get("serviceName") or str(c.params.get("service", "")))
             for c in calls.made if c.service == "ecs"]
    assert order.index(("CreateService", ping)) < next(
        i for i, (op, name) in enumerate(order) if op == "UpdateService" and name.endswith(pong))
    said = [(e.service, e.message) for e in events]
    assert ("pong", "restarting so that its tasks resolve the new services it names: ping") in said
    # the result is pong's state after the restart, not before it
    last_pong = [e for e in events if e.service == "pong" and e.state is not None][-1]
    assert last_pong.state is State.SERVICE_DEPLOYMENT_COMPLETED
    assert {s.name: s.state for s in result.services} == {
        "ping": State.SERVICE_DEPLOYMENT_COMPLETED, "pong": State.SERVICE_DEPLOYMENT_COMPLETED}


def test_a_second_deploy_of_the_same_pair_restarts_nothing(provider, project, calls) -> None:
    """Nothing new to resolve: the redeploy changes nothing, and no service is restarted."""
    ref = ProjectRef(working_directory=str(project({"compose.yaml": LOOP})), provider="aws")
    assert _deploy(provider, ref)[0].ok
    calls.clear()
    result, _ = _deploy(provider, ref)
    assert result.ok
    assert _ecs(calls, "UpdateService") == [] and _ecs(calls, "CreateService") == []
