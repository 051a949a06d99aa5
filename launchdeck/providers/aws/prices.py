"""What a project costs on AWS: each service as the smallest Fargate size that covers it (as
render sizes it), the stores as stores.py makes them, the load balancer, DNS zones and
traffic once; priced from launchdeck/prices/aws.json."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel

from launchdeck.prices import Assumptions, LineItem, architecture, gib, line, zones

if TYPE_CHECKING:
    from launchdeck.compose.model import Project, Service
    from launchdeck.engine.modes import Mode

POSTGRES = "db.t4g.micro"
POSTGRES_GB = 20
REDIS = "cache.t4g.micro"
DOCUMENTDB = "db.t4g.medium"
"""stores.DOCUMENTDB_CLASS: the smallest class DocumentDB offers."""
DOCUMENTDB_GB = 10
DOCUMENTDB_IO_MILLIONS = 1
"""DocumentDB (Standard storage) bills the storage used and each million I/O requests: what a
small project's cluster is assumed to use in a month."""
BUILDER = "BUILD_GENERAL1_SMALL"
BALANCER_ADDRESSES = 2
"""An internet-facing ALB has a public IPv4 address in each of its (two) zones."""
MODELS = "Bedrock"
"""Who bills the model calls of x-defang-llm."""
NOTES = ["Free: SSM parameters (config), ACM certificates, the ECS cluster, the VPC (no NAT "
         "gateway is made). Not priced: Cloud Map lookups, S3 for build contexts (cents)."]


class _Fargate(BaseModel):
    vcpu_hour: float
    gb_hour: float


class Prices(BaseModel):
    fargate: dict[str, _Fargate]
    public_ipv4_hour: float
    alb_hour: float
    alb_lcu_hour: float
    rds_instance_hour: dict[str, float]
    rds_gp3_gb_month: float
    elasticache_node_hour: dict[str, float]
    docdb_instance_hour: dict[str, float]
    docdb_storage_gb_month: float
    docdb_io_million: float
    logs_ingest_gb: float
    logs_store_gb_month: float
    codebuild_minute: dict[str, float]
    ecr_gb_month: float
    route53_zone_month: float
    egress_gb: float


def assumed(a: Assumptions) -> list[str]:
    """The assumptions of its own."""
    return [f"{a.lb_capacity_units:g} load balancer capacity unit(s) on average"]


def service_items(service: Service, p: Prices, a: Assumptions) -> list[LineItem]:
    from launchdeck.providers.aws.render import fargate_size

    units, mib = fargate_size(service)
    arch = architecture(service)
    count = service.replica_count
    size = f"{units / 1024:g} vCPU / {gib(mib)} {arch}"
    hours = count * a.hours_per_month
    rate = p.fargate[arch]
    items = [
        line("vCPU", f"{count} x Fargate {size}", hours * units / 1024, "vCPU-hours",
             rate.vcpu_hour),
        line("memory", f"{count} x Fargate {size}", hours * mib / 1024, "GB-hours", rate.gb_hour),
        line("public IPv4", f"{count} task address(es)", hours, "address-hours",
             p.public_ipv4_hour),
        line("logs", "CloudWatch Logs ingestion", a.log_gb, "GB", p.logs_ingest_gb),
        line("log storage", "CloudWatch Logs", a.log_gb, "GB-months", p.logs_store_gb_month),
    ]
    if service.build is not None:
        items += [line("builds", f"CodeBuild {BUILDER}", a.build_minutes, "minutes",
                       p.codebuild_minute[BUILDER]),
                  line("images", "ECR storage", a.image_gb, "GB-months", p.ecr_gb_month)]
    return items


def store_items(kind: str, p: Prices, a: Assumptions) -> list[LineItem]:
    if kind == "postgres":
        return [line("instance", f"RDS PostgreSQL {POSTGRES}, single-AZ", a.hours_per_month, "hours",
                     p.rds_instance_hour[POSTGRES]),
                line("storage", "gp3, encrypted", POSTGRES_GB, "GB-months",
                     p.rds_gp3_gb_month)]
    if kind == "mongodb":
        return [line("instance", f"DocumentDB {DOCUMENTDB}, one instance", a.hours_per_month, "hours",
                     p.docdb_instance_hour[DOCUMENTDB]),
                line("storage", f"{DOCUMENTDB_GB} GB stored (assumed), encrypted", DOCUMENTDB_GB,
                     "GB-months", p.docdb_storage_gb_month),
                line("I/O", f"{DOCUMENTDB_IO_MILLIONS} million requests (assumed)", DOCUMENTDB_IO_MILLIONS,
                     "million requests", p.docdb_io_million)]
    return [line("node", f"ElastiCache Redis {REDIS}, one node", a.hours_per_month, "hours",
                 p.elasticache_node_hour[REDIS])]


def mode_items(kind: str, mode: Mode, p: Prices, a: Assumptions) -> list[LineItem]:
    """What a store costs more in ``mode``: RDS Multi-AZ bills the standby instance and its
    storage as much again ("Multi-AZ" rows of the RDS pricing page); an ElastiCache replica is
    one more node; a DocumentDB replica is one more instance on the cluster's one storage
    ("storage ... is shared by all instances": DocumentDB pricing page)."""
    from launchdeck.engine import modes

    if not modes.of(mode).zonal_standby:
        return []
    if kind == "postgres":
        return [line("Multi-AZ standby", f"RDS PostgreSQL {POSTGRES} in another zone",
                     a.hours_per_month, "hours", p.rds_instance_hour[POSTGRES]),
                line("standby storage", "gp3, encrypted", POSTGRES_GB, "GB-months",
                     p.rds_gp3_gb_month)]
    if kind == "redis":
        return [line("replica", f"ElastiCache Redis {REDIS} in another zone (failover)",
                     a.hours_per_month, "hours", p.elasticache_node_hour[REDIS])]
    if kind == "mongodb":  # the cluster's storage is shared: only the instance is billed again
        return [line("replica instance", f"DocumentDB {DOCUMENTDB} in another zone (failover)",
                     a.hours_per_month, "hours", p.docdb_instance_hour[DOCUMENTDB])]
    return []


def mode_notes(mode: Mode) -> list[str]:
    """What ``mode`` changes that is not priced."""
    from launchdeck.engine import modes

    row = modes.of(mode)
    out = []
    if row.spot_beyond_first:
        out.append("Fargate Spot (every replica after a service's first) is billed at a varying "
                   "discount of up to 70%; priced here at the on-demand rate, an upper bound.")
    if row.backup_days > 1:
        out.append(f"RDS keeps {row.backup_days} days of backups: backup storage up to the size "
                   "of the database is free.")
    return out


def shared_items(project: Project, p: Prices, a: Assumptions, config: list[str]) -> list[LineItem]:
    if not any(s.ingress_ports for s in project.services.values() if not s.managed_store):
        return []
    items = [
        line("load balancer", "Application Load Balancer", a.hours_per_month, "hours", p.alb_hour),
        line("load balancer capacity", f"{a.lb_capacity_units:g} LCU on average",
             a.lb_capacity_units * a.hours_per_month, "LCU-hours", p.alb_lcu_hour),
        line("public IPv4", f"{BALANCER_ADDRESSES} load balancer addresses",
             BALANCER_ADDRESSES * a.hours_per_month, "address-hours", p.public_ipv4_hour),
        line("traffic out", "data transfer to the internet", a.egress_gb, "GB", p.egress_gb),
    ]
    items += [line("DNS zone", f"Route 53 hosted zone {zone} (yours already)", 1, "zone-months",
                   p.route53_zone_month) for zone in zones(project)]
    return items
