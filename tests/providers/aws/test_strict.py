"""The strict layer catches each class of request AWS refuses and moto lets through.

Every test here makes a bad request on purpose, through a session of its own (the shared
fixture fails any test whose requests break a rule).
"""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from botocore import xform_name
from botocore.exceptions import ClientError

from testkit import aws as T

_TASK = {"family": "shop-dev-web", "requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc",
         "cpu": "256", "memory": "512", "executionRoleArn": "arn:aws:iam::123456789012:role/x"}
_CONTAINER = {"name": "web", "image": "nginx"}
_DB = {"DBInstanceIdentifier": "db", "DBInstanceClass": "db.t4g.micro", "Engine": "postgres"}


def _task(**changes) -> dict:
    container = {**_CONTAINER, **changes.pop("container", {})}
    return {**_TASK, "containerDefinitions": [container], **changes}


@pytest.fixture
def hooked(aws_env):
    """A session held to the strict rules, with the Strict that holds it."""
    session = T.session()
    return session, T.Strict().attach(session)


def _call(session, service: str, operation: str, params: dict):
    return getattr(session.client(service), xform_name(operation))(**params)


@pytest.mark.parametrize(("service", "operation", "params", "fragment"), [
    # names
    ("ecs", "RegisterTaskDefinition", _task(family="shop-dev-api.v1"), "family 'shop-dev-api.v1'"),
    ("ecs", "RegisterTaskDefinition", _task(container={"name": "api.v1"}), "container name 'api.v1'"),
    ("ecs", "RegisterTaskDefinition",
     _task(container={"portMappings": [{"containerPort": 80, "name": "P80"}]}), "port mapping name 'P80'"),
    ("ecs", "UpdateService", {"service": "s", "serviceConnectConfiguration": {"enabled": True, "services": [
        {"portName": "p80", "discoveryName": "Web-80"}]}}, "discoveryName 'Web-80'"),
    ("ecs", "UpdateService", {"service": "s", "serviceConnectConfiguration": {"enabled": True, "services": [
        {"portName": "p80", "clientAliases": [{"port": 80, "dnsName": "Web"}]}]}}, "dnsName 'Web'"),
    ("rds", "DeleteDBInstance", {"DBInstanceIdentifier": "x", "FinalDBSnapshotIdentifier":
                                 "2048-game-db-postgres-1a-final-snapshot"}, "FinalDBSnapshotIdentifier"),
    ("elasticache", "CreateReplicationGroup", {"ReplicationGroupId": "shop--cache",
                                               "ReplicationGroupDescription": "d"}, "ReplicationGroupId"),
    ("elbv2", "CreateLoadBalancer", {"Name": "ld-" + "x" * 30}, "up to 32 letters"),
    ("elbv2", "CreateTargetGroup", {"Name": "ld-shop_dev"}, "name 'ld-shop_dev'"),
    ("iam", "CreateRole", {"RoleName": "ld shop", "AssumeRolePolicyDocument": "{}"}, "RoleName 'ld shop'"),
    ("ec2", "CreateSecurityGroup", {"GroupName": "sg-shop", "Description": "d"}, "GroupName 'sg-shop'"),
    ("ecr", "CreateRepository", {"repositoryName": "launchdeck/shop/dev/Web"}, "repository name"),
    ("logs", "CreateLogGroup", {"logGroupName": "/launchdeck/shop dev"}, "log group"),
    ("acm", "RequestCertificate", {"DomainName": "a.example.com", "IdempotencyToken": "shop-dev"},
     "IdempotencyToken 'shop-dev'"),
    # sizes and ranges
    ("ecs", "RegisterTaskDefinition", _task(cpu="256", memory="4096"), "not a Fargate task size"),
    ("ecs", "RegisterTaskDefinition", _task(networkMode="bridge"), "must use networkMode awsvpc"),
    ("ecs", "RegisterTaskDefinition",
     _task(container={"healthCheck": {"command": ["CMD", "true"], "interval": 2}}),
     "healthCheck interval 2 is outside 5..300"),
    ("ecs", "UpdateService", {"service": "s", "healthCheckGracePeriodSeconds": 60},
     "only valid with loadBalancers"),
    ("logs", "PutRetentionPolicy", {"logGroupName": "/x", "retentionInDays": 10}, "retentionInDays 10"),
    ("ssm", "PutParameter", {"Name": "/launchdeck/x", "Value": "v" * 5000, "Type": "SecureString"},
     "limited to 4 KB"),
    ("elbv2", "CreateRule", {"ListenerArn": "arn", "Priority": 0, "Conditions": [], "Actions": []},
     "Priority must be 1 to 50000"),
    ("elbv2", "CreateListener", {"LoadBalancerArn": "arn", "Protocol": "HTTPS", "Port": 443,
                                 "DefaultActions": []}, "exactly one default certificate"),
    # settings that only work together
    ("ecs", "RegisterTaskDefinition", {**_task(container={"logConfiguration": {"logDriver": "awslogs"}}),
                                       "executionRoleArn": ""}, "need an executionRoleArn"),
    ("ssm", "PutParameter", {"Name": "/launchdeck/x", "Value": "v", "Type": "SecureString", "Overwrite": True,
                             "Tags": [{"Key": "k", "Value": "v"}]}, "Tags and Overwrite"),
    ("codebuild", "StartBuild", {"projectName": "p", "environmentTypeOverride": "ARM_CONTAINER",
                                 "imageOverride": "aws/codebuild/standard:7.0"}, "cannot run image"),
    ("codebuild", "StartBuild", {"projectName": "p", "environmentTypeOverride": "ARM_CONTAINER",
                                 "imageOverride": "aws/codebuild/amazonlinux2-aarch64-standard:3.0",
                                 "computeTypeOverride": "BUILD_GENERAL1_MEDIUM"}, "supports only"),
    # stores
    ("rds", "CreateDBInstance", {**_DB, "MasterUsername": "admin", "MasterUserPassword": "Passw0rd-long"},
     "reserved word used by the engine"),
    ("rds", "CreateDBInstance", {**_DB, "MasterUsername": "app", "MasterUserPassword": "pass@word-long"},
     "MasterUserPassword must be"),
    ("rds", "CreateDBInstance", {**_DB, "MasterUsername": "app", "DBName": "my-db"}, "DBName 'my-db'"),
    ("rds", "CreateDBInstance", {**_DB, "MasterUsername": "app", "EngineVersion": "15.4.1"},
     "no PostgreSQL 15.4.1"),
    ("rds", "ModifyDBInstance", {"DBInstanceIdentifier": "db", "MasterUserPassword": "short"},
     "MasterUserPassword must be"),
    ("elasticache", "CreateReplicationGroup", {"ReplicationGroupId": "c", "ReplicationGroupDescription": "d",
                                               "Engine": "redis", "EngineVersion": "7.2"}, "no redis 7.2"),
    # tags
    ("ecs", "RegisterTaskDefinition", _task(tags=[{"key": f"k{i}", "value": "v"} for i in range(51)]),
     "51 tags, over the 50"),
    ("ssm", "PutParameter", {"Name": "/launchdeck/x", "Value": "v", "Type": "String",
                             "Tags": [{"Key": "aws:owner", "Value": "v"}]}, "breaks the tag limits"),
])
def test_a_request_outside_the_documented_rules_is_stopped(hooked, service, operation, params,
                                                           fragment) -> None:
    """Each rule class (names, sizes, pairs of settings, stores, tags) stops its bad request."""
    session, strict = hooked
    with pytest.raises(T.StrictViolation, match=fragment.replace("(", "\\(").replace(".", "\\.")):
        _call(session, service, operation, params)
    assert len(strict.violations) >= 1 and fragment in strict.violations[0]


