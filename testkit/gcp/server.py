"""The fake's HTTP server: one port for every API, routed by path prefix or Host, plus the knobs.

Each API is a class with its own state, made on the first request that reaches it (so the
server answers within milliseconds of starting and imports a client library's types only when
its API is used). All state is guarded by one lock; latency is slept outside it.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from testkit.gcp.core import (
    STATUS_BY_CODE,
    ApiError,
    Context,
    Knobs,
    Request,
    Rule,
    bind,
    error_info,
    project_number,
    render,
    rules_of,
)

APIS = {
    "storage": ("storage", "StorageApi", "storage.googleapis.com", "Cloud Storage JSON API"),
    "artifactregistry": (
        "artifactregistry",
        "ArtifactRegistryApi",
        "artifactregistry.googleapis.com",
        "Artifact Registry API",
    ),
    "cloudbuild": ("cloudbuild", "CloudBuildApi", "cloudbuild.googleapis.com", "Cloud Build API"),
    "run": ("run", "RunApi", "run.googleapis.com", "Cloud Run Admin API"),
    "secretmanager": (
        "secretmanager",
        "SecretManagerApi",
        "secretmanager.googleapis.com",
        "Secret Manager API",
    ),
    "iam": ("iam", "IamApi", "iam.googleapis.com", "Identity and Access Management (IAM) API"),
    "cloudresourcemanager": (
        "resourcemanager",
        "ResourceManagerApi",
        "cloudresourcemanager.googleapis.com",
        "Cloud Resource Manager API",
    ),
    "logging": ("logging", "LoggingApi", "logging.googleapis.com", "Cloud Logging API"),
    "sqladmin": ("sqladmin", "SqlAdminApi", "sqladmin.googleapis.com", "Cloud SQL Admin API"),
    "redis": ("redis", "RedisApi", "redis.googleapis.com", "Google Cloud Memorystore for Redis API"),
    "compute": ("compute", "ComputeApi", "compute.googleapis.com", "Compute Engine API"),
    "dns": ("dns", "DnsApi", "dns.googleapis.com", "Cloud DNS API"),
    "servicenetworking": (
        "servicenetworking",
        "ServiceNetworkingApi",
        "servicenetworking.googleapis.com",
        "Service Networking API",
    ),
    "serviceusage": ("serviceusage", "ServiceUsageApi", "serviceusage.googleapis.com", "Service Usage API"),
    "firestore": ("firestore", "FirestoreApi", "firestore.googleapis.com", "Cloud Firestore API"),
}
"""Path prefix (= the first label of the real host name) -> module, class, service, title."""

READ_VERBS = (
    ":getIamPolicy",
    ":testIamPermissions",
    "entries:list",
    "/wait",
    ":wait",
    ":access",
    ":search",
    ":batchGet",
)
"""POST paths that only read, so request counting does not take them for changes."""


def is_mutating(entry: dict[str, Any]) -> bool:
    """Whether a request-log entry could change anything (what a no-op redeploy must not send)."""
    if entry["method"] in ("GET", "HEAD", "OPTIONS"):
        return False
    return not entry["path"].split("?")[0].endswith(READ_VERBS)


@dataclass
class Reply:
    """An HTTP answer from a handler that does not speak protobuf (Storage, DNS)."""

    status: int = 200
    body: bytes | dict[str, Any] | list[Any] | None = None
    content_type: str = "application/json; charset=UTF-8"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Route:
    """One method of an API: its HTTP rule, handler, request type and the IAM permission it needs.

    With ``request_type`` the handler takes the bound request message and returns a response
    message; without it, it takes the raw ``Request`` and the path variables and returns a Reply.
    """

    rule: Rule
    handler: Callable[..., Any]
    request_type: Any = None
    permission: str = ""


def routes_of(transport_base: type, table: list[tuple[str, Any, Callable[..., Any], str]]) -> list[Route]:
    """The routes of ``(rpc, request type, handler, permission)`` rows, each at every HTTP rule the
    client library's REST transport was generated with for the rpc."""
    return [
        Route(rule, handler, request_type, permission)
        for rpc, request_type, handler, permission in table
        for rule in rules_of(transport_base, rpc)
    ]


