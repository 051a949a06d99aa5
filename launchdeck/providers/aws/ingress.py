"""The public way in: one Application Load Balancer per (project, stack) with ingress ports.

Each ingress (service, port) gets a target group that probes the compose healthcheck's path.
Services without a domain are reached on the load balancer's address at their published
port; a service with ``domainname`` gets an ACM certificate validated through its Route 53
zone, an alias record, and a host rule on the HTTPS listener, and port 80 redirects to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from launchdeck.compose.model import Project
from launchdeck.engine import hosts
from launchdeck.errors import ProviderError
from launchdeck.providers.aws import names, network, wait
from launchdeck.providers.aws.api import Aws, parallel
from launchdeck.providers.aws.render import health_path

CERTIFICATE_WAIT = 900.0
DEREGISTRATION_DELAY = "30"
"""Seconds a target drains before it is removed (AWS's 300 s default adds five minutes to every
rollout and teardown; HTTP requests of a web service finish well within 30)."""


@dataclass(frozen=True)
class Route:
    service: str
    port: int
    """The container port traffic goes to."""
    listen: int
    """The load balancer port (the published port, else the container port)."""
    domain: str | None
    health_path: str
    healthy_codes: str = "200-399"
    """The answers that count as healthy: any but a server error on ``/`` when the compose file
    names no health check path (an API answering 404 on ``/`` is up)."""


def routes(project: Project) -> list[Route]:
    out = []
    for service in project.services.values():
        for index, port in enumerate(service.ingress_ports):
            listen = int(port.published.split("-")[0]) if port.published else port.target
            domain = hosts.domain(service.domainname) if index == 0 and service.domainname else None
            check = service.healthcheck
            declared = check is not None and not check.disabled and check.local_path(port.target)
            out.append(Route(service.name, port.target, listen, domain,
                             health_path(service, port.target), "200-399" if declared else "200-499"))
    return out


@dataclass
class Ingress:
    dns_name: str | None = None
    target_groups: dict[tuple[str, int], str] | None = None

    def endpoints(self, routes: list[Route], service: str) -> list[str]:
        out = []
        for r in routes:
            if r.service == service and self.dns_name:
                out.append(f"https://{r.domain}" if r.domain else f"http://{self.dns_name}:{r.listen}")
        return out


@dataclass(frozen=True)
class Existing:
    """The load balancer as it is: its description, the digest it was last applied with."""

    balancer: dict[str, Any] | None
    digest: str
    ingress: Ingress


async def find(aws: Aws, named: names.Names, wanted: list[Route]) -> Existing:
    """The stack's load balancer and the target groups of ``wanted``, without changing anything.
    One found by the name the deploy gives it but with another stack's tags (or none) stops the
    deploy: it is not adopted."""
    project, stack = named.project, named.stack

    async def balancer() -> dict[str, Any] | None:
        found = await aws.maybe("elbv2", "describe_load_balancers", ("LoadBalancerNotFound",),
                                Names=[named.load_balancer()])
        return found["LoadBalancers"][0] if found else None

    async def group(route: Route) -> tuple[tuple[str, int], dict[str, Any]] | None:
        tg = await aws.maybe("elbv2", "describe_target_groups", ("TargetGroupNotFound",),
                             Names=[named.target_group(route.service, route.port)])
        return ((route.service, route.port), tg["TargetGroups"][0]) if tg else None

    lb, *found = await parallel(balancer, *[lambda r=r: group(r) for r in wanted])
    groups = dict(g for g in found if g is not None)
    arns = ([lb["LoadBalancerArn"]] if lb else []) + [g["TargetGroupArn"] for g in groups.values()]
    described = await parallel(*[lambda a=arns[i:i + 20]: aws("elbv2", "describe_tags", ResourceArns=a)
                                 for i in range(0, len(arns), 20)])  # DescribeTags takes 20
    tags = {d["ResourceArn"]: names.tag_dict(d.get("Tags")) for part in described
            for d in part.get("TagDescriptions", [])}
    for tg in groups.values():
        names.refuse_foreign("target group", tg["TargetGroupName"], tags.get(tg["TargetGroupArn"], {}),
                             project, stack)
    target_groups = {key: tg["TargetGroupArn"] for key, tg in groups.items()}
    if lb is None:
        return Existing(None, "", Ingress(target_groups={}))
    lb_tags = tags.get(lb["LoadBalancerArn"], {})
    names.refuse_foreign("load balancer", lb["LoadBalancerName"], lb_tags, project, stack)
    return Existing(lb, lb_tags.get(names.HASH, ""), Ingress(lb["DNSName"], target_groups))


async def hosted_zones(aws: Aws, domains: list[str]) -> dict[str, str]:
    """The Route 53 zone id of each domain; a clear error for one that has no zone here."""
    out: dict[str, str] = {}
    for domain in sorted(set(domains)):
        best = None
        for candidate in hosts.suffixes(domain):  # the longest suffix with a zone serves it
            listed = await aws("route53", "list_hosted_zones_by_name", DNSName=candidate, MaxItems="10")
            public = [z for z in listed["HostedZones"] if not z.get("Config", {}).get("PrivateZone")]
            found = hosts.zone_for(candidate, [z["Name"] for z in public])
            if found is not None and hosts.domain(found) == candidate:
                best = (candidate, next(z for z in public if z["Name"] == found)["Id"].split("/")[-1])
                break
        if best is None:
            raise ProviderError(
                f"no Route 53 hosted zone in this account serves {domain}", provider="aws",
                hint=f"Create one (`aws route53 create-hosted-zone --name {hosts.parent(domain)} "
                     f"--caller-reference $(date +%s)`), set your registrar's name servers to "
                     f"the four it lists, then deploy again; or remove domainname.")
        out[domain] = best[1]
    return out


async def apply(aws: Aws, named: names.Names, vpc: str, subnets: list[str], group: str,
                wanted: list[Route], zones: dict[str, str], etag: str, digest: str,
                say: Any, poll: float = 5.0) -> Ingress:
    """Make the load balancer, target groups, certificates, listeners and records ``wanted``
    needs; once all of it is in place, the load balancer keeps ``digest`` in a tag for the
    next plan to compare (a deploy cut short leaves the old digest, so the next one redoes it)."""
    if not wanted:
        return Ingress(target_groups={})
    project, stack = named.project, named.stack
    tags = names.tag_list(names.tags(project, stack, etag=etag))
    name = named.load_balancer()

    async def balancer() -> dict[str, Any]:
        found = await aws.maybe("elbv2", "describe_load_balancers", ("LoadBalancerNotFound",),
                                Names=[name])
        if found:
            return found["LoadBalancers"][0]
        say(f"creating load balancer {name}")
        made = await network.seen_late(
            lambda: aws("elbv2", "create_load_balancer", Name=name, Subnets=subnets,
                        SecurityGroups=[group], Scheme="internet-facing", Type="application",
                        IpAddressType="ipv4", Tags=tags),
            what=f"load balancer {name}", interval=poll, say=say)
        return made["LoadBalancers"][0]

    async def target_group(route: Route) -> tuple[tuple[str, int], str]:
        tg_name = named.target_group(route.service, route.port)
        found = await aws.maybe("elbv2", "describe_target_groups", ("TargetGroupNotFound",),
                                Names=[tg_name])
        if found:
            tg = found["TargetGroups"][0]
            if tg.get("HealthCheckPath") != route.health_path or \
                    (tg.get("Matcher") or {}).get("HttpCode") != route.healthy_codes:
                await aws("elbv2", "modify_target_group", TargetGroupArn=tg["TargetGroupArn"],
                          HealthCheckPath=route.health_path, Matcher={"HttpCode": route.healthy_codes})
        else:
            tg = (await aws("elbv2", "create_target_group", Name=tg_name, Protocol="HTTP",
                            Port=route.port, VpcId=vpc, TargetType="ip",
                            HealthCheckPath=route.health_path, Matcher={"HttpCode": route.healthy_codes},
                            Tags=names.tag_list(names.tags(project, stack, service=route.service,
                                                           etag=etag))))["TargetGroups"][0]
            await aws("elbv2", "modify_target_group_attributes", TargetGroupArn=tg["TargetGroupArn"],
                      Attributes=[{"Key": "deregistration_delay.timeout_seconds",
                                   "Value": DEREGISTRATION_DELAY}])
        return (route.service, route.port), tg["TargetGroupArn"]

    domains = sorted({r.domain for r in wanted if r.domain})
    steps = [balancer, *[lambda r=r: target_group(r) for r in wanted],
             *[lambda d=d: certificate(aws, project, stack, d, zones[d], etag, say, poll)
               for d in domains]]
    results = await parallel(*steps)
    lb, pairs, certs = results[0], results[1:1 + len(wanted)], results[1 + len(wanted):]
    tgs = dict(pairs)
    await _listeners(aws, lb["LoadBalancerArn"], wanted, tgs, dict(zip(domains, certs, strict=True)))
    await parallel(*[lambda d=d: _alias(aws, zones[d], d, lb) for d in domains])
    await aws("elbv2", "add_tags", ResourceArns=[lb["LoadBalancerArn"]],
              Tags=names.tag_list(names.tags(project, stack, etag=etag, hash=digest)))
    return Ingress(lb["DNSName"], tgs)


async def certificate(aws: Aws, project: str, stack: str, domain: str, zone: str, etag: str,
                      say: Any, poll: float = 5.0) -> str:
    """An issued ACM certificate for ``domain``, requested and DNS-validated when missing."""
    listed = await aws.pages("acm", "list_certificates", "CertificateSummaryList",
                             CertificateStatuses=["PENDING_VALIDATION", "ISSUED"])
    arn = None
    for summary in listed:
        if summary["DomainName"] == domain:
            found = await aws("acm", "list_tags_for_certificate", CertificateArn=summary["CertificateArn"])
            if names.owned(names.tag_dict(found.get("Tags")), project, stack):
                arn = summary["CertificateArn"]
                break
    if arn is None:
        say(f"requesting a certificate for {domain}")
        arn = (await aws("acm", "request_certificate", DomainName=domain, ValidationMethod="DNS",
                         IdempotencyToken=names.idempotency_token(project, stack, domain, etag),
                         Tags=names.tag_list(names.tags(project, stack, etag=etag))))["CertificateArn"]
    recorded = False

    async def issued() -> tuple[str | None, str]:
        nonlocal recorded
        cert = (await aws("acm", "describe_certificate", CertificateArn=arn))["Certificate"]
        if cert["Status"] == "ISSUED":
            return arn, ""
        if cert["Status"] not in ("PENDING_VALIDATION",):
            raise ProviderError(f"the certificate for {domain} is {cert['Status']}", provider="aws",
                                hint="Check the domain's DNS in Route 53, then deploy again.")
        record = next((o.get("ResourceRecord") for o in cert.get("DomainValidationOptions", [])
                       if o.get("ResourceRecord")), None)
        if record and not recorded:
            await _upsert(aws, zone, record["Name"], {"Type": record["Type"], "TTL": 300,
                                                      "ResourceRecords": [{"Value": record["Value"]}]})
            recorded = True
        return None, "waiting for DNS validation" if recorded else "waiting for its DNS record"

    return await wait.until(issued, what=f"the certificate of {domain}", interval=poll, max_interval=poll,
                            timeout=CERTIFICATE_WAIT, say=say, hint="Deploy again to keep waiting.")


async def _listeners(aws: Aws, lb: str, wanted: list[Route], tgs: dict[tuple[str, int], str],
                     certs: dict[str, str]) -> None:
    def forward(route: Route) -> list[dict[str, Any]]:
        return [{"Type": "forward", "TargetGroupArn": tgs[(route.service, route.port)]}]

    desired: dict[int, tuple[str, list[dict[str, Any]]]] = {}
    for route in wanted:
        if not route.domain:
            desired.setdefault(route.listen, ("HTTP", forward(route)))
    if certs:
        desired[443] = ("HTTPS", [{"Type": "fixed-response", "FixedResponseConfig": {
            "StatusCode": "404", "ContentType": "text/plain", "MessageBody": "not found"}}])
        desired.setdefault(80, ("HTTP", [{"Type": "redirect", "RedirectConfig": {
            "Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}]))
    found = {item["Port"]: item for item in await aws.pages("elbv2", "describe_listeners", "Listeners",
                                                            LoadBalancerArn=lb)}

    async def listener(port: int) -> str:
        protocol, actions = desired[port]
        extra: dict[str, Any] = {}
        if protocol == "HTTPS":
            extra = {"Certificates": [{"CertificateArn": certs[sorted(certs)[0]]}],
                     "SslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06"}
        have = found.get(port)
        if have is None:
            made = await aws("elbv2", "create_listener", LoadBalancerArn=lb, Port=port,
                             Protocol=protocol, DefaultActions=actions, **extra)
            return made["Listeners"][0]["ListenerArn"]
        if have["Protocol"] != protocol or _actions(have["DefaultActions"]) != _actions(actions):
            await aws("elbv2", "modify_listener", ListenerArn=have["ListenerArn"], Port=port,
                      Protocol=protocol, DefaultActions=actions, **extra)
        return have["ListenerArn"]

    arns = dict(zip(sorted(desired), await parallel(*[lambda p=p: listener(p) for p in sorted(desired)]),
                    strict=True))
    stale = [item["ListenerArn"] for port, item in found.items() if port not in desired]
    await parallel(*[lambda a=a: aws("elbv2", "delete_listener", ListenerArn=a) for a in stale])
    if certs:
        hosts = {r.domain: tgs[(r.service, r.port)] for r in wanted if r.domain}
        await _host_rules(aws, arns[443], hosts)
        extra_certs = [certs[d] for d in sorted(certs)[1:]]
        if extra_certs:
            listed = await aws("elbv2", "describe_listener_certificates", ListenerArn=arns[443])
            have_certs = {c["CertificateArn"] for c in listed.get("Certificates", [])}
            missing = [c for c in extra_certs if c not in have_certs]
            if missing:
                await aws("elbv2", "add_listener_certificates", ListenerArn=arns[443],
                          Certificates=[{"CertificateArn": c} for c in missing])


def _actions(actions: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(a["Type"], a.get("TargetGroupArn", "")) for a in actions]


async def _host_rules(aws: Aws, listener: str, hosts: dict[str, str]) -> None:
    rules = (await aws("elbv2", "describe_rules", ListenerArn=listener))["Rules"]
    have: dict[str, dict[str, Any]] = {}
    for rule in rules:
        if rule.get("IsDefault"):
            continue
        for condition in rule.get("Conditions", []):
            if condition.get("Field") == "host-header":
                values = condition.get("HostHeaderConfig", {}).get("Values") or condition.get("Values", [])
                for host in values:
                    have[host] = rule
    used = {int(r["Priority"]) for r in rules if str(r.get("Priority", "")).isdigit()}
    priority = max(used, default=0)
    for host, tg in sorted(hosts.items()):
        rule = have.pop(host, None)
        action = [{"Type": "forward", "TargetGroupArn": tg}]
        if rule is None:
            priority += 1
            await aws("elbv2", "create_rule", ListenerArn=listener, Priority=priority,
                      Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": [host]}}],
                      Actions=action)
        elif _actions(rule["Actions"]) != _actions(action):
            await aws("elbv2", "modify_rule", RuleArn=rule["RuleArn"], Actions=action)
    for rule in {r["RuleArn"] for r in have.values()}:
        await aws("elbv2", "delete_rule", RuleArn=rule)


async def _alias(aws: Aws, zone: str, domain: str, lb: dict[str, Any]) -> None:
    target = {"HostedZoneId": lb["CanonicalHostedZoneId"], "DNSName": lb["DNSName"],
              "EvaluateTargetHealth": True}
    await _upsert(aws, zone, domain, {"Type": "A", "AliasTarget": target})


async def _upsert(aws: Aws, zone: str, name: str, record: dict[str, Any]) -> None:
    """Write a record unless it already says the same (a no-op deploy changes nothing)."""
    fqdn = name.rstrip(".").lower() + "."
    listed = await aws("route53", "list_resource_record_sets", HostedZoneId=zone,
                       StartRecordName=fqdn, StartRecordType=record["Type"], MaxItems="1")
    for have in listed["ResourceRecordSets"][:1]:
        if have["Name"].lower() == fqdn and have["Type"] == record["Type"] and _same(have, record):
            return
    await aws("route53", "change_resource_record_sets", HostedZoneId=zone, ChangeBatch={
        "Changes": [{"Action": "UPSERT", "ResourceRecordSet": {"Name": fqdn, **record}}]})


def _same(have: dict[str, Any], want: dict[str, Any]) -> bool:
    if "AliasTarget" in want:
        alias = have.get("AliasTarget") or {}
        return _host(alias.get("DNSName", "")) == _host(want["AliasTarget"]["DNSName"])
    return [r["Value"] for r in have.get("ResourceRecords", [])] == \
        [r["Value"] for r in want["ResourceRecords"]]


def _host(name: str) -> str:
    return name.rstrip(".").lower()


async def remove_records(aws: Aws, zone: str, domain: str, dns_name: str) -> bool:
    """Delete ``domain``'s alias record if it points at ``dns_name``; whether one was deleted."""
    fqdn = domain.rstrip(".").lower() + "."
    listed = await aws("route53", "list_resource_record_sets", HostedZoneId=zone,
                       StartRecordName=fqdn, StartRecordType="A", MaxItems="1")
    for have in listed["ResourceRecordSets"][:1]:
        alias = have.get("AliasTarget") or {}
        if have["Name"].lower() == fqdn and _host(alias.get("DNSName", "")) == _host(dns_name):
            await aws("route53", "change_resource_record_sets", HostedZoneId=zone, ChangeBatch={
                "Changes": [{"Action": "DELETE", "ResourceRecordSet": have}]})
            return True
    return False


