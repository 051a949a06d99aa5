"""estimate: what a project would cost a month on a cloud, priced offline from a shipped table.

Each service is sized the way its provider sizes it (AWS: the smallest valid Fargate size that
covers ``deploy.resources``; GCP: a valid Cloud Run size), managed stores as the instance
types the providers create, and the project's shared parts (load balancer, DNS zone, traffic)
once. The prices come from ``launchdeck/prices/<table>.json`` (the provider description names it) (public list prices, dated,
with their sources); nothing here calls a cloud API. Every figure is shown with the quantity,
unit and unit price it comes from, and the assumptions (hours, traffic) beside the total.
"""

from __future__ import annotations

import json
import math
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, Field

from launchdeck.errors import UsageError
from launchdeck.tools.project import ProjectRef

if TYPE_CHECKING:
    from launchdeck.compose.model import Project, Service

# What the providers create for a managed store (providers/aws/stores.py; issue 12 for GCP).
AWS_POSTGRES = "db.t4g.micro"
AWS_POSTGRES_GB = 20
AWS_REDIS = "cache.t4g.micro"
AWS_BUILDER = "BUILD_GENERAL1_SMALL"
AWS_BALANCER_ADDRESSES = 2
"""An internet-facing ALB has a public IPv4 address in each of its (two) zones."""
GCP_POSTGRES = "db-f1-micro"
GCP_POSTGRES_GB = 10
GCP_REDIS_GB = 1
GCP_BUILDER = "e2-standard-2"

# Cloud Run: the CPUs an instance-billed service can have, and the least CPU each memory needs.
_RUN_CPUS = (1, 2, 4, 6, 8)
_RUN_CPU_FOR_MEMORY = ((4096, 1), (8192, 2), (16384, 4), (24576, 6), (32768, 8))
_RUN_MEMORY_FOR_CPU = {4: 2048, 6: 4096, 8: 4096}
_RUN_MAX_MIB = 32768


# -- the result ---------------------------------------------------------------------------------


class Assumptions(BaseModel):
    """What the estimate cannot read from the compose file; each figure depends on these."""

    hours_per_month: float = Field(730, description="Hours every replica and store runs.")
    egress_gb: float = Field(10, description="GB a month served to the internet.")
    log_gb: float = Field(1, description="GB of logs each service writes a month.")
    build_minutes: float = Field(30, description="Build minutes a month per built service.")
    image_gb: float = Field(0.5, description="GB of images kept per built service.")
    lb_capacity_units: float = Field(1, description="Average ALB capacity units (AWS).")

    def lines(self, p: AwsPrices | GcpPrices) -> list[str]:
        out = [f"{self.hours_per_month:g} hours a month: every replica and store runs all month",
               f"{self.egress_gb:g} GB a month served to the internet",
               f"{self.log_gb:g} GB of logs a month per service",
               f"{self.build_minutes:g} build minutes and {self.image_gb:g} GB of images per built "
               "service"]
        if isinstance(p, AwsPrices):
            out.append(f"{self.lb_capacity_units:g} load balancer capacity unit(s) on average")
        else:
            out.append("Cloud Run bills each replica as a minimum instance with CPU always "
                       "allocated (instance-based billing)")
        return out


class LineItem(BaseModel):
    item: str = Field(description="What is paid for: vCPU, memory, instance, storage ...")
    detail: str = Field(description="The size or instance type priced.")
    quantity: float
    unit: str
    unit_price: float
    monthly: float


class ServiceCost(BaseModel):
    name: str
    kind: str = Field(description="service, the managed store it is (postgres, redis), or "
                                  "shared: the load balancer, DNS zone, traffic and secrets.")
    monthly: float
    items: list[LineItem]


class EstimateResult(BaseModel):
    project: str
    provider: str
    region: str | None
    currency: str = "USD"
    monthly_total: float
    services: list[ServiceCost] = Field([], description="Each service and store, then the "
                                        "shared parts (kind shared), each with its line items.")
    assumed: list[str] = Field([], description="The assumptions made, in words.")
    notes: list[str] = Field([], description="What is not priced, and why.")
    prices_as_of: str | None = None


# -- prices ---------------------------------------------------------------------------------------


class _Fargate(BaseModel):
    vcpu_hour: float
    gb_hour: float


class AwsPrices(BaseModel):
    models: ClassVar[str] = "Bedrock"
    notes: ClassVar[list[str]] = [
        "Free: SSM parameters (config), ACM certificates, the ECS cluster, the VPC (no NAT "
        "gateway is made). Not priced: Cloud Map lookups, S3 for build contexts (cents)."]

    fargate: dict[str, _Fargate]
    public_ipv4_hour: float
    alb_hour: float
    alb_lcu_hour: float
    rds_instance_hour: dict[str, float]
    rds_gp3_gb_month: float
    elasticache_node_hour: dict[str, float]
    logs_ingest_gb: float
    logs_store_gb_month: float
    codebuild_minute: dict[str, float]
    ecr_gb_month: float
    route53_zone_month: float
    egress_gb: float


