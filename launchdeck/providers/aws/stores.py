"""Managed stores: x-defang-postgres as RDS PostgreSQL, x-defang-redis as ElastiCache,
x-defang-mongodb as Amazon DocumentDB (a cluster with one instance).

A store service runs no container. Its endpoint replaces its service name in the other
services' environment, its password comes from config (POSTGRES_PASSWORD, read from the
store service's environment as Defang does), and it is encrypted at rest. The digest of
what was applied (settings and the password's digest) is kept in a tag, so a redeploy with
nothing changed leaves it alone and a new password is applied in place.

RDS and ElastiCache refuse much that a postgres or redis container accepts: master user and
database names with reserved words or underscores, passwords with ``@``, engine versions
they do not offer. ``problems`` finds all of it from the project and the config values,
before anything is created, each with the change that fixes it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from launchdeck.compose.model import Project, Service
from launchdeck.engine import hosts, kinds, modes
from launchdeck.engine.events import State
from launchdeck.engine.results import ServiceStatus
from launchdeck.errors import ProviderError
from launchdeck.providers.aws import names, network, wait
from launchdeck.providers.aws.api import Aws, AwsError, parallel

PORTS = {"postgres": 5432, "redis": 6379, "mongodb": 27017}

POSTGRES_MAJORS = ("13", "14", "15", "16", "17")
"""RDS for PostgreSQL majors in standard support (RDS picks the newest minor of a major;
minors are retired: "Cannot find version 15.4 for postgres")."""
DEFAULT_POSTGRES = "17"
REDIS_VERSIONS = {"7": "7.1", "7.1": "7.1", "7.0": "7.0", "6": "6.2", "6.2": "6.2", "6.0": "6.0",
                  "5": "5.0.6", "5.0": "5.0.6"}
"""Image tag -> the ElastiCache Redis OSS version that serves it. ElastiCache offers Redis OSS
7.1, 7.0, 6.2, 6.0 and 5.0.6; Redis 7.2 and later exist there only as Valkey."""
VALKEY_VERSIONS = {"8": "8.1", "8.1": "8.1", "8.0": "8.0", "7": "7.2", "7.2": "7.2"}
"""Image tag -> the ElastiCache Valkey version that serves it (7.2, 8.0, 8.1)."""
DEFAULT_REDIS = "7.1"
DOCUMENTDB_VERSIONS = {"5": "5.0.0", "8": "8.0.0"}
"""MongoDB major -> the DocumentDB engine version that implements its API. DocumentDB offers
3.6 (end of life March 2026), 4.0, 5.0 and 8.0 ("Amazon DocumentDB Features and
Configurations", Engine status); launchdeck makes 5.0 (the long-term-support one) or 8.0."""
DEFAULT_DOCUMENTDB = "8.0.0"
"""``mongo`` and ``mongo:latest`` are MongoDB 8."""
DOCUMENTDB_CLASS = "db.t4g.medium"
"""The smallest instance class DocumentDB offers (2 vCPUs, 4 GiB; the T4G family, which every
engine from 4.0 to 8.0 runs on, and cheaper than db.t3.medium: "Managing instance classes",
DocumentDB Developer Guide)."""
DEFAULT_VALKEY = "8.1"
VALKEY_FOR_REDIS = {"7.2": "7.2"}
"""Redis past 7.1 (``redis:7.2``, ``7.4``, ``8`` are common) runs on ElastiCache Valkey, Redis-
compatible (Valkey 7.2 forks Redis 7.2.4): 7.2 on Valkey 7.2, anything newer on the newest."""

# RDS for PostgreSQL, CreateDBInstance MasterUsername: "Must be 1 to 63 letters or numbers.
# First character must be a letter. Can't be a reserved word for the chosen database engine."
_MASTER_USER = re.compile(r"[A-Za-z][A-Za-z0-9]{0,62}")
# DBName: "Must contain 1 to 63 letters, numbers, or underscores. Must begin with a letter.
# Subsequent characters can be letters, underscores, or digits (0-9). Can't be a word reserved
# by the database engine."
_DATABASE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,62}")
# MasterUserPassword: "Must contain from 8 to 128 characters. Can include any printable ASCII
# character except "/", """, or "@". Can't contain spaces."
_PASSWORD = re.compile(r"[!#-.0-?A-~]{8,128}")
RESERVED = frozenset({
    "admin", "rdsadmin", "rdsrepladmin", "rdssuperuser", "catalog", "template0", "template1", "all",
    "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "authorization", "binary",
    "both", "case", "cast", "check", "collate", "collation", "column", "concurrently", "constraint",
    "create", "cross", "current_catalog", "current_date", "current_role", "current_schema",
    "current_time", "current_timestamp", "current_user", "default", "deferrable", "desc", "distinct",
    "do", "else", "end", "except", "false", "fetch", "for", "foreign", "freeze", "from", "full",
    "grant", "group", "having", "ilike", "in", "initially", "inner", "intersect", "into", "is",
    "isnull", "join", "lateral", "leading", "left", "like", "limit", "localtime", "localtimestamp",
    "natural", "not", "notnull", "null", "offset", "on", "only", "or", "order", "outer", "overlaps",
    "placing", "primary", "references", "returning", "right", "select", "session_user", "similar",
    "some", "symmetric", "system_user", "table", "tablesample", "then", "to", "trailing", "true",
    "union", "unique", "user", "using", "variadic", "verbose", "when", "where", "window", "with",
})
"""Names RDS refuses as master user or database: its own accounts and defaults ("MasterUsername
admin cannot be used as it is a reserved word used by the engine"), and PostgreSQL's reserved
key words (SQL Key Words appendix, the "reserved" ones)."""


