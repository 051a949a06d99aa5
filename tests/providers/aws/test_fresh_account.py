"""What a first deploy and teardown on a new AWS account meet, and survive."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest

from launchdeck.engine.deploy import deploy
from launchdeck.engine.destroy import destroy
from launchdeck.engine.events import Recorder, State
from launchdeck.engine.plan import Action
from launchdeck.engine.seams import DeployOptions
from launchdeck.errors import ProviderError
from launchdeck.providers.aws import build as builds
from launchdeck.providers.aws import names
from launchdeck.providers.aws.api import Aws
from launchdeck.providers.aws.inventory import kind
from launchdeck.providers.aws.teardown import exists
from launchdeck.tools.project import ProjectRef
from testkit import aws as T

TINY = "name: tiny\nservices:\n  api:\n    image: nginx\n    ports: [{target: 80, mode: ingress}]\n"
TWO_BUILT = """\
name: pair
services:
  a:
    build: ./a
    ports: [{target: 80, mode: ingress}]
  b:
    build: ./b
    expose: ["9000"]
"""


def _deploy(provider, ref, **options):
    recorder = Recorder()
    result = anyio.run(lambda: deploy(ref.load(), provider, stack=ref.stack, sink=recorder,
                                      options=DeployOptions(**options)))
    return result, [e.message for e in recorder.events]


def _ref(project, files) -> ProjectRef:
    return ProjectRef(working_directory=str(project(files)), provider="aws")


def test_the_first_cluster_waits_for_the_ecs_service_linked_role(provider, project) -> None:
    """CreateCluster refused until the new service-linked role can be assumed: retried, and said."""
    result, said = _deploy(provider, _ref(project, {"compose.yaml": TINY}))
    assert result.ok
    assert any("waiting for AWS to finish creating the ECS service-linked role" in m for m in said)


def test_a_dedicated_network_is_made_although_ec2_shows_new_things_late(provider, project, boto) -> None:
    """Subnets, routes and rules naming a VPC, gateway or group made a moment ago are retried."""
    result, said = _deploy(provider, _ref(project, {"compose.yaml": TINY}), network="dedicated")
    assert result.ok
    assert any("EC2 does not show what was just made yet" in m for m in said)
    subnets = boto.client("ec2").describe_subnets(
        Filters=[{"Name": "tag:launchdeck:project", "Values": ["tiny"]}])["Subnets"]
    assert len(subnets) == 2 and all(s["MapPublicIpOnLaunch"] for s in subnets)


def test_the_load_balancer_and_a_stores_subnet_group_wait_until_their_services_see_new_subnets(
        provider, project) -> None:
    """ELBv2 and ElastiCache lag EC2 as EC2 lags itself: naming subnets made a moment ago is
    refused (SubnetNotFound, "Some input subnets ... are invalid"), retried and said."""
    compose = TINY + "  cache:\n    image: redis:7\n    x-defang-redis: true\n"
    result, said = _deploy(provider, _ref(project, {"compose.yaml": compose}), network="dedicated")
    assert result.ok, [s.message for s in result.services]
    late = [m for m in said if "AWS does not show the new network to it yet" in m]
    assert any("load balancer" in m for m in late) and any("ElastiCache subnet group" in m for m in late)


def test_builds_queue_for_the_accounts_one_build_slot(provider, project, boto, aws_env) -> None:
    """Two builds at once on an account that runs one at a time: the second waits its turn, and says so."""
    ref = _ref(project, {"compose.yaml": TWO_BUILT, "a/Dockerfile": "FROM nginx\n",
                         "b/Dockerfile": "FROM python:3.12-slim\n"})
    assert _deploy(provider, ref)[0].ok
    aws_env.configure(scale=0.01)  # builds of 2 s
    said: list[str] = []
    builder = builds.CodeBuild(Aws(boto), names.bucket("123456789012", T.REGION), interval=0.01,
                               say=said.append)
    bucket = names.bucket("123456789012", T.REGION)
    key = boto.client("s3").list_objects_v2(Bucket=bucket, Prefix="contexts/")["Contents"][0]["Key"]
    services = ref.load().project.services
    uri = f"123456789012.dkr.ecr.{T.REGION}.amazonaws.com/"

    async def both() -> list[str]:
        first = await builder.start(key, uri + names.repository("pair", "dev", "a") + ":q1", services["a"])
        second = await builder.start(key, uri + names.repository("pair", "dev", "b") + ":q2", services["b"])
        return [first, second]

    started = anyio.run(both)
    assert len(set(started)) == 2
    assert any("waiting for a build slot" in m for m in said), said


def test_a_build_slot_that_never_frees_names_the_quota_to_raise(provider, project, boto, aws_env) -> None:
    """Waiting out the build slot ends in an error naming the CodeBuild quota and where to raise it."""
    ref = _ref(project, {"compose.yaml": TWO_BUILT, "a/Dockerfile": "FROM nginx\n",
                         "b/Dockerfile": "FROM python:3.12-slim\n"})
    assert _deploy(provider, ref)[0].ok
    aws_env.configure(scale=0.5)  # the deploy's builds now take minutes: they hold the one slot
    builder = builds.CodeBuild(Aws(boto), names.bucket("123456789012", T.REGION), interval=0.01,
                               slot_wait=0.05)
    service = ref.load().project.services["a"]
    image = f"123456789012.dkr.ecr.{T.REGION}.amazonaws.com/{names.repository('pair', 'dev', 'a')}:x"
    bucket = names.bucket("123456789012", T.REGION)
    key = boto.client("s3").list_objects_v2(Bucket=bucket, Prefix="contexts/")["Contents"][0]["Key"]
    with pytest.raises(ProviderError) as caught:
        anyio.run(lambda: builder.start(key, image, service))
    assert "build slot" in str(caught.value)
    assert builds.QUOTA in caught.value.hint and "Service Quotas" in caught.value.hint


def test_teardown_counts_only_what_its_own_service_still_shows(provider, project, boto) -> None:
    """The tagging API still lists what was just deleted; destroy confirms each ARN and succeeds."""
    ref = _ref(project, {"compose.yaml": TINY})
    assert _deploy(provider, ref)[0].ok
    # before this change: "destroy left 1 resource(s)" (the log group the tagging API still listed)
    done = anyio.run(lambda: destroy(provider, "tiny", "dev", volumes=False, sink=Recorder()))
    assert any("log group" in r for r in done.removed)


def test_target_groups_fit_apps_without_a_health_path_and_drain_in_30_seconds(provider, project,
                                                                             boto) -> None:
    """No compose health path: 200-499 on / is healthy (an API's 404); targets drain in 30 s."""
    assert _deploy(provider, _ref(project, {"compose.yaml": TINY}))[0].ok
    elbv2 = boto.client("elbv2")
    group = elbv2.describe_target_groups()["TargetGroups"][0]
    assert (group["HealthCheckPath"], group["Matcher"]["HttpCode"]) == ("/", "200-499")
    attributes = elbv2.describe_target_group_attributes(TargetGroupArn=group["TargetGroupArn"])["Attributes"]
    assert {"Key": "deregistration_delay.timeout_seconds", "Value": "30"} in attributes


def test_codebuild_may_read_the_source_buckets_acl_and_location() -> None:
    """CodeBuild checks the source bucket (GetBucketAcl, GetBucketLocation) before downloading."""
    policy = builds.codebuild_role_policy("bkt", T.REGION, "123456789012")
    allowed = {(a, s["Resource"]) for s in policy["Statement"] for a in s["Action"]}
    assert {("s3:GetBucketAcl", "arn:aws:s3:::bkt"), ("s3:GetBucketLocation", "arn:aws:s3:::bkt")} <= allowed


def test_a_build_arg_with_a_space_arrives_whole(project) -> None:
    """Build flags are shell-quoted for the buildspec's eval: `A=hello world` stays one argument."""
    import shlex

    ref = _ref(project, {"compose.yaml": "name: q\nservices:\n  a:\n    build:\n      context: .\n"
                                         "      args: {GREETING: hello world, QUOTE: \"it's\"}\n",
                         "Dockerfile": "FROM nginx\n"})
    words = shlex.split(builds.flags(ref.load().project.services["a"].build))
    assert words == ["-f", "Dockerfile", "--build-arg", "GREETING=hello world", "--build-arg", "QUOTE=it's"]


def test_dockerfile_inline_is_refused_before_anything_is_made(project) -> None:
    """CodeBuild builds from files in the context: dockerfile_inline is a located preflight finding."""
    from launchdeck.providers.aws import preflight

    ref = _ref(project, {"compose.yaml": "name: q\nservices:\n  a:\n    build:\n      context: .\n"
                                         "      dockerfile_inline: FROM nginx\n"})
    loaded = ref.load()
    found = preflight.findings(loaded.project, "dev", {}, loaded.where)
    assert [f.field for f in found] == ["services.a.build.dockerfile_inline"]


def test_repositories_keep_the_last_images_and_build_contexts_expire(provider, project, boto) -> None:
    """Each build adds an image and a context: ECR keeps the last 10, S3 drops contexts after a week."""
    ref = _ref(project, {"compose.yaml": "name: one\nservices:\n  a:\n    build: .\n",
                         "Dockerfile": "FROM nginx\n"})
    assert _deploy(provider, ref)[0].ok
    policy = boto.client("ecr").get_lifecycle_policy(repositoryName=names.repository("one", "dev", "a"))
    assert '"countNumber": 10' in policy["lifecyclePolicyText"]
    bucket = names.bucket("123456789012", T.REGION)
    rules = boto.client("s3").get_bucket_lifecycle_configuration(Bucket=bucket)
    assert [(r["Filter"]["Prefix"], r["Expiration"]["Days"]) for r in rules["Rules"]] == [("contexts/", 7)]


def test_a_load_balancer_of_the_same_name_not_ours_is_not_adopted(provider, project, boto) -> None:
    """A load balancer with the deploy's name but other launchdeck tags stops it, saying whose."""
    ec2, elbv2 = boto.client("ec2"), boto.client("elbv2")
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(
        Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]][:2]
    elbv2.create_load_balancer(Name=names.Names("tiny", "dev").load_balancer(), Subnets=subnets,
                               Tags=[{"Key": "launchdeck:project", "Value": "other"},
                                     {"Key": "launchdeck:stack", "Value": "dev"}])
    with pytest.raises(ProviderError) as caught:
        _deploy(provider, _ref(project, {"compose.yaml": TINY}))
    assert "is launchdeck's other (dev), not tiny (dev)" in str(caught.value)
    assert "another project or stack name" in caught.value.hint


