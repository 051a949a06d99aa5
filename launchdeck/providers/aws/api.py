"""The one door to AWS: boto3 clients for a region, every call in a worker thread.

``Aws`` turns botocore's exceptions into ``AwsError`` (a ProviderError with the AWS error
code, so callers can tell "not found" from "denied"), retries throttling and 5xx with
botocore's standard mode, and keeps the length of the longest chain of dependent calls
(``depth``), which the benchmark compares with wall time. Concurrent work goes through
``parallel`` so that chain stays measurable.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial
from typing import Any

import anyio
import anyio.to_thread

from launchdeck.errors import EngineUnavailable, ProviderError

_depth: ContextVar[int] = ContextVar("aws_call_depth", default=0)
_threads = anyio.CapacityLimiter(16)
"""Calls in flight at once: enough for wide fan-outs, few enough to stay polite to the API."""

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

    def __init__(self, session: Any = None) -> None:
        import boto3
        from botocore.config import Config

        # botocore logs whole request and response bodies at DEBUG, and those carry config
        # values (SSM reads); whatever level the front end logs at, they stay out.
        for name in ("botocore", "boto3", "urllib3"):
            logging.getLogger(name).setLevel(logging.WARNING)
        self.session = session or boto3.Session()
        # AWS_REGION is what the other AWS SDKs read; boto3 reads AWS_DEFAULT_REGION and profiles
        self.region = self.session.region_name or os.environ.get("AWS_REGION") or None
        self._config = Config(retries={"mode": "standard", "max_attempts": 10},
                              connect_timeout=10, read_timeout=60, max_pool_connections=32)
        self._clients: dict[str, Any] = {}
        self._guard = threading.Lock()
        self.depth = 0
        """The longest chain of calls so far in which each call waited for the one before."""

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
            raise _translate(service, operation, exc) from None
        finally:
            depth = _depth.get() + 1
            _depth.set(depth)
            self.depth = max(self.depth, depth)

    async def pages(self, service: str, operation: str, key: str, /, **params: Any) -> list[Any]:
        """Every item under ``key`` across the pages of a paginated operation."""
        items: list[Any] = []
        token_in, token_out = _TOKENS.get((service, operation), ("NextToken", "NextToken"))
        while True:
            page = await self(service, operation, **params)
            items += page.get(key, [])
            token = page.get(token_out)
            if not token:
                return items
            params[token_in] = token

    async def maybe(self, service: str, operation: str, missing: Sequence[str], /,
                    **params: Any) -> dict[str, Any] | None:
        """Like calling, but None when AWS answers with one of the ``missing`` error codes."""
        try:
            return await self(service, operation, **params)
        except AwsError as exc:
            if exc.code in missing:
                return None
            raise


_TOKENS = {
    ("elbv2", "describe_load_balancers"): ("Marker", "NextMarker"),
    ("elbv2", "describe_target_groups"): ("Marker", "NextMarker"),
    ("elbv2", "describe_listeners"): ("Marker", "NextMarker"),
    ("rds", "describe_db_instances"): ("Marker", "Marker"),
    ("elasticache", "describe_replication_groups"): ("Marker", "Marker"),
    ("resourcegroupstaggingapi", "get_resources"): ("PaginationToken", "PaginationToken"),
    ("route53", "list_resource_record_sets"): ("StartRecordName", "NextRecordName"),
    ("logs", "filter_log_events"): ("nextToken", "nextToken"),
    ("logs", "describe_log_groups"): ("nextToken", "nextToken"),
    ("ecs", "list_task_definitions"): ("nextToken", "nextToken"),
}


async def parallel(*steps: Callable[[], Awaitable[Any]]) -> list[Any]:
    """Run ``steps`` at once and return their results in order.

    The caller's chain of calls continues from the longest chain among the steps, so
    ``Aws.depth`` counts only calls that really had to wait for each other.
    """
    results: list[Any] = [None] * len(steps)
    depths = [_depth.get()] * len(steps)
    errors: list[BaseException] = []

    async def one(index: int, step: Callable[[], Awaitable[Any]], scope: anyio.CancelScope) -> None:
        try:
            results[index] = await step()
        except Exception as exc:  # the first failure stops the rest and is raised as itself
            errors.append(exc)
            scope.cancel()
        depths[index] = _depth.get()

    async with anyio.create_task_group() as group:
        for index, step in enumerate(steps):
            group.start_soon(one, index, step, group.cancel_scope)
    if errors:
        raise errors[0]
    _depth.set(max(depths, default=_depth.get()))
    return results


@contextmanager
def fresh_chain() -> Iterator[None]:
    """Count the chain of dependent calls from zero inside (one deploy, one destroy)."""
    token = _depth.set(0)
    try:
        yield
    finally:
        _depth.reset(token)


def chain_depth() -> int:
    """The length of the current chain of dependent calls (for joining waits by hand)."""
    return _depth.get()


def continue_chain(depth: int) -> None:
    """Continue the current chain after waiting for work whose chain reached ``depth``."""
    _depth.set(max(_depth.get(), depth))


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
    return ("Fix what AWS names, or try again; `launchdeck compose ps --provider aws` shows "
            "where things stand.")
