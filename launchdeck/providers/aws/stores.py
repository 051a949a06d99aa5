"""Managed stores: x-defang-postgres as RDS PostgreSQL, x-defang-redis as ElastiCache Redis.

A store service runs no container. Its endpoint replaces its service name in the other
services' environment, its password comes from config (POSTGRES_PASSWORD, read from the
store service's environment as Defang does), and it is encrypted at rest. The digest of
what was applied (settings and the password's digest) is kept in a tag, so a redeploy with
nothing changed leaves it alone and a new password is applied in place.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from launchdeck.compose.model import Service
from launchdeck.engine import poll
from launchdeck.engine.events import State
from launchdeck.engine.status import ServiceStatus
from launchdeck.errors import ProviderError
from launchdeck.providers.aws import names
from launchdeck.providers.aws.api import Aws

READY_WAIT = 1800.0
"""Seconds to wait for a new store: RDS often takes ten minutes."""
PORTS = {"postgres": 5432, "redis": 6379}


@dataclass(frozen=True)
class Store:
    service: str
    kind: str
    id: str
    settings: dict[str, str]
    password: str | None
    hash: str


def store(service: Service, project: str, stack: str, config: Mapping[str, str]) -> Store:
    """What ``service`` (a managed store) should be, from its image tag and environment."""
    kind = service.managed_store
    assert kind is not None
    env = service.resolved_environment(config)
    settings: dict[str, str] = {}
    password = None
    if kind == "postgres":
        settings["version"] = _version(service.image)
        settings["user"] = env.get("POSTGRES_USER") or "postgres"
        settings["database"] = env.get("POSTGRES_DB") or settings["user"]
        password = env.get("POSTGRES_PASSWORD")
        if not password:
            raise ProviderError(
                f"{service.name}: x-defang-postgres needs a password on aws", provider="aws",
                service=service.name,
                hint="Add `POSTGRES_PASSWORD:` (no value) to its environment and run "
                     "`launchdeck config set POSTGRES_PASSWORD --provider aws`.")
    elif kind == "redis":
        settings["version"] = _version(service.image, default="7.1")
    else:
        raise ProviderError(f"{service.name}: x-defang-{kind} is not supported on aws yet",
                            provider="aws", service=service.name,
                            hint="Run it as an ordinary service with a volume, or use a hosted "
                                 "database and give its URL through config.")
    digest = hashlib.sha256((password or "").encode()).hexdigest()
    blob = json.dumps({"kind": kind, "settings": settings, "password": digest}, sort_keys=True)
    return Store(service.name, kind, names.resource_id(project, stack, service.name), settings,
                 password, hashlib.sha256(blob.encode()).hexdigest()[:16])


def _version(image: str | None, default: str = "16") -> str:
    """The engine version an image tag names: ``postgres:16.2-alpine`` -> ``16.2``."""
    tag = (image or "").rsplit("/", 1)[-1].partition(":")[2]
    match = re.match(r"(\d+(?:\.\d+)?)", tag)
    return match.group(1) if match else default


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


async def find(aws: Aws, service: Service, project: str, stack: str) -> Existing | None:
    """The store ``service`` stands for, if it exists; changes nothing."""
    id_ = names.resource_id(project, stack, service.name)
    if service.managed_store == "postgres":
        found = await aws.maybe("rds", "describe_db_instances",
                                ("DBInstanceNotFound", "DBInstanceNotFoundFault"), DBInstanceIdentifier=id_)
        if not found:
            return None
        db = found["DBInstances"][0]
        tags = names.tag_dict(db.get("TagList"))
        endpoint = (db.get("Endpoint") or {}).get("Address")
        return Existing("postgres", db["DBInstanceStatus"], endpoint, tags.get(names.HASH, ""),
                        tags.get(names.ETAG))
    if service.managed_store == "redis":
        found = await aws.maybe("elasticache", "describe_replication_groups",
                                ("ReplicationGroupNotFoundFault",), ReplicationGroupId=id_)
        if not found:
            return None
        group = found["ReplicationGroups"][0]
        listed = await aws("elasticache", "list_tags_for_resource", ResourceName=group["ARN"])
        tags = names.tag_dict(listed.get("TagList"))
        nodes = group.get("NodeGroups") or []
        endpoint = (nodes[0].get("PrimaryEndpoint") or {}).get("Address") if nodes else None
        return Existing("redis", group["Status"], endpoint, tags.get(names.HASH, ""),
                        tags.get(names.ETAG))
    return None


def status(name: str, found: Existing) -> ServiceStatus:
    """A store's state in the shared vocabulary."""
    state = State.SERVICE_DEPLOYMENT_COMPLETED if found.status == "available" else \
        State.SERVICE_DEPLOYMENT_FAILED if "fail" in found.status or "incompatible" in found.status \
        else State.STOPPED if found.status == "deleting" else State.SERVICE_DEPLOYMENT_PENDING
    endpoints = [f"{found.endpoint}:{PORTS[found.kind]}"] if found.endpoint else []
    return ServiceStatus(name=name, state=state, replicas_running=int(found.status == "available"),
                         replicas_desired=1, endpoints=endpoints, deployment_id=found.etag,
                         message="" if state.final else found.status)