def test_a_database_of_the_same_name_not_made_by_launchdeck_is_not_adopted(provider, shop, boto) -> None:
    """An RDS instance with the store's identifier and no launchdeck tags is refused, not taken over."""
    boto.client("rds").create_db_instance(
        DBInstanceIdentifier=names.Names("shop", "dev").store("db"), Engine="postgres",
        DBInstanceClass="db.t4g.micro", MasterUsername="someone", MasterUserPassword="password123",
        AllocatedStorage=20)
    with pytest.raises(ProviderError, match="not made by launchdeck, not shop"):
        _deploy(provider, shop)


def test_a_build_stopped_by_docker_hubs_pull_limit_says_so_with_the_fix(aws_env, strict, project) -> None:
    """`toomanyrequests` in the build log: the failure names Docker Hub's limit and another registry."""
    from launchdeck.engine.events import State
    from launchdeck.providers.aws.provider import AwsProvider

    session = T.session()
    strict.attach(session)
    T.codebuild_pushes(session, failing={"/web:": "ERROR: toomanyrequests: You have reached your pull "
                                                  "rate limit. You may increase the limit by authenticating"})
    provider = AwsProvider(Aws(session), poll=0.01)
    ref = _ref(project, {"compose.yaml": "name: hub\nservices:\n  web:\n    build: ./web\n",
                         "web/Dockerfile": "FROM node:20\n"})
    web = _deploy(provider, ref)[0].services[0]
    assert web.state is State.BUILD_FAILED
    assert "Docker Hub refused to serve a base image (toomanyrequests)" in web.message
    assert "public.ecr.aws/docker/library/" in web.message


