"""Compute Engine v1 as the fake serves it: what a global external Application Load Balancer
in front of Cloud Run is made of, plus networks, their subnetworks, Cloud Routers (with NAT)
and global addresses.

A project comes with the ``default`` network and its ``default`` subnetwork in every region
(Private Google Access off, as on a new project). A URL map is replaced whole by ``update``;
an HTTPS proxy's certificates are swapped by ``setSslCertificates``; a subnetwork's Private
Google Access is turned on or off by ``setPrivateIpGoogleAccess``; each is an operation.

Every insert or delete answers with a ``compute#operation`` that goes PENDING -> RUNNING ->
DONE over polls of globalOperations/regionOperations ``get`` (``wait`` finishes it) or reads
of the resource it changes; the resource appears only when its insert is done, as on the
real API. References between
resources (a URL map's default service, a proxy's URL map and certificates, a backend's
serverless NEG, a forwarding rule's target) must name resources that exist, and a resource
still referenced cannot be deleted (``resourceInUseByAnotherResource``). Enum-valued string
fields are checked against the client library's enums, as the real API checks them.
"""

from __future__ import annotations

import enum
import hashlib
import importlib
import re
from typing import Any

from google.cloud import compute_v1 as c
from google.protobuf.descriptor import FieldDescriptor

from testkit.gcp import project as new_project
from testkit.gcp.core import ApiError, Progress, check_labels, rules_of, sequence
from testkit.gcp.run import REGIONS
from testkit.gcp.server import Api, Route

NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_LINK = "https://www.googleapis.com/compute/v1/"
KINDS = {
    # collection: (client module, transport base, singular type, body field, region-scoped, references)
    "networks": ("networks", "Networks", "Network", "network_resource", False, ()),
    "subnetworks": ("subnetworks", "Subnetworks", "Subnetwork", "subnetwork_resource", True, ("network",)),
    "routers": ("routers", "Routers", "Router", "router_resource", True, ("network",)),
    "addresses": ("global_addresses", "GlobalAddresses", "Address", "address_resource", False, ()),
    "networkEndpointGroups": (
        "region_network_endpoint_groups",
        "RegionNetworkEndpointGroups",
        "NetworkEndpointGroup",
        "network_endpoint_group_resource",
        True,
        (),
    ),
    "backendServices": (
        "backend_services",
        "BackendServices",
        "BackendService",
        "backend_service_resource",
        False,
        ("backends.group",),
    ),
    "urlMaps": ("url_maps", "UrlMaps", "UrlMap", "url_map_resource", False, ("default_service",)),
    "targetHttpProxies": (
        "target_http_proxies",
        "TargetHttpProxies",
        "TargetHttpProxy",
        "target_http_proxy_resource",
        False,
        ("url_map",),
    ),
    "targetHttpsProxies": (
        "target_https_proxies",
        "TargetHttpsProxies",
        "TargetHttpsProxy",
        "target_https_proxy_resource",
        False,
        ("url_map", "ssl_certificates"),
    ),
    "sslCertificates": (
        "ssl_certificates",
        "SslCertificates",
        "SslCertificate",
        "ssl_certificate_resource",
        False,
        (),
    ),
    "forwardingRules": (
        "global_forwarding_rules",
        "GlobalForwardingRules",
        "ForwardingRule",
        "forwarding_rule_resource",
        False,
        ("target",),
    ),
}


def _error(code: int, message: str, reason: str) -> ApiError:
    status = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 409: "ALREADY_EXISTS", 412: "FAILED_PRECONDITION"}
    return ApiError(status.get(code, "FAILED_PRECONDITION"), message, code=code, reason=reason)


def _path(link: str, project: str) -> str:
    """A reference in any accepted spelling, as ``projects/p/global/kind/name``."""
    path = link.removeprefix(_LINK).removeprefix("https://compute.googleapis.com/compute/v1/")
    return path if path.startswith("projects/") else f"projects/{project}/{path}"


