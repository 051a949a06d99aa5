"""The one door to GCP: the google-cloud-* clients of one project and region, every call in a worker thread.

``Gcp`` finds credentials with Application Default Credentials, the project in
``GCP_PROJECT_ID``, ``GOOGLE_CLOUD_PROJECT`` or the credentials, and the region in
``GCP_REGION`` (default us-central1), unless the caller names them. Clients are made on
first use, once, with the REST transport; ``LAUNCHDECK_GCP_ENDPOINT`` (one base URL; each
API under ``<base>/<api>``) or ``LAUNCHDECK_GCP_ENDPOINT_<API>`` (one API, e.g.
``LAUNCHDECK_GCP_ENDPOINT_RUN``) point them elsewhere, with anonymous credentials when that
is this machine (the local fake).

Calls are retried on 429 and 503 with bounded exponential backoff; long-running operations
are awaited by polling (``wait``); and every library exception becomes a ``GcpError`` that
says what to do: which role is missing, which ``gcloud services enable`` to run, how to log
in or name the project. Nothing here imports a Google library until a client is asked for.
"""

from __future__ import annotations

import inspect
import json
import os
import random
import re
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit

import anyio
import anyio.to_thread

from launchdeck.engine import poll
from launchdeck.errors import Action, EngineUnavailable, LaunchdeckError, ProviderError

DEFAULT_REGION = "us-central1"
ENDPOINT = "LAUNCHDECK_GCP_ENDPOINT"
APIS = {
    "storage": "storage.googleapis.com",
    "artifactregistry": "artifactregistry.googleapis.com",
    "cloudbuild": "cloudbuild.googleapis.com",
    "run": "run.googleapis.com",
    "secretmanager": "secretmanager.googleapis.com",
    "iam": "iam.googleapis.com",
    "cloudresourcemanager": "cloudresourcemanager.googleapis.com",
    "logging": "logging.googleapis.com",
    "sqladmin": "sqladmin.googleapis.com",
    "redis": "redis.googleapis.com",
    "compute": "compute.googleapis.com",
    "dns": "dns.googleapis.com",
    "servicenetworking": "servicenetworking.googleapis.com",
    "serviceusage": "serviceusage.googleapis.com",
    "firestore": "firestore.googleapis.com",
}
"""API name (the endpoint variable's suffix, upper-cased) -> its service name."""

ROLES = {
    "storage": "roles/storage.admin",
    "artifactregistry": "roles/artifactregistry.admin",
    "cloudbuild": "roles/cloudbuild.builds.editor",
    "run": "roles/run.admin",
    "secretmanager": "roles/secretmanager.admin",
    "iam": "roles/iam.serviceAccountAdmin",
    "cloudresourcemanager": "roles/resourcemanager.projectIamAdmin",
    "logging": "roles/logging.viewer",
    "sqladmin": "roles/cloudsql.admin",
    "redis": "roles/redis.admin",
    "compute": "roles/compute.loadBalancerAdmin",
    "dns": "roles/dns.admin",
    "servicenetworking": "roles/servicenetworking.networksAdmin",
    "serviceusage": "roles/serviceusage.serviceUsageAdmin",
    "firestore": "roles/datastore.owner",
}
"""The predefined role that grants what launchdeck does with each API."""

_PLAIN = ("sqladmin", "iam", "servicenetworking", "serviceusage", "firestore")
"""APIs called over plain HTTP only (``rest``); another API's ``<api>.http`` client is such a
session, for the calls its library lacks."""

T = TypeVar("T")
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_RETRIED = {429, 503}
_threads = anyio.CapacityLimiter(32)
"""Calls in flight at once: enough for wide fan-outs (a redeploy of a project with stores and a
domain reads 17 things at once to learn what exists), few enough to stay polite to the APIs."""


class GcpError(ProviderError):
    """A GCP call failed; ``code`` is the HTTP status, ``status`` the google.rpc code name
    (``NOT_FOUND``, ``ALREADY_EXISTS``, ...) and ``reason`` the ErrorInfo reason if any."""

    def __init__(
        self,
        message: str,
        *,
        code: int = 0,
        status: str = "",
        reason: str = "",
        hint: str = "",
        actions: Sequence[Action] = (),
    ) -> None:
        super().__init__(message, provider="gcp", hint=hint, actions=actions)
        self.code = code
        self.status = status
        self.reason = reason


