"""The AWS provider: a compose project as ECS Fargate services in the user's own account.

A deploy reconciles through the AWS APIs directly (session.py): it reads what exists (by
tags and by the names it gives), changes only what differs from the digest kept in each
resource's ``launchdeck:hash`` tag, and does independent work at the same time. This module
holds the rest: credentials and account, the config store (SSM), the objects the engine keeps
its records and lock in (S3), ps, logs (CloudWatch) and destroy.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import anyio

from launchdeck.compose.model import Project
from launchdeck.engine.blobs import ABSENT, Generation
from launchdeck.engine.events import Sink
from launchdeck.engine.results import LogLine, Target
from launchdeck.engine.seams import DeployOptions, LogQuery, Provider, Teardown
from launchdeck.providers.aws import DESCRIPTION, inventory, names
from launchdeck.providers.aws.api import Aws, AwsError, parallel
from launchdeck.providers.aws.config import SsmConfigStore
from launchdeck.providers.aws.session import POLL, AwsSession

_MAX_LOG_LINES = 10_000


class AwsProvider(Provider):
    """Deploys to the account and region of the standard AWS credential chain."""

    description = DESCRIPTION

    def __init__(self, aws: Aws | None = None, *, poll: float = POLL, region: str | None = None,
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

    def blobs(self) -> S3Blobs:
        return S3Blobs(self)

    async def account(self) -> str:
        self.aws.check()
        if self._account is None:
            caller = await self.aws("sts", "get_caller_identity")
            self._account, self._caller = caller["Account"], caller.get("Arn")
        return self._account

    async def bucket(self) -> str:
        return names.bucket(await self.account(), self.aws.region)

    async def session(self, project: Project, stack: str, config: Mapping[str, str],
                      deployment_id: str, options: DeployOptions, sink: Sink) -> AwsSession:
        account = await self.account()  # first: it says clearly when there are no credentials
        return AwsSession(self.aws, account, project, stack, config, deployment_id, options, sink,
                          self.poll, await inventory.stack_names(self.aws, project.name, stack))

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

    async def platform_events(self, project: str, stack: str, services: Sequence[str],
                              since: datetime, until: datetime | None) -> list[LogLine]:
        """ECS's events of the stack's ``services`` in that time (logs --type deploy)."""
        from launchdeck.providers.aws.events import service_events

        await self.account()
        return await service_events(self.aws, await inventory.stack_names(self.aws, project, stack),
                                    services, since, until)

    # -- destroy --------------------------------------------------------------------------

    async def destroy(self, project: str, stack: str, *, volumes: bool, sink: Sink) -> Teardown:
        from launchdeck.providers.aws.teardown import teardown

        await self.account()
        return await teardown(self.aws, project, stack, sink, self.poll)


class S3Blobs:
    """The engine's blobs as objects in the region's bucket, made on the first write that finds
    none. An object's version is its ETag; S3 writes with ``If-None-Match: *`` or ``If-Match``
    and deletes with ``If-Match`` atomically, answering 412 (or 409 to a write that met
    another) when the condition fails: "Conditional writes", "How to perform conditional
    deletes", Amazon S3 User Guide."""

    _MISSING = ("NoSuchKey", "NoSuchBucket", "404")
    _REFUSED = ("PreconditionFailed", "ConditionalRequestConflict", "412", "409")

    def __init__(self, provider: AwsProvider) -> None:
        self.provider = provider

    async def read(self, key: str) -> tuple[bytes, Generation] | None:
        found = await self.provider.aws.maybe("s3", "get_object", self._MISSING,
                                              Bucket=await self.provider.bucket(), Key=key)
        if found is None:
            return None
        return await anyio.to_thread.run_sync(found["Body"].read), found["ETag"]

    async def write(self, key: str, data: bytes, *,
                    if_generation: Generation | None = None) -> Generation | None:
        condition = {} if if_generation is None else \
            {"IfNoneMatch": "*"} if if_generation == ABSENT else {"IfMatch": if_generation}
        try:
            return await self._put(key, data, condition)
        except AwsError as exc:
            if exc.code != "NoSuchBucket":
                raise
        from launchdeck.providers.aws import region

        return await region.bucket(self.provider.aws, await self.provider.account(),
                                   lambda: self._put(key, data, condition))

    async def _put(self, key: str, data: bytes, condition: dict[str, str]) -> Generation | None:
        try:
            written = await self.provider.aws(
                "s3", "put_object", Bucket=await self.provider.bucket(), Key=key, Body=data,
                ServerSideEncryption="AES256", ContentType="application/json", **condition)
        except AwsError as exc:
            if exc.code in self._REFUSED or (condition and exc.code in ("NoSuchKey", "404")):
                return None  # IfMatch on an object that is gone: S3 answers 404
            raise
        return str(written["ETag"])

    async def delete(self, key: str, *, if_generation: Generation | None = None) -> None:
        condition = {} if if_generation is None else {"IfMatch": if_generation}
        await self.provider.aws.maybe("s3", "delete_object", (*self._MISSING, *self._REFUSED),
                                      Bucket=await self.provider.bucket(), Key=key, **condition)

    async def list(self, prefix: str) -> list[str]:
        pages = self.provider.aws.paginate("s3", "list_objects_v2", ("NoSuchBucket", "404"),
                                           Bucket=await self.provider.bucket(), Prefix=prefix)
        return sorted([item["Key"] async for page in pages for item in page.get("Contents", [])])