class GcpPrices(BaseModel):
    models: ClassVar[str] = "Vertex AI"
    notes: ClassVar[list[str]] = [
        "Free tiers (Cloud Run, Cloud Build, Logging, Secret Manager) are not subtracted. "
        "Not priced: Cloud Storage for build contexts (cents)."]

    run_vcpu_second: float
    run_gib_second: float
    sql_instance_hour: dict[str, float]
    sql_ssd_gb_month: float
    sql_backup_gb_month: float
    redis_basic_gb_hour: float
    lb_rules_hour: float
    lb_data_gb: float
    dns_zone_month: float
    build_minute: dict[str, float]
    registry_gb_month: float
    logging_ingest_gib: float
    secret_version_month: float
    egress_gb: float


class PriceTable(BaseModel):
    """One cloud's prices file: dated, with its sources, per region."""

    provider: str
    currency: str
    as_of: str
    note: str
    sources: list[str]
    regions: dict[str, AwsPrices | GcpPrices]
    """Each region's row, of the kind its fields say (the two share no required field)."""


@cache
def prices(table: str) -> PriceTable:
    """The shipped price table called ``table`` (a provider description's ``prices``)."""
    data = json.loads(resources.files("launchdeck.prices").joinpath(f"{table}.json").read_text())
    return PriceTable.model_validate(data)


def region_for(provider: str, region: str | None) -> str:
    """The region to price: the one given, else the provider's default; a UsageError naming
    the priced regions when the table has no such region."""
    from launchdeck.providers import description

    described = description(provider)
    if described.prices is None:
        raise UsageError(f"no prices for provider {provider!r}", hint="It costs nothing to run on.")
    chosen = region or described.default_region or ""
    known = list(prices(described.prices).regions)
    if chosen not in known:
        raise UsageError(f"no {provider} prices for region {chosen!r}",
                         hint=f"Priced regions: {', '.join(known)}. Estimate for one of them "
                              "(prices elsewhere are usually within 10-30% of these).")
    return chosen


# -- sizes --------------------------------------------------------------------------------------


def cloud_run_size(service: Service) -> tuple[int, int]:
    """The smallest valid Cloud Run (CPUs, memory MiB) with CPU always allocated that covers
    what the service asks: at least 1 CPU and 512 MiB (Cloud Run's default), more CPU where
    the memory needs it (over 4 GiB: 2, over 8: 4, over 16: 6, over 24: 8), at most 8 / 32 GiB."""
    cpus, memory = service.asked
    mib = min(max(512, math.ceil(memory)), _RUN_MAX_MIB)
    floor = next(cpu for limit, cpu in _RUN_CPU_FOR_MEMORY if mib <= limit)
    cpu = next((c for c in _RUN_CPUS if c >= max(cpus, floor)), _RUN_CPUS[-1])
    return cpu, max(mib, _RUN_MEMORY_FOR_CPU.get(cpu, 0))


def _architecture(service: Service) -> str:
    return "arm64" if service.platform and "arm64" in service.platform else "x86_64"


def _gib(mib: float) -> str:
    return f"{mib / 1024:g} GB"


def _zones(project: Project) -> list[str]:
    """The DNS zones the project's domains live in (each domain's parent, as a guess)."""
    zones = set()
    for service in project.services.values():
        if service.domainname and service.ingress_ports:
            labels = service.domainname.rstrip(".").split(".")
            zones.add(".".join(labels[1:] if len(labels) > 2 else labels))
    return sorted(zones)


# -- pricing --------------------------------------------------------------------------------------


def _line(item: str, detail: str, quantity: float, unit: str, price: float) -> LineItem:
    return LineItem(item=item, detail=detail, quantity=round(quantity, 6), unit=unit,
                    unit_price=price, monthly=round(quantity * price, 6))


def _aws_service(service: Service, p: AwsPrices, a: Assumptions) -> list[LineItem]:
    from launchdeck.providers.aws.render import fargate_size

    units, mib = fargate_size(service)
    arch = _architecture(service)
    count = service.replica_count
    size = f"{units / 1024:g} vCPU / {_gib(mib)} {arch}"
    hours = count * a.hours_per_month
    rate = p.fargate[arch]
    items = [
        _line("vCPU", f"{count} x Fargate {size}", hours * units / 1024, "vCPU-hours",
              rate.vcpu_hour),
        _line("memory", f"{count} x Fargate {size}", hours * mib / 1024, "GB-hours", rate.gb_hour),
        _line("public IPv4", f"{count} task address(es)", hours, "address-hours",
              p.public_ipv4_hour),
        _line("logs", "CloudWatch Logs ingestion", a.log_gb, "GB", p.logs_ingest_gb),
        _line("log storage", "CloudWatch Logs", a.log_gb, "GB-months", p.logs_store_gb_month),
    ]
    if service.build is not None:
        items += [_line("builds", f"CodeBuild {AWS_BUILDER}", a.build_minutes, "minutes",
                        p.codebuild_minute[AWS_BUILDER]),
                  _line("images", "ECR storage", a.image_gb, "GB-months", p.ecr_gb_month)]
    return items


