"""The AWS provider against a moto server: deploy, redeploy, change, ps, logs, destroy."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest

from launchdeck.engine import logs as engine_logs
from launchdeck.engine import ps
from launchdeck.engine.deploy import deploy
from launchdeck.engine.destroy import destroy
from launchdeck.engine.events import Recorder, State
from launchdeck.engine.plan import Action
from launchdeck.engine.seams import DeployOptions, LogQuery
from launchdeck.errors import ProviderError
from launchdeck.providers.aws import render
from testkit import aws as T
from tests.providers.aws.conftest import SECRETS


def _deploy(provider, ref, recorder=None, **options):
    recorder = recorder if recorder is not None else Recorder()
    result = anyio.run(lambda: deploy(ref.load(), provider, stack=ref.stack, sink=recorder,
                                      options=DeployOptions(**options)))
    return result, recorder


def _task_definitions(boto) -> list[dict]:
    ecs = boto.client("ecs")
    arns = ecs.list_task_definitions()["taskDefinitionArns"]
    return [ecs.describe_task_definition(taskDefinition=a)["taskDefinition"] for a in arns]


def _container(boto, service: str) -> dict:
    found = [t for t in _task_definitions(boto) if t["family"] == f"shop-dev-{service}"]
    return max(found, key=lambda t: t["revision"])["containerDefinitions"][0]


def _tagged(boto, project="shop", stack="dev") -> list[str]:
    found = boto.client("resourcegroupstaggingapi").get_resources(TagFilters=[
        {"Key": "launchdeck:project", "Values": [project]},
        {"Key": "launchdeck:stack", "Values": [stack]}])
    return [r["ResourceARN"] for r in found["ResourceTagMappingList"]]


@pytest.fixture
def deployed(provider, shop, calls):
    result, recorder = _deploy(provider, shop)
    assert result.ok, [(s.name, s.state, s.message) for s in result.services]
    return result, recorder


def test_realistic_project_deploys_with_every_service_completed(deployed) -> None:
    """Web (built, with a domain), backend, Postgres and Redis all reach COMPLETED."""
    result, recorder = deployed
    states = {s.name: s.state for s in result.services}
    assert states == dict.fromkeys(["web", "backend", "db", "cache"], State.SERVICE_DEPLOYMENT_COMPLETED)
    web = next(s for s in result.services if s.name == "web")
    assert web.endpoints == ["https://shop.example.com"]
    assert State.BUILD_QUEUED in recorder.states("web")
    assert recorder.states("web")[-1] is State.SERVICE_DEPLOYMENT_COMPLETED
    assert {c.service: c.action for c in result.changes} == dict.fromkeys(
        ["web", "backend", "db", "cache", "(load balancer)"], Action.CREATE)


def test_load_balancer_routes_the_domain_over_https(deployed, boto) -> None:
    """An ALB with HTTP->HTTPS redirect, a host rule, the healthcheck's path and a DNS alias."""
    elb = boto.client("elbv2")
    lb = elb.describe_load_balancers(Names=["ld-shop-dev"])["LoadBalancers"][0]
    found = elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    listeners = {listener["Port"]: listener for listener in found}
    assert listeners[80]["DefaultActions"][0]["Type"] == "redirect"
    assert listeners[443]["Protocol"] == "HTTPS"
    rules = [r for r in elb.describe_rules(ListenerArn=listeners[443]["ListenerArn"])["Rules"]
             if not r["IsDefault"]]
    assert [c["HostHeaderConfig"]["Values"] for r in rules for c in r["Conditions"]] == [["shop.example.com"]]
    group = elb.describe_target_groups(TargetGroupArns=[rules[0]["Actions"][0]["TargetGroupArn"]])
    assert group["TargetGroups"][0]["HealthCheckPath"] == "/healthz"
    assert group["TargetGroups"][0]["Port"] == 8080
    route53 = boto.client("route53")
    zone = route53.list_hosted_zones_by_name(DNSName="example.com")["HostedZones"][0]["Id"]
    records = route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    alias = [r for r in records if r["Name"] == "shop.example.com." and r["Type"] == "A"]
    assert alias[0]["AliasTarget"]["DNSName"].rstrip(".") == lb["DNSName"]


def test_task_definitions_carry_size_health_logs_and_store_endpoints(deployed, boto) -> None:
    """Fargate size from reservations, the healthcheck, awslogs, and stores by endpoint."""
    web_task = next(t for t in _task_definitions(boto) if t["family"] == "shop-dev-web")
    assert (web_task["cpu"], web_task["memory"]) == ("512", "1024")
    assert web_task["requiresCompatibilities"] == ["FARGATE"]
    web = web_task["containerDefinitions"][0]
    assert web["healthCheck"]["command"][-1] == "http://localhost:8080/healthz"
    assert web["image"].split(":")[0].endswith("/launchdeck/shop/dev/web")
    assert web["logConfiguration"]["options"]["awslogs-group"] == "/launchdeck/shop/dev"
    backend = _container(boto, "backend")
    env = {e["name"]: e["value"] for e in backend["environment"]}
    cache = boto.client("elasticache").describe_replication_groups()["ReplicationGroups"][0]
    assert env["REDIS_URL"] == f"redis://{cache['NodeGroups'][0]['PrimaryEndpoint']['Address']}:6379"
    secrets = {s["name"]: s["valueFrom"] for s in backend["secrets"]}
    assert secrets["API_KEY"].endswith(":parameter/launchdeck/shop/dev/API_KEY")
    assert secrets["DATABASE_URL"].endswith(":parameter/launchdeck/shop/dev/.derived/backend/DATABASE_URL")
    db = boto.client("rds").describe_db_instances()["DBInstances"][0]
    url = boto.client("ssm").get_parameter(Name="/launchdeck/shop/dev/.derived/backend/DATABASE_URL",
                                           WithDecryption=True)["Parameter"]
    assert url["Type"] == "SecureString"
    assert url["Value"] == (f"postgres://shop:{SECRETS['POSTGRES_PASSWORD']}@{db['Endpoint']['Address']}"
                            f":5432/shop?sslmode=verify-full&sslrootcert={render.RDS_CA_FILE}")
    assert env["NODE_EXTRA_CA_CERTS"] == render.RDS_CA_FILE  # (its task fetches the RDS CA first)