def test_a_password_in_a_refused_request_is_never_quoted(hooked) -> None:
    session, strict = hooked
    with pytest.raises(T.StrictViolation):
        _call(session, "rds", "ModifyDBInstance", {"DBInstanceIdentifier": "db",
                                                   "MasterUserPassword": "p@ss"})
    assert "p@ss" not in " ".join(strict.violations)


def test_a_codebuild_source_that_is_not_a_zip_is_stopped(hooked) -> None:
    """CodeBuild reads an S3 source only as a ZIP file."""
    session, strict = hooked
    s3 = T.session().client("s3")
    s3.create_bucket(Bucket="ctx")
    s3.put_object(Bucket="ctx", Key="contexts/x.tgz", Body=b"\x1f\x8b\x08\x00 not a zip")
    build = {"projectName": "launchdeck-build", "sourceTypeOverride": "S3"}
    with pytest.raises(T.StrictViolation, match="is not a ZIP file"):
        _call(session, "codebuild", "StartBuild", {**build, "sourceLocationOverride": "ctx/contexts/x.tgz"})
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("Dockerfile", "FROM scratch\n")
    s3.put_object(Bucket="ctx", Key="contexts/x.zip", Body=archive.getvalue())
    with pytest.raises(ClientError, match="Project cannot be found"):  # past the rule, to moto
        _call(session, "codebuild", "StartBuild", {**build, "sourceLocationOverride": "ctx/contexts/x.zip"})
    assert len(strict.violations) == 1


