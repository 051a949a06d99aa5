"""What every project in a region shares, made once: the bucket, the cluster, the builder.

The S3 bucket (private, encrypted) holds build contexts, deployment records and locks; the ECS
cluster runs every project's services; the CodeBuild project and its role build images.
None of these carries a project's tags, so destroying a project leaves them for the next.
A fresh account also lacks the ECS service-linked role that creating a cluster needs ("Unable
to assume the service linked role"), so it is made first.

IAM is eventually consistent: a role made a moment ago is refused by the services that
assume it for a few seconds. ``first_use`` retries the first call that names a new role on
exactly those refusals.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from launchdeck.providers.aws import names, wait
from launchdeck.providers.aws.api import Aws, AwsError, parallel
from launchdeck.providers.aws.build import BUILDSPEC, codebuild_role_policy

T = TypeVar("T")

ROLE_PROPAGATION = 60.0
"""Seconds IAM may take before a new role can be assumed (AWS says "a few seconds")."""
SERVICE_LINKED_ROLE_WAIT = 120.0
"""Seconds ECS may take before it can assume the service-linked role it was just given."""
CONSISTENCY_INTERVAL = 1.0
"""The first wait before calling again what AWS refused because it is not consistent yet."""
CONSISTENCY_STEPS = 2.0
"""The longest wait between two such tries, in multiples of the first: IAM makes a role usable
within seconds, and each try costs one cheap call, while a longer wait delays all that stands
on it (a build, a cluster, a service's first task definition), as EC2's (network.VISIBLE_STEPS)."""
_NOT_YET_ASSUMABLE = re.compile(r"assume|not authorized to perform: sts|role\b.*\b(not valid|invalid)|"
                                r"trust", re.IGNORECASE)
_PROPAGATION_CODES = ("InvalidParameterException", "InvalidInputException", "ClientException",
                      "AccessDeniedException", "InvalidParameterValueException")
ECS_SERVICE_ROLE_PATH = "/aws-service-role/ecs.amazonaws.com/"

BUILD_LOGS = "/launchdeck/builds"
CONTEXT_DAYS = 7
"""Days an uploaded build context is kept in the region's bucket."""
SHARED = [{"Key": "launchdeck:shared", "Value": "true"}]


@dataclass(frozen=True)
class Region:
    name: str
    account: str
    bucket: str


async def ensure(aws: Aws, account_id: str, *, builds: bool, interval: float = CONSISTENCY_INTERVAL,
                 say: wait.Say = wait._quiet) -> None:
    """The region's shared resources, made where missing (the builder only if ``builds``)."""
    await parallel(lambda: ensure_builder(aws, account_id, builds=builds, interval=interval),
                   lambda: cluster(aws, interval, say))


async def ensure_builder(aws: Aws, account_id: str, *, builds: bool,
                         interval: float = CONSISTENCY_INTERVAL) -> None:
    """The region's bucket, and its builder (the CodeBuild project, its role and log group) if
    ``builds``: what a build stands on, which the cluster is not part of."""
    region = Region(aws.region, account_id, names.bucket(account_id, aws.region))
    steps = [lambda: _bucket(aws, region)]
    if builds:
        steps += [lambda: _builder(aws, region, interval),
                  lambda: log_group(aws, BUILD_LOGS, SHARED, 30)]
    await parallel(*steps)


async def bucket(aws: Aws, account_id: str, then: Callable[[], Awaitable[T]]) -> T:
    """Make the region's bucket, which the engine's first record or lock has just met missing
    (so it is created without asking first), and ``then`` (that write) beside its settings: the
    write needs the bucket, not them (it asks for its own encryption, and a new bucket blocks
    public access already: "S3 Block Public Access [is] enabled" for "all new buckets", S3 User
    Guide, Blocking public access)."""
    region = Region(aws.region, account_id, names.bucket(account_id, aws.region))
    await _create_bucket(aws, region)
    return (await parallel(lambda: _bucket_settings(aws, region), then))[1]


async def _bucket(aws: Aws, region: Region) -> None:
    if await aws.maybe("s3", "head_bucket", ("404", "NoSuchBucket", "NotFound"), Bucket=region.bucket):
        return
    await _create_bucket(aws, region)
    await _bucket_settings(aws, region)


async def _create_bucket(aws: Aws, region: Region) -> None:
    extra = {} if region.name == "us-east-1" else \
        {"CreateBucketConfiguration": {"LocationConstraint": region.name}}
    try:
        await aws("s3", "create_bucket", Bucket=region.bucket, **extra)
    except AwsError as exc:
        if exc.code != "BucketAlreadyOwnedByYou":  # another deploy made it meanwhile
            raise


async def _bucket_settings(aws: Aws, region: Region) -> None:
    await parallel(
        lambda: aws("s3", "put_public_access_block", Bucket=region.bucket,
                    PublicAccessBlockConfiguration={
                        "BlockPublicAcls": True, "IgnorePublicAcls": True,
                        "BlockPublicPolicy": True, "RestrictPublicBuckets": True}),
        lambda: aws("s3", "put_bucket_encryption", Bucket=region.bucket,
                    ServerSideEncryptionConfiguration={"Rules": [
                        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}),
        lambda: aws("s3", "put_bucket_tagging", Bucket=region.bucket,
                    Tagging={"TagSet": SHARED}),
        # an uploaded context is needed only while its build runs
        lambda: aws("s3", "put_bucket_lifecycle_configuration", Bucket=region.bucket,
                    LifecycleConfiguration={"Rules": [{
                        "ID": "build-contexts", "Status": "Enabled", "Filter": {"Prefix": "contexts/"},
                        "Expiration": {"Days": CONTEXT_DAYS}}]}))


async def cluster(aws: Aws, interval: float = CONSISTENCY_INTERVAL, say: wait.Say = wait._quiet) -> None:
    """The region's ECS cluster, made (with the account's ECS service-linked role) if missing."""
    found = await aws("ecs", "describe_clusters", clusters=[names.CLUSTER])
    if any(c["status"] == "ACTIVE" for c in found.get("clusters", [])):
        return  # a cluster could only be made with the service-linked role there
    await ecs_service_role(aws)
    # ECS assumes the role the moment it exists, before IAM has made it usable: the first
    # CreateCluster of an account is refused ("Unable to assume the service linked role")
    await wait.retry(lambda: aws("ecs", "create_cluster", clusterName=names.CLUSTER,
                                 settings=[{"name": "containerInsights", "value": "disabled"}],
                                 tags=names.tag_list({"launchdeck:shared": "true"}, "key", "value")),
                     _linked_role_not_ready, what="the ECS cluster", interval=interval,
                     timeout=SERVICE_LINKED_ROLE_WAIT, say=say, max_interval=interval * CONSISTENCY_STEPS,
                     why="waiting for AWS to finish creating the ECS service-linked role")


def _linked_role_not_ready(exc: AwsError) -> bool:
    return exc.code == "InvalidParameterException" and "service linked role" in exc.message


def codebuild_role(region: str) -> str:
    """The region's CodeBuild role, which every stack's builds run as."""
    return f"launchdeck-codebuild-{region}"


async def _builder(aws: Aws, region: Region, interval: float) -> None:
    role = await ensure_role(aws, codebuild_role(region.name), "codebuild.amazonaws.com",
                             {"build": codebuild_role_policy(region.bucket, region.name, region.account)},
                             SHARED, keep=lambda policy: policy.startswith(names.HUB_POLICIES))
    found = await aws("codebuild", "batch_get_projects", names=[names.CODEBUILD])
    if found.get("projects"):
        return
    try:
        await first_use(lambda: aws(
            "codebuild", "create_project", name=names.CODEBUILD,
            # every build names its own context; this one is never used
            source={"type": "S3", "location": f"{region.bucket}/contexts/", "buildspec": BUILDSPEC},
            artifacts={"type": "NO_ARTIFACTS"},
            environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                         "computeType": "BUILD_GENERAL1_SMALL", "privilegedMode": True},
            serviceRole=role,
            logsConfig={"cloudWatchLogs": {"status": "ENABLED", "groupName": BUILD_LOGS}},
            tags=[{"key": "launchdeck:shared", "value": "true"}]), what="the new CodeBuild role",
            interval=interval)
    except AwsError as exc:
        if exc.code != "ResourceAlreadyExistsException":  # another deploy made it meanwhile
            raise


async def ecs_service_role(aws: Aws) -> None:
    """The account's ECS service-linked role, which a fresh account does not have yet."""
    found = await aws.pages("iam", "list_roles", "Roles", PathPrefix=ECS_SERVICE_ROLE_PATH)
    if found:
        return
    try:
        await aws("iam", "create_service_linked_role", AWSServiceName="ecs.amazonaws.com")
    except AwsError as exc:
        # made meanwhile: "Service role name AWSServiceRoleForECS has been taken in this account"
        if not (exc.code == "EntityAlreadyExists" or
                (exc.code == "InvalidInput" and "has been taken" in exc.message)):
            raise


async def first_use(step: Callable[[], Awaitable[T]], *, what: str, interval: float = 2.0,
                    timeout: float = ROLE_PROPAGATION) -> T:
    """Run ``step``, the first call to name a role made moments ago, again while AWS refuses it
    for the reasons IAM propagation gives ("... is not authorized to perform: sts:AssumeRole",
    "Unable to assume role", "Role is not valid"); any other refusal is raised at once."""
    return await wait.retry(step, _not_yet_assumable, what=what, interval=interval, timeout=timeout,
                            why="IAM has not propagated it yet", max_interval=interval * CONSISTENCY_STEPS)


def _not_yet_assumable(exc: AwsError) -> bool:
    return exc.code in _PROPAGATION_CODES and _NOT_YET_ASSUMABLE.search(exc.message) is not None


async def ensure_role(aws: Aws, name: str, principal: str, policies: dict[str, dict],
                      tags: list[dict[str, str]], *,
                      keep: Callable[[str], bool] = lambda policy: False,
                      owner: tuple[str, str] | None = None) -> str:
    """An IAM role trusted by ``principal`` with exactly these inline policies, but for those
    ``keep`` says others look after; its ARN. A role of a stack (``owner``: project and stack)
    found by its name is taken only if it carries that stack's tags."""
    found = await aws.maybe("iam", "get_role", ("NoSuchEntity",), RoleName=name)
    if found and owner is not None:
        names.refuse_foreign("IAM role", name, names.tag_dict(found["Role"].get("Tags")), *owner)
    if found:
        arn = found["Role"]["Arn"]
        have_policies = set(await aws.pages("iam", "list_role_policies", "PolicyNames", RoleName=name))
    else:
        trust = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": principal}, "Action": "sts:AssumeRole"}]}
        arn = (await aws("iam", "create_role", RoleName=name, AssumeRolePolicyDocument=json.dumps(trust),
                         Tags=tags, Description="Made by launchdeck"))["Role"]["Arn"]
        have_policies = set()

    async def inline(policy: str, document: dict) -> None:
        if policy in have_policies:
            current = (await aws("iam", "get_role_policy", RoleName=name, PolicyName=policy))
            document_now = current["PolicyDocument"]
            if isinstance(document_now, str):
                document_now = json.loads(document_now)
            if document_now == document:
                return
        await aws("iam", "put_role_policy", RoleName=name, PolicyName=policy,
                  PolicyDocument=json.dumps(document))

    steps = [lambda p=p, d=d: inline(p, d) for p, d in sorted(policies.items())]
    steps += [lambda p=p: aws("iam", "delete_role_policy", RoleName=name, PolicyName=p)
              for p in sorted(have_policies - set(policies)) if not keep(p)]
    await parallel(*steps)
    return arn


async def role_policy(aws: Aws, role: str, policy: str, document: dict | None) -> bool:
    """Give ``role`` the inline ``policy`` as ``document``, or none (``None``); unchanged, nothing
    is called but the read. Whether ``document`` was put just now."""
    found = await aws.maybe("iam", "get_role_policy", ("NoSuchEntity",), RoleName=role, PolicyName=policy)
    if found is None and document is None:
        return False
    if document is None:
        await aws.maybe("iam", "delete_role_policy", ("NoSuchEntity",), RoleName=role, PolicyName=policy)
        return False
    have = found["PolicyDocument"] if found else None
    if isinstance(have, str):
        have = json.loads(have)
    if have == document:
        return False
    await aws("iam", "put_role_policy", RoleName=role, PolicyName=policy,
              PolicyDocument=json.dumps(document))
    return True


async def log_group(aws: Aws, name: str, tags: list[dict[str, str]], days: int) -> None:
    found = await aws("logs", "describe_log_groups", logGroupNamePrefix=name)
    if any(g["logGroupName"] == name for g in found.get("logGroups", [])):
        return
    try:
        await aws("logs", "create_log_group", logGroupName=name,
                  tags={t["Key"]: t["Value"] for t in tags})
    except AwsError as exc:
        if exc.code != "ResourceAlreadyExistsException":
            raise
    await aws("logs", "put_retention_policy", logGroupName=name, retentionInDays=days)