def test_tasks_that_keep_stopping_fail_the_deployment_with_their_reason(provider, project, aws_env) -> None:
    """ECS's circuit breaker fails a deployment whose tasks exit: FAILED, with ECS's stopped reason."""
    from launchdeck.engine.events import State

    aws_env.configure(failing={"nginx": "Essential container in task exited"})
    result, _ = _deploy(provider, _ref(project, {"compose.yaml": TINY}))
    api = result.services[0]
    assert api.state is State.SERVICE_DEPLOYMENT_FAILED
    assert "circuit breaker" in api.message and "Essential container in task exited" in api.message


def test_more_fargate_vcpus_than_the_account_may_run_is_refused_before_any_change(provider, project,
                                                                                 calls) -> None:
    """8 vCPUs asked of a new account's quota of 6: refused naming the quota, nothing made."""
    compose = "name: big\nservices:\n  api:\n    image: nginx\n    deploy:\n      replicas: 4\n" \
              "      resources: {reservations: {cpus: '2'}}\n"
    with pytest.raises(ProviderError) as caught:
        _deploy(provider, _ref(project, {"compose.yaml": compose}))
    assert "need 8 Fargate vCPUs" in str(caught.value) and "is 6" in str(caught.value)
    assert "Service Quotas" in caught.value.hint
    assert [c for c in calls.mutating() if c.service != "s3"] == []


HUB = {"DOCKERHUB_USERNAME": "hub-user-7c1d", "DOCKERHUB_TOKEN": "dckr_pat_s3cr3t-9a8b7c"}
NODE_APP = {"compose.yaml": "name: hub\nservices:\n  web:\n    build: ./web\n",
            "web/Dockerfile": "FROM node:20 AS deps\nFROM deps\n"}


def _set_config(project: str, values: dict[str, str]) -> None:
    from launchdeck.providers.aws.provider import AwsProvider

    store = AwsProvider(Aws(T.session())).config_store(project, "dev")

    async def set_all() -> None:
        for name, value in values.items():
            await store.set(name, value)

    anyio.run(set_all)


def test_docker_hubs_anonymous_limit_fails_a_build_and_the_fix_names_the_credentials(provider, project,
                                                                                    aws_env) -> None:
    """Docker Hub refusing anonymous pulls fails the build; the reason offers logging in through config."""
    from launchdeck.engine.events import State

    aws_env.configure(dockerhub_anonymous=False)
    web = _deploy(provider, _ref(project, NODE_APP))[0].services[0]
    assert web.state is State.BUILD_FAILED
    assert "toomanyrequests" in web.message and "DOCKERHUB_USERNAME and DOCKERHUB_TOKEN" in web.message


def test_builds_log_in_to_docker_hub_with_the_stacks_credentials_never_seen(provider, project, aws_env,
                                                                           boto, calls) -> None:
    """With DOCKERHUB_USERNAME and DOCKERHUB_TOKEN set, builds log in (the limit does not stop them);
    CodeBuild reads the values from SSM: no request, record or message holds them. The build
    refused them while IAM propagates the role's new permission is started again."""
    aws_env.configure(dockerhub_anonymous=False)
    _set_config("hub", HUB)
    result, said = _deploy(provider, _ref(project, NODE_APP))
    assert result.ok, result.services[0].message
    started = [c.params for c in calls.made if c.operation == "StartBuild"]
    assert any("may not read the Docker Hub credentials yet" in m for m in said)
    variables = {v["name"]: v for v in started[0]["environmentVariablesOverride"]}
    assert variables["DOCKERHUB_TOKEN"] == {"name": "DOCKERHUB_TOKEN", "type": "PARAMETER_STORE",
                                            "value": names.parameter("hub", "dev", "DOCKERHUB_TOKEN")}
    seen = repr([c.params for c in calls.made]) + repr(said) + repr(result)
    assert not any(value in seen for value in HUB.values())
    iam = boto.client("iam")
    role = f"launchdeck-codebuild-{T.REGION}"
    policy = iam.get_role_policy(RoleName=role, PolicyName=names.hub_policy("hub", "dev"))["PolicyDocument"]
    readable = [r for st in policy["Statement"] if st["Action"] == "ssm:GetParameters"
                for r in st["Resource"]]
    assert sorted(readable) == sorted(f"arn:aws:ssm:{T.REGION}:123456789012:parameter"
                                      f"{names.parameter('hub', 'dev', n)}" for n in HUB)
    anyio.run(lambda: destroy(provider, "hub", "dev", volumes=False, sink=Recorder()))
    assert names.hub_policy("hub", "dev") not in iam.list_role_policies(RoleName=role)["PolicyNames"]


