"""Replicas that follow the load, and a stack's mode, on ECS, RDS and ElastiCache (moto)."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from launchdeck.engine import ps
from launchdeck.engine.deploy import deploy, plan, preflight
from launchdeck.engine.events import Recorder
from launchdeck.engine.modes import Mode
from launchdeck.engine.plan import Action
from launchdeck.engine.seams import DeployOptions
from launchdeck.providers.aws.api import Aws
from launchdeck.providers.aws.provider import AwsProvider
from launchdeck.tools.project import ProjectRef
from testkit import aws as T

API = """
  api:
    image: python:3.12-slim
    command: ["python", "-m", "http.server", "9000"]
    expose: ["9000"]
{extra}"""
STORES = """
  db:
    image: postgres:16
    x-defang-postgres: true
    environment:
      POSTGRES_USER: app
      POSTGRES_PASSWORD:
  cache:
    image: redis:7
    x-defang-redis: true
"""
TARGET = {"ServiceNamespace": "ecs", "ResourceId": "service/launchdeck/app-dev-api",
          "ScalableDimension": "ecs:service:DesiredCount"}


def _project(tmp_path: Path, api: str = "", stores: bool = False) -> ProjectRef:
    text = "name: app\nservices:" + API.format(extra=api) + (STORES if stores else "")
    (tmp_path / "compose.yaml").write_text(text)
    return ProjectRef(working_directory=str(tmp_path), provider="aws", stack="dev")


@pytest.fixture
def app(tmp_path: Path, aws_env) -> ProjectRef:
    anyio.run(lambda: AwsProvider(Aws(T.session())).config_store("app", "dev")
              .set("POSTGRES_PASSWORD", "pw-app-1a2b3c4d"))
    return _project(tmp_path)


def _deploy(provider, ref, mode=Mode.AFFORDABLE):
    result = anyio.run(lambda: deploy(ref.load(), provider, stack=ref.stack, sink=Recorder(),
                                      options=DeployOptions(mode=mode)))
    assert result.ok, [(s.name, s.state, s.message) for s in result.services]
    return result


def _plan(provider, ref, mode=Mode.AFFORDABLE):
    async def run():
        ready = await preflight(ref.load(), provider, stack=ref.stack)
        return await plan(ready, options=DeployOptions(mode=mode))
    return {c.service: (c.action, c.reason) for c in anyio.run(run).changes}


def _service(boto) -> dict:
    return boto.client("ecs").describe_services(cluster="launchdeck", services=["app-dev-api"],
                                                include=["TAGS"])["services"][0]


def _targets(boto) -> list[dict]:
    return boto.client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=[TARGET["ResourceId"]])["ScalableTargets"]


SCALED = """    deploy: {replicas: 2}
    x-defang-autoscaling: {min: 2, max: 6, cpu: 60}