class Api:
    """One Google API's state and routes; subclasses fill ``routes``."""

    name = ""
    service = ""
    title = ""
    legacy_errors = False
    """The older JSON APIs (Storage, Compute, DNS, SQL Admin) add an ``errors`` list to errors."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._routes: list[Route] | None = None

    def routes(self) -> list[Route]:
        raise NotImplementedError

    def dispatch(self, request: Request) -> Reply:
        if self._routes is None:
            self._routes = self.routes()
        matched_path = False
        for route in self._routes:
            variables = route.rule.regex.match(request.path)
            if variables is None:
                continue
            matched_path = True
            bound = route.rule.match(request.method, request.path)
            if bound is None:
                continue
            if route.permission and self.ctx.knobs.denies(route.permission):
                raise permission_denied(route.permission, request.path)
            if route.request_type is None:
                with self.ctx.lock:
                    return route.handler(request, bound)
            message = bind(route.rule, route.request_type, bound, request)
            with self.ctx.lock:
                answer = route.handler(message)
            return Reply(200, render(answer, int_enums=request.int_enums))
        if matched_path:
            raise ApiError("NOT_FOUND", f"Method not found: {request.method} {request.path}.")
        raise ApiError("NOT_FOUND", f"The requested URL {request.path} was not found on this server.")


def permission_denied(permission: str, resource: str) -> ApiError:
    return ApiError(
        "PERMISSION_DENIED",
        f"Permission '{permission}' denied on resource '{resource}' (or it may not exist).",
        details=[
            error_info(
                "IAM_PERMISSION_DENIED",
                "iam.googleapis.com",
                {"permission": permission, "resource": resource},
            )
        ],
        reason="forbidden",
    )


def service_disabled(service: str, title: str, project: str) -> ApiError:
    number = project_number(project) if project else "0"
    url = f"https://console.developers.google.com/apis/api/{service}/overview?project={number}"
    message = (
        f"{title} has not been used in project {number} before or it is disabled. Enable it by "
        f"visiting {url} then retry. If you enabled this API recently, wait a few minutes for "
        "the action to propagate to our systems and retry."
    )
    return ApiError(
        "PERMISSION_DENIED",
        message,
        reason="accessNotConfigured",
        details=[
            error_info(
                "SERVICE_DISABLED",
                "googleapis.com",
                {
                    "service": service,
                    "consumer": f"projects/{number}",
                    "serviceTitle": title,
                    "activationUrl": url,
                    "containerInfo": number,
                },
            ),
            {
                "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                "locale": "en-US",
                "message": message,
            },
            {
                "@type": "type.googleapis.com/google.rpc.Help",
                "links": [{"description": "Google developers console API activation", "url": url}],
            },
        ],
    )


def billing_disabled(service: str, project: str) -> ApiError:
    """The answer of an API that needs billing in a project without it (its real wording)."""
    number = project_number(project) if project else "0"
    url = f"https://console.developers.google.com/billing/enable?project={number}"
    return ApiError(
        "PERMISSION_DENIED",
        f"This API method requires billing to be enabled. Please enable billing on project #{number} by "
        f"visiting {url} then retry. If you enabled billing for this project recently, wait a few minutes "
        "for the action to propagate to our systems and retry.",
        reason="accessNotConfigured",
        details=[error_info("BILLING_DISABLED", "googleapis.com",
                            {"consumer": f"projects/{number}", "service": service})],
    )


def _project_of(path: str, query: list[tuple[str, str]]) -> str:
    parts = path.strip("/").split("/")
    for index, part in enumerate(parts[:-1]):
        if part in ("projects", "namespaces"):  # a Knative-style API's namespace is the project
            return parts[index + 1].split(":")[0]
    return dict(query).get("project", "")


class FakeGcp:
    """The local GCP: start it, point the client libraries at ``endpoint(api)``, turn the knobs."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.knobs = Knobs()
        self.lock = threading.RLock()
        self._apis: dict[str, Api] = {}
        self._log: list[dict[str, Any]] = []
        self._random = random.Random(0)
        self._server = _Server((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self._server.server_address[0]}:{self.port}"

    def endpoint(self, api: str) -> str:
        """The base URL one client library takes as ``api_endpoint``."""
        return f"{self.url}/{api}"

    @property
    def env(self) -> dict[str, str]:
        """The variable that points launchdeck (and a child process of it) at this fake."""
        return {"LAUNCHDECK_GCP_ENDPOINT": self.url}

    def start(self) -> FakeGcp:
        self._load()
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-gcp", daemon=True)
        self._thread.start()
        return self

    def advance(self, real_seconds: float) -> None:
        """Move the fake's clock on by ``real_seconds`` of GCP's time (scaled by ``time_scale``):
        what lags behind (an API just enabled, a grant, a certificate) is judged as that much older."""
        with self.lock:
            self.knobs.clock_ahead += real_seconds * self.knobs.time_scale

    def _load(self) -> None:
        """Import every API's module and the client library modules its routes come from, before
        the first request: the Compute ones alone take seconds, more than a client's deadline
        (Cloud Run's create_service has 15 s) on a loaded machine, were they imported while a
        request waits for its answer."""
        with self.lock:
            for name in APIS:
                self.api(name).routes()
            self._apis.clear()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> FakeGcp:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget every resource, every logged request and every knob setting."""
        with self.lock:
            self._apis.clear()
            self._log.clear()
            self.knobs = Knobs()
            self._random = random.Random(0)

    def requests(self) -> list[dict[str, Any]]:
        """Every API request so far, in order: method, path, query, body, api and status."""
        with self.lock:
            return [dict(entry) for entry in self._log]

    def clear_requests(self) -> None:
        with self.lock:
            self._log.clear()

    def enable(self, project: str, *services: str) -> None:
        """Turn APIs on in ``project`` at once (every API of the fake when none is named), for
        tests of one API that are not about enabling it."""
        with self.lock:
            wanted = services or tuple(service for _, _, service, _ in APIS.values())
            self.api("serviceusage").turn_on(project, *wanted)

    def push_public(self, reference: str) -> str:
        """Push another image over the tag of ``reference`` (``nginx:1.27``,
        ``ghcr.io/acme/api:1.2``) in its public registry, as its publisher re-pushing the tag
        would: a Cloud Run revision made from now on resolves the tag to the returned digest,
        one made before keeps the digest it resolved."""
        with self.lock:
            return self.api("run").push_public(reference)

    def mutations(self, api: str | None = None) -> list[dict[str, Any]]:
        """The logged requests that could change something, optionally of one API."""
        return [e for e in self.requests() if is_mutating(e) and (api is None or e["api"] == api)]

    def api(self, name: str) -> Any:
        """The state of one API (made on first use), for test helpers that look inside."""
        with self.lock:
            if name not in self._apis:
                module, cls, service, title = APIS[name]
                loaded = importlib.import_module(f"testkit.gcp.{module}")
                instance = getattr(loaded, cls)(Context(self.knobs, self.api, self.lock))
                instance.name, instance.service, instance.title = name, service, title
                self._apis[name] = instance
            return self._apis[name]

    # --- request handling -------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        parts = urlsplit(target)
        path = parts.path
        query = parse_qsl(parts.query, keep_blank_values=True)
        if path.startswith("/_fake/"):
            return self._knob(method, path, body)
        name, rest = self._route(path, headers.get("host", ""))
        entry = {
            "api": name or "",
            "method": method,
            "path": target,
            "query": _query_dict(query),
            "body": _loggable(name, path, headers, body),
            "status": 0,
        }
        with self.lock:
            self._log.append(entry)
            knobs = self.knobs
            if knobs.kill_at > 0 and knobs.kill_pid and name and is_mutating(entry):
                knobs.kill_at -= 1  # counts down to the request to die at
                if knobs.kill_at == 0:
                    os.kill(knobs.kill_pid, signal.SIGKILL)
            fault = (
                knobs.fault_rate > 0
                and (not knobs.fault_apis or name in knobs.fault_apis)
                and self._random.random() < knobs.fault_rate
            )
        if knobs.latency:
            time.sleep(knobs.latency)
        api = self.api(name) if name else None
        try:
            if api is None:
                raise ApiError("NOT_FOUND", f"The requested URL {path} was not found on this server.")
            if fault:
                raise _fault(knobs)
            project = _project_of(rest, query)
            with self.lock:
                refused = self.api("serviceusage").refuses(project, api.service)
            if refused:
                raise service_disabled(api.service, api.title, project)
            if knobs.billing_disabled and project and api.name not in ("storage", "logging", "serviceusage"):
                raise billing_disabled(api.service, project)
            base = f"http://{headers.get('host', '127.0.0.1')}" + path[: len(path) - len(rest)]
            reply = api.dispatch(Request(method, rest, query, headers, body, base))
        except ApiError as error:
            legacy = bool(api and api.legacy_errors)
            reply = Reply(error.code, error.body(legacy=legacy), headers=error.headers)
        except Exception as exc:  # a bug in the fake: say so in the real shape rather than hang up
            error = ApiError("INTERNAL", f"fake GCP failed: {type(exc).__name__}: {exc}")
            reply = Reply(500, error.body())
        entry["status"] = reply.status
        return reply

    def _route(self, path: str, host: str) -> tuple[str | None, str]:
        label = host.split(".")[0].split(":")[0]
        if host.count(".") >= 1 and label in APIS:
            return label, path
        first, _, rest = path.lstrip("/").partition("/")
        if first in APIS:
            return first, "/" + rest
        return None, path

    def _knob(self, method: str, path: str, body: bytes) -> Reply:
        if path == "/_fake/requests" and method == "GET":
            return Reply(200, self.requests())
        if path == "/_fake/requests" and method == "DELETE":
            self.clear_requests()
            return Reply(200, {})
        if path == "/_fake/reset" and method == "POST":
            self.reset()
            return Reply(200, {})
        if path == "/_fake/knobs" and method == "GET":
            return Reply(200, dataclasses.asdict(self.knobs))
        if path == "/_fake/knobs" and method in ("POST", "PATCH"):
            try:
                changes = json.loads(body or b"{}")
                names = {f.name for f in dataclasses.fields(Knobs)}
                unknown = sorted(set(changes) - names)
                if unknown:
                    raise ValueError(f"unknown knobs {unknown}; known: {sorted(names)}")
            except ValueError as exc:
                return Reply(400, ApiError("INVALID_ARGUMENT", str(exc)).body())
            with self.lock:
                for key, value in changes.items():
                    setattr(self.knobs, key, value)
            return Reply(200, dataclasses.asdict(self.knobs))
        return Reply(404, ApiError("NOT_FOUND", f"no knob at {method} {path}").body())


def _fault(knobs: Knobs) -> ApiError:
    headers = {} if knobs.retry_after is None else {"Retry-After": str(int(knobs.retry_after))}
    if knobs.fault_code == 429:
        return ApiError(
            "RESOURCE_EXHAUSTED",
            "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute' of service.",
            code=429,
            reason="rateLimitExceeded",
            headers=headers,
        )
    status = STATUS_BY_CODE.get(knobs.fault_code, "UNAVAILABLE")
    return ApiError(
        status,
        "The service is currently unavailable.",
        code=knobs.fault_code,
        reason="backendError",
        headers=headers,
    )


def _query_dict(query: list[tuple[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in query:
        if key in out:
            out[key] = [*out[key], value] if isinstance(out[key], list) else [out[key], value]
        else:
            out[key] = value
    return out


def _loggable(api: str | None, path: str, headers: dict[str, str], body: bytes) -> Any:
    """The body as the request log keeps it: JSON parsed, media as its size, secrets hidden."""
    if not body:
        return None
    if "json" not in headers.get("content-type", "application/json"):
        return {"bytes": len(body)}
    try:
        parsed = json.loads(body)
    except ValueError:
        return {"bytes": len(body)}
    if api == "secretmanager" and path.endswith(":addVersion") and isinstance(parsed, dict):
        # a secret's value is the one thing no log of ours may hold, this one included
        parsed = {**parsed, "payload": {"data": "[redacted]"}}
    if api == "sqladmin":  # database passwords likewise (an instance's root password, a user's)
        parsed = _redacted(parsed, {"rootPassword", "password"})
    return parsed


def _redacted(value: Any, keys: set[str]) -> Any:
    if isinstance(value, dict):
        return {k: "[redacted]" if k in keys else _redacted(v, keys) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v, keys) for v in value]
    return value


class _Server(ThreadingHTTPServer):
    """The HTTP server, with a listen backlog for a deploy's bursts of new connections: with the
    default of 5, a burst beyond it has its connections' SYNs dropped, and each client waits
    out TCP's one-second retransmission before it is even heard (no real endpoint does that)."""

    request_queue_size = 128


def _handler_for(fake: FakeGcp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # headers and body go out in two writes: without this, Nagle's algorithm and the
        # client's delayed ACK add 40 ms to every answer on a kept-alive connection
        disable_nagle_algorithm = True
        server_version = "ESF"
        sys_version = ""

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = fake.handle(self.command, self.path, headers, body)
            payload = reply.body
            if payload is None:
                payload = b""
            elif not isinstance(payload, bytes):
                payload = json.dumps(payload).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(payload)))
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

        def log_message(self, format: str, *args: Any) -> None:  # the request log says it all
            return

    return Handler