def test_one_docker_hub_credential_alone_is_not_used(provider, project, aws_env, calls) -> None:
    """Only a user name in config: builds pull anonymously, as before, and no role may read it."""
    _set_config("hub", {"DOCKERHUB_USERNAME": "hub-user-7c1d"})
    assert _deploy(provider, _ref(project, NODE_APP))[0].ok
    started = [c.params for c in calls.made if c.operation == "StartBuild"]
    assert all(v["type"] == "PLAINTEXT" for v in started[0]["environmentVariablesOverride"])


DOMAIN = "name: site\nservices:\n  web:\n    image: nginx\n    domainname: www.example.com\n" \
         "    ports: [{target: 80, published: 80, mode: ingress}]\n"


def _cnames(boto) -> list[str]:
    route53 = boto.client("route53")
    zone = route53.list_hosted_zones_by_name(DNSName="example.com")["HostedZones"][0]["Id"]
    records = route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    return [r["Name"] for r in records if r["Type"] == "CNAME"]


def test_down_removes_the_certificates_dns_validation_record(provider, project, boto) -> None:
    """The CNAME that validated the domain's certificate goes with the certificate."""
    assert _deploy(provider, _ref(project, {"compose.yaml": DOMAIN}))[0].ok
    assert _cnames(boto)  # written by the deploy for ACM's DNS validation
    done = anyio.run(lambda: destroy(provider, "site", "dev", volumes=False, sink=Recorder()))
    assert _cnames(boto) == []
    assert any(r.startswith("DNS validation record") for r in done.removed)


def test_a_validation_record_another_certificate_of_the_domain_needs_stays(provider, project, boto) -> None:
    """Another certificate of the same domain in the account renews with the same CNAME: it stays."""
    assert _deploy(provider, _ref(project, {"compose.yaml": DOMAIN}))[0].ok
    boto.client("acm").request_certificate(DomainName="www.example.com", ValidationMethod="DNS")
    before = _cnames(boto)
    anyio.run(lambda: destroy(provider, "site", "dev", volumes=False, sink=Recorder()))
    assert before and _cnames(boto) == before


def test_a_dedicated_network_leaves_out_local_zones_where_fargate_does_not_run(provider, project, boto,
                                                                              aws_env) -> None:
    """An account opted in to a Local Zone (listed first by name): both subnets go in Availability Zones."""
    aws_env.configure(local_zones=["us-east-1-bos-1a"])
    assert _deploy(provider, _ref(project, {"compose.yaml": TINY}), network="dedicated")[0].ok
    ec2 = boto.client("ec2")
    zones = {z["ZoneName"]: z["ZoneType"] for z in ec2.describe_availability_zones()["AvailabilityZones"]}
    assert zones["us-east-1-bos-1a"] == "local-zone"
    subnets = ec2.describe_subnets(
        Filters=[{"Name": "tag:launchdeck:project", "Values": ["tiny"]}])["Subnets"]
    assert len({s["AvailabilityZone"] for s in subnets}) == 2
    assert all(zones[s["AvailabilityZone"]] == "availability-zone" for s in subnets)


@pytest.mark.parametrize(("region", "ids", "expected"), [
    ("us-west-1", {"us-west-1a": "usw1-az2", "us-west-1b": "usw1-az1", "us-west-1c": "usw1-az3"},
     ["us-west-1b", "us-west-1c"]),
    ("ap-northeast-1", {"ap-northeast-1a": "apne1-az3", "ap-northeast-1b": "apne1-az4",
                        "ap-northeast-1c": "apne1-az1"}, ["ap-northeast-1b", "ap-northeast-1c"]),
    ("us-east-1", {"us-east-1a": "use1-az6", "us-east-1b": "use1-az1"}, ["us-east-1a", "us-east-1b"]),
])
def test_subnets_go_only_in_the_zone_ids_fargate_supports_in_a_region(region, ids, expected) -> None:
    """us-west-1 and ap-northeast-1 run Fargate in some zones only (by zone id, not name)."""
    from launchdeck.providers.aws import network

    zones = [{"ZoneName": n, "ZoneId": i, "ZoneType": "availability-zone"} for n, i in ids.items()]
    assert network.fargate_zones(region, zones) == expected


def test_a_region_with_one_fargate_zone_cannot_hold_a_dedicated_network() -> None:
    """Two zones are needed (the load balancer's subnets): one is refused with a way out."""
    from launchdeck.providers.aws import network

    with pytest.raises(ProviderError) as caught:
        network.fargate_zones("us-west-1", [{"ZoneName": "us-west-1a", "ZoneId": "usw1-az1"},
                                            {"ZoneName": "us-west-1c", "ZoneId": "usw1-az2"}])
    assert "needs two" in str(caught.value) and "default network" in caught.value.hint