@dataclass(frozen=True)
class Store:
    service: str
    kind: str
    id: str
    settings: dict[str, str]
    password: str | None
    mode: dict[str, str] = field(default_factory=dict)
    """What the stack's mode makes different from ``affordable`` (``mode_settings``)."""


@dataclass(frozen=True)
class Problem:
    """Something RDS or ElastiCache would refuse, found before anything is created."""

    service: str
    field: str
    """Where in the service it comes from, e.g. ``environment.POSTGRES_USER``."""
    message: str
    fix: str
    warning: bool = False
    """Deployed as it is, with this said (not a refusal)."""


def engine(service: Service) -> tuple[str, str | None]:
    """(engine, version) a store's image asks for; the version is None when AWS offers none."""
    kind = service.managed_store
    repository, tag = _image(service.image)
    if kind == "mongodb":
        return "docdb", documentdb_version(tag)
    if kind == "postgres":
        major = tag.split(".")[0] if tag else DEFAULT_POSTGRES
        return "postgres", major if major in POSTGRES_MAJORS else None
    if repository.rsplit("/", 1)[-1] == "valkey":
        return "valkey", VALKEY_VERSIONS.get(tag) if tag else DEFAULT_VALKEY
    if tag and tag not in REDIS_VERSIONS and _newer_than_redis_oss(tag):
        return "valkey", VALKEY_FOR_REDIS.get(tag, DEFAULT_VALKEY)
    return "redis", REDIS_VERSIONS.get(tag) if tag else DEFAULT_REDIS


def documentdb_version(tag: str) -> str:
    """The DocumentDB engine version that serves MongoDB ``tag``: 5.0 for MongoDB 5 and older
    (their drivers and queries run on it), 8.0 for MongoDB 6 and newer."""
    if not tag:
        return DEFAULT_DOCUMENTDB
    major = int(tag.split(".")[0])
    return DOCUMENTDB_VERSIONS["5"] if major <= 5 else DOCUMENTDB_VERSIONS["8"]


def _newer_than_redis_oss(tag: str) -> bool:
    """Whether a Redis version is past 7.1, the last Redis OSS ElastiCache offers."""
    major, _, minor = tag.partition(".")
    return (int(major), int(minor or 0)) >= (7, 2)


def _image(image: str | None) -> tuple[str, str]:
    """(repository, numeric version) of an image: ``redis:7.2.4-alpine`` -> (redis, 7.2).

    The patch level is dropped: AWS picks it. A tag with no number (``latest``) gives ''."""
    name = (image or "").split("@")[0]
    repository, _, tag = name.rpartition(":") if ":" in name.rsplit("/", 1)[-1] else (name, "", "")
    match = re.match(r"(\d+)(?:\.(\d+))?", tag)
    if not match:
        return repository, ""
    return repository, match.group(1) + (f".{match.group(2)}" if match.group(2) else "")


def problems(service: Service, config: Mapping[str, str]) -> list[Problem]:
    """What AWS would refuse about the store ``service`` (never quoting a config value)."""
    out: list[Problem] = []
    kind = service.managed_store
    found_engine, version = engine(service)
    if kind == "postgres":
        if version is None:
            asked = _image(service.image)[1]
            out.append(Problem(service.name, "image", f"RDS does not offer PostgreSQL {asked}",
                               f"Use one of postgres:{', postgres:'.join(POSTGRES_MAJORS)}."))
        env = service.resolved_environment(config)
        user = env.get("POSTGRES_USER") or "postgres"
        problems_before = len(out)
        if not _MASTER_USER.fullmatch(user):
            out.append(Problem(service.name, "environment.POSTGRES_USER",
                               "RDS needs a master user of 1 to 63 letters or digits, starting with "
                               "a letter", "Set POSTGRES_USER to a name like app or shop1."))
        elif user.lower() in RESERVED:
            out.append(Problem(service.name, "environment.POSTGRES_USER",
                               f"RDS reserves the master user name {user!r}",
                               "Set POSTGRES_USER to another name, e.g. app."))
        database = env.get("POSTGRES_DB") or user
        named_apart = bool(env.get("POSTGRES_DB")) or len(out) == problems_before
        # a database named after a refused user is fixed with the user: say it once
        if named_apart and not _DATABASE.fullmatch(database):
            out.append(Problem(service.name, "environment.POSTGRES_DB",
                               "RDS needs a database name of 1 to 63 letters, digits or '_', "
                               "starting with a letter", "Set POSTGRES_DB to a name like app_db "
                               "(and the database URLs that name it)."))
        elif named_apart and database.lower() in RESERVED:
            out.append(Problem(service.name, "environment.POSTGRES_DB",
                               f"RDS reserves the database name {database!r}",
                               "Set POSTGRES_DB to another name (and the URLs that name it)."))
        if "POSTGRES_PASSWORD" not in service.environment:
            out.append(Problem(service.name, "environment", "x-defang-postgres needs a password on aws",
                               "Add `POSTGRES_PASSWORD:` (no value) to its environment and set "
                               "the POSTGRES_PASSWORD config value."))
        elif "POSTGRES_PASSWORD" in env and not _PASSWORD.fullmatch(env["POSTGRES_PASSWORD"]):
            out.append(Problem(service.name, "environment.POSTGRES_PASSWORD",
                               "RDS needs a password of 8 to 128 printable ASCII characters without "
                               "'/', '\"', '@' or spaces",
                               "Set a new POSTGRES_PASSWORD config value: a random one (config "
                               "set with random) is one RDS accepts."))
    elif kind == "redis":
        if found_engine == "valkey" and version and _image(service.image)[0].rsplit("/", 1)[-1] != "valkey":
            tag = _image(service.image)[1]
            out.append(Problem(service.name, "image", f"ElastiCache's Redis OSS ends at 7.1: redis:{tag} "
                               f"runs on ElastiCache Valkey {version}, which is Redis-compatible",
                               f"Nothing to do to deploy it so; write valkey/valkey:{version} to say it, "
                               "or redis:7.1 for Redis OSS.", warning=True))
        if version is None:
            tag = _image(service.image)[1]
            if found_engine == "valkey":
                out.append(Problem(service.name, "image", f"ElastiCache does not offer Valkey {tag}",
                                   "Use valkey/valkey:8.1, :8.0 or :7.2."))
            else:
                out.append(Problem(service.name, "image", f"ElastiCache does not offer Redis OSS {tag} "
                                   "(its Redis OSS ends at 7.1; newer Redis is Valkey there)",
                                   "Use redis:7.1 (or redis:7, 6.2), or valkey/valkey:8 for a newer, "
                                   "Redis-compatible engine."))
    elif kind == "mongodb":
        out += _documentdb_problems(service, config)
    else:
        out.append(Problem(service.name, f"x-defang-{kind}", f"x-defang-{kind} is not supported on aws yet",
                           "Run it as an ordinary service with a volume, or use a hosted database "
                           "and give its URL through config."))
    return out


