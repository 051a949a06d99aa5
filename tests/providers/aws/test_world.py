"""The moto account behaves like a new AWS account on its first day, in every AWS test."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from testkit import aws as T


def _code(call) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"]


def _passed(what: str) -> None:
    time.sleep(T.FRESH.seconds(what) + 0.02)


def test_createcluster_right_after_the_service_linked_role_is_refused_for_a_while(aws_env) -> None:
    """CreateCluster right after CreateServiceLinkedRole: "Unable to assume the service linked role"."""
    session = T.session()
    session.client("iam").create_service_linked_role(AWSServiceName="ecs.amazonaws.com")
    ecs = session.client("ecs")
    assert _code(lambda: ecs.create_cluster(clusterName="c")) == "InvalidParameterException"
    _passed("iam.service_linked_role")
    assert ecs.create_cluster(clusterName="c")["cluster"]["status"] == "ACTIVE"


def test_a_security_group_just_made_is_not_found_by_the_next_call(aws_env) -> None:
    """A rule on a group made a moment ago is refused with InvalidGroup.NotFound, then accepted."""
    ec2 = T.session().client("ec2")
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    group = ec2.create_security_group(GroupName="g", Description="g", VpcId=vpc)["GroupId"]
    rule = [{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]

    def authorize() -> None:
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=rule)

    assert _code(authorize) == "InvalidGroup.NotFound"
    _passed("ec2.visible")
    authorize()


def test_codebuild_cannot_assume_a_role_made_a_moment_ago(aws_env) -> None:
    """CreateProject naming a new role: "CodeBuild is not authorized to perform: sts:AssumeRole"."""
    session = T.session()
    role = session.client("iam").create_role(
        RoleName="r", AssumeRolePolicyDocument='{"Version": "2012-10-17", "Statement": []}')["Role"]["Arn"]
    codebuild = session.client("codebuild")

    def create() -> None:
        codebuild.create_project(name="pp", source={"type": "S3", "location": "b/k.zip"},
                                 artifacts={"type": "NO_ARTIFACTS"}, serviceRole=role,
                                 environment={"type": "LINUX_CONTAINER",
                                              "computeType": "BUILD_GENERAL1_SMALL",
                                              "image": "aws/codebuild/standard:7.0"})

    assert _code(create) == "InvalidInputException"
    _passed("iam.role")
    create()


def test_the_tagging_api_lists_what_was_just_deleted(aws_env) -> None:
    """A deleted log group is still listed by GetResources for a while, then not."""
    session = T.session()
    logs, tagging = session.client("logs"), session.client("resourcegroupstaggingapi")
    logs.create_log_group(logGroupName="/g", tags={"k": "v"})
    mine = [{"Key": "k", "Values": ["v"]}]
    assert len(tagging.get_resources(TagFilters=mine)["ResourceTagMappingList"]) == 1
    logs.delete_log_group(logGroupName="/g")
    assert len(tagging.get_resources(TagFilters=mine)["ResourceTagMappingList"]) == 1
    _passed("tagging.ghost")
    assert tagging.get_resources(TagFilters=mine)["ResourceTagMappingList"] == []


def test_a_new_database_is_creating_before_it_is_available(aws_env) -> None:
    """A new RDS instance is ``creating`` for a (scaled) while, then ``available``."""
    rds = T.session().client("rds")
    rds.create_db_instance(DBInstanceIdentifier="d", Engine="postgres", DBInstanceClass="db.t4g.micro",
                           MasterUsername="app", MasterUserPassword="password123", AllocatedStorage=20)

    def status() -> str:
        return rds.describe_db_instances(DBInstanceIdentifier="d")["DBInstances"][0]["DBInstanceStatus"]

    assert status() == "creating"
    _passed("rds.create")
    assert status() == "available"


def test_a_new_account_runs_one_codebuild_build_at_a_time(aws_env) -> None:
    """A second StartBuild while one runs: "Cannot have more than 1 builds in queue for the account"."""
    session = T.session()
    iam, codebuild = session.client("iam"), session.client("codebuild")
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    # a role that may do what the build does, so that it runs its whole time
    iam.put_role_policy(RoleName="r", PolicyName="all", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))

    def create() -> None:
        codebuild.create_project(name="pp", source={"type": "S3", "location": "b/k.zip"},
                                 artifacts={"type": "NO_ARTIFACTS"}, serviceRole=role,
                                 environment={"type": "LINUX_CONTAINER",
                                              "image": "aws/codebuild/standard:7.0",
                                              "computeType": "BUILD_GENERAL1_SMALL"})

    assert _code(create) == "InvalidInputException"  # the role is new
    _passed("iam.role")
    create()
    first = codebuild.start_build(projectName="pp")["build"]["id"]
    assert _code(lambda: codebuild.start_build(projectName="pp")) == "AccountLimitExceededException"
    assert codebuild.batch_get_builds(ids=[first])["builds"][0]["buildStatus"] == "IN_PROGRESS"


def test_the_lax_world_is_there_to_compare_with_and_differs() -> None:
    """LAX is instant and allows everything; FRESH, the default, does neither."""
    assert T.LAX.scale == 0 and not T.LAX.consistency and T.LAX.codebuild_builds == 0
    assert T.MotoServer().world == T.FRESH and T.FRESH.scale > 0 and T.FRESH.consistency


def _ecs_service(name: str, cpu: str = "1024", replicas: int = 1, image: str = "nginx") -> None:
    """A Fargate service of ``replicas`` tasks of ``cpu`` units in the cluster ``launchdeck``."""
    session = T.session()
    ecs, ec2 = session.client("ecs"), session.client("ec2")
    if not ecs.describe_clusters(clusters=["launchdeck"])["clusters"]:
        T.ecs_cluster(session)
    memory = {"1024": "2048", "2048": "4096"}[cpu]
    task = ecs.register_task_definition(family=name, requiresCompatibilities=["FARGATE"],
                                        networkMode="awsvpc", cpu=cpu, memory=memory,
                                        containerDefinitions=[{"name": "c", "image": image}])
    vpc = {"subnets": [ec2.describe_subnets()["Subnets"][0]["SubnetId"]],
           "securityGroups": [ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"]]}
    ecs.create_service(cluster="launchdeck", serviceName=name, desiredCount=replicas, launchType="FARGATE",
                       taskDefinition=task["taskDefinition"]["taskDefinitionArn"],
                       networkConfiguration={"awsvpcConfiguration": vpc})


def _look(name: str) -> tuple[dict, list[dict]]:
    """The service and its tasks that are to run, as a client following a rollout reads them."""
    ecs = T.session().client("ecs")
    service = ecs.describe_services(cluster="launchdeck", services=[name])["services"][0]
    arns = ecs.list_tasks(cluster="launchdeck", serviceName=name)["taskArns"]
    return service, ecs.describe_tasks(cluster="launchdeck", tasks=arns)["tasks"] if arns else []


def test_a_new_services_tasks_are_provisioning_then_pending_then_running(aws_env) -> None:
    """Each task is PROVISIONING, PENDING, then RUNNING (started, its image's digest known); the
    deployment completes after, with the counts DescribeServices gives on the way."""
    _ecs_service("api", replicas=2)
    seen: list[tuple] = []
    for _ in range(2000):
        service, tasks = _look("api")
        deployment = service["deployments"][0]
        now = (deployment["rolloutState"], tuple(t["lastStatus"] for t in tasks))
        if not seen or seen[-1] != now:
            seen.append(now)
        assert all(("startedAt" in t) == (t["lastStatus"] == "RUNNING") for t in tasks)
        assert all(("imageDigest" in t["containers"][0]) == (t["lastStatus"] == "RUNNING") for t in tasks)
        if deployment["rolloutState"] == "COMPLETED":
            break
        time.sleep(0.005)
    assert seen == [("IN_PROGRESS", ("PROVISIONING", "PROVISIONING")),
                    ("IN_PROGRESS", ("PENDING", "PENDING")), ("IN_PROGRESS", ("RUNNING", "RUNNING")),
                    ("COMPLETED", ("RUNNING", "RUNNING"))], seen
    assert (service["runningCount"], service["pendingCount"], deployment["runningCount"]) == (2, 0, 2)


def test_a_task_the_fargate_vcpu_quota_has_no_room_for_waits_to_be_placed(aws_env) -> None:
    """Quota 2 vCPUs, 2 held: ECS places nothing, says why among the events and keeps the deployment
    IN_PROGRESS; once the other service's tasks have stopped, it places the task."""
    aws_env.configure(fargate_vcpu=2)
    _ecs_service("holder", cpu="2048")
    _ecs_service("late")
    _passed("ecs.placement_retry")
    service, tasks = _look("late")
    assert tasks == [] and service["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    assert service["events"][0]["message"] == (
        "(service late) was unable to place a task. Reason: You've reached the limit on the number of "
        "vCPUs you can run concurrently. For more information, see the Troubleshooting section of the "
        "Amazon ECS Developer Guide.")
    assert service["deployments"][0]["pendingCount"] == 0 and service["deployments"][0]["failedTasks"] == 0
    T.session().client("ecs").delete_service(cluster="launchdeck", service="holder", force=True)
    _passed("ecs.stopping")
    _passed("ecs.placement_retry")
    assert [t["lastStatus"] for t in _look("late")[1]] == ["PROVISIONING"]  # placed now


def test_tasks_that_exit_are_stopped_with_their_reason_and_fail_the_deployment(aws_env) -> None:
    """A container that exits: each task is STOPPED with ECS's reason and code, another is started,
    and the circuit breaker fails the deployment at its threshold of 3."""
    aws_env.configure(failing={"nginx": "Essential container in task exited"})
    _ecs_service("api")
    ecs = T.session().client("ecs")
    for _ in range(2000):
        service, _ = _look("api")
        if service["deployments"][0]["rolloutState"] != "IN_PROGRESS":
            break
        time.sleep(0.005)
    assert service["deployments"][0]["rolloutState"] == "FAILED"
    assert service["deployments"][0]["failedTasks"] == 3
    stopped = ecs.list_tasks(cluster="launchdeck", serviceName="api", desiredStatus="STOPPED")["taskArns"]
    tasks = ecs.describe_tasks(cluster="launchdeck", tasks=stopped)["tasks"]
    assert len(tasks) == 3 and all(t["lastStatus"] == "STOPPED" for t in tasks)
    assert {(t["stoppedReason"], t["stopCode"], t["containers"][0]["exitCode"]) for t in tasks} == {
        ("Essential container in task exited", "EssentialContainerExited", 1)}
    assert ecs.list_tasks(cluster="launchdeck", serviceName="api")["taskArns"] == []


def test_moto_dispatches_by_a_module_list_made_once_and_every_service_still_answers(aws_env) -> None:
    """The server lists moto's package folder once, not under its dispatcher lock at every
    request (which put each burst of calls in one line): the list is moto's own, and each
    service the provider calls is still reached through it."""
    from moto import backends

    listed = tuple(backends.list_of_moto_modules())
    original = backends.list_of_moto_modules
    try:
        T._dispatch_without_a_global_wait()
        assert tuple(backends.list_of_moto_modules()) == listed
        assert backends.list_of_moto_modules() is backends.list_of_moto_modules()  # listed once
    finally:
        backends.list_of_moto_modules = original
    session = T.session()
    for service, operation, key in (
            ("ecs", "list_clusters", "clusterArns"), ("iam", "list_roles", "Roles"),
            ("ec2", "describe_vpcs", "Vpcs"), ("logs", "describe_log_groups", "logGroups"),
            ("codebuild", "list_projects", "projects"),
            ("servicediscovery", "list_namespaces", "Namespaces")):
        assert key in getattr(session.client(service), operation)(), service