def test_an_arm64_task_running_an_image_built_on_x86_is_stopped(hooked) -> None:
    session, _ = hooked
    uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/launchdeck/shop/dev/web:abc"
    with pytest.raises(ClientError):  # moto has no such project; the build is remembered all the same
        image = [{"name": "IMAGE_URI", "value": uri, "type": "PLAINTEXT"}]
        _call(session, "codebuild", "StartBuild", {"projectName": "launchdeck-build",
                                                   "environmentVariablesOverride": image})
    with pytest.raises(T.StrictViolation, match="built in LINUX_CONTAINER, but the task runs on ARM64"):
        _call(session, "ecs", "RegisterTaskDefinition",
              _task(container={"image": uri}, runtimePlatform={"cpuArchitecture": "ARM64",
                                                               "operatingSystemFamily": "LINUX"}))


def test_one_idempotency_token_for_two_domains_is_stopped(hooked) -> None:
    """ACM would answer the second request with the first domain's certificate."""
    session, _ = hooked
    _call(session, "acm", "RequestCertificate", {"DomainName": "a.example.com", "IdempotencyToken": "t1"})
    with pytest.raises(T.StrictViolation, match="was used for a.example.com already"):
        _call(session, "acm", "RequestCertificate", {"DomainName": "b.example.com", "IdempotencyToken": "t1"})


def test_a_cluster_in_an_account_without_the_ecs_service_linked_role_is_stopped(hooked) -> None:
    session, _ = hooked
    with pytest.raises(T.StrictViolation, match="no ECS service-linked role"):
        _call(session, "ecs", "CreateCluster", {"clusterName": "launchdeck"})
    T.ecs_cluster(T.session(), "other")  # the account's service-linked role, usable
    _call(session, "ecs", "CreateCluster", {"clusterName": "launchdeck"})


def _default_subnets(count: int) -> list[str]:
    ec2 = T.session().client("ec2")
    found = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    subnets = sorted(found, key=lambda s: s["AvailabilityZone"])
    return [s["SubnetId"] for s in subnets[:count]]


@pytest.mark.parametrize(("service", "operation", "params"), [
    ("rds", "CreateDBSubnetGroup", {"DBSubnetGroupName": "g", "DBSubnetGroupDescription": "d"}),
    ("elbv2", "CreateLoadBalancer", {"Name": "lb"}),
])
def test_a_subnet_set_in_one_zone_is_stopped_where_two_are_needed(hooked, service, operation, params) -> None:
    session, _ = hooked
    key = "SubnetIds" if service == "rds" else "Subnets"
    with pytest.raises(T.StrictViolation, match="2 Availability Zones|two Availability Zones"):
        _call(session, service, operation, {**params, key: _default_subnets(1)})
    _call(session, service, operation, {**params, key: _default_subnets(2)})


