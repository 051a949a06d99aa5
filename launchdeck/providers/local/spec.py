"""Compose service → Docker container settings, with no call to the engine (pure, testable).

Naming and labels live here too, since ownership is decided from labels: every container,
network and volume carries the project, stack and service it belongs to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from launchdeck.compose.model import Project, Service

LABEL = "dev.launchdeck"
PROJECT, STACK, SERVICE = f"{LABEL}.project", f"{LABEL}.stack", f"{LABEL}.service"
ETAG, HASH, REPLICA = f"{LABEL}.etag", f"{LABEL}.config-hash", f"{LABEL}.replica"
STORE_VOLUME = f"{LABEL}.store"

# where each managed store's image keeps its data
STORE_DATA = {"postgres": "/var/lib/postgresql/data", "redis": "/data", "mongodb": "/data/db"}

_NANOS = 1_000_000_000


def scope(project: str, stack: str) -> str:
    """The prefix of every object of one (project, stack): network, containers, volumes."""
    return f"{project}-{stack}"


def owner_filter(project: str, stack: str, service: str | None = None) -> dict[str, list[str]]:
    labels = [f"{PROJECT}={project}", f"{STACK}={stack}"]
    if service:
        labels.append(f"{SERVICE}={service}")
    return {"label": labels}


def image_tag(project: str, stack: str, service: str, digest: str) -> str:
    """A built image's name: its tag is the digest of what it was built from."""
    return f"{project}/{_docker_name(service)}:{stack}-{digest[:16]}"


def store_volume(project: str, stack: str, service: str) -> str:
    return f"{scope(project, stack)}-{_docker_name(service)}-data"


def named_volume(project: str, stack: str, volume: str) -> str:
    return f"{scope(project, stack)}-{_docker_name(volume)}"


def _docker_name(text: str) -> str:
    return re.sub(r"[^a-z0-9_.-]+", "-", text.lower())


@dataclass
class ContainerSpec:
    """Everything needed to create one replica; turned into SDK arguments by the provider."""

    name: str
    image: str
    network: str
    aliases: list[str]
    labels: dict[str, str]
    environment: dict[str, str]
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    ports: dict[str, str | None] = field(default_factory=dict)
    """``"80/tcp"`` → host port to publish on 127.0.0.1 (None: any free port)."""
    exposed: list[str] = field(default_factory=list)
    healthcheck: dict[str, Any] | None = None
    restart: dict[str, Any] | None = None
    mounts: list[dict[str, Any]] = field(default_factory=list)
    nano_cpus: int | None = None
    mem_limit: int | None = None
    mem_reservation: int | None = None
    pids_limit: int | None = None
    working_dir: str | None = None
    user: str | None = None


def container_spec(project: Project, stack: str, service: Service, *, image: str,
                   env: dict[str, str], etag: str, config_hash: str, replica: int) -> ContainerSpec:
    aliases = [service.name]
    for net in service.networks.values():
        aliases += (net.aliases or []) if net else []
    labels = {**service.labels, PROJECT: project.name, STACK: stack, SERVICE: service.name,
              ETAG: etag, HASH: config_hash, REPLICA: str(replica)}
    spec = ContainerSpec(
        name=f"{scope(project.name, stack)}-{_docker_name(service.name)}-{etag}-{replica}",
        image=image, network=scope(project.name, stack), aliases=list(dict.fromkeys(aliases)),
        labels=labels, environment=env, command=service.command, entrypoint=service.entrypoint,
        working_dir=service.working_dir, user=service.user,
    )
    for port in service.ports:
        key = f"{port.target}/{port.protocol}"
        spec.exposed.append(key)
        if port.mode == "ingress":
            fixed = port.published if port.published and "-" not in port.published else None
            spec.ports[key] = fixed if replica == 0 else None  # replicas share no host port
    for exposed in service.expose:
        spec.exposed.append(exposed if "/" in exposed else f"{exposed}/tcp")
    spec.healthcheck = _healthcheck(service)
    spec.restart = _restart(service.restart)
    spec.mounts = _mounts(project, stack, service)
    resources = service.deploy.resources if service.deploy else None
    if resources and resources.limits:
        limits = resources.limits
        spec.nano_cpus = int(limits.cpus * _NANOS) if limits.cpus else None
        spec.mem_limit = limits.memory
        spec.pids_limit = limits.pids
    if resources and resources.reservations:
        spec.mem_reservation = resources.reservations.memory
    return spec


def _healthcheck(service: Service) -> dict[str, Any] | None:
    health = service.healthcheck
    if health is None:
        return None
    if health.disabled:
        return {"test": ["NONE"]}
    out: dict[str, Any] = {"test": health.test}
    for key in ("interval", "timeout", "start_period"):
        seconds = getattr(health, key)
        if seconds is not None:
            out[key] = int(seconds * _NANOS)
    if health.retries is not None:
        out["retries"] = health.retries
    return out


def _restart(policy: str | None) -> dict[str, Any] | None:
    if not policy or policy == "no":
        return None
    name, _, count = policy.partition(":")
    out: dict[str, Any] = {"Name": name}
    if name == "on-failure" and count.isdigit():
        out["MaximumRetryCount"] = int(count)
    return out


def _mounts(project: Project, stack: str, service: Service) -> list[dict[str, Any]]:
    mounts = []
    if service.managed_store:
        mounts.append({"Type": "volume", "Target": STORE_DATA[service.managed_store],
                       "Source": store_volume(project.name, stack, service.name)})
    for mount in service.volumes:
        entry: dict[str, Any] = {"Type": mount.type, "Target": mount.target,
                                 "ReadOnly": bool(mount.read_only)}
        if mount.type == "volume" and mount.source:
            declared = project.volumes.get(mount.source)
            external = declared is not None and declared.external
            entry["Source"] = mount.source if external else \
                named_volume(project.name, stack, mount.source)
        elif mount.source:
            entry["Source"] = mount.source
        mounts.append(entry)
    return mounts
