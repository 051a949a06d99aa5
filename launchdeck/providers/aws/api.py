"""The one door to AWS: boto3 clients for a region, every call in a worker thread.

``Aws`` turns botocore's exceptions into ``AwsError`` (a ProviderError with the AWS error
code, so callers can tell "not found" from "denied"), retries throttling and 5xx with
botocore's standard mode. Independent calls run at once through ``parallel``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from functools import partial
from typing import Any

import anyio
import anyio.to_thread

from launchdeck.engine.gather import gather
from launchdeck.errors import EngineUnavailable, ProviderError

POOL = 32
"""Connections each client keeps, and calls in flight at once: enough that a wide fan-out (a
security group and its rules for each of twenty services) does not hold back the calls a
build or a store waits on, few enough to stay polite to the API (as GCP's, providers/gcp/api.py)."""
_threads = anyio.CapacityLimiter(POOL)

READ_PREFIXES = ("Describe", "List", "Get", "Head", "BatchGet", "Filter", "Lookup", "Search")


def is_mutating(operation: str) -> bool:
    """Whether an API operation (CamelCase, as botocore names it) can change anything."""
    return not operation.startswith(READ_PREFIXES)


class AwsError(ProviderError):
    """An AWS API call failed; ``code`` is AWS's error code (e.g. ``ResourceNotFoundException``)."""

    def __init__(self, message: str, *, code: str, hint: str = "") -> None:
        super().__init__(message, provider="aws", hint=hint)
        self.code = code


class Aws:
    """boto3 clients of one session and region, made on first use and shared by threads."""

    def __init__(self, session: Any = None, *, profile: str | None = None,
                 region: str | None = None) -> None:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import ProfileNotFound

        # botocore logs whole request and response bodies at DEBUG, and those carry config
        # values (SSM reads); whatever level the front end logs at, they stay out.
        for name in ("botocore", "boto3", "urllib3"):
            logging.getLogger(name).setLevel(logging.WARNING)
        if session is None:
            try:
                session = boto3.Session(profile_name=profile)
            except ProfileNotFound as exc:
                raise ProviderError(f"there is no AWS profile named {profile!r}", provider="aws",
                                    hint="List them with `aws configure list-profiles`; fix the "
                                         "profile of the stack, or AWS_PROFILE.") from exc
        self.session = session
        # AWS_REGION is what the other AWS SDKs read; boto3 reads AWS_DEFAULT_REGION and profiles
        self.region = region or self.session.region_name or os.environ.get("AWS_REGION") or None
        self._config = Config(retries={"mode": "standard", "max_attempts": 10},
                              connect_timeout=10, read_timeout=60, max_pool_connections=POOL)
        self._clients: dict[str, Any] = {}
        self._guard = threading.Lock()

    def check(self) -> None:
        """Raise a clear error when there is no region or no credentials to call AWS with."""
        if not self.region:
            raise ProviderError(
                "no AWS region is set", provider="aws",
                hint="Set AWS_REGION (e.g. `export AWS_REGION=us-east-1`) or a region in your "
                     "AWS profile, then try again.")
        if self.session.get_credentials() is None:
            raise ProviderError(
                "no AWS credentials found", provider="aws",
                hint="Run `aws configure` or `aws sso login`, or set AWS_PROFILE, or "
                     "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, then try again.")

    def credential_source(self) -> str:
        """Where the credentials came from, in words (a profile, the environment, SSO …)."""
        found = self.session.get_credentials()
        method = getattr(found, "method", None) or "unknown"
        label = _SOURCES.get(method, method)
        profile = self.session.profile_name
        if method in ("env", "iam-role", "container-role") or not profile:
            return label
        return f"profile {profile}, {label}"

    def client(self, service: str) -> Any:
        with self._guard:  # boto3 sessions are not thread-safe; their clients are
            if service not in self._clients:
                self._clients[service] = self.session.client(service, region_name=self.region,
                                                             config=self._config)
            return self._clients[service]

    async def __call__(self, service: str, operation: str, /, **params: Any) -> dict[str, Any]:
        """Call ``operation`` (snake_case) of ``service``; raise AwsError on failure."""
        client = self.client(service)
        try:
            return await anyio.to_thread.run_sync(partial(getattr(client, operation), **params),
                                                  limiter=_threads)
        except Exception as exc:
            raise _translate(service, operation, exc) from exc

    async def paginate(self, service: str, operation: str, missing: Sequence[str] = (), /,
                       **params: Any) -> AsyncIterator[dict[str, Any]]:
        """The pages of an operation, through botocore's own paginator; none when AWS answers
        with one of the ``missing`` error codes."""
        pages = iter(self.client(service).get_paginator(operation).paginate(**params))
        while True:
            try:
                page = await anyio.to_thread.run_sync(next, pages, None, limiter=_threads)
            except Exception as exc:
                error = _translate(service, operation, exc)
                if isinstance(error, AwsError) and error.code in missing:
                    return
                raise error from exc
            if page is None:
                return
            yield page

    async def pages(self, service: str, operation: str, key: str, /, **params: Any) -> list[Any]:
        """Every item under ``key`` across the pages of a paginated operation."""
        return [item async for page in self.paginate(service, operation, **params)
                for item in page.get(key, [])]

    async def maybe(self, service: str, operation: str, missing: Sequence[str], /,
                    **params: Any) -> dict[str, Any] | None:
        """Like calling, but None when AWS answers with one of the ``missing`` error codes."""
        try:
            return await self(service, operation, **params)
        except AwsError as exc:
            if exc.code in missing:
                return None
            raise


async def parallel(*steps: Callable[[], Awaitable[Any]]) -> list[Any]:
    """Run ``steps`` at once (``gather``) and return their results in order."""
    return await gather(*steps)


_SOURCES = {"env": "environment variables", "shared-credentials-file": "credentials file",
            "config-file": "config file", "sso": "SSO", "assume-role": "assumed role",
            "assume-role-with-web-identity": "web identity", "iam-role": "instance role",
            "container-role": "container role", "custom-process": "credential process",
            "explicit": "given keys"}


def _translate(service: str, operation: str, exc: Exception) -> ProviderError:
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
    )

    what = f"{service} {operation.replace('_', ' ')}"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        message = str(error.get("Message", "")).strip()
        return AwsError(f"AWS refused {what}: {code}: {message}", code=code, hint=_hint(code))
    if isinstance(exc, NoCredentialsError):
        return ProviderError("no AWS credentials found", provider="aws",
                             hint="Run `aws configure` or `aws sso login`, or set AWS_PROFILE.")
    if type(exc).__name__ in ("UnauthorizedSSOTokenError", "SSOTokenLoadError",
                              "TokenRetrievalError", "SSOError"):
        return ProviderError("the AWS SSO session has expired or was never started",
                             provider="aws", hint="Run `aws sso login` (with --profile of the "
                                                  "profile in use), then try again.")
    if isinstance(exc, NoRegionError):
        return ProviderError("no AWS region is set", provider="aws",
                             hint="Set AWS_REGION, e.g. `export AWS_REGION=us-east-1`.")
    if isinstance(exc, EndpointConnectionError):
        return EngineUnavailable(f"cannot reach the AWS API for {what}: {exc}", provider="aws",
                                 hint="Check your network, AWS_REGION and any AWS_ENDPOINT_URL.")
    return ProviderError(f"{what} failed: {type(exc).__name__}: {exc}", provider="aws",
                         hint="Try again; if it keeps failing, run with --verbose and report it.")


def _hint(code: str) -> str:
    if code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                "UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken",
                "ExpiredTokenException"):
        return ("The AWS credentials in use may not do this: check that they are current "
                "(`aws sts get-caller-identity`) and allowed to manage this resource.")
    if "Limit" in code or "Quota" in code:
        return ("An AWS quota was reached: raise it in the Service Quotas console or remove "
                "unused resources.")
    return "Fix what AWS names, or try again; ps shows where things stand."