class Gcp:
    """Clients for one GCP project and region, made on first use and shared by threads."""

    def __init__(
        self,
        *,
        environ: Mapping[str, str] | None = None,
        credentials: Any = None,
        project: str | None = None,
        region: str | None = None,
        poll_interval: float = 2.0,
        attempts: int = 6,
        backoff: float = 0.5,
        max_backoff: float = 20.0,
    ) -> None:
        self._env = dict(os.environ if environ is None else environ)
        self._credentials = credentials
        self._project = project or self._env.get("GCP_PROJECT_ID") or self._env.get("GOOGLE_CLOUD_PROJECT")
        self.region = region or self._env.get("GCP_REGION") or DEFAULT_REGION
        self.poll_interval = poll_interval
        self.attempts = attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._clients: dict[str, Any] = {}
        self._guard = threading.RLock()
        self._adc: tuple[Any, str | None] | None = None
        self._fresh: dict[str, float] = {}
        """What this door just made or turned on (a service name, an account email) -> when: a
        refusal naming it within ``PROPAGATION`` is Google still catching up, and is retried."""
        self.number: str | None = None
        """The project's number, once an answer has named it."""
        self.enabled_apis: set[str] = set()
        """Services known to be on in the project (usage.py)."""
        self.notify: Callable[[str], None] | None = None
        """Told once per thing when a call waits for Google to propagate it (a deploy's events)."""
        self._told: set[str] = set()

    def made(self, *keys: str) -> None:
        """Note that ``keys`` (service names, account emails) were just enabled or made."""
        now = time.monotonic()
        for key in keys:
            self._fresh[key] = now

    def fresh(self, key: str) -> bool:
        """Whether ``key`` was enabled or made (``made``) within ``PROPAGATION``."""
        since = self._fresh.get(key)
        return since is not None and time.monotonic() - since <= PROPAGATION

    def _catching_up(self, exc: Exception) -> str | None:
        """The fresh thing a refusal is about, while Google may still be propagating it."""
        if not self._fresh:
            return None
        now = time.monotonic()
        reason = getattr(exc, "reason", None) or ""
        metadata = getattr(exc, "metadata", None) or {}
        text = str(getattr(exc, "message", "") or exc)
        for key, since in self._fresh.items():
            if now - since > PROPAGATION:
                continue
            if reason == "SERVICE_DISABLED" and metadata.get("service") == key:
                return key
            code = getattr(exc, "code", None)
            if code in (400, 403) and key in text and reason != "SERVICE_DISABLED":
                return key
        return None

    # --- where and as whom ------------------------------------------------------------------

    def setting(self, name: str) -> str | None:
        """A variable of the environment this door was made with (set and not empty)."""
        return self._env.get(name) or None

    def endpoint(self, api: str) -> str | None:
        """The base URL for ``api``, or None for Google's own."""
        own = self._env.get(f"{ENDPOINT}_{api.upper()}")
        if own:
            return own.rstrip("/")
        base = self._env.get(ENDPOINT)
        return f"{base.rstrip('/')}/{api}" if base else None

    def _local(self, api: str) -> bool:
        url = self.endpoint(api)
        return bool(url) and urlsplit(url).hostname in _LOOPBACK

    def _default_credentials(self) -> tuple[Any, str | None]:
        with self._guard:
            if self._adc is None:
                import google.auth
                from google.auth.exceptions import DefaultCredentialsError

                try:
                    self._adc = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
                except DefaultCredentialsError as exc:
                    raise _no_credentials() from exc
            return self._adc

    def credentials(self, api: str) -> Any:
        if self._credentials is not None:
            return self._credentials
        if self._local(api):
            from google.auth.credentials import AnonymousCredentials

            return AnonymousCredentials()
        return self._default_credentials()[0]

    @property
    def project(self) -> str:
        """The project id; raises a GcpError that says how to name one when none is found."""
        if self._project:
            return self._project
        if not all(self._local(api) for api in APIS):
            found = self._default_credentials()[1]
            if found:
                self._project = found
                return found
        raise GcpError(
            "no GCP project is set",
            hint="Name the project to deploy to: `export "
            "GCP_PROJECT_ID=my-project` (or `gcloud config set project my-project`), then try again.",
        )

    def principal(self) -> tuple[str | None, str]:
        """(who the credentials are, where they came from), read from the credentials alone."""
        if self._credentials is not None:
            return getattr(self._credentials, "service_account_email", None), "given credentials"
        if all(self._local(api) for api in APIS):
            return None, f"anonymous, to the endpoint {self.endpoint('run')}"
        credentials = self._default_credentials()[0]
        email = getattr(credentials, "service_account_email", None)
        path = self._env.get("GOOGLE_APPLICATION_CREDENTIALS")
        kind = type(credentials).__name__
        source = f"GOOGLE_APPLICATION_CREDENTIALS ({path})" if path else \
            "the metadata server" if kind == "Credentials" and "compute_engine" in type(
                credentials).__module__ else "application default credentials (gcloud)"
        return (email if email and email != "default" else None), source

    def check(self) -> None:
        """Raise a clear error now when there is no project or no credentials to call GCP with."""
        self.project  # noqa: B018 - resolving it is the check
        for api in APIS:
            self.credentials(api)

    # --- clients ----------------------------------------------------------------------------

    def client(self, name: str) -> Any:
        """The client ``name`` names: an API (``storage``, ``run.services``, ``compute.UrlMaps``...)."""
        with self._guard:
            if name not in self._clients:
                self._clients[name] = self._make(name)
            return self._clients[name]

    def _make(self, name: str) -> Any:
        api, _, part = name.partition(".")
        if api not in APIS:
            raise ValueError(f"unknown GCP API {api!r}")
        credentials = self.credentials(api)
        url = self.endpoint(api)
        options = {"api_endpoint": url} if url else None
        gapic = {"transport": "rest", "credentials": credentials, "client_options": options}
        if api == "storage":
            from google.cloud import storage

            return storage.Client(project=self.project, credentials=credentials, client_options=options)
        if api == "logging":
            from google.cloud import logging

            return logging.Client(
                project=self.project, credentials=credentials, client_options=options, _use_grpc=False
            )
        if api == "dns":
            from google.cloud import dns

            return dns.Client(project=self.project, credentials=credentials, client_options=options)
        if api in _PLAIN or part == "http":
            from google.auth.transport.requests import AuthorizedSession

            return AuthorizedSession(credentials)
        if api == "artifactregistry":
            from google.cloud import artifactregistry_v1

            return artifactregistry_v1.ArtifactRegistryClient(**gapic)
        if api == "cloudbuild":
            from google.cloud.devtools import cloudbuild_v1

            return cloudbuild_v1.CloudBuildClient(**gapic)
        if api == "run":
            from google.cloud import run_v2

            return {"services": run_v2.ServicesClient, "revisions": run_v2.RevisionsClient,
                    "worker_pools": run_v2.WorkerPoolsClient}[part or "services"](**gapic)
        if api == "secretmanager":
            from google.cloud import secretmanager_v1

            return secretmanager_v1.SecretManagerServiceClient(**gapic)
        if api == "cloudresourcemanager":
            from google.cloud import resourcemanager_v3

            return resourcemanager_v3.ProjectsClient(**gapic)
        if api == "redis":
            from google.cloud import redis_v1

            return redis_v1.CloudRedisClient(**gapic)
        from google.cloud import compute_v1

        client = getattr(compute_v1, f"{part}Client")(**gapic)
        services = getattr(client._transport, "_extended_operations_services", None)
        if url and isinstance(services, dict):
            # the library polls Compute operations with clients of its own made without our
            # client_options (so at Google's endpoint); hand it ones that reach the same place
            for key, kind in (
                ("global_operations", "GlobalOperations"),
                ("region_operations", "RegionOperations"),
                ("zone_operations", "ZoneOperations"),
            ):
                services.setdefault(key, getattr(compute_v1, f"{kind}Client")(**gapic))
        return client

    # --- calls ------------------------------------------------------------------------------

    async def call(self, name: str, method: str, /, *args: Any, **kwargs: Any) -> Any:
        """Call ``method`` of client ``name`` in a worker thread; retried, translated."""
        api = name.partition(".")[0]
        return await self.run(
            lambda: getattr(self.client(name), method), *args, api=api, what=f"{name} {method}", **kwargs
        )

    async def all(self, name: str, method: str, /, *args: Any, **kwargs: Any) -> list[Any]:
        """Every item a paginated list method yields, every page read in the worker thread (a
        429 or 503 on any page retries the whole list)."""

        def read() -> Callable[[], list[Any]]:
            function = getattr(self.client(name), method)
            extra = {"retry": None} if _takes_retry(function) else {}
            return lambda: list(function(*args, **kwargs, **extra))

        return await self.run(read, api=name.partition(".")[0], what=f"{name} {method}")

    async def maybe(self, name: str, method: str, /, *args: Any, **kwargs: Any) -> Any:
        """Like ``call``, but None when what it reads or deletes is not there (``if_found``)."""
        return await if_found(lambda: self.call(name, method, *args, **kwargs))

    async def run(
        self, target: Callable[[], Callable[..., Any]], /, *args: Any, api: str, what: str, **kwargs: Any
    ) -> Any:
        """Run the callable ``target()`` returns in a worker thread, with retries and translation.

        The libraries' own retries are turned off where a method takes ``retry``, so the
        backoff here is the only one and stays bounded.
        """
        attempt = waited = 0
        while True:
            attempt += 1
            try:
                return await anyio.to_thread.run_sync(
                    partial(self._invoke, target, args, kwargs), limiter=_threads
                )
            except LaunchdeckError:
                raise
            except Exception as exc:
                code = getattr(exc, "code", None)
                if isinstance(code, int) and code in _RETRIED and attempt < self.attempts:
                    await anyio.sleep(self._delay(attempt, exc))
                    continue
                if _in_progress(exc) and waited * self.max_backoff < BUSY_WAIT:
                    # Cloud SQL and Memorystore run one operation at a time per instance: wait
                    attempt -= 1
                    waited += 1
                    await anyio.sleep(min(self.max_backoff, self.backoff * 2 ** min(waited - 1, 8)))
                    continue
                fresh = self._catching_up(exc)
                if fresh is not None:
                    # bounded by PROPAGATION since it was made, not by attempts
                    if self.notify is not None and fresh not in self._told:
                        self._told.add(fresh)
                        self.notify(f"waiting for Google to propagate {fresh} (new; this takes minutes)")
                    attempt = 0  # a transient error's tries count again from here
                    waited += 1
                    await anyio.sleep(self._catch_up(waited))
                    continue
                raise translate(exc, what=what, api=api, project=self._project or "PROJECT") from exc

    @staticmethod
    def _invoke(
        target: Callable[[], Callable[..., Any]], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        function = target()
        if "retry" not in kwargs and _takes_retry(function):
            kwargs = {**kwargs, "retry": None}
        return function(*args, **kwargs)

    def _catch_up(self, waited: int) -> float:
        """Seconds before a call refused while Google propagates what this door just made is
        tried again: backed off as any refusal at first, then every ``PROPAGATION_POLLS`` poll
        intervals. The refusal is no overloaded server but a change on its way, which ends at
        once for every caller; a pause grown to ``max_backoff`` (20 s) would add half of it on
        average to each of a first deploy's waits in a row (the APIs, then each new account)."""
        longest = min(self.max_backoff, max(self.backoff, PROPAGATION_POLLS * self.poll_interval))
        return min(longest, self.backoff * 2 ** min(waited - 1, 8))

    def _delay(self, attempt: int, exc: Exception) -> float:
        response = getattr(exc, "response", None)
        after = getattr(response, "headers", {}).get("Retry-After") if response is not None else None
        if after and str(after).isdigit():
            return min(float(after), self.max_backoff)
        return random.uniform(0, min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))

    async def rest(
        self,
        api: str,
        verb: str,
        path: str,
        /,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        response_type: Any = None,
        host: str | None = None,
    ) -> Any:
        """Call an API whose library has no REST transport (Cloud SQL Admin, IAM), that has no
        library (Service Networking), or a part of one its library lacks (Cloud Run's Admin
        API v1), over its HTTP rules.

        ``body`` is one of the library's proto-plus messages (or, for an API without one, a
        JSON-able dict); the answer is parsed into ``response_type`` (or returned as JSON).
        ``host`` is Google's host for the call when it is not the API's own (a regional one);
        an endpoint set for the API (``LAUNCHDECK_GCP_ENDPOINT``) takes its place as for every call.
        """
        base = self.endpoint(api) or f"https://{host or APIS[api]}"
        if body is None or isinstance(body, dict):
            data = None if body is None else json.dumps(body)
        else:
            # only the fields set, enums by name: what the API's own clients send
            data = type(body).to_json(
                body, always_print_fields_with_no_presence=False, use_integers_for_enums=False, indent=None
            )

        def send() -> Any:
            from google.api_core import exceptions

            session = self.client(api if api in _PLAIN else f"{api}.http")
            response = session.request(
                verb,
                base + path,
                data=data,
                params=dict(params or {}),
                headers={"Content-Type": "application/json"},
                timeout=60,
            )
            if response.status_code >= 400:
                raise exceptions.from_http_response(response)
            if response_type is None:
                return response.json() if response.content else None
            return response_type.from_json(response.content or b"{}", ignore_unknown_fields=True)

        return await self.run(lambda: send, api=api, what=f"{api} {verb} {path}")

    async def wait(
        self,
        operation: Any,
        /,
        *,
        what: str,
        api: str,
        on_progress: Callable[[Any], None] | None = None,
        interval: float | None = None,
        timeout: float = 1800.0,
    ) -> Any:
        """Poll a long-running operation until it is done and return its result.

        Takes what the libraries return (an api_core Operation, a Compute ExtendedOperation)
        or a Cloud SQL ``Operation``. ``on_progress`` gets the operation's latest metadata
        after each poll that finds it still running.
        """
        polls = 0

        async def check() -> tuple[Any] | None:  # the result boxed: an operation's may be None
            nonlocal operation, polls
            if hasattr(operation, "done"):
                if await self.run(partial(getattr, operation, "done"), api=api, what=what):
                    return (await self.run(partial(getattr, operation, "result"), api=api, what=what),)
                latest = getattr(operation, "metadata", operation)
            else:
                operation = await self._sql_poll(operation, api=api, what=what)
                if operation.status.name == "DONE":
                    return (operation,)
                latest = operation
            polls += 1
            if on_progress is not None:
                on_progress(latest)
            return None

        done = await poll.until(check, interval=self.poll_interval if interval is None else interval,
                                timeout=timeout)
        if done is None:
            raise GcpError(
                f"{what} did not finish within {timeout:g} s ({polls} polls)",
                code=504,
                status="DEADLINE_EXCEEDED",
                hint="It may still finish: check it in the Cloud Console, then try again.",
            )
        return done[0]

    async def _sql_poll(self, operation: Any, *, api: str, what: str) -> Any:
        from google.cloud import sqladmin_v1

        current = await self.rest(
            api,
            "GET",
            f"/v1/projects/{operation.target_project}/operations/{operation.name}",
            response_type=sqladmin_v1.Operation,
        )
        if current.status.name == "DONE" and current.error.errors:
            first = current.error.errors[0]
            raise GcpError(
                f"GCP failed {what}: {first.code}: {first.message}",
                code=400,
                status="FAILED_PRECONDITION",
                reason=first.code,
                hint=_GENERIC,
                actions=_WHERE,
            )
        return current