def test_stores_are_encrypted_and_versioned_from_the_image(deployed, boto) -> None:
    """RDS PostgreSQL 16 (from postgres:16) and Redis, both encrypted, not public."""
    db = boto.client("rds").describe_db_instances()["DBInstances"][0]
    assert (db["Engine"], db["EngineVersion"], db["MasterUsername"]) == ("postgres", "16", "shop")
    assert db["StorageEncrypted"] and not db["PubliclyAccessible"]
    cache = boto.client("elasticache").describe_replication_groups()["ReplicationGroups"][0]
    assert cache["AtRestEncryptionEnabled"]


def test_security_groups_admit_only_what_the_project_declares(deployed, boto) -> None:
    """Internet -> ALB on 80/443 only; ALB -> web:8080; members -> backend:9000 and db:5432."""
    groups = boto.client("ec2").describe_security_groups(Filters=[
        {"Name": "tag:launchdeck:project", "Values": ["shop"]}])["SecurityGroups"]
    by_role = {next(t["Value"] for t in g["Tags"] if t["Key"] == "launchdeck:role"): g for g in groups}
    ids = {role: g["GroupId"] for role, g in by_role.items()}

    def admits(role: str) -> set[tuple[int, str]]:
        out = set()
        for perm in by_role[role]["IpPermissions"]:
            out |= {(perm["FromPort"], p["GroupId"]) for p in perm.get("UserIdGroupPairs", [])}
            out |= {(perm["FromPort"], r["CidrIp"]) for r in perm.get("IpRanges", [])}
        return out

    assert admits("alb") == {(80, "0.0.0.0/0"), (443, "0.0.0.0/0")}
    assert admits("service:web") == {(8080, ids["alb"]), (8080, ids["members"])}
    assert admits("service:backend") == {(9000, ids["members"])}
    assert admits("store:db") == {(5432, ids["members"])}
    assert admits("members") == set()


def test_execution_role_reads_only_this_projects_parameters(deployed, boto) -> None:
    """The task execution role may read /launchdeck/shop/dev/* and no other parameter."""
    iam = boto.client("iam")
    policy = iam.get_role_policy(RoleName="ld-shop-dev-exec", PolicyName="start")["PolicyDocument"]
    ssm = [s for s in policy["Statement"] if "ssm:GetParameters" in s["Action"]]
    assert [s["Resource"] for s in ssm] == [
        "arn:aws:ssm:us-east-1:123456789012:parameter/launchdeck/shop/dev/*"]


def test_second_deploy_of_an_unchanged_project_makes_no_mutating_call(deployed, provider, shop,
                                                                       calls) -> None:
    """Only the deploy lock (written, then removed) and the deployment's history entry are
    written; every service plans NOOP."""
    calls.clear()
    result, _ = _deploy(provider, shop)
    assert result.ok
    assert {c.action for c in result.changes} == {Action.NOOP}
    mutating = [(c.operation, c.params.get("Key")) for c in calls.mutating()]
    assert [op for op, _ in mutating] == ["PutObject", "PutObject", "DeleteObject"]
    assert mutating[0][1] == mutating[2][1] == "locks/shop/dev.json"
    assert mutating[1][1].startswith("deployments/shop/dev/")
    assert mutating[1][1].endswith(f"-{result.deployment_id}.json")


def test_changing_one_service_updates_only_that_service(deployed, provider, shop, calls, boto) -> None:
    """A new variable on backend registers one task definition and updates one service."""
    compose = Path(shop.working_directory) / "compose.yaml"
    compose.write_text(compose.read_text().replace(
        "REDIS_URL: redis://cache:6379", "REDIS_URL: redis://cache:6379\n      LOG_LEVEL: debug"))
    calls.clear()
    result, _ = _deploy(provider, shop)
    assert result.ok
    assert {c.service: c.action for c in result.changes} == {
        "web": Action.NOOP, "backend": Action.UPDATE, "db": Action.NOOP, "cache": Action.NOOP,
        "(load balancer)": Action.NOOP}
    lock, record = "locks/shop/dev.json", "deployments/shop/dev.json"
    changed = [c for c in calls.mutating() if c.params.get("Key") not in (lock, record)
               and not str(c.params.get("Key", "")).startswith("deployments/shop/dev/")]  # history
    assert sorted(c.operation for c in changed) == ["RegisterTaskDefinition", "TagResource", "UpdateService"]
    assert all("shop-dev-backend" in json.dumps(c.params) for c in changed)
    assert {"name": "LOG_LEVEL", "value": "debug"} in _container(boto, "backend")["environment"]


