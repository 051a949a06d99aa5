"""Cloud Logging v2 entries as the fake serves them: write, and list with the filter language.

The filter subset is what a deployer reads logs with: comparisons (``=``, ``!=``, ``:``,
``>=``, ``<=``, ``>``, ``<``) on any field path (``resource.type``,
``resource.labels.service_name``, ``labels.k``, ``logName``, ``severity``, ``timestamp``,
``textPayload``), ``AND`` (or juxtaposition), ``OR`` (binding tighter than AND, as in the real
language), ``NOT`` / ``-`` and parentheses. Anything else is refused as unparseable.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

from google.cloud.logging_v2.types import logging as L
from google.protobuf import json_format

from testkit.gcp.core import Rule, invalid, sequence
from testkit.gcp.server import Api, Route

LOG_NAME = re.compile(
    r"^(projects|organizations|folders|billingAccounts)/[^/]+/logs/[A-Za-z0-9/_.%-]{1,512}$"
)
SEVERITIES = ["DEFAULT", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "ALERT", "EMERGENCY"]
_TOKEN = re.compile(
    r'\s*(?:(?P<paren>[()])|(?P<op>>=|<=|!=|=~|!~|[=:<>])|(?P<string>"(?:[^"\\]|\\.)*")|'
    r"(?P<word>[^\s()=:<>!\"]+))"
)


class LoggingApi(Api):
    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.entries: list[tuple[Any, dict[str, Any]]] = []

    def routes(self) -> list[Route]:
        return [
            Route(
                Rule("POST", "/v2/entries:write", "*"),
                self.write,
                L.WriteLogEntriesRequest,
                "logging.logEntries.create",
            ),
            Route(
                Rule("POST", "/v2/entries:list", "*"),
                self.list,
                L.ListLogEntriesRequest,
                "logging.logEntries.list",
            ),
        ]

    def write(self, request: Any) -> Any:
        if not request.entries:
            raise invalid("At least one log entry must be given.", "entries")
        prepared = []
        for index, entry in enumerate(request.entries):
            stored = type(entry)()
            stored.CopyFrom(entry)
            stored.log_name = entry.log_name or request.log_name
            if not stored.log_name:
                raise invalid(f"Log entry {index} must specify a logName.", f"entries[{index}].log_name")
            if not LOG_NAME.match(stored.log_name):
                raise invalid(f"Log name '{stored.log_name}' is not valid.", f"entries[{index}].log_name")
            if not entry.HasField("resource"):
                if not request.HasField("resource"):
                    raise invalid(
                        f"Log entry {index} must specify a monitored resource.", f"entries[{index}].resource"
                    )
                stored.resource.CopyFrom(request.resource)
            if not stored.resource.type:
                raise invalid("The monitored resource must have a type.", f"entries[{index}].resource.type")
            for key, value in request.labels.items():
                stored.labels.setdefault(key, value)
            if not stored.HasField("timestamp"):
                stored.timestamp.GetCurrentTime()
            stored.receive_timestamp.GetCurrentTime()
            if not stored.insert_id:
                stored.insert_id = hashlib.sha256(str(sequence()).encode()).hexdigest()[:16]
            prepared.append(stored)
        if not request.dry_run:
            for stored in prepared:
                self._add(stored)
        return L.WriteLogEntriesResponse.pb()()

    def _add(self, entry: Any) -> None:
        view = json_format.MessageToDict(entry, preserving_proto_field_name=False)
        view.setdefault("severity", "DEFAULT")
        self.entries.append((entry, view))

    def list(self, request: Any) -> Any:
        if not request.resource_names:
            raise invalid("resourceNames must contain at least one resource.", "resource_names")
        for name in request.resource_names:
            if not re.match(r"^(projects|organizations|folders|billingAccounts)/[^/]+$", name):
                raise invalid(f"Invalid resource name: '{name}'.", "resource_names")
        order = request.order_by.strip() or "timestamp asc"
        if order not in ("timestamp asc", "timestamp desc"):
            raise invalid(
                f"Unsupported order_by: '{request.order_by}'. Only 'timestamp asc' and "
                "'timestamp desc' are supported.",
                "order_by",
            )
        if request.page_size < 0 or request.page_size > 1000:
            raise invalid("page_size must be between 0 and 1000.", "page_size")
        test = _parse(request.filter)
        prefixes = tuple(f"{name}/logs/" for name in request.resource_names)
        found = [
            (entry, view)
            for entry, view in self.entries
            if entry.log_name.startswith(prefixes) and test(view)
        ]
        found.sort(
            key=lambda item: (item[1]["timestamp"], item[1]["insertId"]), reverse=order.endswith("desc")
        )
        fingerprint = hashlib.sha256(
            f"{request.filter}|{order}|{request.resource_names}".encode()
        ).hexdigest()[:8]
        start = 0
        if request.page_token:
            offset, _, mark = request.page_token.partition(".")
            if mark != fingerprint or not offset.isdigit():
                raise invalid("The page token does not match the query it is used with.", "page_token")
            start = int(offset)
        size = request.page_size or 50
        response = L.ListLogEntriesResponse.pb()()
        response.entries.extend(entry for entry, _ in found[start : start + size])
        if start + size < len(found):
            response.next_page_token = f"{start + size}.{fingerprint}"
        return response

    def append(
        self,
        *,
        project: str,
        log_id: str,
        resource_type: str,
        resource_labels: dict[str, str],
        lines: list[str],
        labels: dict[str, str] | None = None,
    ) -> None:
        """Write lines as another Google service would (Cloud Build's log, a service's output)."""
        from google.cloud.logging_v2.types import log_entry

        for line in lines:
            entry = log_entry.LogEntry.pb()(log_name=f"projects/{project}/logs/{log_id}", text_payload=line)
            entry.resource.type = resource_type
            entry.resource.labels.update(resource_labels)
            entry.labels.update(labels or {})
            entry.timestamp.GetCurrentTime()
            entry.receive_timestamp.GetCurrentTime()
            entry.insert_id = hashlib.sha256(str(sequence()).encode()).hexdigest()[:16]
            self._add(entry)


    def container_output(self, revision: str, lines: list[str]) -> None:
        """Write what a Cloud Run revision's container printed, as Cloud Run does: to the log
        ``run.googleapis.com/stdout``, under the monitored resource of its kind. A service's
        revision writes as ``cloud_run_revision`` (labels ``service_name``, ``revision_name``,
        ``configuration_name``, ``location``, ``project_id``); a worker pool's as
        ``cloud_run_worker_pool`` (labels ``worker_pool_name``, ``revision_name``, ``location``,
        ``project_id``), the resource type ``gcloud run worker-pools logs`` filters on
        (https://cloud.google.com/sdk/gcloud/reference/run/worker-pools/logs;
        https://cloud.google.com/run/docs/logging: container logs of services, jobs and worker
        pools)."""
        parts = revision.split("/")  # projects/P/locations/L/{services|workerPools}/N/revisions/R
        project, location, kind, owner, short = parts[1], parts[3], parts[4], parts[5], parts[7]
        labels = {"revision_name": short, "location": location, "project_id": project}
        if kind == "workerPools":
            resource_type, labels["worker_pool_name"] = "cloud_run_worker_pool", owner
        else:
            resource_type = "cloud_run_revision"
            labels.update(service_name=owner, configuration_name=owner)
        self.append(project=project, log_id="run.googleapis.com%2Fstdout", resource_type=resource_type,
                    resource_labels=labels, lines=lines)


# --- the filter language ----------------------------------------------------------------------


def _parse(text: str) -> Any:
    tokens = _tokens(text)
    position = 0

    def peek() -> tuple[str, str] | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal position
        token = tokens[position]
        position += 1
        return token

    def conjunction() -> Any:
        parts = [disjunction()]
        while (token := peek()) is not None and token != ("paren", ")"):
            if token == ("word", "AND"):
                take()
            parts.append(disjunction())
        return lambda view: all(part(view) for part in parts)

    def disjunction() -> Any:
        parts = [unary()]
        while peek() == ("word", "OR"):
            take()
            parts.append(unary())
        return lambda view: any(part(view) for part in parts)

    def unary() -> Any:
        token = peek()
        if token == ("word", "NOT") or (token and token[0] == "word" and token[1] == "-"):
            take()
            inner = unary()
            return lambda view: not inner(view)
        if token and token[0] == "word" and token[1].startswith("-") and len(token[1]) > 1:
            tokens[position] = ("word", token[1][1:])
            inner = unary()
            return lambda view: not inner(view)
        return primary()

    def primary() -> Any:
        token = peek()
        if token is None:
            raise _unparseable(text, "end of filter")
        if token == ("paren", "("):
            take()
            inner = conjunction()
            if peek() != ("paren", ")"):
                raise _unparseable(text, "missing ')'")
            take()
            return inner
        kind, value = take()
        if kind not in ("word", "string"):
            raise _unparseable(text, value)
        following = peek()
        if following is None or following[0] != "op":
            needle = _unquote(value).lower()  # a bare value searches the payload
            return lambda view: needle in str(view.get("textPayload", view.get("jsonPayload", ""))).lower()
        op = take()[1]
        if op in ("=~", "!~"):
            raise _unparseable(text, op)
        operand = peek()
        if operand is None or operand[0] not in ("word", "string"):
            raise _unparseable(text, op)
        take()
        return _comparison(value, op, _unquote(operand[1]))

    if not text.strip():
        return lambda view: True
    result = conjunction()
    if position != len(tokens):
        raise _unparseable(text, tokens[position][1])
    return result


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, index = [], 0
    while index < len(text):
        if text[index:].strip() == "":
            break
        match = _TOKEN.match(text, index)
        if not match or match.end() == index:
            raise _unparseable(text, text[index:].strip()[:10])
        kind = match.lastgroup or "word"
        tokens.append((kind, match.group(kind)))
        index = match.end()
    return tokens


def _unquote(value: str) -> str:
    if value.startswith('"') and value.endswith('"'):
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _unparseable(text: str, near: str) -> Exception:
    return invalid(f"Unparseable filter: syntax error near '{near}' in '{text}'", "filter")


def _lookup(view: dict[str, Any], path: str) -> Any:
    if path.startswith("labels.") or path.startswith("resource.labels."):
        head, _, key = path.partition("labels.")
        node = view
        for part in [p for p in head.split(".") if p]:
            node = node.get(part, {}) if isinstance(node, dict) else {}
        labels = node.get("labels", {}) if isinstance(node, dict) else {}
        return labels.get(_unquote(key))
    node: Any = view
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _time(text: str) -> datetime | None:
    found = re.match(r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}:\d{2})(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$", text)
    if not found:
        return None
    day, clock, fraction, zone = found.groups()
    zone = "+00:00" if zone in (None, "Z") else f"{zone[:3]}:{zone[-2:]}"
    iso = f"{day}T{clock or '00:00:00'}{(fraction or '')[:7]}{zone}"
    return datetime.fromisoformat(iso)


def _comparison(path: str, op: str, wanted: str) -> Any:
    def test(view: dict[str, Any]) -> bool:
        actual = _lookup(view, path)
        if actual is None:
            return op == "!="
        if op == ":":
            return wanted.lower() in str(actual).lower()
        left: Any = str(actual)
        right: Any = wanted
        if path == "severity" and wanted.upper() in SEVERITIES:
            left, right = SEVERITIES.index(str(actual).upper()), SEVERITIES.index(wanted.upper())
        elif path.endswith("imestamp"):
            left, right = _time(str(actual)), _time(wanted)
            if left is None or right is None:
                return False
        return {
            "=": left == right,
            "!=": left != right,
            ">=": left >= right,
            "<=": left <= right,
            ">": left > right,
            "<": left < right,
        }[op]

    return test
