"""Compose services as ECS asks for them: task definitions and service settings, without I/O.

``render`` takes a service and the facts the provider found or made (``Infra``) and returns a
``Unit``: the register_task_definition and create_service parameters, the SSM parameters
its environment needs, and a digest of it all. Config values never enter the task
definition: a variable that is exactly one config reads that config's parameter; a value
that mixes config into other text (a database URL with its password) is written to a
SecureString of its own and read from there. Where a value names a managed store as a host,
the store's endpoint takes its place.

RDS for PostgreSQL 15 and later insist on TLS (``rds.force_ssl`` is on by default), and no
system trust store holds the Amazon RDS certificate authorities that sign its certificates. A
PostgreSQL URL naming a Postgres store gets ``POSTGRES_OPTIONS``: ``sslmode=verify-full`` and
``sslrootcert`` naming the RDS CA bundle. That is the one form libpq clients (psycopg, lib/pq,
pgx, asyncpg) and Node's ``pg`` read alike: pg-connection-string takes every ``sslmode`` but
``disable`` and ``no-verify`` as verify-full against Node's CA list (brianc/node-postgres#2375),
so ``sslmode=require`` alone fails there ("self signed certificate in certificate chain"), and
it reads ``sslrootcert`` into ``ssl.ca``; libpq refuses ``sslmode=no-verify`` and
``uselibpqcompat``. The endpoint is the name on the instance's certificate, so verify-full holds.

A MongoDB URL naming a DocumentDB store gets the options DocumentDB needs for the common
drivers (Node ``mongodb``, pymongo, the Go driver) to connect as written: TLS, which DocumentDB
requires, verified against the Amazon RDS certificate authorities (``tlsCAFile``: a cluster
parameter group with TLS off or a driver told to accept any certificate would hand the
password to whoever answers on the way); ``retryWrites=false`` ("Amazon DocumentDB does not
support retryable writes", and the drivers retry writes by default); ``replicaSet=rs0``, the
replica set name a cluster answers as.

Options a URL sets itself are kept as written. The CA bundle is delivered into the tasks of
every service naming a Postgres or DocumentDB store by a container that runs before it
(``RDS_CA_CONTAINER``), from the address AWS publishes it at, into a volume the service reads
at ``RDS_CA_DIR``; ``NODE_EXTRA_CA_CERTS`` names it too, for Node clients configured from
parts rather than from a URL (``ssl: true``), unless the service sets that variable itself.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from launchdeck.compose.model import Service
from launchdeck.engine import hosts, modes
from launchdeck.engine.environment import Source, classify
from launchdeck.providers.aws import names
from launchdeck.providers.aws.build import arm64

# Fargate's valid (cpu units -> memory MiB) combinations.
_FARGATE = [
    (256, [512, 1024, 2048]),
    (512, list(range(1024, 4097, 1024))),
    (1024, list(range(2048, 8193, 1024))),
    (2048, list(range(4096, 16385, 1024))),
    (4096, list(range(8192, 30721, 1024))),
    (8192, list(range(16384, 61441, 4096))),
    (16384, list(range(32768, 122881, 8192))),
]
_POSTGRES_URL = re.compile(r"postgres(?:ql)?://")
_MONGO_URL = re.compile(r"mongodb://", re.IGNORECASE)
RDS_CA_BUNDLE = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
"""Every Amazon RDS (and DocumentDB) certificate authority of every region ("Using SSL/TLS to
encrypt a connection to a DB cluster", DocumentDB Developer Guide)."""
RDS_CA_DIR = "/etc/launchdeck/rds-ca"
RDS_CA_FILE = f"{RDS_CA_DIR}/global-bundle.pem"
RDS_CA_VOLUME = "rds-ca"
RDS_CA_CONTAINER = "rds-ca"
RDS_CA_IMAGE = "public.ecr.aws/amazonlinux/amazonlinux:2023"
"""AWS's own image on ECR Public (no Docker Hub pull limits), for its curl, which checks the
truststore's certificate against the image's CA store."""
POSTGRES_OPTIONS = (("sslmode", "verify-full"), ("sslrootcert", RDS_CA_FILE))
"""What a PostgreSQL URL naming a Postgres store is given, unless it says so itself ("Using
SSL/TLS with RDS for PostgreSQL": verify-full with the RDS root certificate)."""
NODE_CA_VARIABLE = "NODE_EXTRA_CA_CERTS"
"""Node reads extra trusted certificate authorities from the file this names, at start."""
DOCUMENTDB_OPTIONS = (("tls", "true"), ("tlsCAFile", RDS_CA_FILE), ("replicaSet", "rs0"),
                      ("retryWrites", "false"))
"""What a MongoDB URL naming a DocumentDB store is given, unless it says so itself: DocumentDB's
own connection string has them ("Connecting programmatically to Amazon DocumentDB")."""


@dataclass(frozen=True)
class Infra:
    """What a service's ECS settings point at; found or made by the provider beforehand."""

    project: str
    stack: str
    region: str
    account: str
    cluster: str
    log_group: str
    execution_role: str
    task_role: str
    subnets: list[str]
    public_ip: bool
    namespace: str | None
    security_groups: dict[str, list[str]] = field(default_factory=dict)
    target_groups: dict[tuple[str, int], str] = field(default_factory=dict)
    images: dict[str, str] = field(default_factory=dict)
    endpoints: dict[str, str] = field(default_factory=dict)
    """Managed store service name -> its endpoint's host name."""
    mode: modes.Mode = modes.DEFAULT
    documentdb: frozenset[str] = frozenset()
    """The managed stores that are DocumentDB clusters (x-defang-mongodb)."""
    postgres: frozenset[str] = frozenset()
    """The managed stores that are RDS for PostgreSQL instances (x-defang-postgres)."""
    mark: str = ""
    """The stack's names' mark (``names.Names``)."""

    @property
    def rds_ca_stores(self) -> frozenset[str]:
        """The stores whose clients need the RDS certificate authorities."""
        return self.documentdb | self.postgres


@dataclass(frozen=True)
class Unit:
    """One service rendered for ECS."""

    name: str
    task_definition: dict[str, Any]
    service: dict[str, Any]
    """create_service parameters, without taskDefinition (known once registered)."""
    parameters: dict[str, str]
    """SSM parameter name -> value for derived environment values (secret: never shown)."""
    hash: str
    scaling: Scaling | None = None
    """The Application Auto Scaling target and policy, where the service follows the load."""


@dataclass(frozen=True)
class Scaling:
    """An ECS service's scalable target (its DesiredCount between ``low`` and ``high``) and a
    target-tracking policy keeping ECSServiceAverageCPUUtilization near ``cpu`` percent."""

    low: int
    high: int
    cpu: int

    @property
    def range(self) -> str:
        return f"{self.low}-{self.high}"

    @property
    def tag(self) -> str:
        """How the ECS service's tag says it (ps reads the range back from it)."""
        return f"{self.low}-{self.high}@{self.cpu}"


SPOT = [{"capacityProvider": "FARGATE", "base": 1, "weight": 0},
        {"capacityProvider": "FARGATE_SPOT", "weight": 1}]
"""The first task on Fargate, the rest on Fargate Spot (a mode's ``spot_beyond_first``). "A
base value designates how many tasks, at a minimum, to run on the specified capacity
provider"; a capacity provider with weight 0 gets no tasks beyond its base (ECS Developer
Guide, "Capacity provider strategies")."""


def scaling(service: Service, mode: modes.Mode) -> Scaling | None:
    """What Application Auto Scaling keeps the service within: ``min`` (at least one on ECS,
    and at least the mode's), ``max`` (ten by default), near ``cpu`` percent (50 by default)."""
    options = service.autoscaling
    if options is None:
        return None
    low = modes.replicas(max(options.min or 1, 1), mode)
    return Scaling(low, max(options.highest, low), options.target)


def replicas(service: Service, mode: modes.Mode) -> int:
    """The replicas a service runs (where it starts, when it follows the load)."""
    count = modes.replicas(service.replica_count, mode)
    bounds = scaling(service, mode)
    if bounds is None:
        return count
    start = service.deploy.replicas if service.deploy and service.deploy.replicas else bounds.low
    return min(max(start, bounds.low), bounds.high)


def fargate_size(service: Service) -> tuple[int, int]:
    """The smallest valid Fargate (cpu units, memory MiB) that covers what the service asks."""
    cpus, memory = service.asked
    for units, sizes in _FARGATE:
        if units >= cpus * 1024:
            fit = next((m for m in sizes if m >= memory), None)
            if fit is not None:
                return units, fit
    return _FARGATE[-1][0], _FARGATE[-1][1][-1]


def container_ports(service: Service) -> list[int]:
    """Every port the service listens on: ports' targets, then expose, without repeats."""
    out: list[int] = []
    for port in [p.target for p in service.ports] + [int(str(e).split("/")[0]) for e in service.expose]:
        if port not in out:
            out.append(port)
    return out


def health_path(service: Service, port: int) -> str:
    """The path the healthcheck probes on ``port`` (for the load balancer), else ``/``."""
    check = service.healthcheck
    return (check.local_path(port) if check is not None and not check.disabled else None) or "/"


def environment(service: Service, infra: Infra, config: Mapping[str, str]
                ) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(plain variables, variable -> SSM parameter, derived parameter -> value)."""
    plain: dict[str, str] = {}
    secrets: dict[str, str] = {}
    derived: dict[str, str] = {}
    plain_stores = {n: h for n, h in infra.endpoints.items() if n not in infra.rds_ca_stores}
    postgres = {n: h for n, h in infra.endpoints.items() if n in infra.postgres}
    mongo = {n: h for n, h in infra.endpoints.items() if n in infra.documentdb}

    def rewrite(value: str) -> str:
        value = hosts.replace(value, plain_stores)[0]
        value = _tls_hosts(value, postgres, _POSTGRES_URL, POSTGRES_OPTIONS, path=False)
        return _tls_hosts(value, mongo, _MONGO_URL, DOCUMENTDB_OPTIONS, path=True)

    for var in classify(service, config, rewrite):
        if var.source is Source.CONFIG:
            secrets[var.key] = names.parameter(infra.project, infra.stack, var.value)
        elif var.source is Source.DERIVED:
            name = names.derived_parameter(infra.project, infra.stack, service.name, var.key)
            derived[name] = var.value
            secrets[var.key] = name
        else:
            plain[var.key] = var.value
    if needs_rds_ca(service, infra) and NODE_CA_VARIABLE not in plain and NODE_CA_VARIABLE not in secrets:
        plain[NODE_CA_VARIABLE] = RDS_CA_FILE
    return plain, secrets, derived


def _tls_hosts(value: str, endpoints: Mapping[str, str], url: re.Pattern[str],
               options: tuple[tuple[str, str], ...], *, path: bool) -> str:
    """``value`` with each of these stores' service names, where it stands as a host, replaced by
    the store's endpoint (``postgres://u:p@db:5432/app`` -> ``...@app-dev-db.x.rds...``), and a
    URL of the ``url`` scheme so rewritten given those of ``options`` it does not set itself
    (names compared without case; a MongoDB ``ssl`` counts as ``tls``). ``path``: the URL
    format puts a path, an empty one, before any options (MongoDB's ``host/?options``)."""
    value, rewritten = hosts.replace(value, endpoints)
    if not rewritten or not url.match(value):
        return value
    after = value.split("://", 1)[1].rsplit("@", 1)[-1]
    query = after.split("?", 1)[1] if "?" in after else ""
    given = {part.split("=", 1)[0].lower() for part in query.split("&") if part}
    if "ssl" in given:
        given.add("tls")
    wanted = "&".join(f"{k}={v}" for k, v in options if k.lower() not in given)
    if not wanted:
        return value
    if "?" in after:
        return value + ("" if value.endswith(("?", "&")) else "&") + wanted
    return value + ("/?" if path and "/" not in after else "?") + wanted


def needs_rds_ca(service: Service, infra: Infra) -> bool:
    """Whether ``service``'s environment names a Postgres or DocumentDB store (its tasks then
    get the RDS CA bundle)."""
    return any(hosts.mentions(value, store) for value in hosts.values(service)
               for store in sorted(infra.rds_ca_stores))


def _rds_ca_container(infra: Infra, etag: str, service: Service) -> dict[str, Any]:
    """The container that fetches the RDS CA bundle into the task's volume, then exits (the
    service's container starts once it has succeeded)."""
    part = f"{RDS_CA_DIR}/.global-bundle.pem"
    return {
        "name": RDS_CA_CONTAINER,
        "image": RDS_CA_IMAGE,
        "essential": False,
        "command": ["sh", "-c", f"curl -fsS --retry 5 --retry-all-errors -o {part} {RDS_CA_BUNDLE} "
                                f"&& mv {part} {RDS_CA_FILE}"],
        "mountPoints": [{"sourceVolume": RDS_CA_VOLUME, "containerPath": RDS_CA_DIR, "readOnly": False}],
        "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": infra.log_group, "awslogs-region": infra.region,
            "awslogs-stream-prefix": f"{service.name}/{etag}"}},
    }