# DocumentDB CreateDBCluster, MasterUsername: "Must be from 1 to 63 letters or numbers. The first
# character must be a letter. Cannot be a reserved word for the chosen database engine."
_DOCUMENTDB_USER = re.compile(r"[A-Za-z][A-Za-z0-9]{0,62}")
# MasterUserPassword: "Can contain any printable ASCII character except forward slash (/),
# double quote ("), or the "at" symbol (@). Constraints: Must contain from 8 to 100 characters."
# Spaces are kept out too, as RDS refuses them ("Only printable ASCII characters besides '/',
# '@', '"', ' ' may be used"): a password of the two rules' common part is taken by both.
_DOCUMENTDB_PASSWORD = re.compile(r"[!#-.0-?A-~]{8,100}")
DOCUMENTDB_RESERVED = frozenset({"admin", "serviceadmin"})
"""Master user names DocumentDB keeps for itself ("MasterUsername admin cannot be used as it is
a reserved word used by the engine"; serviceadmin is the account AWS manages the cluster with)."""
# MongoDB database names: "cannot contain any of the following characters: /\. "$*<>:|?" and
# "must have fewer than 64 characters" (MongoDB Limits and Thresholds, Naming Restrictions);
# DocumentDB keeps the same rule ("Database names ... up to 63 characters").
_MONGO_DATABASE = re.compile(r"[^/\\. \"$*<>:|?]{1,63}")


def _documentdb_problems(service: Service, config: Mapping[str, str]) -> list[Problem]:
    """What DocumentDB refuses of a MongoDB store, and where its version differs from the image's."""
    out: list[Problem] = []
    tag = _image(service.image)[1]
    version = documentdb_version(tag)
    major = version.split(".")[0]
    if tag and (tag.split(".")[0] != major or tag not in (major, f"{major}.0")):
        out.append(Problem(service.name, "image", f"DocumentDB offers MongoDB 5.0 and 8.0 compatibility: "
                           f"mongo:{tag} runs on DocumentDB {major}.0",
                           f"Nothing to do to deploy it so; write mongo:{major}.0 to say it.", warning=True))
    env = service.resolved_environment(config)
    database = kinds.mongodb(service, config)
    if not _DOCUMENTDB_USER.fullmatch(database.user):
        out.append(Problem(service.name, "environment.MONGO_INITDB_ROOT_USERNAME",
                           "DocumentDB needs a master user of 1 to 63 letters or digits, starting "
                           "with a letter", "Set MONGO_INITDB_ROOT_USERNAME to a name like app "
                           "(and the URLs that name it)."))
    elif database.user.lower() in DOCUMENTDB_RESERVED:
        out.append(Problem(service.name, "environment.MONGO_INITDB_ROOT_USERNAME",
                           f"DocumentDB reserves the master user name {database.user!r}",
                           "Set MONGO_INITDB_ROOT_USERNAME to another name, e.g. app (and the URLs "
                           "that name it)."))
    if not _MONGO_DATABASE.fullmatch(database.database):
        out.append(Problem(service.name, "environment.MONGO_INITDB_DATABASE",
                           "a MongoDB database name has 1 to 63 characters, none of / \\ . space \" "
                           "$ * < > : | ?", "Set MONGO_INITDB_DATABASE to a name like app "
                           "(and the URLs that name it)."))
    if "MONGO_INITDB_ROOT_PASSWORD" not in service.environment:
        out.append(Problem(service.name, "environment", "x-defang-mongodb needs a password on aws",
                           "Add `MONGO_INITDB_ROOT_PASSWORD:` (no value) to its environment and set "
                           "the MONGO_INITDB_ROOT_PASSWORD config value."))
    elif "MONGO_INITDB_ROOT_PASSWORD" in env and \
            not _DOCUMENTDB_PASSWORD.fullmatch(env["MONGO_INITDB_ROOT_PASSWORD"]):
        out.append(Problem(service.name, "environment.MONGO_INITDB_ROOT_PASSWORD",
                           "DocumentDB needs a password of 8 to 100 printable ASCII characters "
                           "without '/', '\"', '@' or spaces",
                           "Set a new MONGO_INITDB_ROOT_PASSWORD config value: a random one (config "
                           "set with random) is one DocumentDB accepts."))
    return out