class ComputeApi(Api):
    legacy_errors = True

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.resources: dict[str, Any] = {}
        """``projects/p/global/kind/name`` (or ``.../regions/r/kind/name``) -> resource message."""
        self.creating: set[str] = set()
        self.operations: dict[str, tuple[Any, Progress, Any]] = {}
        self.pointed: dict[str, float] = {}
        """Managed certificate -> when DNS was first seen pointing every domain at the balancer."""

    def routes(self) -> list[Route]:
        routes: list[Route] = []
        for collection, (module, base, singular, _, _, _) in KINDS.items():
            transport = importlib.import_module(
                f"google.cloud.compute_v1.services.{module}.transports.rest_base"
            )
            rest = getattr(transport, f"_Base{base}RestTransport")
            for rpc in ("Insert", "Get", "Delete", "List"):
                handler = getattr(self, f"_{rpc.lower()}")
                for rule in rules_of(rest, rpc):
                    routes.append(
                        Route(
                            rule,
                            _bound(handler, collection),
                            _request_type(rpc, base, singular),
                            f"compute.{collection}.{rpc.lower()}",
                        )
                    )
        for module, base, rpc, request_type, handler, permission in (
            (
                "subnetworks",
                "Subnetworks",
                "SetPrivateIpGoogleAccess",
                c.SetPrivateIpGoogleAccessSubnetworkRequest,
                self._set_private_google_access,
                "compute.subnetworks.setPrivateIpGoogleAccess",
            ),
            (
                "url_maps",
                "UrlMaps",
                "Update",
                c.UpdateUrlMapRequest,
                self._update_url_map,
                "compute.urlMaps.update",
            ),
            (
                "target_https_proxies",
                "TargetHttpsProxies",
                "SetSslCertificates",
                c.SetSslCertificatesTargetHttpsProxyRequest,
                self._set_ssl_certificates,
                "compute.targetHttpsProxies.setSslCertificates",
            ),
        ):
            transport = importlib.import_module(
                f"google.cloud.compute_v1.services.{module}.transports.rest_base"
            )
            rest = getattr(transport, f"_Base{base}RestTransport")
            routes += [Route(rule, handler, request_type, permission) for rule in rules_of(rest, rpc)]
        for scope, base in (("global", "GlobalOperations"), ("region", "RegionOperations")):
            module = "global_operations" if scope == "global" else "region_operations"
            transport = importlib.import_module(
                f"google.cloud.compute_v1.services.{module}.transports.rest_base"
            )
            rest = getattr(transport, f"_Base{base}RestTransport")
            for rpc in ("Get", "Wait"):
                request_type = getattr(c, f"{rpc}{base[:-1]}Request")
                for rule in rules_of(rest, rpc):
                    routes.append(
                        Route(
                            rule,
                            self._poll_operation if rpc == "Get" else self._wait_operation,
                            request_type,
                            f"compute.{scope}Operations.get",
                        )
                    )
        return routes

    # --- the four verbs ------------------------------------------------------------------------

    def _key(self, collection: str, request: Any, name: str) -> str:
        region = getattr(request, "region", "")
        scope = f"regions/{region}" if KINDS[collection][4] else "global"
        return f"projects/{request.project}/{scope}/{collection}/{name}"

    def _insert(self, collection: str, request: Any) -> Any:
        body = getattr(request, KINDS[collection][3])
        if not NAME.match(body.name):
            raise _error(
                400,
                f"Invalid value for field 'resource.name': '{body.name}'. Must be a match of regex "
                "'(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'",
                "invalid",
            )
        if KINDS[collection][4] and request.region not in REGIONS:
            raise _error(
                400, f"Invalid value for field 'region': '{request.region}'. Unknown region.", "invalid"
            )
        _check_enums(body, "resource")
        if "labels" in body.DESCRIPTOR.fields_by_name:
            check_labels(body.labels, "resource.labels")
        self._seed(request.project)
        key = self._key(collection, request, body.name)
        self._advance(key)
        if key in self.resources or key in self.creating:
            raise _error(409, f"The resource '{key}' already exists", "alreadyExists")
        for reference in self._references(collection, body, request.project):
            if reference in self.creating:
                raise _error(400, f"The resource '{reference}' is not ready", "resourceNotReady")
            if reference not in self.resources:
                raise _error(404, f"The resource '{reference}' was not found", "notFound")
        self._check_kind(collection, body)
        stored = type(body)()
        stored.CopyFrom(body)
        singular = KINDS[collection][2]
        stored.kind = f"compute#{singular[0].lower()}{singular[1:]}"
        stored.id = int(hashlib.sha256(key.encode()).hexdigest(), 16) % 10**19
        stored.self_link = _LINK + key
        stored.creation_timestamp = "2026-01-01T00:00:00.000-08:00"
        self._fill(collection, stored, key)
        self.creating.add(key)

        def complete() -> None:
            self.creating.discard(key)
            self.resources[key] = stored

        return self._operation(request, key, "insert", complete)

    def _seed(self, project: str) -> None:
        """The network every new project comes with."""
        key = f"projects/{project}/global/networks/default"
        if key not in self.resources:
            network = c.Network.pb()(
                name="default",
                kind="compute#network",
                auto_create_subnetworks=True,
                self_link=_LINK + key,
                routing_config=c.NetworkRoutingConfig.pb()(routing_mode="REGIONAL"),
            )
            network.id = int(hashlib.sha256(key.encode()).hexdigest(), 16) % 10**19
            self.resources[key] = network
            for index, region in enumerate(sorted(REGIONS)):
                sub_key = f"projects/{project}/regions/{region}/subnetworks/default"
                subnetwork = c.Subnetwork.pb()(
                    name="default",
                    kind="compute#subnetwork",
                    network=_LINK + key,
                    region=f"{_LINK}projects/{project}/regions/{region}",
                    ip_cidr_range=f"10.{128 + index}.0.0/20",
                    gateway_address=f"10.{128 + index}.0.1",
                    private_ip_google_access=False,
                    purpose="PRIVATE",
                    stack_type="IPV4_ONLY",
                    self_link=_LINK + sub_key,
                    fingerprint=hashlib.sha256(sub_key.encode()).hexdigest()[:12],
                )
                subnetwork.id = int(hashlib.sha256(sub_key.encode()).hexdigest(), 16) % 10**19
                self.resources[sub_key] = subnetwork

    def _get(self, collection: str, request: Any) -> Any:
        self._seed(request.project)
        name = getattr(request, _name_field(request))
        key = self._key(collection, request, name)
        self._advance(key)
        if key not in self.resources:
            raise _error(404, f"The resource '{key}' was not found", "notFound")
        resource = self.resources[key]
        if collection == "sslCertificates" and resource.managed.status == "PROVISIONING":
            self._provision(request.project, key, resource)
        return resource

    def _provision(self, project: str, key: str, certificate: Any) -> None:
        """A managed certificate stays PROVISIONING until every domain's A record points at one of
        the project's global addresses, then becomes ACTIVE ``CERTIFICATE_AFTER_DNS`` later (an
        old project: on the next read)."""
        if self.ctx.knobs.new_project:
            prefix = f"projects/{project}/global/addresses/"
            addresses = {r.address for k, r in self.resources.items()
                         if k.startswith(prefix) and r.purpose != "VPC_PEERING"}
            dns = self.ctx.api("dns")
            pointed = all(
                any(set(record.get("rrdatas", [])) & addresses
                    for (p, _), records in dns.records.items() if p == project
                    for (name, kind), record in records.items() if kind == "A" and name == f"{domain}.")
                for domain in certificate.managed.domains
            )
            if not pointed:
                self.pointed.pop(key, None)
                return
            since = self.pointed.setdefault(key, self.ctx.now())
            if not self.ctx.settled(since, new_project.CERTIFICATE_AFTER_DNS):
                return
        certificate.managed.status = "ACTIVE"
        for domain in certificate.managed.domains:
            certificate.managed.domain_status[domain] = "ACTIVE"

    def _delete(self, collection: str, request: Any) -> Any:
        name = getattr(request, _name_field(request))
        key = self._key(collection, request, name)
        self._advance(key)
        if key not in self.resources:
            raise _error(404, f"The resource '{key}' was not found", "notFound")
        for other_key, other in self.resources.items():
            other_collection = other_key.split("/")[-2]
            if key in self._references(other_collection, other, request.project):
                raise _error(
                    400,
                    f"The {collection[:-1]} resource '{key}' is already being used by '{other_key}'",
                    "resourceInUseByAnotherResource",
                )
        return self._operation(request, key, "delete", lambda: self.resources.pop(key, None))

    def _list(self, collection: str, request: Any) -> Any:
        self._seed(request.project)
        scope = f"regions/{request.region}" if KINDS[collection][4] else "global"
        prefix = f"projects/{request.project}/{scope}/{collection}/"
        for key in [k for k in self.creating if k.startswith(prefix)]:
            self._advance(key)
        items = [v for k, v in sorted(self.resources.items()) if k.startswith(prefix)]
        singular = KINDS[collection][2]
        list_type = getattr(c, f"{singular}List", None) or getattr(c, f"{singular}sList")
        response = list_type.pb()()
        response.items.extend(items)
        response.kind = f"compute#{collection}List"
        return response

    # --- what each kind checks and gets ------------------------------------------------------

    def _references(self, collection: str, resource: Any, project: str) -> list[str]:
        found = []
        for path in KINDS.get(collection, ("", "", "", "", False, ()))[5]:
            head, _, tail = path.partition(".")
            values = getattr(resource, head)
            values = list(values) if not isinstance(values, str) else [values]
            for value in values:
                value = getattr(value, tail) if tail else value
                if value:
                    found.append(_path(value, project))
        return found

    def _check_kind(self, collection: str, body: Any) -> None:
        serverless = (
            (
                body.cloud_run.service
                or body.cloud_run.url_mask
                or body.app_engine.service
                or body.cloud_function.function
            )
            if collection == "networkEndpointGroups"
            else True
        )
        if (
            collection == "networkEndpointGroups"
            and body.network_endpoint_type == "SERVERLESS"
            and not serverless
        ):
            raise _error(
                400,
                "Invalid value for field 'resource.cloudRun': a serverless network endpoint "
                "group needs cloudRun, appEngine or cloudFunction.",
                "invalid",
            )
        if collection == "backendServices":
            serverless = any("/networkEndpointGroups/" in b.group for b in body.backends)
            if serverless and body.health_checks:
                raise _error(
                    400,
                    "Invalid value for field 'resource.healthChecks': A backend service cannot "
                    "have a healthcheck with Serverless network endpoint group backends.",
                    "invalid",
                )
        if collection == "urlMaps" and not body.default_service and not body.HasField("default_url_redirect"):
            raise _error(
                400,
                "Invalid value for field 'resource.defaultService': ''. A URL map needs a default "
                "service or a default URL redirect.",
                "invalid",
            )
        if collection == "targetHttpsProxies" and not body.ssl_certificates and not body.certificate_map:
            raise _error(
                400,
                "Invalid value for field 'resource.sslCertificates': ''. At least one SSL "
                "certificate must be specified.",
                "invalid",
            )
        if (
            collection == "addresses"
            and body.purpose == "VPC_PEERING"
            and (body.address_type != "INTERNAL" or not body.network or not body.prefix_length)
        ):
            raise _error(
                400,
                "Invalid value for field 'resource.purpose': 'VPC_PEERING'. An address for VPC peering "
                "must be INTERNAL, name a network and have a prefixLength.",
                "invalid",
            )
        if collection == "routers":
            for index, nat in enumerate(body.nats):
                if (
                    not nat.name
                    or not nat.nat_ip_allocate_option
                    or not nat.source_subnetwork_ip_ranges_to_nat
                ):
                    raise _error(
                        400,
                        f"Invalid value for field 'resource.nats[{index}]': a NAT needs a name, "
                        "natIpAllocateOption and sourceSubnetworkIpRangesToNat.",
                        "invalid",
                    )
        if collection == "sslCertificates" and body.type_ == "MANAGED" and not body.managed.domains:
            raise _error(
                400,
                "Invalid value for field 'resource.managed.domains': ''. A managed certificate "
                "needs at least one domain.",
                "invalid",
            )

    def _fill(self, collection: str, stored: Any, key: str) -> None:
        digest = int(hashlib.sha256(key.encode()).hexdigest(), 16)
        if collection == "addresses":
            stored.status = "RESERVED"
            stored.address_type = stored.address_type or "EXTERNAL"
            if not stored.address and stored.purpose == "VPC_PEERING":
                stored.address = f"10.{digest % 100 + 20}.0.0"  # a range for the producer's network
            elif not stored.address:
                stored.address = f"34.{digest % 250}.{digest // 250 % 250}.{digest % 199 + 1}"
        if collection == "forwardingRules" and not stored.I_p_address:
            stored.I_p_address = f"34.{digest % 250}.{digest // 250 % 250}.{digest % 199 + 1}"
        if collection == "sslCertificates" and stored.type_ == "MANAGED":
            stored.managed.status = "PROVISIONING"
            for domain in stored.managed.domains:
                stored.managed.domain_status[domain] = "PROVISIONING"
        if "label_fingerprint" in stored.DESCRIPTOR.fields_by_name:
            stored.label_fingerprint = hashlib.sha256(
                str(sorted(stored.labels.items())).encode()
            ).hexdigest()[:12]
        if "fingerprint" in stored.DESCRIPTOR.fields_by_name:
            stored.fingerprint = hashlib.sha256(key.encode()).hexdigest()[:12]

    # --- changes in place --------------------------------------------------------------------

    def _set_private_google_access(self, request: Any) -> Any:
        self._seed(request.project)
        key = f"projects/{request.project}/regions/{request.region}/subnetworks/{request.subnetwork}"
        if key not in self.resources:
            raise _error(404, f"The resource '{key}' was not found", "notFound")
        wanted = request.subnetworks_set_private_ip_google_access_request_resource.private_ip_google_access

        def complete() -> None:
            self.resources[key].private_ip_google_access = wanted

        return self._operation(request, key, "setPrivateIpGoogleAccess", complete)

    def _update_url_map(self, request: Any) -> Any:
        key = f"projects/{request.project}/global/urlMaps/{request.url_map}"
        if key not in self.resources:
            raise _error(404, f"The resource '{key}' was not found", "notFound")
        body = request.url_map_resource
        current = self.resources[key]
        if body.name != request.url_map:
            raise _error(
                400, "Invalid value for field 'resource.name': it must match the URL map's name.", "invalid"
            )
        if body.fingerprint and body.fingerprint != current.fingerprint:
            raise _error(
                412,
                "Invalid fingerprint: the URL map was changed since it was read; read it again and retry.",
                "conditionNotMet",
            )
        _check_enums(body, "resource")
        for reference in self._references("urlMaps", body, request.project):
            if reference not in self.resources:
                raise _error(404, f"The resource '{reference}' was not found", "notFound")
        self._check_kind("urlMaps", body)
        stored = type(body)()
        stored.CopyFrom(body)
        for kept in ("kind", "id", "self_link", "creation_timestamp"):
            setattr(stored, kept, getattr(current, kept))

        def complete() -> None:
            stored.fingerprint = hashlib.sha256(stored.SerializeToString()).hexdigest()[:12]
            self.resources[key] = stored

        return self._operation(request, key, "update", complete)

    def _set_ssl_certificates(self, request: Any) -> Any:
        key = f"projects/{request.project}/global/targetHttpsProxies/{request.target_https_proxy}"
        if key not in self.resources:
            raise _error(404, f"The resource '{key}' was not found", "notFound")
        certificates = list(
            request.target_https_proxies_set_ssl_certificates_request_resource.ssl_certificates
        )
        if not certificates:
            raise _error(400, "Invalid value for field 'resource.sslCertificates': ''.", "invalid")
        for reference in certificates:
            if _path(reference, request.project) not in self.resources:
                raise _error(
                    404, f"The resource '{_path(reference, request.project)}' was not found", "notFound"
                )

        def complete() -> None:
            proxy = self.resources[key]
            del proxy.ssl_certificates[:]
            proxy.ssl_certificates.extend(certificates)

        return self._operation(request, key, "setSslCertificates", complete)

    # --- operations -------------------------------------------------------------------------

    def _operation(self, request: Any, target: str, kind: str, complete: Any) -> Any:
        region = getattr(request, "region", "")
        scope = f"regions/{region}" if region else "global"
        name = f"operation-{sequence()}-{hashlib.sha256(target.encode()).hexdigest()[:8]}"
        op = c.Operation.pb()(
            kind="compute#operation",
            name=name,
            status="PENDING",
            operation_type=kind,
            target_link=_LINK + target,
            progress=0,
            user="user@example.com",
            id=int(hashlib.sha256(name.encode()).hexdigest(), 16) % 10**19,
            self_link=f"{_LINK}projects/{request.project}/{scope}/operations/{name}",
            insert_time="2026-01-01T00:00:00.000-08:00",
        )
        if region:
            op.region = f"{_LINK}projects/{request.project}/regions/{region}"
        self.operations[f"{request.project}/{scope}/{name}"] = (op, self.ctx.progress(), complete)
        return op

    def _find_operation(self, request: Any) -> tuple[Any, Progress, Any]:
        region = getattr(request, "region", "")
        key = f"{request.project}/{'regions/' + region if region else 'global'}/{request.operation}"
        if key not in self.operations:
            raise _error(
                404,
                f"The resource 'projects/{request.project}/global/operations/{request.operation}' "
                "was not found",
                "notFound",
            )
        return self.operations[key]

    def _advance(self, target: str) -> None:
        """A resource's pending operations move on whether or not anyone polls them, as real
        ones do: each read of it counts as a look."""
        link = _LINK + target
        for op, progress, complete in list(self.operations.values()):
            if op.target_link == link and op.status != "DONE":
                if progress.observe():
                    self._finish(op, complete)
                else:
                    op.status = "RUNNING"

    def _poll_operation(self, request: Any) -> Any:
        op, progress, complete = self._find_operation(request)
        if op.status != "DONE":
            if progress.observe():
                self._finish(op, complete)
            else:
                op.status = "RUNNING"
                op.progress = 50
        return op

    def _wait_operation(self, request: Any) -> Any:
        op, progress, complete = self._find_operation(request)
        if op.status != "DONE":
            progress.finish()  # wait returns when the operation is done (within its two minutes)
            self._finish(op, complete)
        return op

    @staticmethod
    def _finish(op: Any, complete: Any) -> None:
        complete()
        op.status = "DONE"
        op.progress = 100
        op.end_time = "2026-01-01T00:00:01.000-08:00"

    # --- for the other APIs -------------------------------------------------------------------

    def has_network(self, project: str, name: str) -> bool:
        return name == "default" or f"projects/{project}/global/networks/{name}" in self.resources

    def has_subnetwork(self, project: str, region: str, name: str) -> bool:
        self._seed(project)
        return f"projects/{project}/regions/{region}/subnetworks/{name}" in self.resources

    def address(self, project: str, name: str) -> Any:
        """A global address by name, or None (for the APIs that reserve ranges from one)."""
        return self.resources.get(f"projects/{project}/global/addresses/{name}")


