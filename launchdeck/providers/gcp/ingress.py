"""Domains: a global external Application Load Balancer in front of the services with ``domainname``.

Cloud Run gives every ingress service a public HTTPS URL of its own, so the load balancer is
made only for custom domains: a serverless network endpoint group and a backend service per
such service, a URL map routing each domain to its service, one Google-managed certificate
for all the domains, an HTTPS proxy and rule on a reserved global address, an HTTP proxy and
rule that redirect to HTTPS, and an A record per domain in the Cloud DNS zone serving it. A
domain no zone serves is refused while observing, before anything changes.

The URL map's description keeps the digest of what was applied. The other parts carry no
labels (Compute has none on most of them), so they are found by their names, which start
with the stack's prefix; the load balancer counts as in place only when every part and DNS
record is there, so a deploy cut short is finished by the next one.

Whose a load balancer is, its address says: it is made first and removed last, labelled
with the stack, so a deploy refuses one of its names that is another stack's, and a teardown
leaves it alone. Backends, endpoint groups and certificates are listed by the prefix of the
stack's names, which another stack's names may start with (``ld-a-b-`` begins the names of
project ``a`` stack ``b-c``): each says in its description whose it is, and one naming another
stack is not this one's (endpoint groups and certificates made before they said so are judged
by their names alone).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from launchdeck.compose.model import Project
from launchdeck.engine import hosts
from launchdeck.engine.gather import gather
from launchdeck.errors import ProviderError
from launchdeck.providers.gcp import compute, names
from launchdeck.providers.gcp.api import Gcp

SCHEME = "EXTERNAL_MANAGED"
_DIGEST = re.compile(r"launchdeck hash=(\w+)")


@dataclass(frozen=True)
class Route:
    service: str
    service_id: str
    domain: str


def routes(project: Project, named: names.Names) -> list[Route]:
    """The services with a domain (and an ingress port to reach them on)."""
    return [
        Route(s.name, named.service(s.name), hosts.domain(s.domainname))
        for s in project.services.values()
        if s.domainname and s.ingress_ports and not s.managed_store
    ]


@dataclass(frozen=True)
class Zone:
    name: str
    dns_name: str


async def zones(gcp: Gcp, domains: list[str]) -> dict[str, Zone]:
    """The public Cloud DNS zone serving each domain (the longest suffix); a clear refusal for
    a domain no zone of the project serves."""
    if not domains:
        return {}
    listed = await gcp.all("dns", "list_zones")
    # the DNS client cannot filter zones by name, nor does it expose visibility: read both here
    public = [z for z in listed if getattr(z, "_properties", {}).get("visibility", "public") == "public"]
    out: dict[str, Zone] = {}
    for domain in sorted(set(domains)):
        serving = hosts.zone_for(domain, [z.dns_name for z in public])
        if serving is None:
            parent = hosts.parent(domain)
            raise ProviderError(
                f"no Cloud DNS zone in project {gcp.project} serves {domain}",
                provider="gcp",
                hint=f"Create one (`gcloud dns managed-zones create {parent.replace('.', '-')} "
                f"--dns-name={parent}. --description=launchdeck --project {gcp.project}`), set your "
                "registrar's name servers to the four it lists, then deploy again; or remove domainname.",
            )
        best = next(z for z in public if z.dns_name == serving)
        out[domain] = Zone(best.name, best.dns_name)
    return out


@dataclass
class Existing:
    """The load balancer as it is: the digest it was applied with, whether it is whole."""

    digest: str = ""
    complete: bool = False
    address: str | None = None
    certificate: str | None = None
    """The managed certificate's status (PROVISIONING until DNS points at the address)."""
    parts: set[str] = field(default_factory=set)
    """Names of the stack's resources found, by collection (``urlMaps/ld-shop-dev-map``)."""