async def if_enabled(step: Callable[[], Awaitable[T]], default: T) -> T:
    """``step``'s answer, or ``default`` when its API is not enabled in the project: an API
    nobody enabled holds nothing of ours, so a look for what exists need not stop there."""
    try:
        return await step()
    except GcpError as exc:
        if exc.reason != "SERVICE_DISABLED":
            raise
        return default


PROPAGATION = 600.0
"""Seconds after enabling an API or making a service account during which a refusal naming it
is retried: enabling takes "a few minutes" to propagate (the SERVICE_DISABLED message), a new
account "60 seconds or more" (https://cloud.google.com/iam/docs/service-accounts-create), a
grant typically 2 and up to 7 minutes (https://cloud.google.com/iam/docs/access-change-propagation)."""


PROPAGATION_POLLS = 2
"""Poll intervals between the tries of a call refused while what it names propagates (``Gcp._catch_up``)."""


BUSY_WAIT = 1800.0
"""Seconds a change refused with ``operationInProgress`` is retried while the other finishes."""


def _in_progress(exc: Any) -> bool:
    """Whether a change was refused because another operation on the instance is running:
    Cloud SQL's 409 ``operationInProgress``, Memorystore's 400 FAILED_PRECONDITION "due to
    ongoing operations" (one admin operation at a time per instance,
    https://cloud.google.com/memorystore/docs/redis/product-constraints)."""
    code = getattr(exc, "code", None)
    if code == 400 and "due to ongoing operations" in str(exc):
        return True
    if code != 409:
        return False
    return getattr(exc, "reason", None) == "operationInProgress" or "operationInProgress" in str(
        getattr(getattr(exc, "response", None), "text", "") or "")