def test_down_deregisters_every_revision_of_the_stacks_families(provider, project, boto) -> None:
    """A revision without launchdeck's tags (registered by hand) goes too: each family is listed by
    its full name, as ListTaskDefinitions' familyPrefix takes it."""
    assert _deploy(provider, _ref(project, {"compose.yaml": TINY}))[0].ok
    ecs, family = boto.client("ecs"), names.Names("tiny", "dev").service("api")
    latest = ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]
    ecs.register_task_definition(family=family, containerDefinitions=latest["containerDefinitions"],
                                 requiresCompatibilities=["FARGATE"], networkMode="awsvpc",
                                 cpu=latest["cpu"], memory=latest["memory"],
                                 executionRoleArn=latest["executionRoleArn"])
    anyio.run(lambda: destroy(provider, "tiny", "dev", volumes=False, sink=Recorder()))
    assert ecs.list_task_definitions(familyPrefix=family, status="ACTIVE")["taskDefinitionArns"] == []


def _foreign_tags(key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    return [{key: "launchdeck:project", value: "other"}, {key: "launchdeck:stack", value: "dev"}]


def test_a_target_group_of_the_same_name_not_ours_is_not_adopted(provider, project, boto) -> None:
    """A target group with the deploy's name but another stack's tags stops it, saying whose."""
    vpc = boto.client("ec2").describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]
    boto.client("elbv2").create_target_group(Name=names.Names("tiny", "dev").target_group("api", 80),
                                             Protocol="HTTP", Port=80, VpcId=vpc["VpcId"], TargetType="ip",
                                             Tags=_foreign_tags())
    with pytest.raises(ProviderError) as caught:
        _deploy(provider, _ref(project, {"compose.yaml": TINY}))
    assert "target group" in str(caught.value)
    assert "is launchdeck's other (dev), not tiny (dev)" in str(caught.value)


def test_a_role_of_the_same_name_not_ours_is_not_adopted(provider, project, boto) -> None:
    """An IAM role with the tasks' role name but another stack's tags is refused, its policies untouched."""
    iam = boto.client("iam")
    trust = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": ' \
            '{"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}'
    role = names.Names("tiny", "dev").role("exec")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust, Tags=_foreign_tags())
    with pytest.raises(ProviderError, match="IAM role .* is launchdeck's other"):
        _deploy(provider, _ref(project, {"compose.yaml": TINY}))
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == []


def test_a_service_namespace_of_the_same_name_not_ours_is_neither_adopted_nor_torn_down(provider, project,
                                                                                     boto) -> None:
    """A Cloud Map namespace of the deploy's name with other tags stops the deploy, and `down` leaves it."""
    cloudmap = boto.client("servicediscovery")
    name = names.Names("tiny", "dev").namespace()
    cloudmap.create_http_namespace(Name=name, Tags=_foreign_tags())
    with pytest.raises(ProviderError, match="service namespace .* is launchdeck's other"):
        _deploy(provider, _ref(project, {"compose.yaml": TINY}))
    anyio.run(lambda: destroy(provider, "tiny", "dev", volumes=False, sink=Recorder()))
    assert [n["Name"] for n in cloudmap.list_namespaces()["Namespaces"]] == [name]


def test_an_image_repository_of_the_same_name_not_ours_is_not_adopted(provider, project, boto) -> None:
    """An ECR repository with the service's repository name but other tags stops the deploy."""
    boto.client("ecr").create_repository(repositoryName=names.repository("one", "dev", "a"),
                                         tags=_foreign_tags())
    ref = _ref(project, {"compose.yaml": "name: one\nservices:\n  a:\n    build: .\n",
                         "Dockerfile": "FROM nginx\n"})
    with pytest.raises(ProviderError, match="image repository .* is launchdeck's other"):
        _deploy(provider, ref)


DASHED = """\
name: {}
services:
  api:
    image: nginx
    ports: [{{target: 80, mode: ingress}}]
  cache:
    image: redis:7
    x-defang-redis: true
"""
"""A service behind the load balancer and a store: every kind of name a stack gives."""


def _alive(boto, project: str, stack: str) -> list[str]:
    """What the tagging API lists of the stack (but config values) and its service confirms."""
    found = boto.client("resourcegroupstaggingapi").get_resources(TagFilters=[
        {"Key": names.PROJECT, "Values": [project]},
        {"Key": names.STACK, "Values": [stack]}])["ResourceTagMappingList"]
    aws = Aws(boto)
    arns = [f["ResourceARN"] for f in found if ":parameter/" not in f["ResourceARN"]]
    return sorted(a for a in arns if anyio.run(lambda a=a: exists(aws, kind(a), a)))


def _by_name(boto) -> tuple[list[str], list[str]]:
    """The stacks' IAM roles and Cloud Map namespaces (which the tagging API does not list here)."""
    roles = boto.client("iam").list_roles()["Roles"]
    namespaces = boto.client("servicediscovery").list_namespaces()["Namespaces"]
    return (sorted(r["RoleName"] for r in roles if r["RoleName"].startswith("ld-")),
            sorted(n["Name"] for n in namespaces))


