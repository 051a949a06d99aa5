"""The AWS provider: ECS Fargate, ALB, RDS, ElastiCache, SSM, Route 53/ACM, CloudWatch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from launchdeck.compose.target import Capabilities

if TYPE_CHECKING:
    from launchdeck.providers.aws.provider import AwsProvider

CAPABILITIES = Capabilities(cloud=True, stores=frozenset({"postgres", "redis"}), llm=True,
                            domains=True)


def create(*, region: str | None = None, profile: str | None = None) -> AwsProvider:
    from launchdeck.providers.aws.provider import AwsProvider

    return AwsProvider(region=region, profile=profile)