MADE_WAIT = 600.0
"""Seconds to wait for a resource another deploy asked for."""


async def create(
    gcp: Gcp,
    make: Callable[[], Awaitable[Any]],
    found: Callable[[], Awaitable[Any]],
    *,
    what: str,
    api: str,
) -> None:
    """Run ``make`` (a request answered with a long-running operation) and wait for it. When GCP
    answers 409 (another deploy, or one cut short, asked for it already), wait until ``found``
    answers something other than None instead, as that request's own operation would."""
    try:
        operation = await make()
    except GcpError as exc:
        if exc.code != 409:
            raise

        async def made() -> bool | None:
            return True if await found() is not None else None

        if await poll.until(made, interval=gcp.poll_interval, timeout=MADE_WAIT) is None:
            raise GcpError(
                f"{what} is still being made",
                code=409,
                status="ALREADY_EXISTS",
                hint="Deploy again in a minute.",
            ) from exc
        return
    await gcp.wait(operation, what=f"make {what}", api=api)


async def if_found(step: Callable[[], Awaitable[T]], default: T | None = None) -> T | None:
    """``step``'s answer, or ``default`` when GCP answers 404: what it reads, waits for or
    deletes is not there."""
    try:
        return await step()
    except GcpError as exc:
        if exc.code != 404:
            raise
        return default