def health_check(service: Service) -> dict[str, Any] | None:
    """The compose healthcheck in ECS's terms, its numbers clamped to what ECS accepts."""
    health = service.healthcheck
    if health is None or health.disabled or not health.test:
        return None
    test = health.test if health.test[0] in ("CMD", "CMD-SHELL") else ["CMD-SHELL", *health.test]
    return {
        "command": list(test),
        "interval": _clamp(health.interval, 30, 5, 300),
        "timeout": _clamp(health.timeout, 5, 2, 60),
        "retries": _clamp(health.retries, 3, 1, 10),
        "startPeriod": _clamp(health.start_period, 0, 0, 300),
    }


def _clamp(value: float | None, default: int, low: int, high: int) -> int:
    return int(min(max(default if value is None else value, low), high))


def render(service: Service, infra: Infra, config: Mapping[str, str], etag: str) -> Unit:
    """``service`` as ECS task definition and service parameters, with the digest to compare."""
    family = names.Names(infra.project, infra.stack, infra.mark).service(service.name)
    cpu, memory = fargate_size(service)
    plain, secret_refs, derived = environment(service, infra, config)
    arn = f"arn:aws:ssm:{infra.region}:{infra.account}:parameter"
    ports = container_ports(service)
    container: dict[str, Any] = {
        "name": names.container(service.name),
        "image": infra.images[service.name],
        "essential": True,
        "portMappings": [{"name": names.port_name(p), "containerPort": p, "protocol": "tcp"} for p in ports],
        "environment": [{"name": k, "value": v} for k, v in plain.items()],
        "secrets": [{"name": k, "valueFrom": f"{arn}{v}"} for k, v in secret_refs.items()],
        "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": infra.log_group, "awslogs-region": infra.region,
            "awslogs-stream-prefix": f"{service.name}/{etag}"}},
    }
    for key, value in (("command", service.command), ("entryPoint", service.entrypoint),
                       ("workingDirectory", service.working_dir), ("user", service.user),
                       ("healthCheck", health_check(service))):
        if value:
            container[key] = value
    ca = needs_rds_ca(service, infra)
    if ca:
        container["mountPoints"] = [{"sourceVolume": RDS_CA_VOLUME, "containerPath": RDS_CA_DIR,
                                     "readOnly": True}]
        container["dependsOn"] = [{"containerName": RDS_CA_CONTAINER, "condition": "SUCCESS"}]
    arch = "ARM64" if arm64(service.platform) else "X86_64"
    task = {
        "family": family,
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": str(cpu),
        "memory": str(memory),
        "executionRoleArn": infra.execution_role,
        "taskRoleArn": infra.task_role,
        "runtimePlatform": {"cpuArchitecture": arch, "operatingSystemFamily": "LINUX"},
        "containerDefinitions": [container],
    }
    if ca:
        task["containerDefinitions"].append(_rds_ca_container(infra, etag, service))
        task["volumes"] = [{"name": RDS_CA_VOLUME}]
    params: dict[str, Any] = {
        "cluster": infra.cluster,
        "serviceName": family,
        "desiredCount": replicas(service, infra.mode),
        "launchType": "FARGATE",
        "networkConfiguration": {"awsvpcConfiguration": {
            "subnets": infra.subnets,
            "securityGroups": infra.security_groups.get(service.name, []),
            "assignPublicIp": "ENABLED" if infra.public_ip else "DISABLED"}},
        "deploymentConfiguration": {
            "minimumHealthyPercent": 100, "maximumPercent": 200,
            "deploymentCircuitBreaker": {"enable": True, "rollback": True}},
        "propagateTags": "SERVICE",
        "enableECSManagedTags": True,
    }
    if modes.of(infra.mode).spot_beyond_first:  # "launchType ... must be omitted" with a strategy
        del params["launchType"]
        params["capacityProviderStrategy"] = SPOT
    balancers = [{"targetGroupArn": arn_, "containerName": container["name"], "containerPort": port}
                 for (name, port), arn_ in sorted(infra.target_groups.items()) if name == service.name]
    if balancers:
        params["loadBalancers"] = balancers
        params["healthCheckGracePeriodSeconds"] = 60
    if infra.namespace:
        connect: dict[str, Any] = {"enabled": True, "namespace": infra.namespace}
        if ports:  # others reach it as http://<service>:<port>, as in compose
            connect["services"] = [{"portName": names.port_name(p),
                                    "discoveryName": names.discovery(service.name, p),
                                    "clientAliases": [{"port": p, "dnsName": names.dns_alias(service.name)}]}
                                   for p in ports]
        params["serviceConnectConfiguration"] = connect
    digests = {name: hashlib.sha256(value.encode()).hexdigest() for name, value in derived.items()}
    digests.update({name: hashlib.sha256(config[name].encode()).hexdigest()
                    for name in sorted(service.required_config()) if name in config})
    unstamped = json.loads(json.dumps(task))
    for defined in unstamped["containerDefinitions"]:
        defined["logConfiguration"]["options"].pop("awslogs-stream-prefix")
    bounds = scaling(service, infra.mode)
    hashed: dict[str, Any] = {"task": unstamped, "service": params, "config": digests}
    if bounds is not None:  # only then: a service that does not scale keeps its digest
        hashed["scaling"] = bounds.tag
    blob = json.dumps(hashed, sort_keys=True)
    return Unit(service.name, task, params, derived, hashlib.sha256(blob.encode()).hexdigest()[:16],
                bounds)
