"""Managed stores: x-defang-postgres as Cloud SQL for PostgreSQL, x-defang-redis as Memorystore.

A store service runs no container. Both get a private address only, in the stack's network
(Cloud SQL through private services access, Memorystore by direct peering); services reach
them over Direct VPC egress, and the store's name in their environment becomes its address.
PostgreSQL's version comes from the image tag, its user and database from POSTGRES_USER /
POSTGRES_DB, its password from the POSTGRES_PASSWORD config; automated backups are on, and
destroy keeps a final backup.

The digest of what was applied is kept in a label. A new Cloud SQL instance carries
``pending`` there until its database and user exist, so a deploy cut short before that is
finished by the next one instead of being taken for done.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from launchdeck.compose.model import Service
from launchdeck.engine import kinds, modes
from launchdeck.engine.events import State
from launchdeck.engine.gather import gather
from launchdeck.engine.refusal import Problem
from launchdeck.engine.results import ServiceStatus
from launchdeck.errors import ProviderError
from launchdeck.providers.gcp import names
from launchdeck.providers.gcp.api import Gcp, GcpError, if_enabled, if_found

PORTS = {"postgres": 5432, "redis": 6379}
TIER = "db-f1-micro"
"""The smallest Cloud SQL machine (shared core); resize it in the console for production."""
FINAL_BACKUP_DAYS = 30
_REDIS = {
    "4": "REDIS_4_0",
    "4.0": "REDIS_4_0",
    "5": "REDIS_5_0",
    "5.0": "REDIS_5_0",
    "6": "REDIS_6_X",
    "6.2": "REDIS_6_X",
    "6.0": "REDIS_6_X",
    "7": "REDIS_7_2",
    "7.0": "REDIS_7_0",
    "7.2": "REDIS_7_2",
}


@dataclass(frozen=True)
class Store:
    service: str
    kind: str
    settings: dict[str, str]
    password: str | None
    hash: str = ""
    """The unit's digest, written to the store's labels once it is in place (set by the session)."""
    mode: dict[str, str] = field(default_factory=dict)
    """What the stack's mode makes different from ``affordable`` (``mode_settings``)."""


def store(service: Service, config: Mapping[str, str], mode: modes.Mode = modes.DEFAULT) -> Store:
    """What ``service`` (a managed store) should be, from its image tag and environment;
    ``problems`` says first what Google Cloud would refuse."""
    kind = service.managed_store or ""
    settings: dict[str, str] = {}
    password = None
    if kind == "postgres":
        settings["version"] = _postgres_version(service) or ""
        database = kinds.postgres(service, config)
        settings["user"], settings["database"] = database.user, database.database
        password = database.password
    elif kind == "redis":
        settings["version"] = _redis_version(service) or ""
    return Store(service.name, kind, settings, password, mode=mode_settings(kind, mode))


def mode_settings(kind: str, mode: modes.Mode) -> dict[str, str]:
    """What the stack's mode changes of a store, only where it differs from ``affordable`` (so
    a store made before modes keeps its digest): Cloud SQL availability REGIONAL and deletion
    protection; Memorystore tier STANDARD_HA (a replica in another zone, automatic failover)."""
    row, base = modes.of(mode), modes.of(modes.DEFAULT)
    out: dict[str, str] = {}
    if kind == "postgres":
        if row.zonal_standby:
            out["availability"] = "REGIONAL"
        if row.deletion_protection != base.deletion_protection:
            out["deletion_protection"] = str(row.deletion_protection).lower()
    elif kind == "redis" and row.zonal_standby:
        out["tier"] = "STANDARD_HA"
    return out


def tier(spec: Store) -> str:
    """The Memorystore tier a store is made with."""
    return spec.mode.get("tier", "BASIC")