async def ensure(aws: Aws, spec: Store, project: str, stack: str, vpc: str, subnets: list[str],
                 group: str, etag: str, say: Callable[[str], None]) -> None:
    """Create the store, or apply new settings to it; ``ready`` waits for it."""
    tags = names.tag_list(names.tags(project, stack, service=spec.service, etag=etag, hash=spec.hash))
    if spec.kind == "postgres":
        await _postgres(aws, spec, vpc, subnets, group, tags, say)
    else:
        await _redis(aws, spec, vpc, subnets, group, tags, say)


async def ready(aws: Aws, spec: Store, say: Callable[[str], None], interval: float) -> str:
    """The store's endpoint host, once it is available."""
    if spec.kind == "postgres":
        db = await _until(lambda: _db(aws, spec.id), "available", spec, say, interval)
        return db["Endpoint"]["Address"]
    group = await _until(lambda: _rg(aws, spec.id), "available", spec, say, interval)
    return group["NodeGroups"][0]["PrimaryEndpoint"]["Address"]


async def _postgres(aws: Aws, spec: Store, vpc: str, subnets: list[str], group: str,
                    tags: list[dict[str, str]], say: Callable[[str], None]) -> None:
    found = await aws.maybe("rds", "describe_db_instances", ("DBInstanceNotFound", "DBInstanceNotFoundFault"),
                            DBInstanceIdentifier=spec.id)
    if found:
        db = found["DBInstances"][0]
        if names.tag_dict(db.get("TagList")).get(names.HASH) != spec.hash:
            say("applying new settings")
            await aws("rds", "modify_db_instance", DBInstanceIdentifier=spec.id,
                      MasterUserPassword=spec.password, ApplyImmediately=True)
            await aws("rds", "add_tags_to_resource", ResourceName=db["DBInstanceArn"], Tags=tags)
    else:
        await _subnet_group(aws, "rds", vpc, subnets)
        say("creating an RDS PostgreSQL instance (this takes several minutes)")
        await aws("rds", "create_db_instance", DBInstanceIdentifier=spec.id, Engine="postgres",
                  EngineVersion=spec.settings["version"], DBInstanceClass="db.t4g.micro",
                  AllocatedStorage=20, StorageType="gp3", StorageEncrypted=True,
                  MasterUsername=spec.settings["user"], MasterUserPassword=spec.password,
                  DBName=re.sub(r"\W", "_", spec.settings["database"]),
                  DBSubnetGroupName=subnet_group(vpc), VpcSecurityGroupIds=[group],
                  PubliclyAccessible=False, BackupRetentionPeriod=1, CopyTagsToSnapshot=False,
                  Tags=tags)


async def _db(aws: Aws, id_: str) -> tuple[str, dict]:
    db = (await aws("rds", "describe_db_instances", DBInstanceIdentifier=id_))["DBInstances"][0]
    return db["DBInstanceStatus"], db