class _Names:
    def __init__(self, named: names.Names) -> None:
        self.named, self.project, self.stack = named, named.project, named.stack
        part = named.balancer
        self.url_map, self.redirect, self.https, self.http, self.address = (
            part("map"),
            part("redirect"),
            part("https"),
            part("http"),
            part("ip"),
        )

    def neg(self, route: Route) -> str:
        return self.named.balancer(f"neg-{route.service}")

    def backend(self, route: Route) -> str:
        return self.named.balancer(f"be-{route.service}")

    @property
    def prefix(self) -> str:
        """What the names of the stack's backends, endpoint groups and certificates start with."""
        return self.named.balancer() + "-"

    @property
    def description(self) -> str:
        """What a part's description starts with."""
        return description(self.project, self.stack)

    def mine(self, part: Any, start: str = "") -> bool:
        """Whether a part listed in the project is the stack's: its name starts with the
        prefix (and ``start``), and its description, if it has one, is not another's."""
        said = part.description or ""
        return part.name.startswith(self.prefix + start) and (
            not said or said == self.description or said.startswith((self.description + ":",
                                                                     self.description + ";")))


def description(project: str, stack: str) -> str:
    """What the description of a load balancer part of the stack starts with."""
    return f"launchdeck {project} ({stack})"


def _global(gcp: Gcp, kind: str, name: str) -> str:
    return f"projects/{gcp.project}/global/{kind}/{name}"


async def find(
    gcp: Gcp, named: names.Names, wanted: list[Route],
    zones: Callable[[], Awaitable[dict[str, Zone]]] | None = None,
) -> Existing:
    """The stack's load balancer, read without changing anything: its parts and certificate at
    once, then the domains' records in their ``zones`` (which may still be being found). One
    whose address is another stack's is none of this one's (a deploy refuses it)."""
    n = _Names(named)
    at = {"project": gcp.project}

    async def certificate() -> str | None:
        return await certificate_status(gcp, named, wanted) if wanted else None

    (url_map, redirect, https, http, address, rule_https, rule_http, negs, backends,
     certified) = await gather(
        lambda: gcp.maybe("compute.UrlMaps", "get", **at, url_map=n.url_map),
        lambda: gcp.maybe("compute.UrlMaps", "get", **at, url_map=n.redirect),
        lambda: gcp.maybe("compute.TargetHttpsProxies", "get", **at, target_https_proxy=n.https),
        lambda: gcp.maybe("compute.TargetHttpProxies", "get", **at, target_http_proxy=n.http),
        lambda: gcp.maybe("compute.GlobalAddresses", "get", **at, address=n.address),
        lambda: gcp.maybe("compute.GlobalForwardingRules", "get", **at, forwarding_rule=n.https),
        lambda: gcp.maybe("compute.GlobalForwardingRules", "get", **at, forwarding_rule=n.http),
        lambda: gcp.all("compute.RegionNetworkEndpointGroups", "list", **at, region=gcp.region),
        lambda: gcp.all("compute.BackendServices", "list", **at),
        certificate,
    )
    if address is not None and not names.owned(address.labels, n.project, n.stack):
        return Existing()
    parts = {f"urlMaps/{m.name}" for m in (url_map, redirect) if m is not None}
    parts |= {f"networkEndpointGroups/{g.name}" for g in negs if n.mine(g, "neg-")}
    parts |= {f"backendServices/{b.name}" for b in backends if n.mine(b, "be-")}
    for kind, item in (
        ("targetHttpsProxies", https),
        ("targetHttpProxies", http),
        ("addresses", address),
        ("forwardingRules", rule_https),
        ("forwardingRules", rule_http),
    ):
        if item is not None:
            parts.add(f"{kind}/{item.name}")
    out = Existing(parts=parts, address=address.address if address is not None else None)
    if url_map is None:
        return out
    found = _DIGEST.search(url_map.description or "")
    out.digest = found.group(1) if found else ""
    certificate = named.certificate([r.domain for r in wanted])
    out.certificate = certified if wanted else await certificate_status(gcp, named, wanted)
    needed = {
        f"urlMaps/{n.url_map}",
        f"urlMaps/{n.redirect}",
        f"targetHttpsProxies/{n.https}",
        f"targetHttpProxies/{n.http}",
        f"addresses/{n.address}",
        f"forwardingRules/{n.https}",
        f"forwardingRules/{n.http}",
    }
    needed |= {f"networkEndpointGroups/{n.neg(r)}" for r in wanted} | {
        f"backendServices/{n.backend(r)}" for r in wanted
    }
    on_proxy = https is not None and any(c.endswith(f"/{certificate}") for c in https.ssl_certificates)
    found_zones = await zones() if zones is not None and wanted else {}
    records = (
        await gather(*[lambda r=r: _record(gcp, found_zones[r.domain], r.domain) for r in wanted])
        if out.address and all(r.domain in found_zones for r in wanted)
        else []
    )
    out.complete = (
        needed <= parts
        and out.certificate is not None
        and on_proxy
        and all(record == [out.address] for record in records)
        and len(records) == len(wanted)
    )
    return out