def test_a_new_database_password_is_applied_in_place_and_its_digest_kept(deployed, provider, shop,
                                                                         calls, boto) -> None:
    """A rotated POSTGRES_PASSWORD updates the RDS instance (no new one) and its hash tag, so the
    next deploy leaves it alone."""
    anyio.run(provider.config_store("shop", "dev").set, "POSTGRES_PASSWORD", "pw-shop-rotated-7e6d5c")
    calls.clear()
    result, _ = _deploy(provider, shop)
    assert result.ok, [(s.name, s.state, s.message) for s in result.services]
    assert {c.service: c.action for c in result.changes}["db"] is Action.UPDATE
    rds = [c.operation for c in calls.mutating() if c.service == "rds"]
    assert rds == ["ModifyDBInstance", "AddTagsToResource"]
    calls.clear()
    again, _ = _deploy(provider, shop)
    assert {c.service: c.action for c in again.changes}["db"] is Action.NOOP
    assert [c for c in calls.mutating() if c.service == "rds"] == []


def test_ps_reports_states_endpoints_and_deployment(deployed, provider, shop) -> None:
    """ps reads ECS and the stores: every service COMPLETED, with its endpoint."""
    result, _ = deployed
    statuses = {s.name: s for s in anyio.run(ps.ps, provider, shop.load().project, "dev")}
    assert {n: s.state for n, s in statuses.items()} == dict.fromkeys(
        ["web", "backend", "db", "cache"], State.SERVICE_DEPLOYMENT_COMPLETED)
    assert statuses["web"].endpoints == ["https://shop.example.com"]
    assert statuses["web"].deployment_id == result.deployment_id
    assert statuses["backend"].replicas_running == 1
    assert statuses["db"].endpoints[0].endswith(".rds.amazonaws.com:5432")


def test_ps_before_any_deploy_says_not_deployed(provider, shop) -> None:
    """Nothing deployed: every service NOT_DEPLOYED, no error."""
    statuses = anyio.run(ps.ps, provider, shop.load().project, "dev")
    assert {s.state for s in statuses} == {State.NOT_DEPLOYED}


def test_logs_come_from_cloudwatch_with_filters_and_tail(deployed, provider, boto) -> None:
    """Lines written to the services' streams come back by service, time, deployment and tail."""
    result, _ = deployed
    logs = boto.client("logs")
    now = datetime.now(UTC)
    for service, lines in (("web", ["GET / 200", "GET /healthz 200"]), ("backend", ["ready"])):
        stream = f"{service}/{result.deployment_id}/{service}/task1"
        logs.create_log_stream(logGroupName="/launchdeck/shop/dev", logStreamName=stream)
        logs.put_log_events(logGroupName="/launchdeck/shop/dev", logStreamName=stream, logEvents=[
            {"timestamp": int((now + timedelta(seconds=i)).timestamp() * 1000), "message": text}
            for i, text in enumerate(lines)])
    everything = anyio.run(engine_logs.read, provider, "shop", "dev", LogQuery())
    assert [(line.service, line.text) for line in everything] == [
        ("web", "GET / 200"), ("backend", "ready"), ("web", "GET /healthz 200")]
    web = anyio.run(engine_logs.read, provider, "shop", "dev", LogQuery(services=("web",), tail=1))
    assert [line.text for line in web] == ["GET /healthz 200"]
    later = anyio.run(engine_logs.read, provider, "shop", "dev",
                      LogQuery(since=now + timedelta(milliseconds=500)))
    assert [line.text for line in later] == ["GET /healthz 200"]
    other = anyio.run(engine_logs.read, provider, "shop", "dev",
                      LogQuery(services=("web",), deployment="000000000000"))
    assert other == []


def test_destroy_removes_everything_but_config_and_keeps_a_final_snapshot(deployed, provider, shop,
                                                                          boto, calls) -> None:
    """After destroy the tagging API finds only the config values; the database leaves a snapshot;
    the deployment record is deleted, once, and the history (which ends with the destroy) stays."""
    calls.clear()
    teardown = anyio.run(lambda: destroy(provider, "shop", "dev", volumes=False, sink=Recorder()))
    deleted = [c.params["Key"] for c in calls.made if c.operation == "DeleteObject"]
    assert deleted == ["deployments/shop/dev.json", "locks/shop/dev.json"]  # the record once, then the lock
    kept = [o["Key"] for o in boto.client("s3").list_objects_v2(
        Bucket="launchdeck-123456789012-us-east-1", Prefix="deployments/").get("Contents", [])]
    assert kept and all(k.startswith("deployments/shop/dev/") for k in kept)  # the history only
    last = json.loads(boto.client("s3").get_object(Bucket="launchdeck-123456789012-us-east-1",
                                                    Key=sorted(kept)[-1])["Body"].read())
    assert last["operation"] == "destroy"
    assert "load balancer ld-shop-dev" in teardown.removed
    left = [a for a in _tagged(boto) if not _on_its_way_out(boto, a)]
    assert sorted(a.rsplit(":", 1)[-1] for a in left) == [  # the config, with its digest key
        "parameter/launchdeck/shop/dev/API_KEY", "parameter/launchdeck/shop/dev/LAUNCHDECK_DIGEST_KEY",
        "parameter/launchdeck/shop/dev/POSTGRES_PASSWORD"]
    assert boto.client("ecr").describe_repositories()["repositories"] == []
    assert boto.client("elbv2").describe_target_groups()["TargetGroups"] == []
    roles = [r["RoleName"] for r in boto.client("iam").list_roles()["Roles"]]
    assert not [r for r in roles if r.startswith("ld-shop-dev")]
    snapshots = boto.client("rds").describe_db_snapshots()["DBSnapshots"]
    assert len(snapshots) == 1
    assert snapshots[0]["DBSnapshotIdentifier"].startswith("shop-db-postgres-")
    assert snapshots[0]["DBSnapshotIdentifier"].endswith("-final-snapshot")
    assert any("final snapshot" in k for k in teardown.kept)
    statuses = {s.name: s.state for s in anyio.run(ps.ps, provider, shop.load().project, "dev")}
    assert set(statuses.values()) == {State.NOT_DEPLOYED}