_URL_OPTION = re.compile(r"[?&](retryWrites|tls|ssl|tlsAllowInvalidCertificates|tlsInsecure)=([^&#]*)",
                         re.IGNORECASE)


def documentdb_clients(project: Project) -> list[Problem]:
    """What in the other services' connection strings DocumentDB cannot serve: an SRV URL (a
    cluster publishes no SRV record), retryable writes ("Amazon DocumentDB does not support
    retryable writes"), TLS turned off (a cluster's default parameter group requires it), or
    certificates left unchecked (the RDS CA is given to the service: nothing needs them off)."""
    stores = sorted(n for n, s in project.services.items() if s.managed_store == "mongodb")
    out: list[Problem] = []
    for client in project.services.values():
        if client.managed_store:
            continue
        for key, value in client.environment.items():
            named = [s for s in stores if value and hosts.mentions(value, s)]
            if not named:
                continue
            where, store = f"environment.{key}", named[0]
            if value.lower().startswith("mongodb+srv://"):
                out.append(Problem(client.name, where, f"a mongodb+srv:// URL cannot reach {store} on aws: "
                                   "DocumentDB publishes no SRV record",
                                   f"Write mongodb://…@{store}:27017/… instead."))
            for option, setting in _URL_OPTION.findall(value):
                name, setting = option.lower(), setting.lower()
                if name == "retrywrites" and setting == "true":
                    out.append(Problem(client.name, where, "DocumentDB does not support retryable writes",
                                       "Remove retryWrites=true (launchdeck writes retryWrites=false)."))
                elif name in ("tls", "ssl") and setting == "false":
                    out.append(Problem(client.name, where, f"DocumentDB requires TLS: {option}=false "
                                       "cannot connect", f"Remove {option}=false (launchdeck turns TLS on "
                                       "with the Amazon RDS CA)."))
                elif name in ("tlsallowinvalidcertificates", "tlsinsecure") and setting == "true":
                    out.append(Problem(client.name, where, f"{option}=true accepts any certificate, so "
                                       "whoever answers on the way gets the password",
                                       f"Remove {option}=true: the service is given the Amazon RDS CA "
                                       "to verify the cluster with.", warning=True))
    return out


def store(service: Service, named: names.Names, config: Mapping[str, str],
          mode: modes.Mode = modes.DEFAULT) -> Store:
    """What ``service`` (a managed store) should be; raise if AWS would refuse any of it."""
    found = [p for p in problems(service, config) if not p.warning]
    if found:
        raise ProviderError(f"{service.name}: " + "; ".join(p.message for p in found), provider="aws",
                            service=service.name, hint=" ".join(p.fix for p in found))
    kind = service.managed_store
    assert kind is not None
    engine_name, version = engine(service)
    settings: dict[str, str] = {"engine": engine_name, "version": version or ""}
    password = None
    if kind == "postgres":
        database = kinds.postgres(service, config)
        settings["user"], settings["database"] = database.user, database.database
        password = database.password
    elif kind == "mongodb":
        database = kinds.mongodb(service, config)
        settings["user"], settings["database"] = database.user, database.database
        password = database.password
    return Store(service.name, kind, named.store(service.name), settings, password,
                 mode_settings(kind, mode))


def mode_settings(kind: str, mode: modes.Mode) -> dict[str, str]:
    """What the stack's mode changes of a store (a part of the unit's digest of its own, so a
    plan says "mode changed"): only where it differs from ``affordable``, so a store made
    before modes keeps its digest. RDS: Multi-AZ, deletion protection, backup days;
    ElastiCache: one replica with automatic failover and Multi-AZ; DocumentDB: a replica
    instance (which DocumentDB puts in another zone and fails over to), deletion protection,
    backup days."""
    row, base = modes.of(mode), modes.of(modes.DEFAULT)
    out: dict[str, str] = {}
    if kind in ("postgres", "mongodb"):
        if row.zonal_standby and kind == "postgres":
            out["multi_az"] = "true"
        elif row.zonal_standby:
            out["replicas"] = "1"
        if row.deletion_protection != base.deletion_protection:
            out["deletion_protection"] = str(row.deletion_protection).lower()
        if row.backup_days != base.backup_days:
            out["backup_days"] = str(row.backup_days)
    elif kind == "redis" and row.zonal_standby:
        out["replicas"] = "1"
    return out


def _rds_mode(spec: Store) -> dict[str, Any]:
    """The RDS parameters a store's mode settings stand for (the affordable ones by default)."""
    return {"MultiAZ": spec.mode.get("multi_az") == "true",
            "DeletionProtection": spec.mode.get("deletion_protection") == "true",
            "BackupRetentionPeriod": int(spec.mode.get("backup_days", "1"))}


def subnet_group(vpc: str) -> str:
    """The subnet group of a VPC's stores: shared by every project in that VPC."""
    return f"launchdeck-{vpc}"