async def certificate_status(gcp: Gcp, named: names.Names, wanted: list[Route]) -> str | None:
    """The status of the managed certificate of ``wanted``'s domains, None when there is none."""
    name = named.certificate([r.domain for r in wanted])
    cert = await gcp.maybe("compute.SslCertificates", "get", project=gcp.project, ssl_certificate=name)
    return cert.managed.status if cert is not None else None


async def _record(gcp: Gcp, zone: Zone, domain: str) -> list[str] | None:
    """The addresses of ``domain``'s A record, or None when it has none."""
    managed = gcp.client("dns").zone(zone.name, zone.dns_name)
    fqdn = domain + "."

    def read() -> list[str] | None:
        for record in managed.list_resource_record_sets():
            if record.name == fqdn and record.record_type == "A":
                return list(record.rrdatas)
        return None

    return await gcp.run(lambda: read, api="dns", what=f"read the DNS record of {domain}")


async def apply(
    gcp: Gcp,
    named: names.Names,
    wanted: list[Route],
    found_zones: dict[str, Zone],
    digest: str,
    say: Callable[[str], None],
) -> str:
    """Make or change every part ``wanted`` needs, then the DNS records; the address."""
    from google.cloud import compute_v1 as c

    n = _Names(named)
    project, stack = named.project, named.stack
    at = {"project": gcp.project}
    address = await _address(gcp, n, project, stack, say)

    async def neg(route: Route) -> None:
        resource = c.NetworkEndpointGroup(
            name=n.neg(route),
            network_endpoint_type="SERVERLESS",
            cloud_run=c.NetworkEndpointGroupCloudRun(service=route.service_id),
            description=f"{n.description}: {route.service}",
        )
        await compute.insert(
            gcp, "RegionNetworkEndpointGroups", "network_endpoint_group", resource, region=gcp.region
        )

    async def backend(route: Route) -> None:
        group = f"projects/{gcp.project}/regions/{gcp.region}/networkEndpointGroups/{n.neg(route)}"
        resource = c.BackendService(
            name=n.backend(route),
            load_balancing_scheme=SCHEME,
            protocol="HTTPS",
            backends=[c.Backend(group=group)],
            description=f"{n.description}: {route.service}",
        )
        await compute.insert(gcp, "BackendServices", "backend_service", resource)

    domains = sorted({r.domain for r in wanted})
    certificate = named.certificate(domains)
    await gather(
        *[lambda r=r: neg(r) for r in wanted],
        lambda: compute.insert(
            gcp,
            "SslCertificates",
            "ssl_certificate",
            c.SslCertificate(
                name=certificate,
                description=n.description,
                type_="MANAGED",
                managed=c.SslCertificateManagedSslCertificate(domains=domains),
            ),
        ),
        lambda: compute.insert(
            gcp,
            "UrlMaps",
            "url_map",
            c.UrlMap(
                name=n.redirect,
                description=f"launchdeck {project} ({stack}): HTTP to HTTPS",
                default_url_redirect=c.HttpRedirectAction(
                    https_redirect=True, redirect_response_code="MOVED_PERMANENTLY_DEFAULT", strip_query=False
                ),
            ),
        ),
    )
    await gather(*[lambda r=r: backend(r) for r in wanted])
    await _url_map(gcp, n, wanted, project, stack, digest)
    https = await gcp.maybe("compute.TargetHttpsProxies", "get", **at, target_https_proxy=n.https)
    certificates = [_global(gcp, "sslCertificates", certificate)]
    if https is None:
        await compute.insert(
            gcp,
            "TargetHttpsProxies",
            "target_https_proxy",
            c.TargetHttpsProxy(
                name=n.https, url_map=_global(gcp, "urlMaps", n.url_map), ssl_certificates=certificates
            ),
            check=False,
        )
    elif [x.rsplit("/", 1)[-1] for x in https.ssl_certificates] != [certificate]:
        say("switching to the certificate of the new set of domains")
        op = await gcp.call(
            "compute.TargetHttpsProxies",
            "set_ssl_certificates",
            **at,
            target_https_proxy=n.https,
            target_https_proxies_set_ssl_certificates_request_resource=c.TargetHttpsProxiesSetSslCertificatesRequest(
                ssl_certificates=certificates
            ),
        )
        await gcp.wait(op, what="switch certificates", api="compute")
    await compute.insert(
        gcp,
        "TargetHttpProxies",
        "target_http_proxy",
        c.TargetHttpProxy(name=n.http, url_map=_global(gcp, "urlMaps", n.redirect)),
    )
    labels = names.labels(project, stack)
    await gather(
        *[
            lambda name=name, target=target, port=port: compute.insert(
                gcp,
                "GlobalForwardingRules",
                "forwarding_rule",
                c.ForwardingRule(
                    name=name,
                    target=target,
                    port_range=port,
                    I_p_address=_global(gcp, "addresses", n.address),
                    I_p_protocol="TCP",
                    load_balancing_scheme=SCHEME,
                    labels=labels,
                ),
            )
            for name, target, port in (
                (n.https, _global(gcp, "targetHttpsProxies", n.https), "443"),
                (n.http, _global(gcp, "targetHttpProxies", n.http), "80"),
            )
        ]
    )
    await gather(*[lambda r=r: _upsert(gcp, found_zones[r.domain], r.domain, address) for r in wanted])
    await _tidy(gcp, n, wanted, certificate)
    return address