def _bound(handler: Any, collection: str) -> Any:
    return lambda request: handler(collection, request)


def _name_field(request: Any) -> str:
    names = [f.name for f in request.DESCRIPTOR.fields if f.name not in ("project", "region", "request_id")]
    return names[0]


def _request_type(rpc: str, base: str, singular: str) -> Any:
    scope = "Global" if base.startswith("Global") else "Region" if base.startswith("Region") else ""
    if rpc == "List":
        return getattr(c, f"List{base}Request")
    return getattr(c, f"{rpc}{scope}{singular}Request")


def _check_enums(message: Any, at: str) -> None:
    """Enum-valued string fields hold one of the enum's names, as the real API insists."""
    cls = getattr(c, message.DESCRIPTOR.name, None)
    for field, value in message.ListFields():
        where = f"{at}.{field.json_name}"
        if field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.GetOptions().map_entry:
            continue
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            for item in value if field.is_repeated else [value]:
                _check_enums(item, where)
            continue
        if field.type != FieldDescriptor.TYPE_STRING or cls is None:
            continue
        enum_name = "".join(part.title() for part in field.name.rstrip("_").split("_"))
        enum_type = getattr(cls, enum_name, None)
        if isinstance(enum_type, type) and issubclass(enum_type, enum.Enum):
            allowed = {m for m in enum_type.__members__ if not m.startswith("UNDEFINED_")}
            for item in value if field.is_repeated else [value]:
                if item not in allowed:
                    raise _error(
                        400,
                        f"Invalid value for field '{where}': '{item}'. Must be one of {sorted(allowed)}",
                        "invalid",
                    )