@dataclass(frozen=True)
class Existing:
    """A store as AWS describes it now."""

    kind: str
    status: str
    endpoint: str | None
    digest: str
    etag: str | None


async def find(aws: Aws, service: Service, named: names.Names) -> Existing | None:
    """The store ``service`` stands for, if it exists; changes nothing."""
    project, stack, id_ = named.project, named.stack, named.store(service.name)
    if service.managed_store == "postgres":
        found = await aws.maybe("rds", "describe_db_instances",
                                ("DBInstanceNotFound", "DBInstanceNotFoundFault"), DBInstanceIdentifier=id_)
        if not found:
            return None
        db = found["DBInstances"][0]
        tags = names.tag_dict(db.get("TagList"))
        names.refuse_foreign("database", id_, tags, project, stack)
        endpoint = (db.get("Endpoint") or {}).get("Address")
        return Existing("postgres", busy(db) or "available", endpoint,
                        tags.get(names.HASH, ""), tags.get(names.ETAG))
    if service.managed_store == "redis":
        found = await aws.maybe("elasticache", "describe_replication_groups",
                                ("ReplicationGroupNotFoundFault",), ReplicationGroupId=id_)
        if not found:
            return None
        group = found["ReplicationGroups"][0]
        listed = await aws("elasticache", "list_tags_for_resource", ResourceName=group["ARN"])
        tags = names.tag_dict(listed.get("TagList"))
        names.refuse_foreign("cache", id_, tags, project, stack)
        nodes = group.get("NodeGroups") or []
        endpoint = (nodes[0].get("PrimaryEndpoint") or {}).get("Address") if nodes else None
        return Existing("redis", group["Status"], endpoint, tags.get(names.HASH, ""),
                        tags.get(names.ETAG))
    if service.managed_store == "mongodb":
        return await _find_cluster(aws, id_, named.store_instance(service.name),
                                   project, stack)
    return None


async def _find_cluster(aws: Aws, id_: str, instance_id: str, project: str, stack: str) -> Existing | None:
    """A DocumentDB cluster and the state of its instance."""
    found = await aws.maybe("docdb", "describe_db_clusters", ("DBClusterNotFoundFault",),
                            DBClusterIdentifier=id_)
    if not found:
        return None
    cluster = found["DBClusters"][0]
    listed = await aws("docdb", "list_tags_for_resource", ResourceName=cluster["DBClusterArn"])
    tags = names.tag_dict(listed.get("TagList"))
    names.refuse_foreign("DocumentDB cluster", id_, tags, project, stack)
    doing = await _cluster_doing(aws, cluster, instance_id)
    # a deploy cut short between the cluster and its instance left half a store: no digest
    # matches it, so the next deploy applies it again (and makes the instance)
    digest = "" if doing == _NO_INSTANCE_YET else tags.get(names.HASH, "")
    return Existing("mongodb", doing or "available", cluster.get("Endpoint"), digest, tags.get(names.ETAG))


async def _cluster_doing(aws: Aws, cluster: Mapping[str, Any], instance_id: str) -> str:
    """What a DocumentDB cluster or its instance is still doing; '' once both serve."""
    found = await aws.maybe("docdb", "describe_db_instances", _NO_INSTANCE, DBInstanceIdentifier=instance_id)
    if not found:
        return _NO_INSTANCE_YET
    if cluster["Status"] != "available":
        return cluster["Status"]
    status = found["DBInstances"][0]["DBInstanceStatus"]
    return "" if status == "available" else f"instance {status}"


def status(name: str, found: Existing) -> ServiceStatus:
    """A store's state in the shared vocabulary."""
    state = State.SERVICE_DEPLOYMENT_COMPLETED if found.status == "available" else \
        State.SERVICE_DEPLOYMENT_FAILED if "fail" in found.status or "incompatible" in found.status \
        else State.STOPPED if found.status == "deleting" else State.SERVICE_DEPLOYMENT_PENDING
    endpoints = [f"{found.endpoint}:{PORTS[found.kind]}"] if found.endpoint else []
    return ServiceStatus(name=name, state=state, replicas_running=int(found.status == "available"),
                         replicas_desired=1, endpoints=endpoints, deployment_id=found.etag,
                         message="" if state.final else found.status)


async def ensure(aws: Aws, spec: Store, digest: str, project: str, stack: str, vpc: str,
                 subnets: list[str], group: str, etag: str, say: Callable[[str], None]) -> None:
    """Create the store, in the VPC's subnet group (``subnet_groups`` makes it), or apply new
    settings to it when its ``digest`` (of what is asked, kept in its tag) differs; ``look``
    tells when it serves."""
    tags = names.tag_list(names.tags(project, stack, service=spec.service, etag=etag, hash=digest))
    if spec.kind == "postgres":
        await _postgres(aws, spec, digest, vpc, subnets, group, tags, say)
    elif spec.kind == "mongodb":
        instance_tags = names.tag_list(names.tags(project, stack, service=spec.service, etag=etag,
                                                  role=DOCUMENTDB_ROLE))
        await _documentdb(aws, spec, digest, vpc, subnets, group, tags, instance_tags, say)
    else:
        await _redis(aws, spec, vpc, subnets, group, tags, say)


