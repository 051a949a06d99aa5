"""The AWS provider: ECS Fargate, ALB, RDS, ElastiCache, SSM, Route 53/ACM, CloudWatch."""

from launchdeck.providers.aws.provider import AwsProvider

__all__ = ["AwsProvider"]