def _aws_store(kind: str, p: AwsPrices, a: Assumptions) -> list[LineItem]:
    if kind == "postgres":
        return [_line("instance", f"RDS PostgreSQL {AWS_POSTGRES}, single-AZ", a.hours_per_month, "hours",
                      p.rds_instance_hour[AWS_POSTGRES]),
                _line("storage", "gp3, encrypted", AWS_POSTGRES_GB, "GB-months",
                      p.rds_gp3_gb_month)]
    return [_line("node", f"ElastiCache Redis {AWS_REDIS}, one node", a.hours_per_month, "hours",
                  p.elasticache_node_hour[AWS_REDIS])]


def _aws_shared(project: Project, p: AwsPrices, a: Assumptions) -> list[LineItem]:
    if not any(s.ingress_ports for s in project.services.values() if not s.managed_store):
        return []
    items = [
        _line("load balancer", "Application Load Balancer", a.hours_per_month, "hours", p.alb_hour),
        _line("load balancer capacity", f"{a.lb_capacity_units:g} LCU on average",
              a.lb_capacity_units * a.hours_per_month, "LCU-hours", p.alb_lcu_hour),
        _line("public IPv4", f"{AWS_BALANCER_ADDRESSES} load balancer addresses",
              AWS_BALANCER_ADDRESSES * a.hours_per_month, "address-hours", p.public_ipv4_hour),
        _line("traffic out", "data transfer to the internet", a.egress_gb, "GB", p.egress_gb),
    ]
    items += [_line("DNS zone", f"Route 53 hosted zone {zone} (yours already)", 1, "zone-months",
                    p.route53_zone_month) for zone in _zones(project)]
    return items


def _gcp_service(service: Service, p: GcpPrices, a: Assumptions) -> list[LineItem]:
    cpu, mib = cloud_run_size(service)
    count = service.replica_count
    size = f"{cpu} vCPU / {_gib(mib)}"
    seconds = count * a.hours_per_month * 3600
    items = [
        _line("vCPU", f"{count} x Cloud Run {size} (minimum instances)", seconds * cpu,
              "vCPU-seconds", p.run_vcpu_second),
        _line("memory", f"{count} x Cloud Run {size} (minimum instances)", seconds * mib / 1024,
              "GiB-seconds", p.run_gib_second),
        _line("logs", "Cloud Logging ingestion", a.log_gb, "GiB", p.logging_ingest_gib),
    ]
    if service.build is not None:
        items += [_line("builds", f"Cloud Build {GCP_BUILDER}", a.build_minutes, "minutes",
                        p.build_minute[GCP_BUILDER]),
                  _line("images", "Artifact Registry storage", a.image_gb, "GB-months",
                        p.registry_gb_month)]
    return items


def _gcp_store(kind: str, p: GcpPrices, a: Assumptions) -> list[LineItem]:
    if kind == "postgres":
        return [_line("instance", f"Cloud SQL for PostgreSQL {GCP_POSTGRES}", a.hours_per_month,
                      "hours", p.sql_instance_hour[GCP_POSTGRES]),
                _line("storage", "SSD", GCP_POSTGRES_GB, "GB-months", p.sql_ssd_gb_month),
                _line("backups", "automated backups, about the disk's size", GCP_POSTGRES_GB,
                      "GB-months", p.sql_backup_gb_month)]
    return [_line("instance", f"Memorystore for Redis Basic {GCP_REDIS_GB} GB",
                  GCP_REDIS_GB * a.hours_per_month, "GB-hours", p.redis_basic_gb_hour)]


def _gcp_shared(project: Project, p: GcpPrices, a: Assumptions, config: list[str]) -> list[LineItem]:
    items = []
    if any(s.ingress_ports for s in project.services.values() if not s.managed_store):
        items.append(_line("traffic out", "data transfer to the internet (Premium Tier)",
                           a.egress_gb, "GB", p.egress_gb))
    zones = _zones(project)
    if zones:  # a domain name puts a global external Application Load Balancer in front
        items += [_line("load balancer", "forwarding rules (up to 5 billed as one)",
                        a.hours_per_month, "hours", p.lb_rules_hour),
                  _line("load balancer data", "data processed", a.egress_gb, "GB", p.lb_data_gb)]
        items += [_line("DNS zone", f"Cloud DNS managed zone {zone} (yours already)", 1,
                        "zone-months", p.dns_zone_month) for zone in zones]
    if config:
        items.append(_line("secrets", f"Secret Manager: {len(config)} config value(s)", len(config),
                           "secret-version-months", p.secret_version_month))
    return items


