"""The seams a deployment target supplies to the engine, and the values they trade in.

The engine (launchdeck/engine/) runs every deploy, plan, ps, logs and destroy; a provider
only answers the questions it alone can: what exists, what a service becomes on this target,
how to change one unit, how to wait for it, where its logs, config and blobs live.

    Provider            one per target, made by the registry (providers/__init__.py)
    ├── capabilities    what compose features it can deploy (validation reads it)
    ├── config_store    secret config values of a (project, stack)
    ├── blobs()         where the engine keeps deployment records and the lock
    ├── session()       one deploy or plan: observe → image → render → prepare → apply → settle
    ├── status()        ps: what runs now
    ├── read_logs()     what the services printed, unsorted (the engine merges and tails)
    └── destroy()       remove everything the (project, stack) owns

A provider gets its SDK clients through its constructor and imports its SDK lazily, so that
loading launchdeck (or starting the MCP server) pulls in no cloud SDK.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from launchdeck.compose.load import Loaded
from launchdeck.compose.model import Project, Service
from launchdeck.compose.target import Capabilities
from launchdeck.compose.validate import Finding
from launchdeck.engine.blobs import Blobs
from launchdeck.engine.context import Source
from launchdeck.engine.events import Sink, State
from launchdeck.engine.plan import Action, combine
from launchdeck.engine.status import LogLine, ServiceStatus, Target


@dataclass(frozen=True, slots=True)
class DeployOptions:
    wait_timeout: float = 300.0
    """Seconds to wait for every service to become healthy."""
    force: bool = False
    """Rebuild images and replace every unit even when nothing changed."""
    network: str = "default"
    """Cloud network: ``default`` (the account's default network) or ``dedicated`` (one made
    for the project and stack). The local provider ignores it."""


@dataclass(frozen=True, slots=True)
class LogQuery:
    services: Sequence[str] = ()
    since: datetime | None = None
    until: datetime | None = None
    tail: int | None = None
    """The last N lines (of the merged stream), after since/until."""
    deployment: str | None = None


@dataclass(frozen=True, slots=True)
class Teardown:
    removed: list[str]
    kept: list[str]
    """Data the provider keeps unless asked (volumes, databases)."""


class Kind(StrEnum):
    """What a unit of a plan stands for (for display; the engine treats them alike)."""

    SERVICE = "service"
    STORE = "store"
    INGRESS = "ingress"


@dataclass(frozen=True, slots=True)
class Unit:
    """One thing a deploy makes on the target, rendered without I/O.

    Its digest, made of ``parts`` (each compose setting, the image, each config value's
    digest, the target's own rendered settings), is compared with the digest the target
    holds (in a tag or label): equal means nothing to do. ``spec`` is the provider's own
    rendered form, opaque to the engine.
    """

    name: str
    kind: Kind
    parts: Mapping[str, str]
    spec: Any = None
    replicas: int = 1
    after: frozenset[str] = frozenset()
    """Units that must be in place first, besides the compose depends_on (a store whose
    endpoint the environment names, the load balancer of an ingress port)."""
    replace_on_change: bool = False
    """A changed unit is replaced (new containers) rather than updated in place."""

    @property
    def digest(self) -> str:
        return combine(self.parts)


@dataclass(frozen=True, slots=True)
class Found:
    """One unit as it exists on the target."""

    digest: str
    kind: Kind = Kind.SERVICE
    replicas: int = 1
    ready: bool = True
    """It runs as its digest says (all replicas running, the last rollout not failed)."""
    status: ServiceStatus | None = None


class Progress(Protocol):
    """Reports a unit's progress: a new state (or None) and a message; ``log`` marks a line
    of the unit's own output (a build step)."""

    def __call__(self, state: State | None, message: str, *, log: bool = False) -> None: ...


class Session(Protocol):
    """One deploy (or plan) of a project on a target; holds what it learns on the way.

    A plan calls only ``observe``, ``image(build=False)`` and ``render``, which change
    nothing. A deploy then calls ``prepare``, and for each unit, in dependency order,
    ``image(build=True)``, ``render`` again (what its dependencies made is known now),
    ``apply`` unless the plan is NOOP, and ``settle``; finally ``remove`` for each unit the
    project no longer has, and ``tidy``.
    """

    extras: Sequence[str]
    """The provider's own units besides the compose services (e.g. a load balancer)."""

    async def observe(self) -> Mapping[str, Found]: ...

    async def image(self, service: Service, source: Source | None, *, build: bool,
                    progress: Progress) -> str:
        """The image ``service`` runs, built (or pulled) first when ``build``; ``source`` is the
        context of a service built from source, read once per deploy by the engine."""
        ...

    def render(self, name: str, image: str | None) -> Unit: ...

    async def prepare(self) -> None: ...

    async def apply(self, unit: Unit, action: Action, found: Found | None,
                    progress: Progress) -> None: ...

    async def settle(self, unit: Unit, *, deadline: float, until_exit: bool,
                     progress: Progress) -> ServiceStatus: ...

    async def remove(self, name: str, found: Found, progress: Progress) -> None: ...

    async def tidy(self) -> None: ...


class ConfigStore(Protocol):
    """Secret config values of one (project, stack). Values never leave except to the target."""

    async def set(self, name: str, value: str) -> None: ...

    async def names(self) -> list[str]: ...

    async def delete(self, name: str) -> bool: ...

    async def values(self, names: Sequence[str]) -> dict[str, str]:
        """The values of those of ``names`` that are set; a name left out is unset (the deploy's
        preflight reads what is missing from this one call)."""
        ...


class Provider(Protocol):
    name: str
    capabilities: Capabilities
    log_interval: float
    """Seconds between reads when following logs."""

    async def identity(self) -> Target:
        """Who and where the provider acts as; a clear error when credentials are missing
        or expired."""
        ...

    def check(self, loaded: Loaded, stack: str, config: Mapping[str, str]) -> list[Finding]:
        """What this target would refuse in the project (names, store settings, passwords),
        as error findings located in the compose file; checked before anything changes."""
        ...

    def config_store(self, project: str, stack: str) -> ConfigStore: ...

    def blobs(self) -> Blobs:
        """The target's store of small objects, on which the engine keeps deployment records
        and the lock (engine/records.py, engine/lock.py)."""
        ...

    async def session(self, project: Project, stack: str, config: Mapping[str, str],
                      deployment_id: str, options: DeployOptions, sink: Sink) -> Session: ...

    async def status(self, project: Project, stack: str) -> dict[str, ServiceStatus]: ...

    async def read_logs(self, project: str, stack: str, query: LogQuery) -> list[LogLine]: ...

    async def destroy(self, project: str, stack: str, *, volumes: bool, sink: Sink) -> Teardown: ...
