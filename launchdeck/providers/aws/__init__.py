"""The AWS provider: ECS Fargate, ALB, RDS, ElastiCache, DocumentDB, SSM, Route 53/ACM, CloudWatch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from launchdeck.compose.target import Capabilities, Description

if TYPE_CHECKING:
    from launchdeck.providers.aws.provider import AwsProvider

CAPABILITIES = Capabilities(cloud=True, stores=frozenset({"postgres", "redis", "mongodb"}), llm=True,
                            domains=True, autoscaling=True)
DESCRIPTION = Description(name="aws", title="AWS", capabilities=CAPABILITIES, account="account",
                          region_variables=("AWS_REGION", "AWS_DEFAULT_REGION"),
                          default_region="us-east-1", profile_variable="AWS_PROFILE",
                          prices="aws")


def create(*, region: str | None = None, profile: str | None = None) -> AwsProvider:
    from launchdeck.providers.aws.provider import AwsProvider

    return AwsProvider(region=region, profile=profile)
