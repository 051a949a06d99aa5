"""Whether an image an earlier deployment ran is still in the account's ECR, for a rollback
(each repository's lifecycle rule expires old images)."""

from __future__ import annotations

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