def test_destroy_waits_for_draining_services_and_deleting_stores_and_says_so(deployed, provider,
                                                                            boto) -> None:
    """Services drain and the cache is deleted before what depends on them goes, with progress."""
    recorder = Recorder()
    anyio.run(lambda: destroy(provider, "shop", "dev", volumes=False, sink=recorder))
    said = [e.message for e in recorder.events]
    assert any("ECS service shop-dev-web to drain: DRAINING" in m for m in said), said
    assert any(m.startswith("cache shop-dev-cache to go: deleting") for m in said), said
    first_wait = min(i for i, m in enumerate(said) if "to drain" in m or "to go" in m)
    security_groups = [i for i, m in enumerate(said) if m.startswith("removed security group")]
    assert security_groups and min(security_groups) > first_wait
    groups = boto.client("elasticache").describe_replication_groups()["ReplicationGroups"]
    assert groups == []


def _on_its_way_out(boto, arn: str) -> bool:
    """The tagging API lists what was deleted a moment ago, and ECS keeps deleted services as
    INACTIVE for a while: gone is what its own service no longer shows."""
    from launchdeck.providers.aws.api import Aws
    from launchdeck.providers.aws.inventory import kind
    from launchdeck.providers.aws.teardown import exists

    return not anyio.run(exists, Aws(boto), kind(arn), arn)


def test_secrets_never_reach_task_definitions_results_events_or_logs(provider, shop, boto, caplog) -> None:
    """Config values live only in SSM: not in task definitions, results, events, ps or logs."""
    caplog.set_level(logging.DEBUG)
    result, recorder = _deploy(provider, shop)
    assert result.ok
    statuses = anyio.run(ps.ps, provider, shop.load().project, "dev")
    seen = json.dumps(_task_definitions(boto), default=str) + result.model_dump_json() + \
        json.dumps([s.model_dump(mode="json") for s in statuses]) + \
        " ".join(e.message for e in recorder.events) + caplog.text
    for value in SECRETS.values():
        assert value not in seen


def test_deploy_converges_with_a_fifth_of_calls_failing(provider, shop, boto) -> None:
    """Throttling and 500s on 20% of requests are retried; the deploy still completes."""
    faults = T.Faults(0.2).attach(boto)
    result, _ = _deploy(provider, shop)
    assert result.ok, [(s.name, s.message) for s in result.services]
    assert faults.injected > 10
    again, _ = _deploy(provider, shop)
    assert {c.action for c in again.changes} == {Action.NOOP}


def test_two_deploys_at_once_one_waits_its_turn_or_fails_clearly(provider, shop, boto) -> None:
    """The second concurrent deploy of the same stack is refused, naming the first."""
    T.Latency(0.02).attach(boto)
    loaded = shop.load()
    outcomes: list[object] = []

    async def one() -> None:
        try:
            outcomes.append(await deploy(loaded, provider, stack="dev"))
        except ProviderError as exc:
            outcomes.append(exc)

    async def both() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(one)
            group.start_soon(one)

    anyio.run(both)
    errors = [o for o in outcomes if isinstance(o, ProviderError)]
    assert len(errors) == 1
    assert "another deploy of shop (dev) is running" in str(errors[0])
    assert [o.ok for o in outcomes if not isinstance(o, ProviderError)] == [True]


def test_a_domain_without_a_hosted_zone_is_refused_before_any_change(provider, shop, boto, calls) -> None:
    """No Route 53 zone for the domain: a clear error with the steps, and nothing created."""
    route53 = boto.client("route53")
    for zone in route53.list_hosted_zones()["HostedZones"]:
        route53.delete_hosted_zone(Id=zone["Id"])
    calls.clear()
    with pytest.raises(ProviderError, match="no Route 53 hosted zone .* serves shop.example.com") as caught:
        _deploy(provider, shop)
    assert "create-hosted-zone" in caught.value.hint
    # the lock is an object in the region's shared bucket, made (once per region) to hold it;
    # the refused deploy is remembered in the stack's history
    shared = [c for c in calls.mutating() if c.service == "s3"
              and c.params.get("Bucket") == "launchdeck-123456789012-us-east-1"
              and (c.params.get("Key") in (None, "locks/shop/dev.json")
                   or str(c.params.get("Key")).startswith("deployments/shop/dev/"))]
    assert [c for c in calls.mutating() if c not in shared] == []
    assert sorted(c.operation for c in shared) == [  # the first PutObject met no bucket
        "CreateBucket", "DeleteObject", "PutBucketEncryption", "PutBucketLifecycleConfiguration",
        "PutBucketTagging", "PutObject", "PutObject", "PutObject", "PutPublicAccessBlock"]


