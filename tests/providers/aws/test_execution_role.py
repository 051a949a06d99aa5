"""The execution role a task starts with: what ECS does with it before the container runs
(pull the image, create the log stream, read the secrets), checked in the moto harness as
ECS checks it, and launchdeck's roles passing it."""

from __future__ import annotations

import json
import time

import anyio
import pytest

from launchdeck.engine.deploy import deploy
from launchdeck.engine.events import Recorder
from launchdeck.engine.seams import DeployOptions
from launchdeck.providers.aws import names
from launchdeck.tools.project import ProjectRef
from testkit import aws as T

ACCOUNT = "123456789012"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
ECR = ["ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
LOGS = ["logs:CreateLogStream", "logs:PutLogEvents"]


def _role(iam, name: str, actions: list[str]) -> str:
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="start", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}))
    return arn


def _start(session, role: str) -> dict:
    """A Fargate service of a private ECR image, an awslogs stream and an SSM secret, started
    with ``role``; its described state once the deployment has ended."""
    T.ecs_cluster(session, "c")
    ssm, ecs = session.client("ssm"), session.client("ecs")
    ssm.put_parameter(Name="/app/TOKEN", Value="s3cret-value", Type="SecureString")
    image = f"{ACCOUNT}.dkr.ecr.{T.REGION}.amazonaws.com/app:1"
    arn = _registered(lambda: ecs.register_task_definition(
        family="app", requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu="256",
        memory="512", executionRoleArn=role,
        containerDefinitions=[{
            "name": "app", "image": image, "essential": True,
            "secrets": [{"name": "TOKEN",
                         "valueFrom": f"arn:aws:ssm:{T.REGION}:{ACCOUNT}:parameter/app/TOKEN"}],
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": "/app", "awslogs-region": T.REGION, "awslogs-stream-prefix": "app"}}}],
    ))["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster="c", serviceName="app", taskDefinition=arn, desiredCount=1,
                       launchType="FARGATE")
    for _ in range(400):
        found = ecs.describe_services(cluster="c", services=["app"])["services"][0]
        if found["deployments"][0]["rolloutState"] != "IN_PROGRESS":
            return found
        time.sleep(0.01)
    pytest.fail("the deployment never ended")


def _registered(register):
    """Register once ECS can assume the new role (its propagation is not what is tested)."""
    from botocore.exceptions import ClientError

    for _ in range(400):
        try:
            return register()
        except ClientError as exc:
            if "unable to assume the role" not in str(exc):
                raise
            time.sleep(0.01)
    pytest.fail("the role never became assumable")


@pytest.mark.parametrize(("allowed", "said"), [
    (ECR + LOGS, "unable to retrieve secrets from ssm: service call has been retried 1 time(s): "
                 "AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/exec/"),
    (LOGS + ["ssm:GetParameters"], "unable to retrieve ecr registry auth"),
    (ECR + ["ssm:GetParameters"], "failed to create Cloudwatch log stream"),
])
def test_a_task_whose_execution_role_lacks_a_right_does_not_start(aws_env, allowed, said) -> None:
    """ECS stops the task with ResourceInitializationError naming the call refused; the
    circuit breaker fails the deployment."""
    session = T.session()
    found = _start(session, _role(session.client("iam"), "exec", allowed))
    assert found["deployments"][0]["rolloutState"] == "FAILED"
    message = " | ".join(e["message"] for e in found["events"])
    assert "ResourceInitializationError" in message and said in message, message


def test_a_task_whose_execution_role_allows_what_ecs_does_starts(aws_env) -> None:
    session = T.session()
    found = _start(session, _role(session.client("iam"), "exec", [*ECR, *LOGS, "ssm:GetParameters"]))
    assert found["deployments"][0]["rolloutState"] == "COMPLETED"


def test_launchdecks_execution_role_starts_a_built_image_with_secrets(provider, project, boto) -> None:
    """A service built into ECR, logging to CloudWatch and reading a config value as an SSM
    secret starts with the role launchdeck makes."""
    compose = ("name: roles\nservices:\n  api:\n    build: .\n    expose: ['80']\n"
               "    environment:\n      TOKEN:\n")
    ref = ProjectRef(working_directory=str(project({"compose.yaml": compose, "Dockerfile": "FROM nginx\n"})),
                     provider="aws")
    anyio.run(lambda: provider.config_store("roles", "dev").set("TOKEN", "tok-3f9a8b7c"))
    result = anyio.run(lambda: deploy(ref.load(), provider, stack="dev", sink=Recorder(),
                                      options=DeployOptions()))
    assert result.ok, [s.message for s in result.services]
    definition = boto.client("ecs").describe_task_definition(
        taskDefinition=names.Names("roles", "dev").service("api"))["taskDefinition"]
    container = definition["containerDefinitions"][0]
    assert ".dkr.ecr." in container["image"] and container["secrets"]
    assert container["logConfiguration"]["logDriver"] == "awslogs"
