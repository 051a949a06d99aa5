"""One deploy or destroy per (project, stack) at a time, across machines: a lock in SSM.

Taking the lock creates an SSM parameter without overwrite, which only one caller can do.
Its value names the owner and when it expires; a lock whose owner is gone (a process on
this machine that no longer runs, or any owner past its expiry) is taken over.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from launchdeck.engine import lock
from launchdeck.errors import ProviderError
from launchdeck.providers.aws import names
from launchdeck.providers.aws.api import Aws, AwsError


@asynccontextmanager
async def held(aws: Aws, project: str, stack: str, deployment_id: str,
               what: str = "deploy") -> AsyncIterator[None]:
    path = f"{names.LOCKS}/{project}/{stack}"
    mine = lock.holder(what, deployment_id)
    for _ in range(2):
        try:
            await aws("ssm", "put_parameter", Name=path, Value=json.dumps(mine), Type="String",
                      Overwrite=False)
            break
        except AwsError as exc:
            if exc.code != "ParameterAlreadyExists":
                raise
        found = await aws.maybe("ssm", "get_parameter", ("ParameterNotFound",), Name=path)
        holder = lock.parse(found["Parameter"]["Value"]) if found else {}
        if found and not lock.stale(holder):
            raise lock.busy(holder, provider="aws", project=project, stack=stack)
        await aws.maybe("ssm", "delete_parameter", ("ParameterNotFound",), Name=path)
    else:
        raise ProviderError(f"could not take the deploy lock of {project} ({stack})",
                            provider="aws", hint="Try again in a moment.")
    try:
        yield
    finally:
        with anyio.CancelScope(shield=True):  # a cancelled deploy still lets go of the lock
            await aws.maybe("ssm", "delete_parameter", ("ParameterNotFound",), Name=path)