def test_dedicated_network_is_made_in_two_zones_and_removed_on_destroy(provider, project, boto) -> None:
    """--network dedicated: a VPC of the stack's own, public subnets in two zones, gone on destroy."""
    from launchdeck.tools.project import ProjectRef

    root = project({"compose.yaml": "name: tiny\nservices:\n  api:\n    image: nginx\n"
                                    "    ports: [{target: 80, mode: ingress}]\n"})
    ref = ProjectRef(working_directory=str(root), provider="aws")
    result, _ = _deploy(provider, ref, network="dedicated")
    assert result.ok
    ec2 = boto.client("ec2")
    mine = [{"Name": "tag:launchdeck:project", "Values": ["tiny"]}]
    vpcs = ec2.describe_vpcs(Filters=mine)["Vpcs"]
    subnets = ec2.describe_subnets(Filters=mine)["Subnets"]
    assert len(vpcs) == 1 and len({s["AvailabilityZone"] for s in subnets}) == 2
    assert all(s["VpcId"] == vpcs[0]["VpcId"] for s in subnets)
    again, _ = _deploy(provider, ref, network="dedicated")
    assert {c.action for c in again.changes} == {Action.NOOP}
    anyio.run(lambda: destroy(provider, "tiny", "dev", volumes=False, sink=Recorder()))
    assert ec2.describe_vpcs(Filters=mine)["Vpcs"] == []
    assert [a for a in _tagged(boto, "tiny") if not _on_its_way_out(boto, a)] == []


@pytest.mark.parametrize("kill_at", [3, 18, 33, 45])
def test_a_deploy_killed_midway_is_completed_by_the_next_with_nothing_orphaned(
        kill_at, provider, shop, boto) -> None:
    """SIGKILL at the Nth mutating call; the next deploy converges, with one of everything."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).parent / "killed_deploy.py"
    child = subprocess.run([sys.executable, str(script), shop.working_directory, str(kill_at)],
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == -9, child.stderr[-2000:]
    result, _ = _deploy(provider, shop)
    assert result.ok, [(s.name, s.state, s.message) for s in result.services]
    elb, ecs = boto.client("elbv2"), boto.client("ecs")
    assert len(elb.describe_load_balancers()["LoadBalancers"]) == 1
    assert len(elb.describe_target_groups()["TargetGroups"]) == 1
    assert len(boto.client("rds").describe_db_instances()["DBInstances"]) == 1
    assert len(boto.client("elasticache").describe_replication_groups()["ReplicationGroups"]) == 1
    assert len(boto.client("acm").list_certificates()["CertificateSummaryList"]) == 1
    services = ecs.describe_services(cluster="launchdeck", services=ecs.list_services(
        cluster="launchdeck")["serviceArns"])["services"]
    assert sorted(s["serviceName"] for s in services if s["status"] == "ACTIVE") == \
        ["shop-dev-backend", "shop-dev-web"]
    groups = boto.client("ec2").describe_security_groups(Filters=[
        {"Name": "tag:launchdeck:project", "Values": ["shop"]}])["SecurityGroups"]
    assert len(groups) == 6
    anyio.run(lambda: destroy(provider, "shop", "dev", volumes=False, sink=Recorder()))
    left = [a for a in _tagged(boto) if not _on_its_way_out(boto, a) and ":parameter/" not in a]
    assert left == []


def test_llm_services_get_a_task_role_that_may_invoke_bedrock(provider, project, boto) -> None:
    """x-defang-llm gives the project's task role Bedrock invoke rights, and nothing else does."""
    from launchdeck.tools.project import ProjectRef

    root = project({"compose.yaml": "name: chat\nservices:\n  bot:\n    image: nginx\n"
                                    "    x-defang-llm: true\n"})
    result, _ = _deploy(provider, ProjectRef(working_directory=str(root), provider="aws"))
    assert result.ok
    iam = boto.client("iam")
    policy = iam.get_role_policy(RoleName="ld-chat-dev-task", PolicyName="bedrock")["PolicyDocument"]
    assert policy["Statement"][0]["Action"] == ["bedrock:InvokeModel",
                                                "bedrock:InvokeModelWithResponseStream"]
    assert iam.list_role_policies(RoleName="ld-chat-dev-exec")["PolicyNames"] == ["start"]


def test_follow_polls_for_new_lines(deployed, provider, boto) -> None:
    """follow yields what was there, then lines written later, once each."""
    result, _ = deployed
    logs = boto.client("logs")
    stream = f"backend/{result.deployment_id}/backend/task1"
    logs.create_log_stream(logGroupName="/launchdeck/shop/dev", logStreamName=stream)

    def write(text: str) -> None:
        logs.put_log_events(logGroupName="/launchdeck/shop/dev", logStreamName=stream, logEvents=[
            {"timestamp": int(datetime.now(UTC).timestamp() * 1000), "message": text}])

    write("first")
    seen: list[str] = []

    async def follow() -> None:
        with anyio.fail_after(30):
            async for line in engine_logs.follow(provider, "shop", "dev", LogQuery(services=("backend",))):
                seen.append(line.text)
                if line.text == "first":
                    await anyio.to_thread.run_sync(write, "second")
                if len(seen) == 2:
                    return

    anyio.run(follow)
    assert seen == ["first", "second"]


