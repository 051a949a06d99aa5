"""The seams a deployment target supplies to the engine, and the values they trade in.

The engine (launchdeck/engine/) runs every deploy, plan, ps, logs and destroy; a provider
only answers the questions it alone can: what exists, what a unit becomes on this target,
how to change one, how to look at it, where its logs, config and blobs live.

    Provider            one per target, made by the registry (providers/__init__.py)
    ├── description     what it is: name, capabilities (validation reads them), log interval
    ├── identity()      who and where it acts
    ├── check()         what the target refuses of a project, as located findings (default: none)
    ├── config_store()  secret config values of a (project, stack): set, names, delete, values
    ├── blobs()         where the engine keeps records, history and the lock (engine/blobs.py)
    ├── session()       one deploy, plan or ps: observe, image, and a driver per kind of unit
    │                   (services; stores and ingress where it has them): render, apply, look,
    │                   remove; where it differs from the defaults, prepare, tidy, models or
    │                   gateway, resolution, interval, refusal; and, where it can tell, whether
    │                   an image an earlier deployment ran is still there (KeepsImages) and
    │                   which digest an image ran by (PinsImages), for the history
    ├── read_logs()     what the services printed, unsorted (the engine merges and tails)
    ├── platform_events()  where it keeps them, the platform's own events (TellsEvents)
    └── destroy()       remove everything the (project, stack) owns

Provider and Session are subclassed: what is abstract there a target must implement, the
rest has a default it overrides only where its target differs. The other seams have no
defaults. ``bench/seam.py`` counts both.

A provider gets its SDK clients through its constructor and imports its SDK lazily, so that
loading launchdeck (or starting the MCP server) pulls in no cloud SDK. docs/providers.md
says in which order a new one implements them.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

from launchdeck.compose.load import Loaded
from launchdeck.compose.model import Project, Service
from launchdeck.compose.target import Capabilities, Description
from launchdeck.compose.validate import Finding
from launchdeck.engine.blobs import Blobs
from launchdeck.engine.build_context import Source
from launchdeck.engine.events import Sink, State
from launchdeck.engine.modes import DEFAULT as DEFAULT_MODE
from launchdeck.engine.modes import Mode
from launchdeck.engine.plan import Action, combine
from launchdeck.engine.results import LogLine, ServiceStatus, Target
from launchdeck.errors import LaunchdeckError


@dataclass(frozen=True, slots=True)
class DeployOptions:
    wait_timeout: float = 300.0
    """Seconds to wait for every service to become healthy."""
    force: bool = False
    """Rebuild images and replace every unit even when nothing changed."""
    network: str = "default"
    """Cloud network: ``default`` (the account's default network) or ``dedicated`` (one made
    for the project and stack). The local provider ignores it."""
    mode: Mode = DEFAULT_MODE
    """The stack's mode (engine/modes.py): what a cloud provider makes by default; the local
    provider ignores it."""


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


class Resolution(StrEnum):
    """When a target's tasks resolve the names of the other units they use (a service, a store)."""

    ON_USE = "on use"
    """Whenever they are asked (Docker's DNS): units start in the compose order alone."""
    ONCE_MADE = "once made"
    """A name has a value only once its unit exists (a store's endpoint, a service's URL): a
    service starts after the services and stores its environment names."""
    AT_START = "at start"
    """When a task starts, and never again: a service starts after the units it names, and one
    whose tasks started before a unit it names existed (a loop of names) is restarted once it
    does (the service driver's ``restart``: ``Restarts``)."""

    @property
    def waits(self) -> bool:
        """A service starts after the units its environment names."""
        return self is not Resolution.ON_USE

    @property
    def restarts(self) -> bool:
        """A service whose tasks started before a unit it names existed is restarted."""
        return self is Resolution.AT_START


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
    once: bool = False
    """A service others wait on to complete (``service_completed_successfully``): it runs to
    its end, and its exit code is judged."""
    scales: bool = False
    """The target scales its replicas with the load: the count it runs now is not drift."""
    unkeyed: str | None = None
    """The digest this unit had before its stack kept a digest key (its config digests salted
    only, not keyed): a target holding it holds what this unit renders."""

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


@dataclass(frozen=True, slots=True)
class Rendered:
    """A compose service as the target runs it (``spec``, opaque to the engine).

    ``hash`` digests the target's own form of it (a task definition, a Cloud Run spec), which
    joins the digest together with the replica count; a target that makes containers straight
    from the compose settings has none, replaces a changed unit and scales one in place.
    """

    spec: Any
    hash: str | None = None
    replicas: int | None = None
    """Replicas it runs, when not the compose count (a model the target serves runs none)."""
    scales: bool = False
    """The target scales it with the load (x-defang-autoscaling): ``replicas`` is where it starts."""
    mode: str | None = None
    """The stack's mode, where it changed how the target runs the service (None in the
    default mode, and where the mode changes nothing of it): a digest part of its own."""


@dataclass(frozen=True, slots=True)
class Balancer:
    """A load balancer as the target would make it: its routes (each a dataclass naming the
    ``service`` behind it) and the DNS zones of their domains; no routes, no load balancer."""

    routes: Sequence[Any]
    zones: Mapping[str, Any]


class StoreSpec(Protocol):
    """A managed store as the target would make it: its kind, settings and password."""

    kind: str
    settings: Mapping[str, str]
    password: str | None
    mode: Mapping[str, str]
    """What the stack's mode makes different from the default mode (empty in it)."""


class Driver(Protocol):
    """What a provider does with one kind of unit: change it, look at it, remove it."""

    async def apply(self, unit: Unit, action: Action, progress: Progress) -> None: ...

    async def look(self, unit: Unit, progress: Progress) -> ServiceStatus:
        """Where the unit stands now, from one read: a final state, or pending to look again."""
        ...

    async def remove(self, name: str, found: Found, progress: Progress) -> None: ...