"""


def test_autoscaling_registers_a_scalable_target_and_a_cpu_policy(provider, app, boto) -> None:
    """The ECS service gets a scalable target (min..max) and a target-tracking CPU policy,
    starts at deploy.replicas, and ps shows the range."""
    ref = _project(Path(app.working_directory), SCALED)
    _deploy(provider, ref)
    [target] = _targets(boto)
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 6)
    [policy] = boto.client("application-autoscaling").describe_scaling_policies(
        ServiceNamespace="ecs", ResourceId=TARGET["ResourceId"])["ScalingPolicies"]
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["TargetValue"] == 60.0
    assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == \
        "ECSServiceAverageCPUUtilization"
    assert _service(boto)["desiredCount"] == 2
    [api] = anyio.run(lambda: ps.ps(provider, ref.load().project, "dev"))
    assert (api.replicas_desired, api.replicas_range) == (2, "2-6")


def test_the_autoscalers_count_is_not_drift(provider, app, boto) -> None:
    """When the autoscaler has moved desiredCount, a redeploy plans NOOP and leaves it."""
    ref = _project(Path(app.working_directory), SCALED)
    _deploy(provider, ref)
    boto.client("ecs").update_service(cluster="launchdeck", service="app-dev-api", desiredCount=5)
    assert _plan(provider, ref) == {"api": (Action.NOOP, "")}
    again = _deploy(provider, ref)
    assert {c.action for c in again.changes} == {Action.NOOP}
    assert _service(boto)["desiredCount"] == 5


def test_a_rollout_keeps_the_autoscalers_count(provider, app, boto) -> None:
    """A changed service rolls out without resetting the count the autoscaler chose."""
    folder = Path(app.working_directory)
    _deploy(provider, _project(folder, SCALED))
    boto.client("ecs").update_service(cluster="launchdeck", service="app-dev-api", desiredCount=4)
    changed = _deploy(provider, _project(folder, SCALED + "    environment: {LEVEL: debug}\n"))
    assert {c.service: c.action for c in changed.changes} == {"api": Action.UPDATE}
    assert _service(boto)["desiredCount"] == 4


def test_removing_autoscaling_removes_the_target(provider, app, boto) -> None:
    """Without x-defang-autoscaling the scalable target goes and the count is fixed again."""
    folder = Path(app.working_directory)
    _deploy(provider, _project(folder, SCALED))
    fixed = _deploy(provider, _project(folder, "    deploy: {replicas: 3}\n"))
    assert {c.service: c.action for c in fixed.changes} == {"api": Action.UPDATE}
    assert _targets(boto) == []
    service = _service(boto)
    assert service["desiredCount"] == 3
    assert "launchdeck:scaling" not in {t["key"] for t in service.get("tags", [])}


def test_affordable_makes_the_smallest_stores(provider, app, boto) -> None:
    """The default mode: one task, a single-AZ RDS instance without deletion protection and a
    one-node Redis group, as launchdeck made them before modes."""
    _deploy(provider, _project(Path(app.working_directory), stores=True))
    db = boto.client("rds").describe_db_instances(DBInstanceIdentifier="app-dev-db")["DBInstances"][0]
    assert (db["MultiAZ"], db["DeletionProtection"], db["BackupRetentionPeriod"]) == (False, False, 1)
    group = boto.client("elasticache").describe_replication_groups(
        ReplicationGroupId="app-dev-cache")["ReplicationGroups"][0]
    assert len(group["MemberClusters"]) == 1
    assert _service(boto)["desiredCount"] == 1
    assert _service(boto).get("launchType") == "FARGATE"


def test_high_availability_makes_standby_stores_and_spreads_replicas(provider, app, boto) -> None:
    """high_availability: two tasks (over the subnets' zones), RDS Multi-AZ with deletion
    protection and 14 days of backups, Redis with a replica and automatic failover."""
    _deploy(provider, _project(Path(app.working_directory), stores=True), Mode.HIGH_AVAILABILITY)
    db = boto.client("rds").describe_db_instances(DBInstanceIdentifier="app-dev-db")["DBInstances"][0]
    assert (db["MultiAZ"], db["DeletionProtection"], db["BackupRetentionPeriod"]) == (True, True, 14)
    group = boto.client("elasticache").describe_replication_groups(
        ReplicationGroupId="app-dev-cache")["ReplicationGroups"][0]
    assert len(group["MemberClusters"]) == 2
    assert group["AutomaticFailover"] == "enabled"
    service = _service(boto)
    assert service["desiredCount"] == 2
    subnets = service["networkConfiguration"]["awsvpcConfiguration"]["subnets"]
    zones = {s["AvailabilityZone"] for s in boto.client("ec2").describe_subnets(SubnetIds=subnets)["Subnets"]}
    assert len(zones) >= 2


def test_switching_to_high_availability_updates_in_place(provider, app, boto) -> None:
    """affordable -> high_availability plans an UPDATE of each unit (the mode changed), never a
    REPLACE; the RDS instance it applies to is the same one, now Multi-AZ."""
    ref = _project(Path(app.working_directory), stores=True)
    _deploy(provider, ref)
    rds = boto.client("rds")
    before = rds.describe_db_instances(DBInstanceIdentifier="app-dev-db")["DBInstances"][0]
    planned = _plan(provider, ref, Mode.HIGH_AVAILABILITY)
    assert planned == {"api": (Action.UPDATE, "mode changed"), "db": (Action.UPDATE, "mode changed"),
                       "cache": (Action.UPDATE, "mode changed")}
    _deploy(provider, ref, Mode.HIGH_AVAILABILITY)
    after = rds.describe_db_instances(DBInstanceIdentifier="app-dev-db")["DBInstances"][0]
    assert after["DbiResourceId"] == before["DbiResourceId"]
    assert (after["MultiAZ"], after["DeletionProtection"]) == (True, True)
    group = boto.client("elasticache").describe_replication_groups(
        ReplicationGroupId="app-dev-cache")["ReplicationGroups"][0]
    assert len(group["MemberClusters"]) == 2
    assert _plan(provider, ref, Mode.HIGH_AVAILABILITY) == {
        "api": (Action.NOOP, ""), "db": (Action.NOOP, ""), "cache": (Action.NOOP, "")}


def test_balanced_runs_replicas_after_the_first_on_spot(provider, app, boto) -> None:
    """balanced: FARGATE for the first task, FARGATE_SPOT for the rest, on a cluster that has
    both capacity providers."""
    _deploy(provider, _project(Path(app.working_directory), "    deploy: {replicas: 3}\n"),
            Mode.BALANCED)
    calls = boto.client("ecs").describe_clusters(clusters=["launchdeck"])["clusters"][0]
    assert {"FARGATE", "FARGATE_SPOT"} <= set(calls["capacityProviders"])
    service = _service(boto)
    assert service["desiredCount"] == 3


def test_the_default_mode_plans_nothing_new_for_a_stack_made_before_modes(provider, app) -> None:
    """A stack deployed in affordable plans all NOOP in it: modes add nothing to its digests."""
    ref = _project(Path(app.working_directory), stores=True)
    _deploy(provider, ref)
    assert {a for a, _ in _plan(provider, ref).values()} == {Action.NOOP}