async def look(aws: Aws, spec: Store) -> tuple[str | None, str]:
    """(the store's endpoint host once it serves with what was asked — a new password applied —
    else None, and what it is doing meanwhile); raise when AWS says it failed."""
    if spec.kind == "postgres":
        db = (await aws("rds", "describe_db_instances", DBInstanceIdentifier=spec.id))["DBInstances"][0]
        _refuse_failed(spec, db["DBInstanceStatus"])
        doing = busy(db)
        return (None, doing) if doing else (db["Endpoint"]["Address"], "")
    if spec.kind == "mongodb":
        cluster = (await aws("docdb", "describe_db_clusters", DBClusterIdentifier=spec.id))["DBClusters"][0]
        _refuse_failed(spec, cluster["Status"])
        doing = ""
        for instance in _instances(spec):
            doing = doing or await _cluster_doing(aws, cluster, instance)
        return (None, doing) if doing else (cluster["Endpoint"], "")
    rg = (await aws("elasticache", "describe_replication_groups",
                    ReplicationGroupId=spec.id))["ReplicationGroups"][0]
    _refuse_failed(spec, rg["Status"])
    if rg["Status"] != "available":
        return None, rg["Status"]
    return rg["NodeGroups"][0]["PrimaryEndpoint"]["Address"], ""


async def _postgres(aws: Aws, spec: Store, digest: str, vpc: str, subnets: list[str], group: str,
                    tags: list[dict[str, str]], say: Callable[[str], None]) -> None:
    found = await aws.maybe("rds", "describe_db_instances", ("DBInstanceNotFound", "DBInstanceNotFoundFault"),
                            DBInstanceIdentifier=spec.id)
    if found:
        db = found["DBInstances"][0]
        if names.tag_dict(db.get("TagList")).get(names.HASH) != digest:
            say("applying new settings")
            # Multi-AZ on or off changes the instance in place ("no downtime" while the
            # standby is made: RDS User Guide, "Converting a DB instance to Multi-AZ")
            await aws("rds", "modify_db_instance", DBInstanceIdentifier=spec.id,
                      MasterUserPassword=spec.password, ApplyImmediately=True, **_rds_mode(spec))
            await aws("rds", "add_tags_to_resource", ResourceName=db["DBInstanceArn"], Tags=tags)
        return
    say("creating an RDS PostgreSQL instance (this takes several minutes)")
    database = spec.settings["database"]
    await aws("rds", "create_db_instance", DBInstanceIdentifier=spec.id, Engine="postgres",
              EngineVersion=spec.settings["version"], DBInstanceClass="db.t4g.micro",
              AllocatedStorage=20, StorageType="gp3", StorageEncrypted=True,
              MasterUsername=spec.settings["user"], MasterUserPassword=spec.password,
              # "A database named postgres is always created": naming it again is refused
              **({} if database == "postgres" else {"DBName": database}),
              DBSubnetGroupName=subnet_group(vpc), VpcSecurityGroupIds=[group],
              PubliclyAccessible=False, CopyTagsToSnapshot=False, **_rds_mode(spec),
              Tags=tags)


_NO_INSTANCE = ("DBInstanceNotFound", "DBInstanceNotFoundFault")
_NO_INSTANCE_YET = "no instance yet"
BUSY_INTERVAL = 2.0
BUSY_WAIT = 1800.0
"""Seconds between tries, and in all, to give a busy DocumentDB cluster its new password."""
DOCUMENTDB_ROLE = "documentdb-instance"
"""The role tag of a DocumentDB cluster's instance: it is removed with its cluster, and the
RDS PostgreSQL instances (whose ARNs look alike) are told apart by it."""


def _instances(spec: Store) -> list[str]:
    """The instances of a DocumentDB cluster: its primary, and the mode's replicas ("Amazon
    DocumentDB ... automatically distributes replica instances across Availability Zones" and
    "promotes a replica to primary" on failure: DocumentDB Developer Guide, High availability)."""
    return [names.instance_of(spec.id, n) for n in range(1, 2 + int(spec.mode.get("replicas", "0")))]


def _documentdb_mode(spec: Store) -> dict[str, Any]:
    """The cluster parameters a store's mode settings stand for (the affordable ones by default)."""
    return {"DeletionProtection": spec.mode.get("deletion_protection") == "true",
            "BackupRetentionPeriod": int(spec.mode.get("backup_days", "1"))}