def test_a_cancelled_deploy_lets_go_of_the_lock(provider, shop, boto) -> None:
    """Cancelling a deploy (Ctrl-C, an MCP client's cancel) releases the stack at once."""
    T.Latency(0.02).attach(boto)
    loaded = shop.load()

    async def cancelled() -> None:
        with anyio.move_on_after(0.5) as scope:
            await deploy(loaded, provider, stack="dev")
        assert scope.cancelled_caught

    anyio.run(cancelled)
    result, _ = _deploy(provider, shop)
    assert result.ok


def test_a_service_taken_out_of_the_project_is_removed_with_what_it_used(deployed, provider, shop,
                                                                         boto) -> None:
    """Dropping web removes its ECS service, image repository, target group and (no ingress
    left) the load balancer at once, and its security group once it has drained; backend and
    the stores stay untouched."""
    compose = Path(shop.working_directory) / "compose.yaml"
    text = compose.read_text()
    compose.write_text(text[:text.index("  web:")] + text[text.index("  backend:"):])
    result, _ = _deploy(provider, shop)
    assert result.ok
    assert {c.service: c.action for c in result.changes} == {
        "web": Action.DELETE, "backend": Action.NOOP, "db": Action.NOOP, "cache": Action.NOOP,
        "(load balancer)": Action.DELETE}
    ecs = boto.client("ecs")
    services = ecs.describe_services(cluster="launchdeck", services=["shop-dev-web", "shop-dev-backend"])
    assert {s["serviceName"]: s["status"] != "ACTIVE" for s in services["services"]} == {
        "shop-dev-web": True, "shop-dev-backend": False}
    assert boto.client("ecr").describe_repositories()["repositories"] == []
    elb = boto.client("elbv2")
    assert elb.describe_load_balancers()["LoadBalancers"] == []
    assert elb.describe_target_groups()["TargetGroups"] == []
    ecs.get_waiter("services_inactive").wait(cluster="launchdeck", services=["shop-dev-web"],
                                             WaiterConfig={"Delay": 0.05})
    again, _ = _deploy(provider, shop)
    assert {c.action for c in again.changes} == {Action.NOOP}
    groups = boto.client("ec2").describe_security_groups(Filters=[
        {"Name": "tag:launchdeck:project", "Values": ["shop"]}])["SecurityGroups"]
    roles = sorted(t["Value"] for g in groups for t in g["Tags"] if t["Key"] == "launchdeck:role")
    assert roles == ["members", "service:backend", "store:cache", "store:db"]


def test_the_network_can_come_from_the_environment(provider, project, boto, monkeypatch) -> None:
    """LAUNCHDECK_NETWORK picks the network where no option is given (the MCP deploy tool)."""
    from launchdeck.errors import UsageError
    from launchdeck.tools import deploy as tool
    from launchdeck.tools.project import ProjectRef

    root = project({"compose.yaml": "name: envnet\nservices:\n  api:\n    image: nginx\n"})
    ready = anyio.run(tool.prepare, ProjectRef(working_directory=str(root), provider="aws"),
                      None)
    ready = type(ready)(ready.project, provider, ready.stack, ready.config)
    monkeypatch.setenv("LAUNCHDECK_NETWORK", "nowhere")
    with pytest.raises(UsageError, match="unknown network 'nowhere'"):
        anyio.run(lambda: tool.run(ready))
    monkeypatch.setenv("LAUNCHDECK_NETWORK", "dedicated")
    assert anyio.run(lambda: tool.run(ready)).ok
    vpcs = boto.client("ec2").describe_vpcs(Filters=[{"Name": "tag:launchdeck:project",
                                                      "Values": ["envnet"]}])["Vpcs"]
    assert len(vpcs) == 1


def test_a_plan_makes_no_mutating_call(deployed, provider, shop, calls) -> None:
    """The plan preview reads only: no write, not even the lock, and names the change."""
    from launchdeck.engine.deploy import plan, preflight

    compose = Path(shop.working_directory) / "compose.yaml"
    compose.write_text(compose.read_text().replace("REDIS_URL: redis://cache:6379",
                                                   "REDIS_URL: redis://cache:6379\n      X: y"))
    calls.clear()

    async def run():
        return await plan(await preflight(shop.load(), provider, stack="dev"))

    result = anyio.run(run)
    assert calls.mutating() == []
    assert {c.service: c.action for c in result.changes if c.action is not Action.NOOP} == {
        "backend": Action.UPDATE}
    assert next(c for c in result.changes if c.service == "backend").reason == "environment changed"


def test_a_model_service_runs_as_a_gateway_its_dependents_can_call(provider, project, boto,
                                                                   calls) -> None:
    """provider: {type: model} becomes the OpenAI-compatible gateway (Bedrock rights on the
    task role), reached by the service's name; the app gets AI_URL and AI_MODEL."""
    from launchdeck.tools.project import ProjectRef

    root = project({"compose.yaml": "name: chat\nservices:\n  app:\n    image: nginx\n"
                                    "    depends_on: [ai]\n  ai:\n    provider:\n      type: model\n"
                                    "      options:\n        model: ai/smollm2\n"})
    result, _ = _deploy(provider, ProjectRef(working_directory=str(root), provider="aws"))
    assert result.ok, [(s.name, s.state, s.message) for s in result.services]
    ecs = boto.client("ecs")
    tasks = [ecs.describe_task_definition(taskDefinition=a)["taskDefinition"]
             for a in ecs.list_task_definitions()["taskDefinitionArns"]]
    ai = next(t for t in tasks if t["family"] == "chat-dev-ai")["containerDefinitions"][0]
    assert ai["image"] == "defangio/openai-access-gateway"
    assert ai["portMappings"][0]["containerPort"] == 80
    app = next(t for t in tasks if t["family"] == "chat-dev-app")["containerDefinitions"][0]
    env = {e["name"]: e["value"] for e in app["environment"]}
    assert env == {"AI_URL": "http://ai/api/v1/", "AI_MODEL": "ai/smollm2"}
    created = next(c.params for c in calls.made if c.operation == "CreateService"
                   and c.params["serviceName"] == "chat-dev-ai")
    connect = created["serviceConnectConfiguration"]["services"]
    assert connect[0]["clientAliases"] == [{"port": 80, "dnsName": "ai"}]
    policy = boto.client("iam").get_role_policy(RoleName="ld-chat-dev-task", PolicyName="bedrock")
    assert "bedrock:InvokeModel" in json.dumps(policy["PolicyDocument"])


