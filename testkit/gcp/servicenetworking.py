"""Service Networking v1 as the fake serves it: private services access connections.

Cloud SQL with a private IP needs the consumer's network peered with Google's service
producer network, through a range reserved for it (a global address with purpose
VPC_PEERING). A connection is made by an operation done after polls; the network is named
with the project *number*, as the real API wants it. Bodies are checked against the
servicenetworking.v1 discovery document (the API has no Python client library).
"""

from __future__ import annotations

import re
from typing import Any

from testkit.gcp import discovery
from testkit.gcp.core import (
    ApiError,
    Progress,
    Request,
    Rule,
    invalid,
    not_found,
    project_number,
    sequence,
)
from testkit.gcp.server import Api, Reply, Route

SERVICE = "servicenetworking.googleapis.com"
_NETWORK = re.compile(r"^projects/([^/]+)/global/networks/([^/]+)$")


class ServiceNetworkingApi(Api):
    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.connections: dict[str, dict[str, Any]] = {}
        """Network (as ``projects/<number>/global/networks/<name>``) -> connection."""
        self.operations: dict[str, tuple[dict[str, Any], Progress, Any]] = {}

    def routes(self) -> list[Route]:
        return [
            Route(Rule(verb, template), handler, None, permission)
            for verb, template, handler, permission in (
                (
                    "POST",
                    "/v1/services/{service}/connections",
                    self.create,
                    "servicenetworking.services.addPeering",
                ),
                ("GET", "/v1/services/{service}/connections", self.list, "servicenetworking.services.get"),
                ("GET", "/v1/operations/{operation}", self.get_operation, "servicenetworking.operations.get"),
            )
        ]

    def _service(self, variables: dict[str, str]) -> None:
        if variables["service"] != SERVICE:
            raise not_found(f"Service {variables['service']} does not provide private services access.")

    def _network(self, network: str) -> tuple[str, str, str]:
        """(project id, network name, canonical network) for a consumer network name."""
        found = _NETWORK.match(network or "")
        if not found:
            raise invalid(
                f"Invalid network name '{network}': use projects/NUMBER/global/networks/NAME.", "network"
            )
        key, name = found.groups()
        if not key.isdigit():
            raise invalid(
                f"Network '{network}' must be named with the project number, not the project id.", "network"
            )
        project = self._project_id(key)
        if project is None or not self.ctx.api("compute").has_network(project, name):
            raise not_found(f"Network {network} does not exist.")
        return project, name, f"projects/{key}/global/networks/{name}"

    def _project_id(self, number: str) -> str | None:
        compute = self.ctx.api("compute")
        projects = {key.split("/")[1] for key in compute.resources}
        return next((p for p in projects if project_number(p) == number), None)

    def create(self, request: Request, variables: dict[str, str]) -> Reply:
        self._service(variables)
        body = request.json()
        discovery.check("servicenetworking.v1", "Connection", body)
        project, name, network = self._network(body.get("network", ""))
        ranges = body.get("reservedPeeringRanges") or []
        if not ranges:
            raise invalid(
                "reservedPeeringRanges must name at least one allocated range.", "reservedPeeringRanges"
            )
        for reserved in ranges:
            address = self.ctx.api("compute").address(project, reserved)
            if (
                address is None
                or address.purpose != "VPC_PEERING"
                or not address.network.endswith(f"/global/networks/{name}")
            ):
                raise invalid(
                    f"Allocated IP range '{reserved}' not found in network {network} (a global address "
                    "with purpose VPC_PEERING).",
                    "reservedPeeringRanges",
                )
        if network in self.connections:
            raise ApiError(
                "FAILED_PRECONDITION",
                "Cannot modify allocated ranges in CreateConnection. Please use UpdateConnection.",
            )
        connection = {
            "network": network,
            "reservedPeeringRanges": ranges,
            "service": f"services/{SERVICE}",
            "peering": "servicenetworking-googleapis-com",
        }
        operation = {"name": f"operations/pssn.p24-{sequence()}", "done": False, "network": network}

        def complete() -> None:
            self.connections[network] = connection

        self.operations[operation["name"]] = (operation, self.ctx.progress(), complete)
        return Reply(200, {k: v for k, v in operation.items() if k != "network"})

    def list(self, request: Request, variables: dict[str, str]) -> Reply:
        self._service(variables)
        network = request.param("network")
        if not network:
            raise invalid("The network parameter is required.", "network")
        _, _, canonical = self._network(network)
        for name, (operation, _, _) in list(self.operations.items()):
            if operation.get("network") == canonical:  # connections are made whether or not polled
                self._advance(name)
        found = [self.connections[canonical]] if canonical in self.connections else []
        return Reply(200, {"connections": found} if found else {})

    def get_operation(self, request: Request, variables: dict[str, str]) -> Reply:
        name = f"operations/{variables['operation']}"
        if name not in self.operations:
            raise not_found(f"Operation {name} not found.")
        return Reply(200, self._advance(name))

    def _advance(self, name: str) -> dict[str, Any]:
        operation, progress, complete = self.operations[name]
        if not operation["done"] and progress.observe():
            complete()
            operation["done"] = True
            operation["response"] = {"@type": "type.googleapis.com/google.protobuf.Empty"}
        return {k: v for k, v in operation.items() if k != "network"}

    # --- for the other APIs -------------------------------------------------------------------

    def connected(self, network: str) -> bool:
        """Whether ``network`` (``projects/<id or number>/global/networks/<name>``) is peered."""
        found = _NETWORK.match(network)
        if not found:
            return False
        key, name = found.groups()
        number = key if key.isdigit() else project_number(key)
        return f"projects/{number}/global/networks/{name}" in self.connections
