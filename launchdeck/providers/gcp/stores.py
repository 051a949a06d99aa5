"""Managed stores: x-defang-postgres as Cloud SQL for PostgreSQL, x-defang-redis as Memorystore,
x-defang-mongodb as Firestore with MongoDB compatibility.

A store service runs no container. Both get a private address only, in the stack's network
(Cloud SQL through private services access, Memorystore by direct peering); services reach
them over Direct VPC egress, and the store's name in their environment becomes its address.
PostgreSQL's version comes from the image tag, its user and database from POSTGRES_USER /
POSTGRES_DB, its password from the POSTGRES_PASSWORD config; automated backups are on, and
destroy keeps a final backup.

A MongoDB store is a Firestore database of the Enterprise edition in the stack's region,
reached at its public TLS endpoint (no network) with a user credential (SCRAM) whose password
Firestore generates and returns once; that password is kept in a secret of the stack's
(``store``), made before the database: a Firestore database takes no labels, so the secret's
labels are what mark the database as the stack's, hold its digest, and name the user. Destroy
exports the database to the shared bucket, then deletes it.

The digest of what was applied is kept in a label. A new Cloud SQL instance carries
``pending`` there until its database and user exist, so a deploy cut short before that is
finished by the next one instead of being taken for done.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from launchdeck.compose.model import Service
from launchdeck.compose.validate import Severity
from launchdeck.engine import kinds, modes
from launchdeck.engine.events import State
from launchdeck.engine.gather import gather
from launchdeck.engine.refusal import Problem
from launchdeck.engine.results import ServiceStatus
from launchdeck.errors import ProviderError
from launchdeck.providers.gcp import names
from launchdeck.providers.gcp.api import Gcp, GcpError, if_enabled, if_found

PORTS = {"postgres": 5432, "redis": 6379, "mongodb": 443}
API = {"postgres": "sqladmin", "redis": "redis", "mongodb": "firestore"}
"""The API that holds each kind of store (Cloud SQL, Memorystore, Firestore)."""
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
    elif kind == "mongodb":
        settings["user"] = kinds.mongodb(service, config).user
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
    if kind == "mongodb":
        return _mongodb_problems(service, config)
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
    user: str = ""
    """MongoDB: the user credential the kept password belongs to."""
    secret: str = ""
    """MongoDB: the secret holding that password (and marking the database as the stack's)."""
    tier: str = ""
    """A Memorystore instance's tier (BASIC, STANDARD_HA)."""


async def find_all(
    gcp: Gcp, project: str, stack: str, kinds: Collection[str] = ("postgres", "redis", "mongodb")
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

    async def documents() -> dict[str, Existing]:
        return await _find_mongodb(gcp, project, stack) if "mongodb" in kinds else {}

    dbs, instances, out = await gather(databases, caches, documents)
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
                tier=instance.tier.name,
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
    named: names.Names,
    etag: str,
    network: str,
    say: Callable[[str], None],
) -> Any:
    """Create the store, or start applying new settings to it (``look`` waits and finishes); the
    create's operation when it made one, for ``failed`` to read GCP's reason from. ``named``:
    the stack's names (a new instance's is one of them)."""
    if spec.kind == "postgres":
        return await _postgres(gcp, spec, found, named, etag, network, say)
    if spec.kind == "mongodb":
        return await _mongodb(gcp, spec, found, named.project, named.stack, etag, say)
    return await _redis(gcp, spec, found, named, etag, network, say)


async def _postgres(
    gcp: Gcp,
    spec: Store,
    found: Existing | None,
    named: names.Names,
    etag: str,
    network: str,
    say: Callable[[str], None],
) -> Any:
    from google.cloud import sqladmin_v1 as s

    project, stack = named.project, named.stack

    if found is not None:
        return None  # a running instance changes in ``ready`` (password, labels), once it is RUNNABLE
    say("creating a Cloud SQL for PostgreSQL instance (this takes several minutes)")
    labels = names.labels(project, stack, service=spec.service, etag=etag, hash=names.PENDING)
    instance = s.DatabaseInstance(
        name=named.sql(spec.service, secrets.token_hex(3)),
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
    return await _create_sql(
        gcp, instance, lambda: named.sql(spec.service, secrets.token_hex(3)),
        project, stack, spec.service)


async def _redis(
    gcp: Gcp,
    spec: Store,
    found: Existing | None,
    named: names.Names,
    etag: str,
    network: str,
    say: Callable[[str], None],
) -> Any:
    from google.cloud import redis_v1 as r
    from google.protobuf import field_mask_pb2

    project, stack = named.project, named.stack

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
    instance_id = named.redis(spec.service)
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
        held = await gcp.maybe("redis", "get_instance", name=name)
        if held is None:
            raise
        _ours(dict(held.labels), f"Memorystore instance {instance_id}", project, stack, spec.service)
        return None


NAME_TRIES = 3
"""Names a new Cloud SQL instance tries: one an instance deleted in the last week still holds
is refused with 409 as if it existed."""


async def _create_sql(gcp: Gcp, instance: Any, another: Callable[[], str], project: str, stack: str,
                      service: str) -> Any:
    """Create the Cloud SQL instance; its operation, or None when it turned out to exist.

    A 409 is "exists" only once a read shows the instance, and shows it ours (a create whose
    answer was lost and that was sent again): ``look`` then waits for it. A 409 no read
    confirms is a name an instance deleted in the last week still holds ("you can't reuse the
    name of the deleted instance until one week from the deletion date",
    Cloud SQL's own 409 text): another name is tried."""
    from google.cloud import sqladmin_v1 as s

    for attempt in range(NAME_TRIES):
        try:
            return await gcp.rest("sqladmin", "POST", f"/v1/projects/{gcp.project}/instances",
                                  body=instance, response_type=s.Operation)
        except GcpError as exc:
            if exc.code != 409:
                raise
            path = f"/v1/projects/{gcp.project}/instances/{instance.name}"
            held = await if_found(lambda p=path: gcp.rest("sqladmin", "GET", p,
                                                          response_type=s.DatabaseInstance))
            if held is not None:
                _ours(dict(held.settings.user_labels), f"Cloud SQL instance {instance.name}",
                      project, stack, service)
                return None
            if attempt == NAME_TRIES - 1:
                raise
            instance.name = another()
    return None


def _ours(labels: Mapping[str, str], what: str, project: str, stack: str, service: str) -> None:
    """Raise unless a store found by its name is launchdeck's, of this project, stack and service."""
    if names.owned(labels, project, stack) and labels.get(names.SERVICE) == names.label(service):
        return
    raise ProviderError(
        f"{service}: a {what} exists already and is not this stack's store of {service}",
        provider="gcp", service=service,
        hint="Delete or rename that instance, or deploy under another project or stack name.")


async def failed(gcp: Gcp, spec: Store, operation: Any) -> bool:
    """Whether the create ``operation`` has ended; raises with GCP's reason when it failed (a
    failed create leaves no instance to read it from, only its operation)."""
    what = f"make the {spec.kind} store of {spec.service}"
    if spec.kind == "mongodb":
        return await _firestore_done(gcp, spec, operation)
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
    if spec.kind == "mongodb" and found.state != "CREATING" and found.digest != spec.hash:
        found = await _finish_mongodb(gcp, spec, found, project, stack, etag, say)
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

    if found.kind == "mongodb":
        return await _remove_mongodb(gcp, found)
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


# -- MongoDB: Firestore with MongoDB compatibility -----------------------------------------------

MONGO_VERSIONS = (5, 8)
"""The MongoDB API versions Firestore with MongoDB compatibility serves ("Supported features:
8.0, 7.0, 6.0, 5.0", https://cloud.google.com/firestore/mongodb-compatibility/docs/behavior-differences)."""
EXPORTS = "firestore-exports"
"""The folder of the shared bucket that destroy exports MongoDB stores to (kept, as Cloud SQL's
final backups are)."""


def _mongodb_problems(service: Service, config: Mapping[str, str]) -> list[Problem]:
    """What Firestore with MongoDB compatibility refuses of a MongoDB store."""
    name, where = service.name, ("services", service.name)
    out = []
    match = re.match(r"(\d+)", _tag(service.image))
    if match and not MONGO_VERSIONS[0] <= int(match.group(1)) <= MONGO_VERSIONS[1]:
        low, high = MONGO_VERSIONS
        out.append(Problem(name, (*where, "image"),
                           f"Firestore with MongoDB compatibility serves the MongoDB {low}.0 to {high}.0 "
                           f"APIs, not MongoDB {_number(service)}",
                           f"Use an image tag of MongoDB {low} to {high}, e.g. mongo:7 (or none)."))
    user = kinds.mongodb(service, config).user
    if not names.FIRESTORE_ID.match(user):
        out.append(Problem(name, (*where, "environment", "MONGO_INITDB_ROOT_USERNAME"),
                           "Firestore's user credentials are named with 4 to 63 lowercase letters, digits "
                           "and hyphens, a letter first and a letter or digit last",
                           "Set MONGO_INITDB_ROOT_USERNAME to such a name (e.g. `app-user`), and use it in "
                           "the connection strings of the services that reach it."))
    if "MONGO_INITDB_ROOT_PASSWORD" in service.environment:
        out.append(Problem(name, (*where, "environment", "MONGO_INITDB_ROOT_PASSWORD"),
                           "Firestore generates the password of the user credential; the "
                           "MONGO_INITDB_ROOT_PASSWORD value is not used on gcp (the services' "
                           "connection strings get the generated one)",
                           "Nothing to do; keep it for the other targets.", Severity.WARNING))
    return out


async def _find_mongodb(gcp: Gcp, project: str, stack: str) -> dict[str, Existing]:
    """The stack's MongoDB stores, by their credential secrets (which name the database)."""
    from launchdeck.providers.gcp import config

    held = await if_enabled(lambda: _store_secrets(gcp, project, stack), [])

    async def one(secret: Any) -> tuple[str, Existing]:
        labels = dict(secret.labels)
        secret_id = secret.name.rsplit("/", 1)[-1]
        database, version = await gather(
            lambda: _database(gcp, labels.get(names.DATABASE, "")),
            lambda: config.newest(gcp, secret_id),
        )
        if database is None:
            state, endpoint = "CREATING", None
        else:
            state = "READY" if version is not None else "SETTING_UP"
            endpoint = f"{database['uid']}.{database['locationId']}.firestore.goog"
        complete = database is not None and version is not None
        return labels[names.SERVICE], Existing(
            "mongodb", labels.get(names.DATABASE, ""), state, endpoint,
            labels.get(names.HASH, "") if complete else names.PENDING,
            labels.get(names.ETAG), user=labels.get(names.USER, ""), secret=secret_id)

    found = await gather(*[lambda s=s: one(s) for s in held if names.SERVICE in dict(s.labels)])
    return dict(found)


async def _store_secrets(gcp: Gcp, project: str, stack: str) -> list[Any]:
    terms = [f"labels.{k}={v}" for k, v in names.labels(project, stack, kind="store").items()]
    return await gcp.all("secretmanager", "list_secrets",
                         request={"parent": f"projects/{gcp.project}", "filter": " AND ".join(terms)})


async def _database(gcp: Gcp, database: str) -> dict[str, Any] | None:
    """A Firestore database as the API describes it; None while it is not there (being made,
    or Firestore not enabled yet)."""
    if not database:
        return None
    path = f"/v1/projects/{gcp.project}/databases/{database}"
    return await if_enabled(lambda: if_found(lambda: gcp.rest("firestore", "GET", path)), None)


def _mongo_labels(spec: Store, project: str, stack: str, etag: str) -> dict[str, str]:
    labels = names.labels(project, stack, service=spec.service, etag=etag, hash=spec.hash, kind="store")
    labels[names.DATABASE] = names.firestore_database(project, stack, spec.service)
    labels[names.USER] = names.label(spec.settings["user"])
    return labels


async def _mongodb(
    gcp: Gcp,
    spec: Store,
    found: Existing | None,
    project: str,
    stack: str,
    etag: str,
    say: Callable[[str], None],
) -> Any:
    """The credential secret (anew: what it held stood for other settings, or for none; the
    credential of another user it named is deleted), then the database where it is missing;
    the database's create operation, if one was started."""
    from google.cloud import secretmanager_v1 as sm

    if found is not None and found.user and found.user != spec.settings["user"] and found.endpoint:
        path = f"/v1/projects/{gcp.project}/databases/{found.name}/userCreds/{found.user}"
        await if_found(lambda: gcp.rest("firestore", "DELETE", path))
    secret = names.store_secret_id(project, stack, spec.service)
    path = f"projects/{gcp.project}/secrets/{secret}"
    await gcp.maybe("secretmanager", "delete_secret", name=path)
    await gcp.call("secretmanager", "create_secret", parent=f"projects/{gcp.project}", secret_id=secret,
                   secret=sm.Secret(replication=sm.Replication(automatic={}),
                                    labels=_mongo_labels(spec, project, stack, etag)))
    # The id is the same on every deploy, also right after `down`: a deleted Firestore database
    # gives its id up (its ``previousId`` keeps it, "only populated for deleted databases",
    # Database.previousId), and Firestore documents no wait before the id is used again
    # (https://cloud.google.com/firestore/docs/manage-databases#delete_a_database), unlike a
    # Cloud SQL instance name (``_create_sql``).
    database = names.firestore_database(project, stack, spec.service)
    if await _database(gcp, database) is not None:
        return None
    say("creating a Firestore database with MongoDB compatibility")
    body = {
        "locationId": gcp.region,
        "type": "FIRESTORE_NATIVE",
        "databaseEdition": "ENTERPRISE",
        "deleteProtectionState": "DELETE_PROTECTION_DISABLED",  # destroy exports it, then deletes it
    }
    try:
        return await gcp.rest("firestore", "POST", f"/v1/projects/{gcp.project}/databases",
                              params={"databaseId": database}, body=body)
    except GcpError as exc:
        if exc.code != 409:  # asked for already (a deploy cut short): look waits for it
            raise
        return None


async def _firestore_done(gcp: Gcp, spec: Store, operation: dict[str, Any]) -> bool:
    """Whether a Firestore operation has ended; raises with GCP's reason when it failed."""
    current = await gcp.rest("firestore", "GET", f"/v1/{operation['name']}")
    if not current.get("done"):
        return False
    error = current.get("error")
    if error:
        raise _store_failed(spec, str(error.get("message", error)))
    return True


async def _finish_mongodb(
    gcp: Gcp, spec: Store, found: Existing, project: str, stack: str, etag: str, say: Callable[[str], None]
) -> Existing:
    """The user credential, made anew (Firestore shows its password only once: one of that
    name, whose password was not kept, is deleted; credentials made by hand are left alone),
    and its password kept in the store's secret, which makes the store complete."""
    from launchdeck.providers.gcp import config

    say("making the database's user credential")
    base = f"/v1/projects/{gcp.project}/databases/{found.name}/userCreds"
    user = spec.settings["user"]
    held = await gcp.rest("firestore", "GET", base) or {}
    for creds in held.get("userCreds", []):
        if creds["name"].rsplit("/", 1)[-1] == user:
            await if_found(lambda c=creds: gcp.rest("firestore", "DELETE", f"/v1/{c['name']}"))
    made = await gcp.rest("firestore", "POST", base, params={"userCredsId": user}, body={})
    await config.put(gcp, found.secret or names.store_secret_id(project, stack, spec.service),
                     _mongo_labels(spec, project, stack, etag), made["securePassword"])
    return dataclasses.replace(found, state="READY", digest=spec.hash, user=user)


async def mongo_password(gcp: Gcp, found: Existing) -> str | None:
    """The kept password of a MongoDB store's user credential (a secret: never shown)."""
    from launchdeck.providers.gcp import config

    return await config.latest(gcp, found.secret) if found.secret else None


async def _remove_mongodb(gcp: Gcp, found: Existing) -> str | None:
    """Export the database to the shared bucket, delete it, then its credential secret; where
    the export is, if one was made."""
    from datetime import UTC, datetime

    from launchdeck.providers.gcp.provider import BUCKET

    exported = None
    path = f"/v1/projects/{gcp.project}/databases/{found.name}"
    if await _database(gcp, found.name) is not None:
        bucket = gcp.setting(BUCKET) or names.bucket(gcp.project, gcp.region)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        prefix = f"gs://{bucket}/{EXPORTS}/{found.name}/{stamp}"
        op = await gcp.rest("firestore", "POST", f"{path}:exportDocuments", body={"outputUriPrefix": prefix})
        await _operation(gcp, op, f"export Firestore database {found.name}")
        exported = prefix
        op = await if_found(lambda: gcp.rest("firestore", "DELETE", path))
        if op is not None:
            await _operation(gcp, op, f"delete Firestore database {found.name}")
    if found.secret:
        name = f"projects/{gcp.project}/secrets/{found.secret}"
        await gcp.maybe("secretmanager", "delete_secret", name=name)
    return exported


async def _operation(gcp: Gcp, operation: dict[str, Any], what: str) -> None:
    """Wait for a Firestore long-running operation; raise with GCP's reason when it fails."""
    from launchdeck.engine import poll

    async def check() -> dict[str, Any] | None:
        current = operation if operation.get("done") else await gcp.rest(
            "firestore", "GET", f"/v1/{operation['name']}")
        return current if current.get("done") else None

    done = await poll.until(check, interval=gcp.poll_interval, timeout=1800.0)
    if done is None:
        raise GcpError(f"{what} did not finish in time", code=504, status="DEADLINE_EXCEEDED",
                       hint="It may still finish: check it in the Cloud Console, then try again.")
    if done.get("error"):
        raise GcpError(f"GCP failed to {what}: {done['error'].get('message', done['error'])}",
                       code=400, status="FAILED_PRECONDITION",
                       hint="Fix what GCP names, then run destroy again.")