def test_project_a_b_stack_c_and_project_a_stack_b_c_run_side_by_side(provider, project, boto) -> None:
    """Both joined ld-a-b-c... before marks: each now has names of its own, both deploy and
    run, ps of each shows its own, and `down` of one leaves the other whole."""
    from launchdeck.engine.ps import ps

    folder = project({f"{p}/compose.yaml": DASHED.format(p) for p in ("a-b", "a")})
    refs = {pair: ProjectRef(working_directory=str(folder / pair[0]), provider="aws", stack=pair[1])
            for pair in (("a-b", "c"), ("a", "b-c"))}
    results = {pair: _deploy(provider, ref)[0] for pair, ref in refs.items()}
    assert all(r.ok for r in results.values()), results
    balancers = {lb["LoadBalancerName"]: lb["DNSName"]
                 for lb in boto.client("elbv2").describe_load_balancers()["LoadBalancers"]}
    for (name, stack), result in results.items():
        own = names.Names.fresh(name, stack)
        assert own.mark and own.load_balancer() in balancers
        shown = anyio.run(lambda r=refs[(name, stack)]: ps(provider, r.load().project, r.stack))
        assert [(s.name, s.state) for s in shown] == [("api", State.SERVICE_DEPLOYMENT_COMPLETED),
                                                      ("cache", State.SERVICE_DEPLOYMENT_COMPLETED)]
        assert shown[0].deployment_id == result.deployment_id
        assert shown[0].endpoints == [f"http://{balancers[own.load_balancer()]}:80"]
    assert len(balancers) == 2
    assert len(boto.client("elasticache").describe_replication_groups()["ReplicationGroups"]) == 2

    before = _alive(boto, "a", "b-c")
    assert {kind(a) for a in before} >= {"ecs:service", "elasticache:replicationgroup",
                                         "elasticloadbalancing:loadbalancer", "ec2:security-group"}
    one, other = names.Names.fresh("a-b", "c"), names.Names.fresh("a", "b-c")
    assert _by_name(boto) == (sorted(n.role(k) for n in (one, other) for k in ("exec", "task")),
                              sorted([one.namespace(), other.namespace()]))
    anyio.run(lambda: destroy(provider, "a-b", "c", volumes=True, sink=Recorder()))
    assert _alive(boto, "a-b", "c") == []
    assert _alive(boto, "a", "b-c") == before
    assert _by_name(boto) == ([other.role("exec"), other.role("task")], [other.namespace()])
    shown = anyio.run(lambda: ps(provider, refs[("a", "b-c")].load().project, "b-c"))
    assert [s.state for s in shown] == [State.SERVICE_DEPLOYMENT_COMPLETED] * 2
    again = _deploy(provider, refs[("a", "b-c")])[0]
    assert again.ok and {c.action for c in again.changes} == {Action.NOOP}


def test_a_stack_with_a_dash_deployed_before_marks_keeps_its_names(provider, project, boto) -> None:
    """A stack an earlier release deployed (its roles there under the names it gave then) is
    deployed again under those names, plans all NOOP after, and `down` removes all of it,
    and what an older and a newer release each made of it by name."""
    iam = boto.client("iam")
    earlier, marked = names.Names("my-app", "dev"), names.Names.fresh("my-app", "dev")
    trust = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": ' \
            '{"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}'
    iam.create_role(RoleName=earlier.role("exec"), AssumeRolePolicyDocument=trust,
                    Tags=names.tag_list(names.tags("my-app", "dev")))
    ref = _ref(project, {"compose.yaml": DASHED.format("my-app")})
    assert _deploy(provider, ref)[0].ok
    balancers = boto.client("elbv2").describe_load_balancers()["LoadBalancers"]
    assert [lb["LoadBalancerName"] for lb in balancers] == ["ld-my-app-dev"] == [earlier.load_balancer()]
    assert [g["ReplicationGroupId"] for g in boto.client("elasticache").describe_replication_groups()[
        "ReplicationGroups"]] == ["my-app-dev-cache"]
    [service] = boto.client("ecs").list_services(cluster=names.CLUSTER)["serviceArns"]
    assert service.endswith("/my-app-dev-api")
    assert _by_name(boto) == ([earlier.role("exec"), earlier.role("task")], [earlier.namespace()])
    again = _deploy(provider, ref)[0]
    assert again.ok and {c.action for c in again.changes} == {Action.NOOP}
    # what a newer release would have made of the stack by name, beside it: `down` finds both
    boto.client("servicediscovery").create_http_namespace(
        Name=marked.namespace(), Tags=names.tag_list(names.tags("my-app", "dev")))
    iam.create_role(RoleName=marked.role("task"), AssumeRolePolicyDocument=trust,
                    Tags=names.tag_list(names.tags("my-app", "dev")))
    anyio.run(lambda: destroy(provider, "my-app", "dev", volumes=True, sink=Recorder()))
    assert _alive(boto, "my-app", "dev") == []
    assert _by_name(boto) == ([], [])


@pytest.mark.parametrize(("dropped", "phase", "words"), [
    ("s3:GetBucketAcl", "download source", "AccessDenied"),
    ("ecr:PutImage", "post build", "Error while executing command"),
])
def test_a_codebuild_role_missing_what_a_build_does_fails_that_phase(provider, project, boto, aws_env,
                                                                    dropped, phase, words) -> None:
    """The CodeBuild role is held to what a build does with it: a role without one of those
    actions fails the build in the phase that needs it."""
    import json

    ref = _ref(project, {"compose.yaml": "name: one\nservices:\n  a:\n    build: .\n",
                         "Dockerfile": "FROM nginx\n"})
    assert _deploy(provider, ref)[0].ok
    iam, role = boto.client("iam"), f"launchdeck-codebuild-{T.REGION}"
    policy = builds.codebuild_role_policy(names.bucket("123456789012", T.REGION), T.REGION, "123456789012")
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        statement["Action"] = [a for a in actions if a != dropped]
    policy["Statement"] = [s for s in policy["Statement"] if s["Action"]]
    iam.put_role_policy(RoleName=role, PolicyName="build", PolicyDocument=json.dumps(policy))
    bucket = names.bucket("123456789012", T.REGION)
    key = boto.client("s3").list_objects_v2(Bucket=bucket, Prefix="contexts/")["Contents"][0]["Key"]
    builder = builds.CodeBuild(Aws(boto), bucket, interval=0.01)
    image = f"123456789012.dkr.ecr.{T.REGION}.amazonaws.com/{names.repository('one', 'dev', 'a')}:again"

    async def run() -> object:
        build_id = await builder.start(key, image, ref.load().project.services["a"])
        while (found := await builder.poll(build_id)).state not in ("failed", "succeeded"):
            await anyio.sleep(0.02)
        return found

    found = anyio.run(run)
    assert (found.state, found.step) == ("failed", phase)
    assert words in found.reason