def test_build_contexts_go_to_s3_as_zip_files_codebuild_can_read(deployed, boto, calls) -> None:
    """CodeBuild's S3 source must be a ZIP: the upload is one, named by its digest."""
    import io
    import zipfile

    s3 = boto.client("s3")
    bucket = "launchdeck-123456789012-us-east-1"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="contexts/")["Contents"]]
    assert len(keys) == 1 and keys[0].endswith(".zip")
    body = s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read()
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert sorted(archive.namelist()) == [".dockerignore", "Dockerfile", "app.py"]
    start = next(c for c in calls.made if c.operation == "StartBuild")
    assert start.params["sourceLocationOverride"] == f"{bucket}/{keys[0]}"


def test_an_arm64_image_is_built_in_codebuilds_arm_environment(provider, shop, boto, calls) -> None:
    """linux/arm64 builds on ARM_CONTAINER with an aarch64 image, under a tag of its own."""
    from launchdeck.compose.model import Build, Service
    from launchdeck.engine import build as remote
    from launchdeck.engine import build_context
    from launchdeck.providers.aws import build, region
    from launchdeck.providers.aws.api import Aws

    aws = Aws(boto)
    anyio.run(lambda: region.ensure(aws, "123456789012", builds=True))
    repo = boto.client("ecr").create_repository(repositoryName="launchdeck/shop/dev/web")["repository"]
    spec = Build(context=str(Path(shop.working_directory) / "web"), dockerfile="Dockerfile")
    builder = build.CodeBuild(aws, "launchdeck-123456789012-us-east-1")

    def image(platform: str | None) -> str:
        service = Service(name="web", build=spec, platform=platform)
        source = build_context.source(service)
        return anyio.run(lambda: remote.image(builder, service, source,
                                              f"{repo['repositoryUri']}:{source.digest}",
                                              lambda *_, **__: None, interval=0.01))

    arm, x86 = image("linux/arm64"), image(None)
    starts = [c.params for c in calls.made if c.operation == "StartBuild"]
    assert [s.get("environmentTypeOverride") for s in starts] == ["ARM_CONTAINER", None]
    assert "aarch64" in starts[0]["imageOverride"]
    assert arm != x86


def test_a_failing_build_is_build_failed_with_its_step_and_log_tail(aws_env, strict, project) -> None:
    """CodeBuild failing web's docker build: web is BUILD_FAILED naming the build phase, with the
    log's last lines; nothing is pushed, and the rest still deploys."""
    from launchdeck.providers.aws.api import Aws
    from launchdeck.providers.aws.provider import AwsProvider
    from launchdeck.tools.project import ProjectRef

    session = T.session()
    strict.attach(session)
    T.codebuild_pushes(session, failing={"/web:": "npm ERR! missing script: build"})
    provider = AwsProvider(Aws(session), poll=0.01)
    root = project({"compose.yaml": "name: failing\nservices:\n  web:\n    build: ./web\n"
                                    "  api:\n    image: nginx\n",
                    "web/Dockerfile": "FROM node:20\nRUN npm run build\n"})
    ref = ProjectRef(working_directory=str(root), provider="aws")
    result, recorder = _deploy(provider, ref)
    web = next(s for s in result.services if s.name == "web")
    assert web.state is State.BUILD_FAILED
    assert "image build failed at build: Error while executing command: eval \"docker build" in web.message
    assert "npm ERR! missing script: build" in web.message.split("last log lines:")[1]
    states = recorder.states("web")
    assert [s for n, s in enumerate(states) if n == 0 or states[n - 1] is not s] == [
        State.BUILD_QUEUED, State.BUILD_RUNNING, State.BUILD_FAILED]
    assert next(s for s in result.services if s.name == "api").state is State.SERVICE_DEPLOYMENT_COMPLETED
    ecr = session.client("ecr")
    assert ecr.describe_images(repositoryName="launchdeck/failing/dev/web")["imageDetails"] == []
    statuses = {s.name: s.state for s in anyio.run(ps.ps, provider, ref.load().project, "dev")}
    assert statuses["web"] is State.BUILD_FAILED  # from the deployment record


def test_a_fresh_account_gets_the_ecs_service_linked_role_once(deployed, boto) -> None:
    """Creating the cluster needs AWSServiceRoleForECS, which a new account lacks."""
    roles = boto.client("iam").list_roles(PathPrefix="/aws-service-role/ecs.amazonaws.com/")["Roles"]
    assert len(roles) == 1


