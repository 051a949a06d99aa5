"""Service Usage v1 as the fake serves it: which APIs a project has on, and turning them on.

A new project has only the services Google turns on by default (``project.ENABLED_BY_DEFAULT``);
every other API answers SERVICE_DISABLED (server.py asks ``refuses``). ``services:enable`` and
``services:batchEnable`` (at most 20 ids) answer with an operation that finishes after
``ENABLE_OPERATION``; the API then still answers SERVICE_DISABLED for ``ENABLE_PROPAGATION``, as
the real error's "wait a few minutes for the action to propagate" says. There is no client
library of it among launchdeck's dependencies, so the routes are the API's HTTP rules
(https://cloud.google.com/service-usage/docs/reference/rest) with JSON bodies.
"""

from __future__ import annotations

from typing import Any

from testkit.gcp import project as new_project
from testkit.gcp.core import (
    PROJECT_ID,
    ApiError,
    Request,
    error_info,
    invalid,
    not_found,
    page,
    project_number,
    sequence,
)
from testkit.gcp.core import Rule as R
from testkit.gcp.server import APIS, Api, Reply, Route

MAX_BATCH = 20
"""batchEnable takes "at most 20 services" per request (the API's reference)."""


def _number(key: str) -> str:
    return key if key.isdigit() else project_number(key)