async def deleted(step: Callable[[], Awaitable[Any]]) -> bool:
    """Run ``step``, a delete; whether it deleted (False when it was not there)."""

    async def delete() -> bool:
        await step()
        return True

    return bool(await if_found(delete, False))


def _takes_retry(function: Callable[..., Any]) -> bool:
    try:
        return "retry" in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


_GENERIC = "Fix what GCP names, or try again; the services' state shows where things stand."
_WHERE = (Action("ps", {"provider": "gcp"}),)
"""The next step offered with the generic hint: look at where the deploy stands."""
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def _no_credentials() -> GcpError:
    return GcpError(
        "no Google Cloud credentials found",
        code=401,
        status="UNAUTHENTICATED",
        hint="Run `gcloud auth application-default login` (or set GOOGLE_APPLICATION_CREDENTIALS "
        "to a service account key file), then try again.",
    )


def translate(exc: Exception, *, what: str, api: str, project: str) -> LaunchdeckError:
    """A library exception as the error a user can act on."""
    import requests
    from google.api_core import exceptions
    from google.auth import exceptions as auth

    if isinstance(exc, exceptions.GoogleAPICallError):
        code = int(exc.code or 0)
        status = _body_status(exc) or _STATUS.get(code, "UNKNOWN")
        message = re.sub(r"^(GET|POST|PUT|PATCH|DELETE) \S+: ", "", str(exc.message or "")).strip()
        reason = exc.reason or ""
        metadata = exc.metadata or {}
        hint = _hint(code, status, reason, metadata, message, api, project, _constraint(exc))
        return GcpError(
            f"GCP refused {what}: {status}: {message}",
            code=code,
            status=status,
            reason=reason,
            hint=hint,
            actions=_WHERE if hint == _GENERIC else (),
        )
    if isinstance(exc, auth.DefaultCredentialsError):
        return _no_credentials()
    if isinstance(exc, auth.RefreshError):
        return GcpError(
            f"the Google Cloud credentials could not be refreshed: {exc}",
            code=401,
            status="UNAUTHENTICATED",
            hint="Run `gcloud auth application-default login`, then try again.",
        )
    if isinstance(exc, (requests.ConnectionError, auth.TransportError)):
        return EngineUnavailable(
            f"cannot reach the GCP API for {what}: {type(exc).__name__}",
            provider="gcp",
            hint="Check your network, and LAUNCHDECK_GCP_ENDPOINT if you set it.",
        )
    return GcpError(
        f"{what} failed: {type(exc).__name__}: {exc}",
        hint="Try again; if it keeps failing, run with --verbose and report it.",
    )