class ServiceDriver(Driver, Protocol):
    def render(self, service: Service, image: str) -> Rendered: ...


class Restarts(Protocol):
    """The service driver of a target whose tasks resolve names only when they start
    (``Resolution.AT_START``): the engine restarts each service whose tasks started before a
    unit it names existed."""

    async def restart(self, unit: Unit, progress: Progress) -> None:
        """Start the unit's tasks again as they are; the engine then looks at it until it
        settles."""
        ...


class StoreDriver(Driver, Protocol):
    def render(self, service: Service) -> StoreSpec: ...


class IngressDriver(Driver, Protocol):
    def render(self) -> Balancer: ...


class Session(Protocol):
    """One deploy (or plan) of a project on a target; holds what it learns on the way.

    A plan calls only ``observe`` and ``image(build=False)`` and renders each unit through
    the drivers, which changes nothing. A deploy then calls ``prepare``, and for each unit, in
    dependency order, ``image(build=True)``, renders it again (what its dependencies made is
    known now), applies it through its kind's driver unless the plan is NOOP and looks at it
    until it settles; where tasks resolve names when they start (``Resolution.AT_START``), it
    restarts the services that started before a service they name existed; finally it removes
    each unit the project no longer has, and ``tidy``.

    A provider subclasses it: ``services``, ``observe`` and ``image`` are its own; the rest
    has a default (no managed stores, no load balancer, no model served, nothing to prepare or
    tidy), which it overrides only where its target differs.
    """

    services: ServiceDriver
    stores: StoreDriver | None = None
    """Managed stores as the target's own databases; None: they run as services."""
    ingress: IngressDriver | None = None
    """The load balancer in front of the ingress ports; None when the project needs none."""
    models: Mapping[str, str] = MappingProxyType({})
    """Where the target serves each model service itself (the Docker Model Runner), for the
    services that depend on it; unread where ``gateway`` is set."""
    gateway: Mapping[str, str] | None = None
    """What the model gateway the engine runs in place of a model service reads (it answers
    at the service's name); None when the target serves models itself."""
    resolution: Resolution = Resolution.ON_USE
    """When a task resolves the names of the units it uses, which decides what the engine
    starts first and what it restarts."""
    interval: float = 1.0
    """Seconds between two looks at a unit settling."""
    refusal: LaunchdeckError | None = None
    """What observing found the target refuses (a domain no DNS zone serves): a plan or
    deploy stops with it before any change; ps reads on."""

    @abstractmethod
    async def observe(self) -> Mapping[str, Found]: ...

    @abstractmethod
    async def image(self, service: Service, source: Source | None, *, build: bool,
                    progress: Progress) -> str:
        """The image ``service`` runs, built (or pulled) first when ``build``; ``source`` is the
        context of a service built from source, read once per deploy by the engine."""

    async def prepare(self) -> None:
        """Make what every unit stands on (a network, roles, a registry)."""

    async def tidy(self) -> None:
        """Remove what no unit uses any more."""


@runtime_checkable
class TellsEvents(Protocol):
    """A provider whose platform keeps events of its own about a stack's services (ECS service
    events, Cloud Run revisions' conditions): `logs --type deploy` shows them beside the
    deployment's timeline."""

    async def platform_events(self, project: str, stack: str, services: Sequence[str],
                              since: datetime, until: datetime | None) -> list[LogLine]: ...


@runtime_checkable
class KeepsImages(Protocol):
    """A session that can tell whether an image an earlier deployment ran is still where the
    target pulls it from (its registry, its engine): a rollback is refused before any change
    when one is gone (a lifecycle rule or a cleanup removed it). An image the target does not
    keep itself (a public one) counts as there."""

    async def has_image(self, image: str) -> bool: ...


@runtime_checkable
class PinsImages(Protocol):
    """A session that can name the image a service runs by its content digest
    (``repository@sha256:…``), as its target resolved it: the history keeps that reference, so
    a rollback runs exactly what ran even after the tag moved. None when it cannot tell."""

    async def pinned(self, service: str, image: str) -> str | None: ...


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
    """A deployment target. A provider subclasses it: what is abstract here it must implement;
    the rest has a default, which it overrides only where its target differs."""

    description: Description
    """What the target is (its package's ``DESCRIPTION``): name, capabilities, what front ends
    say of it, how often its logs are read when followed."""

    @property
    def name(self) -> str:
        return self.description.name

    @property
    def capabilities(self) -> Capabilities:
        return self.description.capabilities

    @abstractmethod
    async def identity(self) -> Target:
        """Who and where the provider acts as; a clear error when credentials are missing
        or expired."""

    def check(self, loaded: Loaded, stack: str, config: Mapping[str, str]) -> list[Finding]:
        """What this target would refuse in the project (names, store settings, passwords),
        as error findings located in the compose file; checked before anything changes. By
        default nothing: the target runs what compose validation lets through."""
        return []

    @abstractmethod
    def config_store(self, project: str, stack: str) -> ConfigStore: ...

    @abstractmethod
    def blobs(self) -> Blobs:
        """The target's store of small objects, on which the engine keeps deployment records
        and the lock (engine/records.py, engine/lock.py)."""

    @abstractmethod
    async def session(self, project: Project, stack: str, config: Mapping[str, str],
                      deployment_id: str, options: DeployOptions, sink: Sink) -> Session: ...

    @abstractmethod
    async def read_logs(self, project: str, stack: str, query: LogQuery) -> list[LogLine]: ...

    @abstractmethod
    async def destroy(self, project: str, stack: str, *, volumes: bool, sink: Sink) -> Teardown: ...