def problems(service: Service, config: Mapping[str, str]) -> list[Problem]:
    """What Cloud SQL and Memorystore would refuse of a managed store."""
    kind, name = service.managed_store, service.name
    where = ("services", name)
    if kind == "postgres":
        out = []
        if _postgres_version(service) is None:
            out.append(Problem(name, (*where, "image"), f"Cloud SQL has no PostgreSQL {_major(service)}",
                               "Use an image tag of PostgreSQL 9.6 or 10 to 17, e.g. postgres:16."))
        if not kinds.postgres(service, config).password:
            out.append(Problem(name, (*where, "environment"), "x-defang-postgres needs a password on gcp",
                               "Add `POSTGRES_PASSWORD:` (no value) to its environment and set that config "
                               "value."))
        return out
    if kind == "redis":
        if _redis_version(service) is None:
            return [Problem(name, (*where, "image"), f"Memorystore has no Redis {_number(service)}",
                            "Use an image tag of Redis 4 to 7.2, e.g. redis:7.")]
        return []
    return [Problem(name, (*where, f"x-defang-{kind}"), f"x-defang-{kind} is not supported on gcp",
                    "Run it as an ordinary service, or use a hosted database and give its URL through "
                    "config.")]


def _tag(image: str | None) -> str:
    return (image or "").rsplit("/", 1)[-1].partition(":")[2]


def _number(service: Service) -> str:
    match = re.match(r"(\d+(?:\.\d+)?)", _tag(service.image))
    return match.group(1) if match else _tag(service.image)


def _major(service: Service) -> str:
    match = re.match(r"(\d+)", _tag(service.image))
    return match.group(1) if match else "16"


def _postgres_version(service: Service) -> str | None:
    """The Cloud SQL version an image tag names (``postgres:16.2-alpine`` -> ``POSTGRES_16``);
    None for one Cloud SQL does not offer."""
    from google.cloud import sqladmin_v1 as s

    match = re.match(r"(\d+)(?:\.(\d+))?", _tag(service.image))
    major = match.group(1) if match else "16"
    version = "POSTGRES_9_6" if major == "9" and match and match.group(2) == "6" else f"POSTGRES_{major}"
    if version not in s.SqlDatabaseVersion.__members__ or int(major) > 17:
        return None
    return version


def _redis_version(service: Service) -> str | None:
    """The Memorystore version an image tag names; None for one it does not offer."""
    match = re.match(r"(\d+(?:\.\d+)?)", _tag(service.image))
    if not match:
        return "REDIS_7_2"
    return _REDIS.get(match.group(1)) or _REDIS.get(match.group(1).split(".")[0])


@dataclass(frozen=True)
class Existing:
    """A store as GCP describes it now."""

    kind: str
    name: str
    """The Cloud SQL instance name, or the Memorystore instance's full resource name."""
    state: str
    endpoint: str | None
    digest: str
    etag: str | None
    tier: str = ""
    """A Memorystore instance's tier (BASIC, STANDARD_HA)."""


async def find_all(
    gcp: Gcp, project: str, stack: str, kinds: Collection[str] = ("postgres", "redis")
) -> dict[str, Existing]:
    """The stack's stores (of ``kinds``) by their service's label; changes nothing, and asks
    only the APIs of those kinds, which need not be enabled."""

    async def databases() -> list[Any]:
        from google.cloud import sqladmin_v1 as s

        if "postgres" not in kinds:
            return []
        path = f"/v1/projects/{gcp.project}/instances"
        listed = await if_enabled(
            lambda: gcp.rest("sqladmin", "GET", path, response_type=s.InstancesListResponse), None
        )
        return list(listed.items) if listed is not None else []

    async def caches() -> list[Any]:
        if "redis" not in kinds:
            return []
        parent = f"projects/{gcp.project}/locations/{gcp.region}"
        return await if_enabled(lambda: gcp.all("redis", "list_instances", parent=parent), [])

    dbs, instances = await gather(databases, caches)
    out: dict[str, Existing] = {}
    for db in dbs:
        labels = dict(db.settings.user_labels)
        if (
            names.owned(labels, project, stack)
            and names.SERVICE in labels
            and db.state.name != "PENDING_DELETE"
        ):
            address = next((a.ip_address for a in db.ip_addresses if a.type_.name == "PRIVATE"), None)
            out[labels[names.SERVICE]] = Existing(
                "postgres",
                db.name,
                db.state.name,
                address,
                labels.get(names.HASH, ""),
                labels.get(names.ETAG),
            )
    for instance in instances:
        labels = dict(instance.labels)
        if names.owned(labels, project, stack) and names.SERVICE in labels:
            out[labels[names.SERVICE]] = Existing(
                "redis",
                instance.name,
                instance.state.name,
                instance.host or None,
                labels.get(names.HASH, ""),
                labels.get(names.ETAG),
                instance.tier.name,
            )
    return out