def test_roles_made_by_the_first_deploy_are_used_once_codebuild_and_ecs_can_assume_them(provider, project,
                                                                                      calls) -> None:
    """CreateProject and RegisterTaskDefinition naming roles made a moment before are refused, retried,
    and the deploy succeeds."""
    ref = _ref(project, {"compose.yaml": "name: one\nservices:\n  a:\n    build: .\n",
                         "Dockerfile": "FROM nginx\n"})
    assert _deploy(provider, ref)[0].ok
    made = calls.by_operation()
    assert made["codebuild.CreateProject"] >= 2 and made["ecs.RegisterTaskDefinition"] >= 2


def test_a_first_deploy_says_its_tasks_are_provisioning_then_pending_before_they_run(provider, project,
                                                                                   boto) -> None:
    """Fargate tasks start in steps: the progress says how many are provisioning, then pending."""
    compose = "name: steps\nservices:\n  api:\n    image: nginx\n    expose: ['80']\n    deploy:\n" \
              "      replicas: 2\n"
    result, said = _deploy(provider, _ref(project, {"compose.yaml": compose}))
    assert result.ok, result.services
    tasks = [m for m in said if m.startswith("tasks: ")]
    # a task goes on unseen once its step has lasted well past its time (a loaded machine may
    # look late): each step is said, but the two tasks need not be said in it together
    assert "provisioning" in tasks[0], tasks
    pending = next(i for i, m in enumerate(tasks) if "pending" in m)
    assert "2 provisioning" not in "".join(tasks[pending + 1:]), tasks  # provisioning, then pending
    assert tasks[-1] == "tasks: 2/2 running", tasks
    ecs = boto.client("ecs")
    arns = ecs.list_tasks(cluster=names.CLUSTER,
                          serviceName=names.Names("steps", "dev").service("api"))["taskArns"]
    running = ecs.describe_tasks(cluster=names.CLUSTER, tasks=arns)["tasks"]
    assert [t["lastStatus"] for t in running] == ["RUNNING", "RUNNING"]
    assert all(t["startedAt"] and t["containers"][0]["imageDigest"].startswith("sha256:") for t in running)


def _busy(project, stack: str, replicas: int) -> ProjectRef:
    folder = project({f"{stack}/compose.yaml": "name: busy\nservices:\n  api:\n    image: nginx\n"
                                                "    expose: ['80']\n    deploy:\n"
                                                f"      replicas: {replicas}\n"
                                                "      resources: {reservations: {cpus: '2'}}\n"})
    return ProjectRef(working_directory=str(folder / stack), provider="aws", stack=stack)


def test_vcpus_another_stack_holds_stop_the_deploy_naming_the_quota_then_it_deploys(provider, project,
                                                                                   aws_env, boto) -> None:
    """A quota of 4 vCPUs, 2 held by another stack, 4 wanted: ECS places one task of two and keeps
    trying; the deploy stops well before its deadline naming the quota, its value and how to raise
    it, and what it made stays the stack's; once the other stack is down, it deploys."""
    import time

    aws_env.configure(fargate_vcpu=4)
    assert _deploy(provider, _busy(project, "other", 1))[0].ok
    ref = _busy(project, "dev", 2)
    began = time.monotonic()
    result, said = _deploy(provider, ref)
    took = time.monotonic() - began
    api = result.services[0]
    assert api.state is State.SERVICE_DEPLOYMENT_FAILED and took < 60, (took, api)
    for words in ('"Fargate On-Demand vCPU resource count", L-3032A538) is 4 vCPUs',
                  "ECS cannot place 1 of the service's 2 tasks", "Service Quotas console",
                  "aws service-quotas request-service-quota-increase --service-code fargate "
                  "--quota-code L-3032A538 --desired-value 6 --region us-east-1"):
        assert words in api.message, api.message
    assert "You've reached the limit on the number of vCPUs" in api.start_error
    assert any("Fargate vCPU quota (L-3032A538) is used up" in m for m in said), said
    ecs = boto.client("ecs")
    service = ecs.describe_services(cluster=names.CLUSTER, include=["TAGS"],
                                    services=[names.Names("busy", "dev").service("api")])["services"][0]
    assert service["deployments"][0]["rolloutState"] == "IN_PROGRESS"  # ECS keeps trying
    assert names.owned(names.tag_dict(service["tags"]), "busy", "dev")  # the stack's, for down or a redeploy
    anyio.run(lambda: destroy(provider, "busy", "other", volumes=False, sink=Recorder()))
    again, _ = _deploy(provider, ref)
    assert again.ok and again.services[0].replicas_running == 2, again.services
    anyio.run(lambda: destroy(provider, "busy", "dev", volumes=False, sink=Recorder()))
    both = [names.Names("busy", stack).service("api") for stack in ("dev", "other")]
    assert all(s["status"] != "ACTIVE"
               for s in ecs.describe_services(cluster=names.CLUSTER, services=both)["services"])