def test_two_domains_get_a_certificate_each(provider, project, boto) -> None:
    """One ACM idempotency token per domain: the second domain does not get the first's certificate."""
    from launchdeck.tools.project import ProjectRef

    root = project({"compose.yaml": """\
name: twins
services:
  one:
    image: nginx
    domainname: one.example.com
    ports: [{target: 80, published: 80, mode: ingress}]
  two:
    image: nginx
    domainname: two.example.com
    ports: [{target: 80, published: 80, mode: ingress}]
"""})
    result, _ = _deploy(provider, ProjectRef(working_directory=str(root), provider="aws"))
    assert result.ok, [(s.name, s.message) for s in result.services]
    listed = boto.client("acm").list_certificates()["CertificateSummaryList"]
    assert sorted(c["DomainName"] for c in listed) == ["one.example.com", "two.example.com"]


def test_a_store_aws_would_refuse_stops_the_deploy_before_any_change(provider, shop, calls) -> None:
    """A reserved master user is a finding at its line, with its fix, and nothing is written
    (not even the lock)."""
    from launchdeck.errors import DeployRefused

    compose = Path(shop.working_directory) / "compose.yaml"
    compose.write_text(compose.read_text().replace("POSTGRES_USER: shop", "POSTGRES_USER: admin"))
    calls.clear()
    with pytest.raises(DeployRefused, match="RDS reserves the master user name 'admin'") as caught:
        _deploy(provider, shop)
    assert "compose.yaml:41: error: services.db.environment.POSTGRES_USER" in str(caught.value)
    assert "Set POSTGRES_USER to another name" in str(caught.value)
    assert calls.mutating() == []


def test_a_project_deployed_again_right_after_down_comes_back(deployed, provider, shop, boto) -> None:
    """Down waits until services and stores are gone, so their names are free at once."""
    anyio.run(lambda: destroy(provider, "shop", "dev", volumes=False, sink=Recorder()))
    result, _ = _deploy(provider, shop)
    assert result.ok, [(s.name, s.state, s.message) for s in result.services]
    assert {c.service: c.action for c in result.changes} == dict.fromkeys(
        ["web", "backend", "db", "cache", "(load balancer)"], Action.CREATE)


def test_an_arm64_service_deploys_built_on_arm(provider, project, boto, calls) -> None:
    """platform: linux/arm64 builds on CodeBuild's ARM environment for an ARM64 task (the
    strict layer refuses the mismatch)."""
    from launchdeck.tools.project import ProjectRef

    root = project({"compose.yaml": "name: armed\nservices:\n  api:\n    build: ./api\n"
                                    "    platform: linux/arm64\n",
                    "api/Dockerfile": "FROM busybox\n"})
    result, _ = _deploy(provider, ProjectRef(working_directory=str(root), provider="aws"))
    assert result.ok, [(s.name, s.state, s.message) for s in result.services]
    start = next(c.params for c in calls.made if c.operation == "StartBuild")
    assert start["environmentTypeOverride"] == "ARM_CONTAINER"
    task = next(c.params for c in calls.made if c.operation == "RegisterTaskDefinition")
    assert task["runtimePlatform"]["cpuArchitecture"] == "ARM64"


def test_a_service_put_back_right_after_its_removal_waits_for_the_old_one_to_drain(
        deployed, provider, shop, boto, calls) -> None:
    """Removing web then adding it again at once: the old ECS service is still draining (AWS
    refuses to create it then), so the deploy looks and waits before creating it."""
    compose = Path(shop.working_directory) / "compose.yaml"
    text = compose.read_text()
    compose.write_text(text[:text.index("  web:")] + text[text.index("  backend:"):])
    assert _deploy(provider, shop)[0].ok
    compose.write_text(text)
    calls.clear()
    result, _ = _deploy(provider, shop)
    assert result.ok, [(s.name, s.state, s.message) for s in result.services]
    made = [(c.operation, json.dumps(c.params)) for c in calls.made if c.service == "ecs"]
    create = next(i for i, (op, p) in enumerate(made) if op == "CreateService" and "shop-dev-web" in p)
    assert any(op == "DescribeServices" and "shop-dev-web" in p for op, p in made[:create])


def test_an_unchanged_client_is_rolled_when_a_service_it_names_is_new(deployed, provider, shop,
                                                                      calls) -> None:
    """backend already names worker in its environment; once worker is added, backend, left
    unchanged, is rolled so that its tasks resolve it."""
    compose = Path(shop.working_directory) / "compose.yaml"
    named = compose.read_text().replace("REDIS_URL: redis://cache:6379",
                                        "REDIS_URL: redis://cache:6379\n      WORKER: http://worker:7000")
    compose.write_text(named)
    assert _deploy(provider, shop)[0].ok
    compose.write_text(named.replace("  db:\n", "  worker:\n    image: nginx\n    expose: ['7000']\n"
                                                "    deploy:\n      resources:\n"
                                                "        reservations: {memory: 256M}\n  db:\n", 1))
    calls.clear()
    result, _ = _deploy(provider, shop)
    assert result.ok, [(s.name, s.state, s.message) for s in result.services]
    assert {c.service: c.action for c in result.changes if c.action is not Action.NOOP} == {
        "worker": Action.CREATE}
    rolled = [c.params for c in calls.made if c.operation == "UpdateService"]
    assert [p["service"].rsplit("/", 1)[-1] for p in rolled if p.get("forceNewDeployment")] == [
        "shop-dev-backend"]