def status(name: str, found: Existing) -> ServiceStatus:
    """A store's state in the shared vocabulary."""
    ready = found.state in ("RUNNABLE", "READY")
    if ready and found.digest != names.PENDING:
        state = State.SERVICE_DEPLOYMENT_COMPLETED
    elif found.state in ("FAILED", "SUSPENDED"):
        state = State.SERVICE_DEPLOYMENT_FAILED
    elif found.state in ("PENDING_DELETE", "DELETING"):
        state = State.STOPPED
    else:
        state = State.SERVICE_DEPLOYMENT_PENDING
    endpoints = [f"{found.endpoint}:{PORTS[found.kind]}"] if found.endpoint else []
    return ServiceStatus(
        name=name,
        state=state,
        replicas_running=int(ready),
        replicas_desired=1,
        endpoints=endpoints,
        deployment_id=found.etag,
        message="" if state.final else found.state.lower().replace("_", " "),
    )


async def ensure(
    gcp: Gcp,
    spec: Store,
    found: Existing | None,
    project: str,
    stack: str,
    etag: str,
    network: str,
    say: Callable[[str], None],
) -> Any:
    """Create the store, or start applying new settings to it (``look`` waits and finishes); the
    create's operation when it made one, for ``failed`` to read GCP's reason from."""
    if spec.kind == "postgres":
        return await _postgres(gcp, spec, found, project, stack, etag, network, say)
    return await _redis(gcp, spec, found, project, stack, etag, network, say)


async def _postgres(
    gcp: Gcp,
    spec: Store,
    found: Existing | None,
    project: str,
    stack: str,
    etag: str,
    network: str,
    say: Callable[[str], None],
) -> Any:
    from google.cloud import sqladmin_v1 as s

    if found is not None:
        return None  # a running instance changes in ``ready`` (password, labels), once it is RUNNABLE
    say("creating a Cloud SQL for PostgreSQL instance (this takes several minutes)")
    labels = names.labels(project, stack, service=spec.service, etag=etag, hash=names.PENDING)
    instance = s.DatabaseInstance(
        name=names.sql_instance(project, stack, spec.service, secrets.token_hex(3)),
        database_version=s.SqlDatabaseVersion[spec.settings["version"]],
        region=gcp.region,
        root_password=spec.password,
        settings=s.Settings(
            tier=TIER,
            edition=s.Settings.Edition.ENTERPRISE,
            availability_type=s.SqlAvailabilityType[spec.mode.get("availability", "ZONAL")],
            data_disk_size_gb=10,
            storage_auto_resize=True,
            user_labels=labels,
            deletion_protection_enabled=spec.mode.get("deletion_protection") == "true",
            ip_configuration=s.IpConfiguration(ipv4_enabled=False, private_network=network),
            backup_configuration=s.BackupConfiguration(enabled=True),
        ),
    )
    return await gcp.rest(
        "sqladmin", "POST", f"/v1/projects/{gcp.project}/instances", body=instance, response_type=s.Operation
    )