def price(project: Project, provider: str, region: str | None = None,
          assumptions: Assumptions | None = None, config: list[str] | None = None) -> EstimateResult:
    """The monthly cost of ``project`` on ``provider`` in ``region`` (pure: no I/O beyond the
    shipped price table). ``config``: the config names it reads (priced on GCP)."""
    from launchdeck.providers import description

    a = assumptions or Assumptions()
    described = description(provider)
    if described.prices is None:
        return EstimateResult(project=project.name, provider=provider, region=None, monthly_total=0,
                              notes=[f"{provider} runs on this machine ({described.title}): "
                                     "it costs nothing beyond the machine."])
    region = region_for(provider, region)
    table = prices(described.prices)
    p = table.regions[region]
    notes: list[str] = []
    services = []
    for service in project.services.values():
        kind = service.managed_store
        if kind == "mongodb":
            notes.append(f"{service.name}: x-defang-mongodb has no managed store on {provider} "
                         "(the deploy refuses it); not priced.")
            continue
        if kind is not None:
            items = (_aws_store(kind, p, a) if isinstance(p, AwsPrices)
                     else _gcp_store(kind, p, a))
        else:
            items = (_aws_service(service, p, a) if isinstance(p, AwsPrices)
                     else _gcp_service(service, p, a))
        if service.llm is not None:
            notes.append(f"{service.name}: model calls (x-defang-llm) are billed per token by "
                         f"{p.models}; not priced.")
        services.append(ServiceCost(name=service.name, kind=kind or "service",
                                    monthly=round(sum(i.monthly for i in items), 2), items=items))
    shared = (_aws_shared(project, p, a) if isinstance(p, AwsPrices)
              else _gcp_shared(project, p, a, config or []))
    notes += p.notes
    if shared:
        services.append(ServiceCost(name="(shared)", kind="shared",
                                    monthly=round(sum(i.monthly for i in shared), 2), items=shared))
    total = sum(i.monthly for s in services for i in s.items)
    return EstimateResult(project=project.name, provider=provider, region=region,
                          currency=table.currency, monthly_total=round(total, 2), services=services,
                          assumed=a.lines(p), notes=notes, prices_as_of=table.as_of)


async def estimate(ref: ProjectRef, *, region: str | None = None,
                   assumptions: Assumptions | None = None) -> EstimateResult:
    """Load the project and price it on ``ref.provider`` in ``region``, else the region in
    force for the stack (the environment's, else its file's); no cloud is called."""
    from launchdeck.compose.validate import required_config

    loaded = ref.load()
    return price(loaded.project, ref.provider_name, region or ref.settings.region, assumptions,
                 required_config(loaded))


def render(result: EstimateResult) -> str:
    """The estimate as a table (each line names the size or instance type priced), with the
    assumptions, for people."""
    if result.region is None:  # a target that costs nothing
        return "\n".join([f"estimate for {result.project} on {result.provider}: 0 a month",
                          *result.notes])
    rows = [("SERVICE", "ITEM", "DETAIL", "QUANTITY", f"{result.currency}/MONTH")]
    for service in result.services:
        rows += [(service.name, i.item, i.detail, f"{_quantity(i.quantity)} {i.unit}",
                  f"{i.monthly:.2f}") for i in service.items]
    rows.append(("TOTAL", "", "", "", f"{result.monthly_total:.2f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = [f"estimate for {result.project} on {result.provider} ({result.region}), list prices "
             f"of {result.prices_as_of}"]
    lines += ["  ".join([*(c.ljust(w) for c, w in zip(row[:4], widths, strict=False)),
                         row[4].rjust(widths[4])]).rstrip() for row in rows]
    lines.append("assumed: " + "; ".join(result.assumed))
    lines += [f"note: {note}" for note in result.notes]
    return "\n".join(lines)


def summary(result: EstimateResult) -> str:
    """A short text: each service's and the shared parts' monthly cost, the total, assumptions."""
    if result.region is None:
        return render(result)
    lines = [f"{result.project} on {result.provider} ({result.region}): about "
             f"{result.monthly_total:.2f} {result.currency} a month (list prices of "
             f"{result.prices_as_of})"]
    lines += [f"- {s.name} ({s.kind}): {s.monthly:.2f}" for s in result.services]
    lines.append("assumed: " + "; ".join(result.assumed))
    lines += result.notes
    return "\n".join(lines)


def _quantity(value: float) -> str:
    return f"{value:,.0f}" if value >= 10_000 else f"{value:g}"