async def _redis(aws: Aws, spec: Store, vpc: str, subnets: list[str], group: str,
                 tags: list[dict[str, str]], say: Callable[[str], None]) -> None:
    found = await aws.maybe("elasticache", "describe_replication_groups",
                            ("ReplicationGroupNotFoundFault",), ReplicationGroupId=spec.id)
    if found:  # nothing of a Redis group can change in place yet: record what it stands for
        await aws("elasticache", "add_tags_to_resource", ResourceName=found["ReplicationGroups"][0]["ARN"],
                  Tags=tags)
    else:
        await _subnet_group(aws, "elasticache", vpc, subnets)
        say("creating an ElastiCache Redis replication group (this takes several minutes)")
        await aws("elasticache", "create_replication_group", ReplicationGroupId=spec.id,
                  ReplicationGroupDescription=f"launchdeck {spec.service}", Engine="redis",
                  EngineVersion=spec.settings["version"], CacheNodeType="cache.t4g.micro",
                  NumCacheClusters=1, AtRestEncryptionEnabled=True,
                  CacheSubnetGroupName=subnet_group(vpc), SecurityGroupIds=[group], Tags=tags)


async def _rg(aws: Aws, id_: str) -> tuple[str, dict]:
    rg = (await aws("elasticache", "describe_replication_groups",
                    ReplicationGroupId=id_))["ReplicationGroups"][0]
    return rg["Status"], rg


async def _subnet_group(aws: Aws, service: str, vpc: str, subnets: list[str]) -> None:
    name, tags = subnet_group(vpc), [{"Key": "launchdeck:shared", "Value": "true"}]
    if service == "rds":
        found = await aws.maybe("rds", "describe_db_subnet_groups", ("DBSubnetGroupNotFoundFault",),
                                DBSubnetGroupName=name)
        if not found:
            await aws("rds", "create_db_subnet_group", DBSubnetGroupName=name, SubnetIds=subnets,
                      DBSubnetGroupDescription="launchdeck stores", Tags=tags)
    else:
        found = await aws.maybe("elasticache", "describe_cache_subnet_groups",
                                ("CacheSubnetGroupNotFoundFault",), CacheSubnetGroupName=name)
        if not found:
            await aws("elasticache", "create_cache_subnet_group", CacheSubnetGroupName=name,
                      SubnetIds=subnets, CacheSubnetGroupDescription="launchdeck stores", Tags=tags)


async def _until(read: Callable[[], Awaitable[tuple[str, dict]]], state: str, spec: Store,
                 say: Callable[[str], None], interval: float) -> dict:
    last: list[str] = []

    async def check() -> dict | None:
        status, found = await read()
        if status == state:
            return found
        if status in ("failed", "incompatible-parameters", "incompatible-network", "create-failed"):
            raise ProviderError(f"{spec.service}: the {spec.kind} store is {status}", provider="aws",
                                service=spec.service, hint="See the RDS or ElastiCache console "
                                "for the reason, fix it, and deploy again.")
        if last[-1:] != [status]:
            say(f"{spec.kind} store is {status}")
            last.append(status)
        return None

    found = await poll.until(check, interval=interval, timeout=READY_WAIT)
    if found is None:
        raise ProviderError(f"{spec.service}: the {spec.kind} store is still {last[-1:]}",
                            provider="aws", service=spec.service, hint="Deploy again to keep waiting.")
    return found


async def remove(aws: Aws, kind: str, id_: str, service: str, project: str,
                 snapshot_id: str) -> str | None:
    """Delete a store (PostgreSQL with a final snapshot); return the snapshot's name, if any."""
    if kind == "postgres":
        snapshot = f"{project}-{service}-postgres-{snapshot_id}-final-snapshot"
        snapshot = re.sub(r"-+", "-", re.sub(r"[^a-zA-Z0-9-]", "-", snapshot))
        await aws.maybe("rds", "delete_db_instance", ("DBInstanceNotFound", "DBInstanceNotFoundFault"),
                        DBInstanceIdentifier=id_, SkipFinalSnapshot=False,
                        FinalDBSnapshotIdentifier=snapshot, DeleteAutomatedBackups=True)
        return snapshot
    await aws.maybe("elasticache", "delete_replication_group", ("ReplicationGroupNotFoundFault",),
                    ReplicationGroupId=id_)
    return None