async def _redis(
    gcp: Gcp,
    spec: Store,
    found: Existing | None,
    project: str,
    stack: str,
    etag: str,
    network: str,
    say: Callable[[str], None],
) -> Any:
    from google.cloud import redis_v1 as r
    from google.protobuf import field_mask_pb2

    labels = names.labels(project, stack, service=spec.service, etag=etag, hash=spec.hash)
    if found is not None and found.tier and found.tier != tier(spec):
        # "You cannot change the tier of an existing instance" (Memorystore for Redis docs,
        # "Modifying Redis instances"): a new one, the data lost (the session refuses this
        # unless the store allows downtime)
        say(f"replacing the Redis instance: its tier becomes {tier(spec)}, and its data is lost")
        await remove(gcp, found)
        found = None
    if found is not None:  # nothing of an instance changes in place yet: record what it stands for
        if found.state == "READY":
            op = await gcp.call(
                "redis",
                "update_instance",
                update_mask=field_mask_pb2.FieldMask(paths=["labels"]),
                instance=r.Instance(name=found.name, labels=labels),
            )
            await gcp.wait(op, what=f"label the Redis instance of {spec.service}", api="redis")
        return None
    say("creating a Memorystore for Redis instance (this takes several minutes)")
    instance_id = names.redis_instance(project, stack, spec.service)
    try:
        return await gcp.call(
            "redis",
            "create_instance",
            parent=f"projects/{gcp.project}/locations/{gcp.region}",
            instance_id=instance_id,
            instance=r.Instance(
                tier=r.Instance.Tier[tier(spec)],
                memory_size_gb=1,
                redis_version=spec.settings["version"],
                authorized_network=network,
                connect_mode=r.Instance.ConnectMode.DIRECT_PEERING,
                labels=labels,
            ),
        )
    except GcpError as exc:
        if exc.code != 409:
            raise
        # "exists" only once a read shows it (another deploy's, or one cut short): look waits for it
        name = f"projects/{gcp.project}/locations/{gcp.region}/instances/{instance_id}"
        if await gcp.maybe("redis", "get_instance", name=name) is None:
            raise
        return None


async def failed(gcp: Gcp, spec: Store, operation: Any) -> bool:
    """Whether the create ``operation`` has ended; raises with GCP's reason when it failed (a
    failed create leaves no instance to read it from, only its operation)."""
    what = f"make the {spec.kind} store of {spec.service}"
    if spec.kind == "postgres":
        from google.cloud import sqladmin_v1 as s

        current = await gcp.rest("sqladmin", "GET",
                                 f"/v1/projects/{operation.target_project}/operations/{operation.name}",
                                 response_type=s.Operation)
        if current.status.name != "DONE":
            return False
        if current.error.errors:
            first = current.error.errors[0]
            raise _store_failed(spec, f"{first.code}: {first.message}")
        return True
    if not await gcp.run(lambda: operation.done, api="redis", what=what):
        return False
    try:
        await gcp.run(lambda: operation.result, api="redis", what=what)
    except GcpError as exc:
        raise _store_failed(spec, str(exc).split(": ", 1)[-1]) from exc
    return True


def _store_failed(spec: Store, reason: str) -> ProviderError:
    return ProviderError(
        f"{spec.service}: GCP could not make the {spec.kind} store: {reason}",
        provider="gcp",
        service=spec.service,
        hint="Fix what GCP names (a quota: request more in IAM & Admin > Quotas; a zone out of "
        "resources: another region or later), then deploy again.",
    )


async def look(
    gcp: Gcp, spec: Store, project: str, stack: str, etag: str, say: Callable[[str], None]
) -> Existing | None:
    """The store once it is available, with (PostgreSQL) its database and user in place and
    the digest written last; None while it is being made; raise when it failed."""
    found = (await find_all(gcp, project, stack, (spec.kind,))).get(names.label(spec.service))
    if found is None:
        return None
    if found.state in ("FAILED", "SUSPENDED"):
        raise ProviderError(
            f"{spec.service}: the {spec.kind} store is {found.state.lower()}",
            provider="gcp",
            service=spec.service,
            hint="See the Cloud SQL or Memorystore console for the reason, fix it, and deploy again.",
        )
    if found.state not in ("RUNNABLE", "READY"):
        say(f"{spec.kind} store is {found.state.lower().replace('_', ' ')}")
        return None
    if spec.kind == "postgres" and found.digest != spec.hash:
        await _finish_postgres(gcp, spec, found, project, stack, etag, say)
    return found