async def _documentdb(aws: Aws, spec: Store, digest: str, vpc: str, subnets: list[str], group: str,
                      tags: list[dict[str, str]], instance_tags: list[dict[str, str]],
                      say: Callable[[str], None]) -> None:
    """The cluster (made, or given a new password and the mode's settings in place), then its
    instances: the primary and the mode's replicas; replicas the mode no longer has go."""
    found = await aws.maybe("docdb", "describe_db_clusters", ("DBClusterNotFoundFault",),
                            DBClusterIdentifier=spec.id)
    if found:
        cluster = found["DBClusters"][0]
        if cluster.get("MasterUsername") != spec.settings["user"]:
            raise ProviderError(f"{spec.service}: DocumentDB cannot change the master user of a cluster "
                                "in place", provider="aws", service=spec.service,
                                hint="Put MONGO_INITDB_ROOT_USERNAME back as it was, or destroy the "
                                     "stack (a final snapshot is kept) and deploy again.")
        listed = await aws("docdb", "list_tags_for_resource", ResourceName=cluster["DBClusterArn"])
        if names.tag_dict(listed.get("TagList")).get(names.HASH) != digest:
            say("applying new settings")
            # refused while the cluster is busy (still creating, or taking a password a moment ago)
            await wait.retry(lambda: aws("docdb", "modify_db_cluster", DBClusterIdentifier=spec.id,
                                        MasterUserPassword=spec.password, ApplyImmediately=True,
                                        **_documentdb_mode(spec)),
                             ("InvalidDBClusterStateFault",), what=f"the DocumentDB cluster {spec.id}",
                             interval=BUSY_INTERVAL, timeout=BUSY_WAIT, say=say,
                             why="busy; the new password waits for it")
            await aws("docdb", "add_tags_to_resource", ResourceName=cluster["DBClusterArn"], Tags=tags)
    else:
        say("creating a DocumentDB cluster (this takes several minutes)")
        await aws("docdb", "create_db_cluster", DBClusterIdentifier=spec.id, Engine="docdb",
                  EngineVersion=spec.settings["version"], MasterUsername=spec.settings["user"],
                  MasterUserPassword=spec.password, DBSubnetGroupName=subnet_group(vpc),
                  VpcSecurityGroupIds=[group], StorageEncrypted=True, **_documentdb_mode(spec), Tags=tags)
        found = None
    wanted = _instances(spec)
    for instance in wanted:
        if not await aws.maybe("docdb", "describe_db_instances", _NO_INSTANCE, DBInstanceIdentifier=instance):
            await aws("docdb", "create_db_instance", DBInstanceIdentifier=instance,
                      DBClusterIdentifier=spec.id, Engine="docdb", DBInstanceClass=DOCUMENTDB_CLASS,
                      Tags=instance_tags)
    members = found["DBClusters"][0].get("DBClusterMembers", []) if found else []
    for member in members:  # a replica of a mode the stack left; never the primary
        if member["DBInstanceIdentifier"] not in wanted and not member.get("IsClusterWriter"):
            say(f"removing the replica instance {member['DBInstanceIdentifier']}")
            await aws.maybe("docdb", "delete_db_instance", _NO_INSTANCE,
                            DBInstanceIdentifier=member["DBInstanceIdentifier"])


async def _redis(aws: Aws, spec: Store, vpc: str, subnets: list[str], group: str,
                 tags: list[dict[str, str]], say: Callable[[str], None]) -> None:
    found = await aws.maybe("elasticache", "describe_replication_groups",
                            ("ReplicationGroupNotFoundFault",), ReplicationGroupId=spec.id)
    replicas = int(spec.mode.get("replicas", "0"))
    if found:  # only the replicas change in place: record what it stands for
        group = found["ReplicationGroups"][0]
        await _replicas(aws, spec, group, replicas, say)
        await aws("elasticache", "add_tags_to_resource", ResourceName=group["ARN"], Tags=tags)
        return
    engine_name = spec.settings.get("engine", "redis")
    say(f"creating an ElastiCache {'Valkey' if engine_name == 'valkey' else 'Redis OSS'} "
        "replication group (this takes several minutes)")
    await aws("elasticache", "create_replication_group", ReplicationGroupId=spec.id,
              ReplicationGroupDescription=f"launchdeck {spec.service}", Engine=engine_name,
              EngineVersion=spec.settings["version"], CacheNodeType="cache.t4g.micro",
              NumCacheClusters=1 + replicas, AtRestEncryptionEnabled=True,
              **({"AutomaticFailoverEnabled": True, "MultiAZEnabled": True} if replicas else {}),
              CacheSubnetGroupName=subnet_group(vpc), SecurityGroupIds=[group], Tags=tags)


async def _replicas(aws: Aws, spec: Store, group: Mapping[str, Any], replicas: int,
                    say: Callable[[str], None]) -> None:
    """Give a Redis group ``replicas`` read replicas, in place: a replica is added before
    failover is turned on (automatic failover needs one), and failover is turned off before
    the last replica goes (ElastiCache User Guide, "Increasing / Decreasing the number of
    replicas"); the primary and its data stay."""
    have = len(group.get("MemberClusters") or [1]) - 1
    if have == replicas:
        return
    if replicas > have:
        say(f"adding {replicas - have} replica(s) with automatic failover")
        await aws("elasticache", "increase_replica_count", ReplicationGroupId=spec.id,
                  NewReplicaCount=replicas, ApplyImmediately=True)
        await aws("elasticache", "modify_replication_group", ReplicationGroupId=spec.id,
                  AutomaticFailoverEnabled=True, MultiAZEnabled=True, ApplyImmediately=True)
        return
    say(f"removing {have - replicas} replica(s)")
    if replicas == 0:
        await aws("elasticache", "modify_replication_group", ReplicationGroupId=spec.id,
                  AutomaticFailoverEnabled=False, MultiAZEnabled=False, ApplyImmediately=True)
    await aws("elasticache", "decrease_replica_count", ReplicationGroupId=spec.id,
              NewReplicaCount=replicas, ApplyImmediately=True)


def busy(db: Mapping[str, Any]) -> str:
    """What a described RDS instance is still doing; '' once it serves with what was asked.

    A new master password stays in PendingModifiedValues for a while after ModifyDBInstance,
    while the instance still reads "available": services started then would get a password
    the database does not take yet."""
    status = db["DBInstanceStatus"]
    pending = sorted(db.get("PendingModifiedValues") or {})
    if status == "available" and not pending:
        return ""
    return f"{status}, applying {', '.join(pending)}" if pending else status


def _refuse_failed(spec: Store, status: str) -> None:
    if status in ("failed", "incompatible-parameters", "incompatible-network", "create-failed"):
        raise ProviderError(f"{spec.service}: the {spec.kind} store is {status}", provider="aws",
                            service=spec.service, hint="See the RDS or ElastiCache console for the "
                            "reason, fix it, and deploy again.")


