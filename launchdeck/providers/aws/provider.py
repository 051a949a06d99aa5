"""The AWS provider: a compose project as ECS Fargate services in the user's own account.

A deploy reconciles through the AWS APIs directly (session.py): it reads what exists (by
tags and by the names it gives), changes only what differs from the digest kept in each
resource's ``launchdeck:hash`` tag, and does independent work at the same time. This module
holds the rest: credentials and account, the config store (SSM), deployment records (S3),
the lock (SSM), ps, logs (CloudWatch) and destroy.
"""

from __future__ import annotations

import collections
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import anyio

from launchdeck.compose.model import Project
from launchdeck.engine.events import Sink
from launchdeck.engine.status import DeployRecord, LogLine, Target
from launchdeck.providers.aws import CAPABILITIES, lock, names
from launchdeck.providers.aws.api import Aws, parallel
from launchdeck.providers.aws.config import SsmConfigStore
from launchdeck.providers.aws.session import AwsSession
from launchdeck.providers.base import DeployOptions, LogQuery, Teardown

_MAX_LOG_LINES = 10_000


class AwsProvider:
    """Deploys to the account and region of the standard AWS credential chain."""

    name = "aws"
    capabilities = CAPABILITIES
    log_interval = 2.0

    def __init__(self, aws: Aws | None = None, *, poll: float = 5.0, region: str | None = None,
                 profile: str | None = None) -> None:
        self._aws = aws
        self.poll = poll
        """Seconds between reads while waiting for builds, rollouts and stores."""
        self._region, self._profile = region, profile
        self._account: str | None = None
        self._caller: str | None = None

    @property
    def aws(self) -> Aws:
        if self._aws is None:
            self._aws = Aws(profile=self._profile, region=self._region)
        return self._aws

    async def identity(self) -> Target:
        """The account, caller, region and where the credentials came from (STS says who)."""
        account = await self.account()
        return Target(provider=self.name, account=account, region=self.aws.region,
                      principal=self._caller, credentials=self.aws.credential_source())

    def check(self, loaded: Any, stack: str, config: Mapping[str, str]) -> list[Any]:
        """Names AWS refuses, and store users, databases, passwords and versions it refuses."""
        from launchdeck.providers.aws import preflight

        return preflight.findings(loaded.project, stack, config, loaded.where)

    def config_store(self, project: str, stack: str) -> SsmConfigStore:
        return SsmConfigStore(self.aws, project, stack)

    def records(self, project: str, stack: str) -> S3Records:
        return S3Records(self, project, stack)

    async def account(self) -> str:
        self.aws.check()
        if self._account is None:
            caller = await self.aws("sts", "get_caller_identity")
            self._account, self._caller = caller["Account"], caller.get("Arn")
        return self._account

    async def bucket(self) -> str:
        return names.bucket(await self.account(), self.aws.region)

    @asynccontextmanager
    async def lock(self, project: str, stack: str, operation: str,
                   deployment_id: str) -> AsyncIterator[None]:
        await self.account()
        async with lock.held(self.aws, project, stack, deployment_id, operation):
            yield

    async def session(self, project: Project, stack: str, config: Mapping[str, str],
                      deployment_id: str, options: DeployOptions, sink: Sink) -> AwsSession:
        return AwsSession(self.aws, await self.account(), project, stack, config, deployment_id,
                          options, sink, self.poll)

    # -- logs -----------------------------------------------------------------------------

    async def read_logs(self, project: str, stack: str, query: LogQuery) -> list[LogLine]:
        await self.account()
        group = names.log_group(project, stack)
        prefixes = [f"{s}/{query.deployment}/" if query.deployment else f"{s}/"
                    for s in query.services] or [None]
        params: dict[str, Any] = {"logGroupName": group}
        if query.since:
            params["startTime"] = int(query.since.timestamp() * 1000)
        if query.until:
            params["endTime"] = int(query.until.timestamp() * 1000)

        async def read(prefix: str | None) -> list[LogLine]:
            kept: collections.deque[LogLine] = collections.deque(maxlen=query.tail or _MAX_LOG_LINES)
            extra = {"logStreamNamePrefix": prefix} if prefix else {}
            pages = self.aws.paginate("logs", "filter_log_events", ("ResourceNotFoundException",),
                                      **params, **extra)
            async for page in pages:
                for event in page.get("events", []):
                    if prefix and not event["logStreamName"].startswith(prefix):
                        continue  # the prefix filter is the API's promise; keep it here too
                    service, _, rest = event["logStreamName"].partition("/")
                    if query.deployment and not rest.startswith(query.deployment + "/"):
                        continue
                    kept.append(LogLine(at=datetime.fromtimestamp(event["timestamp"] / 1000, UTC),
                                        service=service, text=event["message"].rstrip("\n")))
            return list(kept)

        found = await parallel(*[lambda p=p: read(p) for p in prefixes])
        return [line for lines in found for line in lines]

    # -- destroy --------------------------------------------------------------------------

    async def destroy(self, project: str, stack: str, *, volumes: bool, sink: Sink) -> Teardown:
        from launchdeck.providers.aws.teardown import teardown

        await self.account()
        return await teardown(self.aws, project, stack, sink, self.poll)


class S3Records:
    """The last deployment of a (project, stack), as an object in the region's bucket."""

    def __init__(self, provider: AwsProvider, project: str, stack: str) -> None:
        self.provider, self.key = provider, names.record_key(project, stack)

    async def read(self) -> DeployRecord | None:
        aws = self.provider.aws
        found = await aws.maybe("s3", "get_object", ("NoSuchKey", "NoSuchBucket", "404"),
                                Bucket=await self.provider.bucket(), Key=self.key)
        if found is None:
            return None
        return DeployRecord.parse(await anyio.to_thread.run_sync(found["Body"].read))

    async def write(self, record: DeployRecord) -> None:
        await self.provider.aws("s3", "put_object", Bucket=await self.provider.bucket(), Key=self.key,
                                Body=record.model_dump_json().encode(), ServerSideEncryption="AES256",
                                ContentType="application/json")

    async def delete(self) -> None:
        await self.provider.aws.maybe("s3", "delete_object", ("NoSuchBucket", "404"),
                                      Bucket=await self.provider.bucket(), Key=self.key)