async def _finish_postgres(
    gcp: Gcp, spec: Store, found: Existing, project: str, stack: str, etag: str, say: Callable[[str], None]
) -> None:
    """The database and user (with the password of now), then the digest in the labels."""
    from google.cloud import sqladmin_v1 as s

    base = f"/v1/projects/{gcp.project}/instances/{found.name}"
    user, database = spec.settings["user"], spec.settings["database"]

    async def done(operation: Any) -> None:
        await gcp.wait(operation, what=f"set up the {spec.service} database", api="sqladmin")

    say("setting up the database and its user")
    if database != "postgres":
        try:
            await done(
                await gcp.rest(
                    "sqladmin",
                    "POST",
                    f"{base}/databases",
                    body=s.Database(name=database),
                    response_type=s.Operation,
                )
            )
        except GcpError as exc:
            if exc.code != 409:
                raise
    try:
        await done(
            await gcp.rest(
                "sqladmin",
                "POST",
                f"{base}/users",
                body=s.User(name=user, password=spec.password),
                response_type=s.Operation,
            )
        )
    except GcpError as exc:
        if exc.code != 409:
            raise
        await done(
            await gcp.rest(
                "sqladmin",
                "PUT",
                f"{base}/users",
                params={"name": user},
                body=s.User(name=user, password=spec.password),
                response_type=s.Operation,
            )
        )
    labels = names.labels(project, stack, service=spec.service, etag=etag, hash=spec.hash)
    await done(
        await gcp.rest(
            "sqladmin",
            "PATCH",
            base,
            # a mode's availability and deletion protection change in place (Cloud SQL docs,
            # "Enable or disable high availability": patch settings.availabilityType)
            body=s.DatabaseInstance(settings=s.Settings(
                user_labels=labels,
                availability_type=s.SqlAvailabilityType[spec.mode.get("availability", "ZONAL")],
                deletion_protection_enabled=spec.mode.get("deletion_protection") == "true")),
            response_type=s.Operation,
        )
    )


async def _unprotect(gcp: Gcp, found: Existing) -> None:
    """Turn off a mode's deletion protection of an instance asked to go with its data: Cloud
    SQL refuses to delete it otherwise ("The instance is protected. Please disable the
    deletion protection and try again")."""
    from google.cloud import sqladmin_v1 as s

    base = f"/v1/projects/{gcp.project}/instances/{found.name}"
    instance = await if_found(lambda: gcp.rest("sqladmin", "GET", base, response_type=s.DatabaseInstance))
    if instance is None or not instance.settings.deletion_protection_enabled:
        return
    op = await gcp.rest("sqladmin", "PATCH", base, response_type=s.Operation,
                        body=s.DatabaseInstance(settings=s.Settings(deletion_protection_enabled=False)))
    await gcp.wait(op, what=f"lift the deletion protection of {found.name}", api="sqladmin")


async def remove(gcp: Gcp, found: Existing) -> str | None:
    """Delete a store and wait until it is gone (PostgreSQL keeps a final backup); the backup's
    description, if any."""
    from google.cloud import sqladmin_v1 as s

    if found.kind == "postgres":
        description = f"final backup of {found.name}"
        await _unprotect(gcp, found)
        op = await if_found(
            lambda: gcp.rest(
                "sqladmin",
                "DELETE",
                f"/v1/projects/{gcp.project}/instances/{found.name}",
                params={
                    "enableFinalBackup": "true",
                    "finalBackupTtlDays": str(FINAL_BACKUP_DAYS),
                    "finalBackupDescription": description,
                },
                response_type=s.Operation,
            )
        )
        if op is None:
            return None
        await gcp.wait(op, what=f"delete Cloud SQL instance {found.name}", api="sqladmin")
        return description
    op = await gcp.maybe("redis", "delete_instance", name=found.name)
    if op is not None:
        await gcp.wait(op, what=f"delete Memorystore instance {found.name}", api="redis")
    return None
