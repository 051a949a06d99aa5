"""What every API of the fake shares: Google's error shape, HTTP/JSON transcoding, LROs.

The real APIs sit behind a front end that maps HTTP/JSON onto typed requests by the
``google.api.http`` rules of each method (path variables, a body field, the rest from the
query) and rejects any name it cannot bind. ``Rule.bind`` does the same with the client
libraries' own message types, so a request the real front end would refuse is refused here
with the same status and wording. ``Schema`` does the equivalent for the JSON-only APIs
(Cloud Storage, Cloud DNS), checking bodies against their published discovery documents.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

STATUS_BY_CODE = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
CODE_BY_STATUS = {
    "UNKNOWN": 500,
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "OUT_OF_RANGE": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "ABORTED": 409,
    "RESOURCE_EXHAUSTED": 429,
    "CANCELLED": 499,
    "INTERNAL": 500,
    "UNIMPLEMENTED": 501,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}
"""google.rpc.Code to HTTP, as google/rpc/code.proto maps them."""

_REASON_BY_CODE = {
    400: "invalid",
    401: "required",
    403: "forbidden",
    404: "notFound",
    409: "conflict",
    412: "conditionNotMet",
    429: "rateLimitExceeded",
    503: "backendError",
}
"""The ``errors[].reason`` of the older JSON APIs (Storage, Compute, DNS, SQL Admin)."""


class ApiError(Exception):
    """An answer in the shape google.rpc.Status takes over HTTP/JSON."""

    def __init__(
        self,
        status: str,
        message: str,
        *,
        code: int | None = None,
        details: list[dict[str, Any]] | None = None,
        reason: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or CODE_BY_STATUS[status]
        self.details = details or []
        self.reason = reason
        self.headers = dict(headers or {})

    def body(self, *, legacy: bool = False) -> dict[str, Any]:
        """The JSON error; ``legacy`` adds the ``errors`` list the older JSON APIs send."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if legacy:
            error["errors"] = [
                {
                    "message": self.message,
                    "domain": "global",
                    "reason": self.reason or _REASON_BY_CODE.get(self.code, "error"),
                }
            ]
        error["status"] = self.status
        if self.details:
            error["details"] = self.details
        return {"error": error}


def not_found(what: str) -> ApiError:
    return ApiError("NOT_FOUND", what, reason="notFound")


def already_exists(what: str) -> ApiError:
    return ApiError("ALREADY_EXISTS", what, reason="alreadyExists")


def invalid(message: str, field_path: str = "") -> ApiError:
    details = []
    if field_path:
        details = [
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": field_path, "description": message}],
            }
        ]
    return ApiError("INVALID_ARGUMENT", message, details=details, reason="invalid")


def failed_precondition(message: str, *, code: int = 400) -> ApiError:
    return ApiError("FAILED_PRECONDITION", message, code=code, reason="conditionNotMet")