async def _address(gcp: Gcp, n: _Names, project: str, stack: str, say: Callable[[str], None]) -> str:
    from google.cloud import compute_v1 as c

    found = await gcp.maybe("compute.GlobalAddresses", "get", project=gcp.project, address=n.address)
    if found is not None:  # the load balancer's first part: the rest under its names are its owner's
        names.refuse_foreign("load balancer address", n.address, found.labels, project, stack)
    if found is None:
        say("reserving the load balancer's address")
        await compute.insert(
            gcp,
            "GlobalAddresses",
            "address",
            c.Address(
                name=n.address,
                address_type="EXTERNAL",
                ip_version="IPV4",
                labels=names.labels(project, stack),
            ),
            check=False,
        )
        found = await gcp.call("compute.GlobalAddresses", "get", project=gcp.project, address=n.address)
    return found.address


async def _url_map(gcp: Gcp, n: _Names, wanted: list[Route], project: str, stack: str, digest: str) -> None:
    from google.cloud import compute_v1 as c

    description = f"{n.description}; launchdeck hash={digest}"
    desired = c.UrlMap(
        name=n.url_map,
        description=description,
        default_service=_global(gcp, "backendServices", n.backend(wanted[0])),
        host_rules=[c.HostRule(hosts=[r.domain], path_matcher=f"m{i}") for i, r in enumerate(wanted)],
        path_matchers=[
            c.PathMatcher(name=f"m{i}", default_service=_global(gcp, "backendServices", n.backend(r)))
            for i, r in enumerate(wanted)
        ],
    )
    found = await gcp.maybe("compute.UrlMaps", "get", project=gcp.project, url_map=n.url_map)
    if found is None:
        await compute.insert(gcp, "UrlMaps", "url_map", desired, check=False)
        return
    if found.description == description:
        return
    desired.fingerprint = found.fingerprint
    op = await gcp.call(
        "compute.UrlMaps", "update", project=gcp.project, url_map=n.url_map, url_map_resource=desired
    )
    await gcp.wait(op, what="route the domains", api="compute")