class ServiceUsageApi(Api):
    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.enabled: dict[tuple[str, str], float] = {}
        """(project number, service) -> when its enable operation is done (monotonic)."""
        self.operations: dict[str, tuple[float, str, list[str]]] = {}
        """operation name -> (started, project number, services)."""

    def routes(self) -> list[Route]:
        return [
            Route(R("GET", "/v1/{parent=*/*}/services"), self.list, None, "serviceusage.services.list"),
            Route(R("GET", "/v1/{name=*/*/services/*}"), self.get, None, "serviceusage.services.get"),
            Route(R("POST", "/v1/{name=*/*/services/*}:enable", "*"), self.enable, None,
                  "serviceusage.services.enable"),
            Route(R("POST", "/v1/{parent=*/*}/services:batchEnable", "*"), self.batch_enable, None,
                  "serviceusage.services.enable"),
            Route(R("GET", "/v1/{name=operations/*}"), self.operation, None, ""),
        ]

    # --- what the other APIs ask -----------------------------------------------------------------

    def state(self, project: str, service: str) -> str:
        """ENABLED or DISABLED, as the API reports it (an operation done counts as enabled)."""
        if not self.ctx.knobs.new_project or service in new_project.ENABLED_BY_DEFAULT:
            return "ENABLED"
        done = self.enabled.get((_number(project), service))
        return "ENABLED" if done is not None and self.ctx.now() >= done else "DISABLED"

    def refuses(self, project: str, service: str) -> bool:
        """Whether a call to ``service`` in ``project`` is answered SERVICE_DISABLED now: not
        enabled, or enabled too recently to have reached every Google system."""
        if service in self.ctx.knobs.disabled_apis:
            return True
        if not project or not self.ctx.knobs.new_project or service in new_project.ENABLED_BY_DEFAULT:
            return False
        done = self.enabled.get((_number(project), service))
        return done is None or not self.ctx.settled(done, new_project.ENABLE_PROPAGATION)

    def turn_on(self, project: str, *services: str) -> None:
        """Enable services at once, settled (for tests of one API that are not about enabling)."""
        for service in services:
            self.enabled[(_number(project), service)] = float("-inf")

    # --- routes ----------------------------------------------------------------------------------

    def _service(self, number: str, service: str) -> dict[str, Any]:
        titles = {s: t for _, _, s, t in APIS.values()}
        return {
            "name": f"projects/{number}/services/{service}",
            "parent": f"projects/{number}",
            "config": {"name": service, "title": titles.get(service, service)},
            "state": self.state(number, service),
        }

    def _known(self) -> set[str]:
        return {s for _, _, s, _ in APIS.values()} | set(new_project.ENABLED_BY_DEFAULT) | {
            "aiplatform.googleapis.com"
        }

    def _project(self, parent: str) -> str:
        kind, _, key = parent.partition("/")
        if kind != "projects" or not (PROJECT_ID.match(key) or key.isdigit()):
            raise invalid(f"Invalid resource name {parent}.", "parent")
        return _number(key)

    def list(self, request: Request, bound: dict[str, str]) -> Reply:
        number = self._project(bound["parent"])
        wanted = (request.param("filter") or "").replace(" ", "")
        if wanted not in ("", "state:ENABLED", "state:DISABLED"):
            raise invalid(f"Invalid filter {wanted}: only state:ENABLED and state:DISABLED.", "filter")
        known = sorted(self._known() | {s for n, s in self.enabled if n == number})
        shown = [self._service(number, s) for s in known]
        if wanted:
            shown = [s for s in shown if s["state"] == wanted.split(":")[1]]
        size = int(request.param("pageSize") or 50)
        names, token = page([s["name"] for s in shown], size, request.param("pageToken") or "", limit=200)
        body: dict[str, Any] = {"services": [s for s in shown if s["name"] in set(names)]}
        if token:
            body["nextPageToken"] = token
        return Reply(200, body)

    def get(self, request: Request, bound: dict[str, str]) -> Reply:
        parent, _, service = bound["name"].rpartition("/services/")
        return Reply(200, self._service(self._project(parent), service))

    def _start(self, number: str, services: list[str]) -> Reply:
        for service in services:
            if service not in self._known():
                raise _unknown(service)
        paid = [s for s in services if s not in new_project.ENABLED_BY_DEFAULT]
        if self.ctx.knobs.billing_disabled and paid:
            raise ApiError(
                "FAILED_PRECONDITION",
                f"Billing account for project '{number}' is not found. Billing must be enabled for "
                f"activation of service(s) '{','.join(paid)}' to proceed.",
                code=400,
                details=[error_info("UREQ_PROJECT_BILLING_NOT_FOUND", "serviceusage.googleapis.com",
                                    {"services": ",".join(paid)})],
            )
        name = f"operations/acf.p2-{number}-{sequence():08d}"
        started = self.ctx.now()
        done = started + self.ctx.scaled(new_project.ENABLE_OPERATION) if self.ctx.knobs.new_project \
            else started
        for service in services:
            key = (number, service)
            if self.state(number, service) != "ENABLED" and key not in self.enabled:
                self.enabled[key] = done
        self.operations[name] = (started, number, services)
        return Reply(200, self._operation_body(name))

    def enable(self, request: Request, bound: dict[str, str]) -> Reply:
        parent, _, service = bound["name"].rpartition("/services/")
        return self._start(self._project(parent), [service])

    def batch_enable(self, request: Request, bound: dict[str, str]) -> Reply:
        number = self._project(bound["parent"])
        body = request.json()
        unknown = sorted(set(body) - {"serviceIds"})
        if unknown:
            raise invalid(f'Invalid JSON payload received. Unknown name "{unknown[0]}": Cannot find field.')
        ids = body.get("serviceIds") or []
        if not ids or not isinstance(ids, list):
            raise invalid("serviceIds must not be empty.", "service_ids")
        if len(ids) > MAX_BATCH:
            raise invalid(f"The number of services ({len(ids)}) exceeds the maximum of {MAX_BATCH}.",
                          "service_ids")
        return self._start(number, [str(i) for i in ids])

    def operation(self, request: Request, bound: dict[str, str]) -> Reply:
        if bound["name"] not in self.operations:
            raise not_found(f"Operation {bound['name']} not found.")
        return Reply(200, self._operation_body(bound["name"]))

    def _operation_body(self, name: str) -> dict[str, Any]:
        started, number, services = self.operations[name]
        done = self.ctx.settled(started, new_project.ENABLE_OPERATION)
        body: dict[str, Any] = {
            "name": name,
            "metadata": {"@type": "type.googleapis.com/google.api.serviceusage.v1.OperationMetadata",
                         "resourceNames": [f"services/{s}/projectSettings/{number}" for s in services]},
        }
        if done:
            body["done"] = True
            body["response"] = {
                "@type": "type.googleapis.com/google.api.serviceusage.v1.BatchEnableServicesResponse",
                "services": [self._service(number, s) for s in services],
            }
        return body


def _unknown(service: str) -> ApiError:
    return ApiError(
        "PERMISSION_DENIED",
        f"Not found or permission denied for service(s): {service}.",
        reason="forbidden",
        details=[error_info("SERVICE_CONFIG_NOT_FOUND_OR_PERMISSION_DENIED", "serviceusage.googleapis.com",
                            {"services": service})],
    )