def error_info(reason: str, domain: str, metadata: Mapping[str, str]) -> dict[str, Any]:
    return {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": domain,
        "metadata": dict(metadata),
    }


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def etag_of(*parts: Any) -> str:
    """An opaque etag that changes whenever what it is made from changes."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).digest()
    return base64.b64encode(digest[:12]).decode()


def new_id() -> str:
    return str(uuid.uuid4())


_counter = itertools.count(1)


def sequence() -> int:
    """A number that only grows (generations, operation ids) across the whole fake."""
    return next(_counter)


PROJECT_ID = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")


def project_number(project: str) -> str:
    """A stable 12-digit project number for a project id, as the real ones look."""
    return str(int(hashlib.sha256(project.encode()).hexdigest(), 16) % 10**12).rjust(12, "1")


def check_labels(labels: Mapping[str, str], field_path: str = "labels") -> None:
    """Labels as every Google Cloud API checks them: at most 64, lowercase keys and values."""
    if len(labels) > 64:
        raise invalid(f"Too many labels: {len(labels)}, the maximum is 64.", field_path)
    for key, value in labels.items():
        if not LABEL_KEY.match(key):
            raise invalid(
                f"Label key '{key}' violates format constraints. The key must start with "
                "a lowercase character, can only contain lowercase letters, numeric "
                "characters, underscores and dashes, and have at most 63 characters.",
                field_path,
            )
        if not LABEL_VALUE.match(value):
            raise invalid(
                f"Label value '{value}' violates format constraints. The value can only "
                "contain lowercase letters, numeric characters, underscores and dashes, "
                "and have at most 63 characters.",
                field_path,
            )


def page(names: list[str], size: int, token: str, *, limit: int = 1000) -> tuple[list[str], str]:
    """One page of a sorted list and the opaque token of the next (empty at the end)."""
    if token and not token.isdigit():
        raise invalid("The page token is invalid.", "page_token")
    start = int(token or 0)
    end = start + min(size or limit, limit)
    return names[start:end], (str(end) if end < len(names) else "")


# --- HTTP/JSON transcoding with the client libraries' message types ------------------------

_SYSTEM_PARAMS = {
    "$alt",
    "alt",
    "prettyPrint",
    "$prettyPrint",
    "fields",
    "$fields",
    "key",
    "access_token",
    "callback",
    "$callback",
    "quotaUser",
    "$quotaUser",
    "upload_protocol",
    "uploadType",
    "userIp",
    "$userIp",
    "$outputDefaults",
    "$.xgafv",
}
"""Query parameters the front end takes for itself and never binds to the request."""


@dataclass
class Request:
    """One HTTP request as the fake received it, after its API prefix was taken off."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: Mapping[str, str]
    body: bytes
    base: str = ""
    """The URL the client reached this API at, for links in answers (Storage's upload sessions)."""

    def param(self, name: str, default: str | None = None) -> str | None:
        for key, value in self.query:
            if key == name:
                return value
        return default

    @property
    def int_enums(self) -> bool:
        """Whether the client asked for enums as numbers (``$alt=json;enum-encoding=int``)."""
        return "enum-encoding=int" in (self.param("$alt") or "")

    def json(self) -> Any:
        if not self.body.strip():
            return {}
        try:
            return json.loads(self.body)
        except ValueError:
            raise invalid("Invalid JSON payload received. Unexpected token.") from None


@dataclass
class Rule:
    """One ``google.api.http`` binding: verb, path template, and which field the body fills."""

    verb: str
    template: str
    body: str | None = None
    regex: re.Pattern[str] = field(init=False)
    fields: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.verb = self.verb.upper()
        self.fields = []
        pattern = ""
        for match in re.finditer(r"\{([^}=]+)(?:=([^}]*))?\}|([^{]+)", self.template):
            variable, segments, literal = match.groups()
            if literal is not None:
                pattern += re.escape(literal)
                continue
            self.fields.append(variable)
            inner = (segments or "*").split("/")
            parts = [
                "(?:[^/]+/?)+" if seg == "**" else "[^/:]+" if seg == "*" else re.escape(seg) for seg in inner
            ]
            pattern += f"(?P<v{len(self.fields) - 1}>{'/'.join(parts)})"
        self.regex = re.compile(f"^{pattern}$")

    def match(self, verb: str, path: str) -> dict[str, str] | None:
        if verb != self.verb:
            return None
        found = self.regex.match(path)
        if not found:
            return None
        return {name: unquote(found.group(f"v{i}")) for i, name in enumerate(self.fields)}


def rules_of(transport_base: type, rpc: str) -> list[Rule]:
    """The HTTP rules a REST client library was generated with for ``rpc`` (from googleapis)."""
    options = getattr(transport_base, f"_Base{rpc}")._get_http_options()
    return [Rule(o["method"], o["uri"], o.get("body")) for o in options]


def _pb_class(message_type: Any) -> Any:
    return message_type.pb() if hasattr(message_type, "pb") else message_type


def _scalar(descriptor: Any, value: str) -> Any:
    from google.protobuf.descriptor import FieldDescriptor as F

    if descriptor.type == F.TYPE_BOOL:
        if value not in ("true", "false"):
            raise invalid(
                f"Invalid value at '{descriptor.json_name}' (TYPE_BOOL), \"{value}\"", descriptor.json_name
            )
        return value == "true"
    return value