async def _upsert(gcp: Gcp, zone: Zone, domain: str, address: str) -> None:
    """Point ``domain`` at ``address`` unless it already does (a no-op deploy changes nothing)."""
    current = await _record(gcp, zone, domain)
    if current == [address]:
        return
    managed = gcp.client("dns").zone(zone.name, zone.dns_name)
    fqdn = domain + "."

    def change() -> None:
        batch = managed.changes()
        if current is not None:
            batch.delete_record_set(managed.resource_record_set(fqdn, "A", 300, current))
        batch.add_record_set(managed.resource_record_set(fqdn, "A", 300, [address]))
        batch.create()

    await gcp.run(lambda: change, api="dns", what=f"point {domain} at the load balancer")


async def _tidy(gcp: Gcp, n: _Names, wanted: list[Route], certificate: str) -> None:
    """Remove the stack's backends, endpoint groups and certificates the routes no longer use."""
    keep_backends = {n.backend(r) for r in wanted}
    keep_negs = {n.neg(r) for r in wanted}
    backends, negs, certs = await gather(
        lambda: gcp.all("compute.BackendServices", "list", project=gcp.project),
        lambda: gcp.all(
            "compute.RegionNetworkEndpointGroups", "list", project=gcp.project, region=gcp.region
        ),
        lambda: gcp.all("compute.SslCertificates", "list", project=gcp.project),
    )
    for b in backends:
        if n.mine(b, "be-") and b.name not in keep_backends:
            await compute.delete(gcp, "BackendServices", backend_service=b.name)
    for g in negs:
        if n.mine(g, "neg-") and g.name not in keep_negs:
            await compute.delete(
                gcp, "RegionNetworkEndpointGroups", region=gcp.region, network_endpoint_group=g.name
            )
    for cert in certs:
        if n.mine(cert, "cert-") and cert.name != certificate:
            await compute.delete(gcp, "SslCertificates", ssl_certificate=cert.name)


async def remove(gcp: Gcp, named: names.Names, done: Callable[[str], None]) -> None:
    """Delete the stack's load balancer, users before what they use, and its DNS records; one
    whose address is another stack's is left alone."""
    n = _Names(named)
    address = await gcp.maybe("compute.GlobalAddresses", "get", project=gcp.project, address=n.address)
    if address is not None and not names.owned(address.labels, n.project, n.stack):
        return
    if address is not None:
        await _remove_records(gcp, address.address, done)
    for client, key, name in (
        ("GlobalForwardingRules", "forwarding_rule", n.https),
        ("GlobalForwardingRules", "forwarding_rule", n.http),
        ("TargetHttpsProxies", "target_https_proxy", n.https),
        ("TargetHttpProxies", "target_http_proxy", n.http),
        ("UrlMaps", "url_map", n.url_map),
        ("UrlMaps", "url_map", n.redirect),
    ):
        if await compute.delete(gcp, client, **{key: name}):
            done(f"{_WHAT[client]} {name}")
    await _tidy(gcp, n, [], "")
    if await compute.delete(gcp, "GlobalAddresses", address=n.address):
        done(f"address {n.address}")


_WHAT = {
    "GlobalForwardingRules": "forwarding rule",
    "TargetHttpsProxies": "HTTPS proxy",
    "TargetHttpProxies": "HTTP proxy",
    "UrlMaps": "URL map",
}


async def _remove_records(gcp: Gcp, address: str, done: Callable[[str], None]) -> None:
    """Delete every A record of the project's public zones that points only at ``address``."""
    listed = await gcp.all("dns", "list_zones")
    for zone in listed:

        def clear(zone: Any = zone) -> list[str]:
            gone = []
            for record in zone.list_resource_record_sets():
                if record.record_type == "A" and list(record.rrdatas) == [address]:
                    batch = zone.changes()
                    batch.delete_record_set(record)
                    batch.create()
                    gone.append(record.name.rstrip("."))
            return gone

        for name in await gcp.run(lambda clear=clear: clear, api="dns", what=f"clear zone {zone.name}"):
            done(f"DNS record {name}")
