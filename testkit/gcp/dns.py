"""Cloud DNS v1 as the fake serves it: managed zones, changes and record sets (bodies checked
against the dns.v1 discovery document). A change's deletions must match existing records
exactly and its additions must not exist yet, or the whole change is refused."""

from __future__ import annotations

import hashlib
from typing import Any

from testkit.gcp import discovery
from testkit.gcp.core import ApiError, Request, Rule, now_rfc3339, sequence
from testkit.gcp.server import Api, Reply, Route

_ZONES = "/dns/v1/projects/{project}/managedZones"


def _error(code: int, message: str, reason: str) -> ApiError:
    status = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 409: "ALREADY_EXISTS", 412: "FAILED_PRECONDITION"}
    return ApiError(status.get(code, "FAILED_PRECONDITION"), message, code=code, reason=reason)


class DnsApi(Api):
    legacy_errors = True

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.zones: dict[tuple[str, str], dict[str, Any]] = {}
        self.records: dict[tuple[str, str], dict[tuple[str, str], dict[str, Any]]] = {}
        self.changes: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def routes(self) -> list[Route]:
        return [
            Route(Rule(verb, template), handler, None, permission)
            for verb, template, handler, permission in (
                ("POST", _ZONES, self.create_zone, "dns.managedZones.create"),
                ("GET", _ZONES, self.list_zones, "dns.managedZones.list"),
                ("GET", _ZONES + "/{zone}", self.get_zone, "dns.managedZones.get"),
                ("DELETE", _ZONES + "/{zone}", self.delete_zone, "dns.managedZones.delete"),
                ("POST", _ZONES + "/{zone}/changes", self.create_change, "dns.changes.create"),
                ("GET", _ZONES + "/{zone}/changes/{change}", self.get_change, "dns.changes.get"),
                ("GET", _ZONES + "/{zone}/rrsets", self.list_records, "dns.resourceRecordSets.list"),
            )
        ]

    def _zone(self, project: str, zone: str) -> dict[str, Any]:
        key = (project, zone)
        if key not in self.zones:
            raise _error(
                404, f"The 'parameters.managedZone' resource named '{zone}' does not exist.", "notFound"
            )
        return self.zones[key]

    def create_zone(self, request: Request, variables: dict[str, str]) -> Reply:
        body = request.json()
        discovery.check("dns.v1", "ManagedZone", body)
        name, dns_name = body.get("name", ""), body.get("dnsName", "")
        if not name or not dns_name or not dns_name.endswith("."):
            raise _error(
                400,
                "Invalid value for 'entity.managedZone.dnsName': a fully qualified name ending in "
                "'.' is required.",
                "invalid",
            )
        key = (variables["project"], name)
        if key in self.zones:
            raise _error(
                409, f"The resource 'entity.managedZone' named '{name}' already exists", "alreadyExists"
            )
        zone = {
            **body,
            "kind": "dns#managedZone",
            "id": str(sequence()),
            "creationTime": now_rfc3339(),
            "visibility": body.get("visibility", "public"),
            "nameServers": [f"ns-cloud-a{i}.googledomains.com." for i in range(1, 5)],
        }
        self.zones[key] = zone
        self.records[key] = {
            (dns_name, "SOA"): {
                "kind": "dns#resourceRecordSet",
                "name": dns_name,
                "type": "SOA",
                "ttl": 21600,
                "rrdatas": [
                    "ns-cloud-a1.googledomains.com. cloud-dns-hostmaster.google.com. 1 21600 3600 259200 300"
                ],
            },
            (dns_name, "NS"): {
                "kind": "dns#resourceRecordSet",
                "name": dns_name,
                "type": "NS",
                "ttl": 21600,
                "rrdatas": zone["nameServers"],
            },
        }
        self.changes[key] = []
        return Reply(200, zone)

    def list_zones(self, request: Request, variables: dict[str, str]) -> Reply:
        wanted = request.param("dnsName")
        if wanted and not wanted.endswith("."):
            wanted += "."
        zones = [
            z
            for (p, _), z in sorted(self.zones.items())
            if p == variables["project"] and (not wanted or z["dnsName"] == wanted)
        ]
        return Reply(200, {"kind": "dns#managedZonesListResponse", "managedZones": zones})

    def get_zone(self, request: Request, variables: dict[str, str]) -> Reply:
        return Reply(200, self._zone(variables["project"], variables["zone"]))

    def delete_zone(self, request: Request, variables: dict[str, str]) -> Reply:
        key = (variables["project"], variables["zone"])
        self._zone(*key)
        if any(t not in ("SOA", "NS") for _, t in self.records[key]):
            raise _error(
                400,
                f"The resource named '{variables['zone']}' cannot be deleted because it is not empty",
                "containerNotEmpty",
            )
        for table in (self.zones, self.records, self.changes):
            table.pop(key, None)
        return Reply(204, None)

    def create_change(self, request: Request, variables: dict[str, str]) -> Reply:
        key = (variables["project"], variables["zone"])
        zone = self._zone(*key)
        body = request.json()
        discovery.check("dns.v1", "Change", body)
        records = self.records[key]
        additions, deletions = body.get("additions", []), body.get("deletions", [])
        if not additions and not deletions:
            raise _error(
                400, "The 'entity.change' resource is empty: it has no additions or deletions.", "required"
            )
        for index, record in enumerate(deletions):
            current = records.get((record.get("name"), record.get("type")))
            if current is None:
                raise _error(
                    404,
                    f"The resource 'entity.change.deletions[{index}]' named '{record.get('name')} "
                    f"({record.get('type')})' does not exist.",
                    "notFound",
                )
            if {**current, "kind": None} != {**record, "kind": None}:
                raise _error(
                    412,
                    f"The resource 'entity.change.deletions[{index}]' named '{record.get('name')} "
                    f"({record.get('type')})' does not match the existing record.",
                    "conditionNotMet",
                )
        deleted = {(r["name"], r["type"]) for r in deletions}
        for index, record in enumerate(additions):
            name = record.get("name", "")
            if not name.endswith(".") or not (
                name == zone["dnsName"] or name.endswith("." + zone["dnsName"])
            ):
                raise _error(
                    400, f"Invalid value for 'entity.change.additions[{index}].name': '{name}'", "invalid"
                )
            if not record.get("rrdatas"):
                raise _error(
                    400, f"Invalid value for 'entity.change.additions[{index}].rrdata': ''", "invalid"
                )
            if (name, record.get("type")) in records and (name, record.get("type")) not in deleted:
                raise _error(
                    409,
                    f"The resource 'entity.change.additions[{index}]' named '{name} "
                    f"({record.get('type')})' already exists",
                    "alreadyExists",
                )
        for record in deletions:
            del records[(record["name"], record["type"])]
        for record in additions:
            records[(record["name"], record["type"])] = {"kind": "dns#resourceRecordSet", **record}
        change = {
            **body,
            "kind": "dns#change",
            "id": str(len(self.changes[key]) + 1),
            "startTime": now_rfc3339(),
            "status": "pending",
        }
        self.changes[key].append(change)
        return Reply(200, change)

    def get_change(self, request: Request, variables: dict[str, str]) -> Reply:
        key = (variables["project"], variables["zone"])
        self._zone(*key)
        for change in self.changes[key]:
            if change["id"] == variables["change"]:
                change["status"] = "done"  # records are served at once; the status follows on the next read
                return Reply(200, change)
        raise _error(
            404,
            f"The 'parameters.changeId' resource named '{variables['change']}' does not exist.",
            "notFound",
        )

    def list_records(self, request: Request, variables: dict[str, str]) -> Reply:
        key = (variables["project"], variables["zone"])
        self._zone(*key)
        name, kind = request.param("name"), request.param("type")
        found = [
            r
            for (n, t), r in sorted(self.records[key].items())
            if (not name or n == name) and (not kind or t == kind)
        ]
        return Reply(
            200,
            {
                "kind": "dns#resourceRecordSetsListResponse",
                "rrsets": found,
                "etag": hashlib.sha256(str(found).encode()).hexdigest()[:16],
            },
        )