def test_a_rolling_update_short_of_vcpus_goes_on_one_task_at_a_time(provider, project, aws_env) -> None:
    """Quota 3 vCPUs, 2 tasks of 1 running: a new deployment has room for one new task at a time
    (old ones stop as new ones are healthy); ECS says it cannot place the other meanwhile, and the
    deploy waits it out and succeeds."""
    aws_env.configure(fargate_vcpu=3)
    folder = project({"compose.yaml": "name: roll\nservices:\n  api:\n    image: nginx\n    expose: ['80']\n"
                                      "    deploy:\n      replicas: 2\n"
                                      "      resources: {reservations: {cpus: '1'}}\n"})
    ref = ProjectRef(working_directory=str(folder), provider="aws")
    assert _deploy(provider, ref)[0].ok
    result, said = _deploy(provider, ref, force=True)
    assert result.ok and result.services[0].replicas_running == 2, result.services
    assert any("Fargate vCPU quota (L-3032A538) is used up" in m for m in said), said


def test_a_first_build_uploads_its_context_while_the_cluster_waits_for_the_service_linked_role(
        provider, project, aws_env, calls) -> None:
    """The context goes up to the region's bucket (made by the deploy's lock) while the region's
    shared resources are made: only starting the build waits for what it stands on (the
    builder and its role, the repository it pushes to, made meanwhile), not for the cluster. A
    new account's first cluster waits for the ECS service-linked role
    (``iam.service_linked_role``), so the upload is done before it is made."""
    aws_env.configure(scale=0.02)  # the role's window (0.2 s) far longer than the upload's calls
    result, _ = _deploy(provider, _ref(project, {"compose.yaml": "name: up\nservices:\n  web:\n"
                                                                 "    build: ./web\n",
                                                 "web/Dockerfile": "FROM nginx\n"}))
    assert result.ok, result.services[0].message
    made = [(c.operation, c.params) for c in calls.made]
    upload = next(i for i, (op, p) in enumerate(made)
                  if op == "PutObject" and str(p.get("Key", "")).startswith("contexts/"))
    clusters = [i for i, (op, _) in enumerate(made) if op == "CreateCluster"]
    started = next(i for i, (op, _) in enumerate(made) if op == "StartBuild")
    assert len(clusters) > 1 and upload < clusters[-1] and upload < started  # refused first, then made
    assert next(i for i, (op, _) in enumerate(made) if op == "CreateRepository") < started


def test_a_deployment_the_circuit_breaker_rolled_back_is_deployed_again(provider, project, aws_env,
                                                                      boto) -> None:
    """v2's tasks keep exiting: ECS fails it and rolls the service back to v1, whose deployment then
    completes and leaves nothing failed in DescribeServices. ps still says v2 failed, and the next
    deploy of the same file rolls v2 out again instead of taking the service's new hash for done."""
    from launchdeck.engine.deploy import plan, preflight
    from launchdeck.engine.plan import Action
    from launchdeck.engine.ps import ps

    v1 = TINY.replace("image: nginx", "image: nginx:1.27")
    ref = _ref(project, {"compose.yaml": v1})
    assert _deploy(provider, ref)[0].ok
    compose = Path(ref.working_directory) / "compose.yaml"
    compose.write_text(TINY.replace("image: nginx", "image: nginx:1.28"))
    aws_env.configure(failing={"nginx:1.28": "Essential container in task exited"})
    api = _deploy(provider, ref)[0].services[0]
    assert api.state is State.SERVICE_DEPLOYMENT_FAILED
    assert "Essential container in task exited" in api.message

    ecs = boto.client("ecs")
    service = names.Names.fresh("tiny", "dev").service("api")

    def rolled_back() -> dict:
        found = ecs.describe_services(cluster=names.CLUSTER, services=[service])["services"][0]
        done = [d["rolloutState"] for d in found["deployments"]] == ["COMPLETED"]
        return found if done else {}

    deadline = time.monotonic() + 60
    while not (found := rolled_back()):
        assert time.monotonic() < deadline, "the rollback to v1 did not complete"
        time.sleep(0.05)
    definition = ecs.describe_task_definition(taskDefinition=found["taskDefinition"])["taskDefinition"]
    assert definition["containerDefinitions"][0]["image"].endswith("nginx:1.27")

    status = anyio.run(lambda: ps(provider, ref.load().project, "dev"))[0]
    assert status.state is State.SERVICE_DEPLOYMENT_FAILED and "ECS rolled back to" in status.message

    async def changes():
        return (await plan(await preflight(ref.load(), provider, stack="dev"))).changes

    change = next(c for c in anyio.run(changes) if c.service == "api")
    assert (change.action, change.reason) == (Action.UPDATE, "not running as deployed")
    aws_env.configure(failing={})
    assert _deploy(provider, ref)[0].ok
    found = ecs.describe_services(cluster=names.CLUSTER, services=[service])["services"][0]
    image = ecs.describe_task_definition(taskDefinition=found["taskDefinition"])["taskDefinition"]
    assert image["containerDefinitions"][0]["image"].endswith("nginx:1.28")
    assert {c.action for c in anyio.run(changes)} == {Action.NOOP}
