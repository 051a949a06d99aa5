"""An image by the digest it ran, for the history (ECS resolves a tag to a digest as a
deployment starts), and whether an image an earlier deployment ran is still in the account's
ECR, for a rollback (each repository's lifecycle rule expires old images)."""

from __future__ import annotations

from launchdeck.engine.history import by_digest
from launchdeck.providers.aws import names
from launchdeck.providers.aws.api import Aws

MISSING = ("ImageNotFoundException", "RepositoryNotFoundException")
"""What DescribeImages answers for an image, or a repository, that is not there
(https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeImages.html#API_DescribeImages_Errors)."""


async def kept(aws: Aws, account: str, image: str) -> bool:
    """Whether ``image`` (``<account>.dkr.ecr.<region>.amazonaws.com/<repository>`` with
    ``:<tag>`` or ``@sha256:…``) is still in this account's registry of this region. An image
    of another registry (a public one) is not ECR's to expire: it counts as kept."""
    host = f"{account}.dkr.ecr.{aws.region}.amazonaws.com/"
    if not image.startswith(host):
        return True
    rest = image[len(host):]
    if "@" in rest:
        repository, digest = rest.split("@", 1)
        wanted = {"imageDigest": digest}
    else:
        repository, _, tag = rest.partition(":")
        wanted = {"imageTag": tag or "latest"}
    found = await aws.maybe("ecr", "describe_images", MISSING, registryId=account,
                            repositoryName=repository, imageIds=[wanted])
    return bool(found and found.get("imageDetails"))


async def pinned(aws: Aws, account: str, service: str, task_definition: str | None,
                 container: str, image: str) -> str | None:
    """``image`` by the digest ECS runs: the ``imageDigest`` of ``container`` in a running task
    of ``service`` started from ``task_definition`` ("The container image manifest digest",
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Container.html), which ECS
    resolved from the tag as the deployment started; else, for an image in this account's ECR,
    the digest its tag names (DescribeImages' imageDigest). None when neither is known (a
    public image whose tasks do not run)."""
    if "@sha256:" in image:
        return image
    listed = await aws.maybe("ecs", "list_tasks", ("ClusterNotFoundException",
                                                   "ServiceNotFoundException"),
                             cluster=names.CLUSTER, serviceName=service, desiredStatus="RUNNING")
    arns = (listed or {}).get("taskArns", [])[:100]
    if arns:
        described = await aws("ecs", "describe_tasks", cluster=names.CLUSTER, tasks=arns)
        for task in described.get("tasks", []):
            if task_definition and task.get("taskDefinitionArn") != task_definition:
                continue
            for found in task.get("containers", []):
                digest = found.get("imageDigest")
                if found.get("name") == container and digest:
                    return by_digest(image, digest)
    host = f"{account}.dkr.ecr.{aws.region}.amazonaws.com/"
    if not image.startswith(host):
        return None
    repository, _, tag = image[len(host):].partition(":")
    found = await aws.maybe("ecr", "describe_images", MISSING, registryId=account,
                            repositoryName=repository, imageIds=[{"imageTag": tag or "latest"}])
    details = (found or {}).get("imageDetails", [])
    return by_digest(image, details[0]["imageDigest"]) if details else None
