"""What a project costs on GCP: each service as a valid Cloud Run size (CPU always allocated),
the stores as the provider makes them, the load balancer a domain puts in front, DNS zones,
secrets and traffic; priced from launchdeck/prices/gcp.json."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pydantic import BaseModel

from launchdeck.prices import Assumptions, LineItem, gib, line, zones

if TYPE_CHECKING:
    from launchdeck.compose.model import Project, Service
    from launchdeck.engine.modes import Mode

POSTGRES = "db-f1-micro"
POSTGRES_GB = 10
REDIS_GB = 1
MONGO_GIB = 1
MONGO_READ_MILLIONS = 10
MONGO_WRITE_MILLIONS = 2
"""A MongoDB store (Firestore Enterprise edition) is billed by use, not by size: these are the
assumed monthly storage (GiB), read units and write units (millions). Its figures are the
us-central1 list prices of https://cloud.google.com/firestore/enterprise/pricing (read
2026-12-07: $0.05 per million read units, $0.26 per million write units, $0.00020 per GiB-hour),
used for europe-west1 as well."""
BUILDER = "e2-standard-2"
MODELS = "Vertex AI"
"""Who bills the model calls of x-defang-llm."""
NOTES = ["Free tiers (Cloud Run, Cloud Build, Logging, Secret Manager) are not subtracted. "
         "Not priced: Cloud Storage for build contexts (cents)."]

# Cloud Run: the CPUs an instance-billed service can have, and the least CPU each memory needs.
_RUN_CPUS = (1, 2, 4, 6, 8)
_RUN_CPU_FOR_MEMORY = ((4096, 1), (8192, 2), (16384, 4), (24576, 6), (32768, 8))
_RUN_MEMORY_FOR_CPU = {4: 2048, 6: 4096, 8: 4096}
_RUN_MAX_MIB = 32768


class Prices(BaseModel):
    run_vcpu_second: float
    run_gib_second: float
    sql_instance_hour: dict[str, float]
    sql_ssd_gb_month: float
    sql_backup_gb_month: float
    redis_basic_gb_hour: float
    redis_standard_gb_hour: float | None = None
    """Memorystore for Redis Standard tier (M1), where the table has it."""
    lb_rules_hour: float
    lb_data_gb: float
    dns_zone_month: float
    build_minute: dict[str, float]
    registry_gb_month: float
    logging_ingest_gib: float
    secret_version_month: float
    egress_gb: float
    firestore_read_million: float
    firestore_write_million: float
    firestore_gib_hour: float


def cloud_run_size(service: Service) -> tuple[int, int]:
    """The smallest valid Cloud Run (CPUs, memory MiB) with CPU always allocated that covers
    what the service asks: at least 1 CPU and 512 MiB (Cloud Run's default), more CPU where
    the memory needs it (over 4 GiB: 2, over 8: 4, over 16: 6, over 24: 8), at most 8 / 32 GiB."""
    cpus, memory = service.asked
    mib = min(max(512, math.ceil(memory)), _RUN_MAX_MIB)
    floor = next(cpu for limit, cpu in _RUN_CPU_FOR_MEMORY if mib <= limit)
    cpu = next((c for c in _RUN_CPUS if c >= max(cpus, floor)), _RUN_CPUS[-1])
    return cpu, max(mib, _RUN_MEMORY_FOR_CPU.get(cpu, 0))


def assumed(a: Assumptions) -> list[str]:
    """The assumptions of its own."""
    return ["Cloud Run bills each replica as a minimum instance with CPU always allocated "
            "(instance-based billing)"]


def service_items(service: Service, p: Prices, a: Assumptions) -> list[LineItem]:
    cpu, mib = cloud_run_size(service)
    count = service.replica_count
    size = f"{cpu} vCPU / {gib(mib)}"
    seconds = count * a.hours_per_month * 3600
    items = [
        line("vCPU", f"{count} x Cloud Run {size} (minimum instances)", seconds * cpu,
             "vCPU-seconds", p.run_vcpu_second),
        line("memory", f"{count} x Cloud Run {size} (minimum instances)", seconds * mib / 1024,
             "GiB-seconds", p.run_gib_second),
        line("logs", "Cloud Logging ingestion", a.log_gb, "GiB", p.logging_ingest_gib),
    ]
    if service.build is not None:
        items += [line("builds", f"Cloud Build {BUILDER}", a.build_minutes, "minutes",
                       p.build_minute[BUILDER]),
                  line("images", "Artifact Registry storage", a.image_gb, "GB-months",
                       p.registry_gb_month)]
    return items


def store_items(kind: str, p: Prices, a: Assumptions) -> list[LineItem]:
    if kind == "postgres":
        return [line("instance", f"Cloud SQL for PostgreSQL {POSTGRES}", a.hours_per_month,
                     "hours", p.sql_instance_hour[POSTGRES]),
                line("storage", "SSD", POSTGRES_GB, "GB-months", p.sql_ssd_gb_month),
                line("backups", "automated backups, about the disk's size", POSTGRES_GB,
                     "GB-months", p.sql_backup_gb_month)]
    if kind == "mongodb":
        what = "Firestore with MongoDB compatibility (Enterprise edition), assumed use"
        return [line("storage", f"{what}: {MONGO_GIB:g} GiB", MONGO_GIB * a.hours_per_month,
                     "GiB-hours", p.firestore_gib_hour),
                line("reads", what, MONGO_READ_MILLIONS, "million read units", p.firestore_read_million),
                line("writes", what, MONGO_WRITE_MILLIONS, "million write units",
                     p.firestore_write_million)]
    return [line("instance", f"Memorystore for Redis Basic {REDIS_GB} GB",
                 REDIS_GB * a.hours_per_month, "GB-hours", p.redis_basic_gb_hour)]


def mode_items(kind: str, mode: Mode, p: Prices, a: Assumptions) -> list[LineItem]:
    """What a store costs more in ``mode``: a Cloud SQL instance with high availability
    (REGIONAL) bills its instance and storage at twice the zonal rate (Cloud SQL pricing,
    "high availability"); Memorystore's Standard tier costs its own price per GB-hour, shown
    as the difference from Basic."""
    from launchdeck.engine import modes

    if not modes.of(mode).zonal_standby:
        return []
    if kind == "postgres":
        return [line("high availability", f"Cloud SQL {POSTGRES} standby (REGIONAL)",
                     a.hours_per_month, "hours", p.sql_instance_hour[POSTGRES]),
                line("standby storage", "SSD", POSTGRES_GB, "GB-months", p.sql_ssd_gb_month)]
    if kind == "redis" and p.redis_standard_gb_hour is not None:
        return [line("Standard tier", f"Memorystore for Redis Standard {REDIS_GB} GB over Basic",
                     REDIS_GB * a.hours_per_month, "GB-hours",
                     round(p.redis_standard_gb_hour - p.redis_basic_gb_hour, 6))]
    return []


def mode_notes(mode: Mode) -> list[str]:
    """What ``mode`` changes that is not priced: nothing on GCP (Cloud Run, Cloud SQL and
    Memorystore price every mode's settings)."""
    return []


def shared_items(project: Project, p: Prices, a: Assumptions, config: list[str]) -> list[LineItem]:
    items = []
    if any(s.ingress_ports for s in project.services.values() if not s.managed_store):
        items.append(line("traffic out", "data transfer to the internet (Premium Tier)",
                          a.egress_gb, "GB", p.egress_gb))
    found = zones(project)
    if found:  # a domain name puts a global external Application Load Balancer in front
        items += [line("load balancer", "forwarding rules (up to 5 billed as one)",
                       a.hours_per_month, "hours", p.lb_rules_hour),
                  line("load balancer data", "data processed", a.egress_gb, "GB", p.lb_data_gb)]
        items += [line("DNS zone", f"Cloud DNS managed zone {zone} (yours already)", 1,
                       "zone-months", p.dns_zone_month) for zone in found]
    if config:
        items.append(line("secrets", f"Secret Manager: {len(config)} config value(s)", len(config),
                          "secret-version-months", p.secret_version_month))
    return items