def _bind_query(message: Any, query: list[tuple[str, str]]) -> None:
    """Set fields from query parameters (``a.b=1``), refusing names the message lacks."""
    from google.protobuf import json_format
    from google.protobuf.descriptor import FieldDescriptor as F

    tree: dict[str, Any] = {}
    for key, value in query:
        if key in _SYSTEM_PARAMS:
            continue
        descriptor = message.DESCRIPTOR
        node = tree
        parts = key.split(".")
        for index, part in enumerate(parts):
            field_descriptor = descriptor.fields_by_camelcase_name.get(part) or descriptor.fields_by_name.get(
                part
            )
            if field_descriptor is None:
                raise invalid(
                    f'Invalid JSON payload received. Unknown name "{key}": Cannot bind query '
                    f"parameter. Field '{part}' could not be found in request message.",
                    key,
                )
            name = field_descriptor.json_name
            last = index == len(parts) - 1
            is_message = field_descriptor.type == F.TYPE_MESSAGE
            well_known = is_message and field_descriptor.message_type.full_name.startswith("google.protobuf.")
            if last or well_known:
                if is_message and not well_known:
                    raise invalid(
                        f'Invalid JSON payload received. Unknown name "{key}": Cannot bind query '
                        "parameter. It is a message, not a value.",
                        key,
                    )
                scalar = _scalar(field_descriptor, value)
                if field_descriptor.is_repeated:
                    node.setdefault(name, []).append(scalar)
                else:
                    node[name] = scalar
                break
            node = node.setdefault(name, {})
            descriptor = field_descriptor.message_type
    if tree:
        try:
            json_format.ParseDict(tree, message, ignore_unknown_fields=False)
        except json_format.ParseError as exc:
            raise _parse_error(exc, "") from None


def _parse_error(exc: Exception, at: str) -> ApiError:
    """json_format's complaint in the front end's words."""
    text = str(exc)
    unknown = re.search(r'has no field named "([^"]+)"', text)
    if unknown:
        where = f" at '{at}'" if at else ""
        return invalid(
            f'Invalid JSON payload received. Unknown name "{unknown.group(1)}"{where}: Cannot find field.',
            at or unknown.group(1),
        )
    enum = re.search(r"Invalid enum value (\S+) for enum type (\S+) at ([\w.\[\]]+)", text)
    if enum:
        value, enum_type, path = enum.groups()
        path = path.rstrip(".")
        path = ".".join(_camel_first(p) for p in path.split(".")[1:]) or at
        path = f"{at}.{path}" if at and not path.startswith(at) else path
        return invalid(f"Invalid value at '{path}' (type.googleapis.com/{enum_type}), \"{value}\"", path)
    return invalid(f"Invalid JSON payload received. {text.splitlines()[0]}", at)


def _camel_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def bind(rule: Rule, message_type: Any, variables: Mapping[str, str], request: Request) -> Any:
    """Build the typed request from path variables, the body and the query, as the front end does."""
    from google.protobuf import json_format

    message = _pb_class(message_type)()
    if rule.body:
        text = request.body.decode("utf-8", "replace") if request.body.strip() else "{}"
        target = message
        at = ""
        if rule.body != "*":
            target = getattr(message, rule.body)
            at = message.DESCRIPTOR.fields_by_name[rule.body].json_name
        try:
            json_format.Parse(text, target, ignore_unknown_fields=False)
        except json_format.ParseError as exc:
            raise _parse_error(exc, at) from None
        if rule.body != "*":
            getattr(message, rule.body).SetInParent()
    elif request.body.strip() and request.method not in ("GET", "DELETE"):
        raise invalid("Invalid JSON payload received. This method takes no body.")
    _bind_query(message, request.query)
    for path, value in variables.items():
        target = message
        parts = path.split(".")
        for part in parts[:-1]:
            target = getattr(target, part)
        setattr(target, parts[-1], value)
    return message


def render(message: Any, *, int_enums: bool) -> bytes:
    """A message as the API sends it (camelCase, enums as names or numbers as asked)."""
    from google.protobuf import json_format

    return json_format.MessageToJson(
        message, use_integers_for_enums=int_enums, preserving_proto_field_name=False, indent=None
    ).encode()


# --- long-running operations --------------------------------------------------------------


class Progress:
    """Work that completes after a number of observations or seconds, whichever comes first.

    Real operations finish in wall time; counting polls makes the fake deterministic for tests
    while the seconds bound keeps a resource nobody polls from staying pending forever.
    """

    def __init__(self, polls: int, seconds: float | None) -> None:
        self.left = max(polls, 0)
        self.deadline = None if seconds is None else time.monotonic() + seconds
        self.observed = 0

    def observe(self) -> bool:
        """Count one poll; True once the work is done."""
        self.observed += 1
        if self.left > 0:
            self.left -= 1
        return self.done

    @property
    def done(self) -> bool:
        return self.left == 0 or (self.deadline is not None and time.monotonic() >= self.deadline)

    def finish(self) -> None:
        self.left = 0