def _body_status(exc: Any) -> str:
    try:
        return str(exc.response.json()["error"].get("status", ""))
    except Exception:  # no JSON answer to read: the HTTP code will do
        return ""


def _constraint(exc: Any) -> str:
    """The organization policy constraint an answer names (in its details or its text)."""
    texts = [str(exc.message or "")]
    response = getattr(exc, "response", None)
    if response is not None:
        texts.append(str(getattr(response, "text", "") or ""))
    texts += [str(d) for d in (getattr(exc, "details", None) or [])]
    found = re.search(r"constraints/[A-Za-z0-9_.]+", " ".join(texts))
    return found.group(0) if found else ""


_ACT_AS = "iam.serviceAccounts.actAs"


def _hint(
    code: int, status: str, reason: str, metadata: Mapping[str, str], message: str, api: str, project: str,
    constraint: str = "",
) -> str:
    """What to do, keyed on the ErrorInfo reason and the permission first, the code after."""
    if reason in ("BILLING_DISABLED", "UREQ_PROJECT_BILLING_NOT_FOUND"):
        return (
            f"Billing is not enabled for project {project}: link a billing account "
            f"(`gcloud billing projects link {project} --billing-account=ACCOUNT_ID`), then try again."
        )
    if constraint:
        return (
            f"An organization policy refuses this ({constraint}). Ask your organization's "
            f"administrator for an exception for project {project} (roles/orgpolicy.policyAdmin "
            "can set one), or change what the project asks for."
        )
    permission = metadata.get("permission") or next(iter(re.findall(r"Permission '([^']+)'", message)), "")
    if permission == _ACT_AS or _ACT_AS in message:
        account = next(iter(re.findall(r"[\w.-]+@[\w.-]+\.gserviceaccount\.com", message)), "SERVICE_ACCOUNT")
        return (
            f"The account deploying must be allowed to act as {account} (it lacks {_ACT_AS}): "
            f"`gcloud iam service-accounts add-iam-policy-binding {account} "
            "--member=user:YOU@example.com --role=roles/iam.serviceAccountUser`, then try again."
        )
    if reason == "SERVICE_DISABLED":
        service = metadata.get("service") or APIS.get(api, f"{api}.googleapis.com")
        return (
            f"Enable the API: `gcloud services enable {service} --project {project}`, wait a minute, "
            "then try again."
        )
    if code == 403:
        role = ROLES.get(api, "roles/editor")
        what = f" (it lacks {permission})" if permission else ""
        return (
            f"The account deploying needs the role {role}{what}: `gcloud projects add-iam-policy-binding "
            f"{project} --member=user:YOU@example.com --role={role}`, then try again."
        )
    if code == 401:
        return "Run `gcloud auth application-default login`, then try again."
    if code == 429:
        return (
            "A GCP quota or rate limit was reached: wait and try again, or raise the quota in the Cloud "
            "Console (IAM & Admin > Quotas)."
        )
    if status == "ABORTED":
        return "Something else changed it at the same time: try again."
    return _GENERIC