SUBNET_GROUPS = {"postgres": "rds", "mongodb": "rds", "redis": "elasticache"}
"""The service whose subnet groups a store of each kind is made in (DocumentDB uses RDS's)."""


async def subnet_groups(aws: Aws, kinds: Iterable[str], vpc: str, subnets: list[str], *,
                        interval: float = 1.0, say: Callable[[str], None] = lambda _: None) -> None:
    """The VPC's shared subnet groups that stores of ``kinds`` are made in, made if missing.
    ``interval``: the first wait before asking again what AWS refused because it does not show
    the new subnets yet."""
    await parallel(*[lambda s=s: ensure_subnet_group(aws, s, vpc, subnets, interval=interval, say=say)
                     for s in sorted({SUBNET_GROUPS[k] for k in kinds if k in SUBNET_GROUPS})])


async def ensure_subnet_group(aws: Aws, service: str, vpc: str, subnets: list[str], *,
                              interval: float = 1.0, say: Callable[[str], None] = lambda _: None) -> None:
    """The VPC's shared subnet group for ``service`` (rds or elasticache), made if missing.

    Stores of several projects may race to make it: whoever loses finds it made, which is
    what was wanted."""
    name, tags = subnet_group(vpc), [{"Key": "launchdeck:shared", "Value": "true"}]
    try:
        if service == "rds":
            found = await aws.maybe("rds", "describe_db_subnet_groups", ("DBSubnetGroupNotFoundFault",),
                                    DBSubnetGroupName=name)
            if not found:
                await network.seen_late(
                    lambda: aws("rds", "create_db_subnet_group", DBSubnetGroupName=name, SubnetIds=subnets,
                                DBSubnetGroupDescription="launchdeck stores", Tags=tags),
                    what=f"the RDS subnet group {name}", interval=interval, say=say)
        else:
            found = await aws.maybe("elasticache", "describe_cache_subnet_groups",
                                    ("CacheSubnetGroupNotFoundFault",), CacheSubnetGroupName=name)
            if not found:
                await network.seen_late(
                    lambda: aws("elasticache", "create_cache_subnet_group", CacheSubnetGroupName=name,
                                SubnetIds=subnets, CacheSubnetGroupDescription="launchdeck stores",
                                Tags=tags),
                    what=f"the ElastiCache subnet group {name}", interval=interval, say=say)
    except AwsError as exc:
        if exc.code not in ("DBSubnetGroupAlreadyExists", "DBSubnetGroupAlreadyExistsFault",
                            "CacheSubnetGroupAlreadyExists", "CacheSubnetGroupAlreadyExistsFault"):
            raise


async def remove(aws: Aws, kind: str, id_: str, service: str, project: str,
                 snapshot_id: str) -> str | None:
    """Delete a store (PostgreSQL and MongoDB with a final snapshot); return the snapshot's
    name, if any."""
    if kind == "mongodb":
        return await _remove_cluster(aws, id_, service, project, snapshot_id)
    if kind == "postgres":
        snapshot = names.snapshot(project, service, snapshot_id)

        async def delete() -> None:
            await aws.maybe("rds", "delete_db_instance", ("DBInstanceNotFound", "DBInstanceNotFoundFault"),
                            DBInstanceIdentifier=id_, SkipFinalSnapshot=False,
                            FinalDBSnapshotIdentifier=snapshot, DeleteAutomatedBackups=True)

        try:
            await delete()
        except AwsError as exc:  # a mode's deletion protection: asked to remove the data, lift it
            if exc.code != "InvalidParameterCombination" or "protect" not in exc.message.lower():
                raise
            await aws("rds", "modify_db_instance", DBInstanceIdentifier=id_,
                      DeletionProtection=False, ApplyImmediately=True)
            await delete()
        return snapshot
    await aws.maybe("elasticache", "delete_replication_group", ("ReplicationGroupNotFoundFault",),
                    ReplicationGroupId=id_)
    return None


async def _remove_cluster(aws: Aws, id_: str, service: str, project: str, snapshot_id: str) -> str | None:
    """Delete a DocumentDB cluster's instances, then the cluster with a final snapshot ("you
    must delete all of its instances before you can delete the cluster"; DeleteDBInstance of
    DocumentDB takes no snapshot: the cluster's holds the data)."""
    found = await aws.maybe("docdb", "describe_db_clusters", ("DBClusterNotFoundFault",),
                            DBClusterIdentifier=id_)
    if not found:
        return None
    cluster = found["DBClusters"][0]
    for member in cluster.get("DBClusterMembers", []):
        await aws.maybe("docdb", "delete_db_instance", _NO_INSTANCE,
                        DBInstanceIdentifier=member["DBInstanceIdentifier"])
    if cluster["Status"] == "deleting":
        return None
    if cluster.get("DeletionProtection"):  # a mode's protection: asked to remove the data, lift it
        await aws("docdb", "modify_db_cluster", DBClusterIdentifier=id_, DeletionProtection=False,
                  ApplyImmediately=True)
    snapshot = names.cluster_snapshot(project, service, snapshot_id)
    await aws.maybe("docdb", "delete_db_cluster", ("DBClusterNotFoundFault",), DBClusterIdentifier=id_,
                    SkipFinalSnapshot=False, FinalDBSnapshotIdentifier=snapshot)
    return snapshot
