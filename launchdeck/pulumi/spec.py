"""What a service declared in Python becomes in a compose document, without any I/O.

The arguments mirror the compose keys (``build``, ``image``, ``ports`` with ``mode``,
``environment`` with ``None`` for a config value, ``deploy.resources`` / ``replicas``,
``domainname``, ``x-defang-llm``), so a service reads the same in Python as in a compose
file, and the compose loader checks it with the same words. Nested arguments are typed dicts
written as compose writes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypedDict

from launchdeck.compose.model import resolve_path

JSON = Any
"""A value of a compose document: what JSON can hold."""


class BuildArgs(TypedDict, total=False):
    """How to build the image (compose ``build``); the context is relative to the program."""

    context: str
    dockerfile: str
    args: Mapping[str, str]
    target: str


class PortArgs(TypedDict, total=False):
    """One port (compose's long syntax): ``ingress`` is reachable from outside, ``host`` only
    from the project's other services."""

    target: int
    published: int | str
    mode: Literal["ingress", "host"]
    protocol: Literal["tcp", "udp"]
    app_protocol: str


class HealthcheckArgs(TypedDict, total=False):
    """How to tell the service is healthy (compose ``healthcheck``; durations like ``5s``)."""

    test: Sequence[str] | str
    interval: str
    timeout: str
    retries: int
    start_period: str
    disable: bool


class ResourceArgs(TypedDict, total=False):
    cpus: float | str
    memory: str


class ResourcesArgs(TypedDict, total=False):
    limits: ResourceArgs
    reservations: ResourceArgs


class DeployArgs(TypedDict, total=False):
    """Replicas and resources (compose ``deploy``)."""

    replicas: int
    resources: ResourcesArgs


class LlmArgs(TypedDict, total=False):
    model: str


Condition = Literal["service_started", "service_healthy", "service_completed_successfully"]


def service(*, image: Any = None, build: str | BuildArgs | None = None,
            command: str | Sequence[str] | None = None, entrypoint: str | Sequence[str] | None = None,
            ports: Sequence[int | str | PortArgs] = (), environment: Mapping[str, Any] | None = None,
            healthcheck: HealthcheckArgs | None = None,
            depends_on: Sequence[str] | Mapping[str, Condition] = (),
            deploy: DeployArgs | None = None, domainname: Any = None,
            llm: bool | LlmArgs = False) -> dict[str, JSON]:
    """A compose service from its keys; keys left out stay out. Values may be pulumi Inputs."""
    doc: dict[str, JSON] = {}
    if image is not None:
        doc["image"] = image
    if build is not None:
        doc["build"] = {"context": build} if isinstance(build, str) else dict(build)
    if command is not None:
        doc["command"] = command if isinstance(command, str) else list(command)
    if entrypoint is not None:
        doc["entrypoint"] = entrypoint if isinstance(entrypoint, str) else list(entrypoint)
    if ports:
        doc["ports"] = [dict(p) if isinstance(p, Mapping) else p for p in ports]
    if environment:
        doc["environment"] = dict(environment)
    if healthcheck is not None:
        doc["healthcheck"] = dict(healthcheck)
    if depends_on:
        doc["depends_on"] = ({name: {"condition": c} for name, c in depends_on.items()}
                             if isinstance(depends_on, Mapping) else list(depends_on))
    if deploy is not None:
        doc["deploy"] = dict(deploy)
    if domainname is not None:
        doc["domainname"] = domainname
    if llm:
        doc["x-defang-llm"] = True if llm is True else dict(llm)
    return doc


POSTGRES_PASSWORD = "POSTGRES_PASSWORD"


def postgres(*, image: str = "postgres:16", user: str = "postgres", database: str | None = None,
             password: str = POSTGRES_PASSWORD, port: int = 5432,
             deploy: DeployArgs | None = None) -> dict[str, JSON]:
    """A managed Postgres (``x-defang-postgres``) whose password is the config value named
    ``password``: a container with a volume locally, RDS on AWS."""
    environment = {"POSTGRES_USER": user, "POSTGRES_DB": database or user,
                   # the image and RDS read POSTGRES_PASSWORD; another config name is referenced
                   "POSTGRES_PASSWORD": None if password == POSTGRES_PASSWORD else f"${{{password}}}"}
    doc = service(image=image, ports=[{"target": port, "mode": "host"}], environment=environment,
                  healthcheck={"test": ["CMD", "pg_isready", "-U", user, "-h", "localhost"],
                               "interval": "3s", "timeout": "2s", "retries": 15},
                  deploy=deploy or {"resources": {"reservations": {"memory": "256M"}}})
    doc["x-defang-postgres"] = True
    return doc


def redis(*, image: str = "redis:7", port: int = 6379, deploy: DeployArgs | None = None) -> dict[str, JSON]:
    """A managed Redis (``x-defang-redis``): a container with a volume locally, ElastiCache on AWS."""
    doc = service(image=image, ports=[{"target": port, "mode": "host"}],
                  healthcheck={"test": ["CMD", "redis-cli", "ping"], "interval": "3s", "timeout": "2s",
                               "retries": 15},
                  deploy=deploy or {"resources": {"reservations": {"memory": "128M"}}})
    doc["x-defang-redis"] = True
    return doc


def rooted(doc: Mapping[str, JSON], base: str) -> dict[str, JSON]:
    """The service with its build context made absolute, relative to ``base`` (the program's
    folder), since the document is checked and deployed from elsewhere."""
    out = dict(doc)
    build = out.get("build")
    if isinstance(build, Mapping):
        out["build"] = {**build, "context": resolve_path(str(build.get("context", ".")), base)}
    return out