def test_inline_policies_over_the_role_limit_are_stopped(hooked) -> None:
    """IAM counts every inline policy of a role against 10,240 characters."""
    session, _ = hooked
    iam = session.client("iam")
    trust = json.dumps({"Version": "2012-10-17", "Statement": []})
    iam.create_role(RoleName="r", AssumeRolePolicyDocument=trust)
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::" + "b" * 6000}
    document = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    iam.put_role_policy(RoleName="r", PolicyName="one", PolicyDocument=document)
    with pytest.raises(T.StrictViolation, match="over 10,240"):
        iam.put_role_policy(RoleName="r", PolicyName="two", PolicyDocument=document)


# -- refusals that depend on the account's state -----------------------------------------


def _service_in(session, group: str | None = None, namespace: str | None = None) -> str:
    """An ECS service in security group ``group`` / using Service Connect in ``namespace``."""
    T.ecs_cluster(session)
    ecs = session.client("ecs")
    task = ecs.register_task_definition(**_task(container={"portMappings": [{"containerPort": 80,
                                                                             "name": "p80"}]}))
    extra: dict = {}
    if group:
        extra["networkConfiguration"] = {"awsvpcConfiguration": {"subnets": _default_subnets(1),
                                                                 "securityGroups": [group]}}
    if namespace:
        extra["serviceConnectConfiguration"] = {"enabled": True, "namespace": namespace}
    ecs.create_service(cluster="launchdeck", serviceName="api", desiredCount=1, launchType="FARGATE",
                       taskDefinition=task["taskDefinition"]["taskDefinitionArn"], **extra)
    return "api"


def test_a_security_group_in_use_by_a_draining_service_answers_dependency_violation(hooked) -> None:
    """As on AWS, the group goes once the service is INACTIVE, not when it was deleted."""
    session, strict = hooked
    ec2 = session.client("ec2")
    group = ec2.create_security_group(GroupName="g", Description="d")["GroupId"]
    name = _service_in(session, group=group)
    session.client("ecs").delete_service(cluster="launchdeck", service=name, force=True)
    with pytest.raises(ClientError, match="DependencyViolation"):
        ec2.delete_security_group(GroupId=group)
    session.client("ecs").get_waiter("services_inactive").wait(cluster="launchdeck", services=[name],
                                                              WaiterConfig={"Delay": 0.05})
    ec2.delete_security_group(GroupId=group)
    assert strict.violations == []  # a refusal of the moment is AWS's answer, not a bug


def test_a_namespace_service_connect_still_uses_answers_resource_in_use(hooked) -> None:
    session, _ = hooked
    cloudmap = session.client("servicediscovery")
    cloudmap.create_http_namespace(Name="launchdeck-shop-dev")
    namespace = cloudmap.list_namespaces()["Namespaces"][0]
    _service_in(session, namespace=namespace["Arn"])
    with pytest.raises(ClientError, match="ResourceInUse"):
        cloudmap.delete_namespace(Id=namespace["Id"])


def test_a_cache_subnet_group_with_a_deleting_cache_answers_in_use(hooked) -> None:
    session, _ = hooked
    cache = session.client("elasticache")
    cache.create_cache_subnet_group(CacheSubnetGroupName="g", CacheSubnetGroupDescription="d",
                                    SubnetIds=_default_subnets(2))
    cache.create_replication_group(ReplicationGroupId="c", ReplicationGroupDescription="d", Engine="redis",
                                   EngineVersion="7.1", NumCacheClusters=1, CacheSubnetGroupName="g")
    cache.delete_replication_group(ReplicationGroupId="c")
    with pytest.raises(ClientError, match="CacheSubnetGroupInUse"):
        cache.delete_cache_subnet_group(CacheSubnetGroupName="g")