async def remove_validation(aws: Aws, zone: str, certificate: dict[str, Any], others: list[str]) -> list[str]:
    """Delete the CNAME records that validated ``certificate`` (as ACM describes it) from
    ``zone``; the names deleted. A record stays while ``others`` (ARNs of the account's other
    certificates) has one for the same domain: ACM gives every certificate of a domain in an
    account the same record (ACM User Guide, DNS validation), and renews them with it."""
    if others:
        return []
    out = []
    for option in certificate.get("DomainValidationOptions", []):
        record = option.get("ResourceRecord") or {}
        if not record.get("Name"):
            continue
        fqdn = record["Name"].rstrip(".").lower() + "."
        listed = await aws("route53", "list_resource_record_sets", HostedZoneId=zone,
                           StartRecordName=fqdn, StartRecordType=record.get("Type", "CNAME"), MaxItems="1")
        for have in listed["ResourceRecordSets"][:1]:
            if have["Name"].lower() == fqdn and have["Type"] == record.get("Type", "CNAME") and \
                    [r["Value"] for r in have.get("ResourceRecords", [])] == [record["Value"]]:
                await aws("route53", "change_resource_record_sets", HostedZoneId=zone, ChangeBatch={
                    "Changes": [{"Action": "DELETE", "ResourceRecordSet": have}]})
                out.append(fqdn.rstrip("."))
    return out
