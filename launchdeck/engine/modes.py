"""A stack's mode — affordable, balanced, high availability — and what each mode decides.

The mode is chosen per stack (``stack new --mode``, ``compose up --mode``, kept in the stack's
file) and read by every deploy of it. This table is the one place its defaults are written;
each provider reads its row and says it in its own words (Multi-AZ, REGIONAL, STANDARD_HA).
``affordable`` is what launchdeck made before modes existed: a unit deployed in it keeps its
digest, and a provider adds a setting to a digest only where the mode differs from it.

Sources of each default are beside the field that holds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from launchdeck.errors import UsageError


class Mode(StrEnum):
    AFFORDABLE = "affordable"
    BALANCED = "balanced"
    HIGH_AVAILABILITY = "high_availability"


DEFAULT = Mode.AFFORDABLE


@dataclass(frozen=True, slots=True)
class Defaults:
    """What one mode makes of a project, on every target that has the thing named."""

    min_replicas: int
    """Replicas a service runs at least when its compose file asks for fewer (never for a
    service asking 0, nor one run once). Two copies are what survives a zone: ECS spreads the
    tasks of a service over the zones of its subnets (ECS Developer Guide, "Amazon ECS task
    placement": Fargate tasks are spread across Availability Zones), Cloud Run keeps instances
    in several zones of its region (Cloud Run docs, "Regional redundancy")."""
    spot_beyond_first: bool
    """AWS: the replicas after the first run on Fargate Spot (capacity provider strategy
    FARGATE base 1, FARGATE_SPOT for the rest): "up to a 70% discount", but a task can be
    stopped with two minutes' warning (ECS Developer Guide, "AWS Fargate capacity providers")."""
    zonal_standby: bool
    """Stores survive a zone: RDS Multi-AZ (a synchronous standby; "you can convert an existing
    Single-AZ DB instance to a Multi-AZ DB instance", ModifyDBInstance MultiAZ, no data loss),
    ElastiCache one replica with automatic failover and Multi-AZ, Cloud SQL availability type
    REGIONAL (settings.availabilityType, patched in place), Memorystore for Redis tier
    STANDARD_HA (the tier cannot change on an instance: "You cannot change the tier of an
    existing instance", Memorystore docs "Modifying instances" — a new instance, data lost)."""
    deletion_protection: bool
    """RDS DeletionProtection and Cloud SQL deletionProtectionEnabled: the database cannot be
    deleted until it is turned off (``compose down`` turns it off first, after asking)."""
    backup_days: int
    """RDS BackupRetentionPeriod (1 to 35; 1 was launchdeck's only value). Cloud SQL keeps 7
    automated backups by default in every mode (backupRetentionSettings)."""
    log_days: int
    """CloudWatch Logs retention of the stack's log group (a value PutRetentionPolicy takes)."""
    summary: str


TABLE: dict[Mode, Defaults] = {
    Mode.AFFORDABLE: Defaults(
        min_replicas=1, spot_beyond_first=False, zonal_standby=False, deletion_protection=False,
        backup_days=1, log_days=30,
        summary="the compose replica counts on on-demand capacity; single-zone stores, no "
                "deletion protection, 1 day of backups"),
    Mode.BALANCED: Defaults(
        min_replicas=1, spot_beyond_first=True, zonal_standby=False, deletion_protection=True,
        backup_days=7, log_days=30,
        summary="replicas after the first on Fargate Spot; single-zone stores with deletion "
                "protection and 7 days of backups"),
    Mode.HIGH_AVAILABILITY: Defaults(
        min_replicas=2, spot_beyond_first=False, zonal_standby=True, deletion_protection=True,
        backup_days=14, log_days=90,
        summary="at least 2 replicas spread over zones, on-demand; stores with a standby in "
                "another zone, deletion protection and 14 days of backups; 90 days of logs"),
}


def parse(value: str | None) -> Mode:
    """The mode named ``value`` (None: the default); a UsageError naming the modes otherwise."""
    if value is None or value == "":
        return DEFAULT
    try:
        return Mode(value.strip().lower().replace("-", "_"))
    except ValueError:
        raise UsageError(f"unknown mode {value[:40]!r}",
                         hint=f"Use one of {', '.join(m.value for m in Mode)}.") from None


def of(mode: Mode | str | None) -> Defaults:
    """The row of ``mode``."""
    return TABLE[parse(mode) if not isinstance(mode, Mode) else mode]


def replicas(count: int, mode: Mode | str | None) -> int:
    """Replicas a service asking ``count`` runs in ``mode`` (a service asking none stays off)."""
    return count if count == 0 else max(count, of(mode).min_replicas)