@dataclass
class Knobs:
    """The fake's behaviour beyond the real APIs' (set from tests or ``POST /_fake/knobs``)."""

    latency: float = 0.0
    """Seconds added to every API request."""
    fault_rate: float = 0.0
    """Share of API requests (0..1) answered with ``fault_code`` instead."""
    fault_code: int = 503
    fault_apis: list[str] = field(default_factory=list)
    """APIs the faults hit (prefixes such as ``run``); empty means all."""
    retry_after: float | None = None
    """Seconds to send in a Retry-After header with injected faults (None: no header)."""
    lro_polls: int = 2
    """Polls before an operation (or a build, a service, an instance) is done."""
    lro_seconds: float | None = 30.0
    """Seconds after which pending work is done even if nobody polled it."""
    disabled_apis: list[str] = field(default_factory=list)
    """Services (``run.googleapis.com``) answering SERVICE_DISABLED."""
    denied_permissions: list[str] = field(default_factory=list)
    """IAM permissions (``run.services.create``, or a prefix ending in ``*``) answered with 403."""
    failing_builds: dict[str, str] = field(default_factory=dict)
    """Builds whose image or tag contains a key fail; the value is the step's error line."""
    failing_services: dict[str, str] = field(default_factory=dict)
    """Cloud Run services (by id) whose revision fails to start; the value is the reason text."""
    kill_at: int = 0
    """Counts down with each mutating request; the one that brings it to 0 has ``kill_pid``
    sent SIGKILL as it arrives, before it is answered: a client dying mid-deploy."""
    kill_pid: int = 0
    new_project: bool = True
    """Behave as a new project in a secure-by-default organization (see ``testkit.gcp.project``):
    APIs off until enabled, domain-restricted sharing, IAM and ``latest`` reads that lag."""
    time_scale: float = 0.001
    """Seconds of the fake's time per second of the real durations in ``testkit.gcp.project``
    (1.0: as slow as GCP; tests run at a thousandth)."""
    billing_disabled: bool = False
    """No billing account is linked: APIs that need one answer BILLING_DISABLED, and enabling
    them fails."""
    realistic: bool = False
    """Long-running work takes its real duration (``testkit.gcp.project``: Cloud SQL and
    Memorystore creation, builds, revisions) on the ``time_scale`` clock instead of finishing
    after ``lro_polls`` polls: for timing a deploy (bench/gcp_timeline.py)."""
    clock_ahead: float = 0.0
    """Seconds the fake's clock (``Context.now``) runs ahead of the machine's; ``FakeGcp.advance``
    moves it on, so that a test passes a lag without sleeping through it."""
    held_roles: list[str] = field(default_factory=list)
    """Roles whose bindings, once granted, take no effect while listed: the slow end of IAM's
    propagation ("can take 7 minutes or longer", ``testkit.gcp.project.GRANT_PROPAGATION``), for
    a test to hold a grant back until a step of its own, whatever the machine's speed."""
    failing_stores: dict[str, str] = field(default_factory=dict)
    """Cloud SQL or Memorystore instances whose id contains a key fail to be made; the value is
    GCP's error (``quota`` and ``zone`` name the real errors of that kind)."""

    def denies(self, permission: str) -> bool:
        return any(
            permission == p or (p.endswith("*") and permission.startswith(p[:-1]))
            for p in self.denied_permissions
        )


@dataclass
class Context:
    """What a handler may read besides its request: the knobs, the other APIs, the lock."""

    knobs: Knobs
    api: Callable[[str], Any]
    lock: threading.RLock

    def progress(self, real_seconds: float | None = None) -> Progress:
        """Pending work; with ``knobs.realistic``, work that has a real duration takes it (scaled)."""
        if self.knobs.realistic and real_seconds is not None:
            return Progress(10**9, real_seconds * self.knobs.time_scale)
        return Progress(self.knobs.lro_polls, self.knobs.lro_seconds)

    def now(self) -> float:
        """The fake's clock: the machine's monotonic time, plus what a test moved it on by
        (``FakeGcp.advance``). What lags is stamped and judged on it."""
        return time.monotonic() + self.knobs.clock_ahead

    def settled(self, since: float, real_seconds: float) -> bool:
        """Whether ``real_seconds`` (scaled) have passed since ``since`` on the fake's clock; always
        true outside a new project, where nothing lags."""
        if not self.knobs.new_project:
            return True
        return self.now() >= since + real_seconds * self.knobs.time_scale

    def scaled(self, real_seconds: float) -> float:
        """A real duration on the fake's clock."""
        return real_seconds * self.knobs.time_scale
