"""The kinds of unit a deploy makes — service, managed store, ingress — as every target has them.

A provider renders only what is its own (a task definition, a Cloud Run service, a container
spec; a store's engine and version; a load balancer's routes) and drives its API for each
kind. What a unit is made of is decided here once: the parts of its digest, the model gateway
that stands in for a model service on a cloud, the units it waits for, which driver applies
it, how long the engine waits for it and what it says when the wait runs out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from launchdeck.compose.model import Project, Service
from launchdeck.compose.validate import DIGEST_KEY
from launchdeck.engine import hosts, model_service, poll
from launchdeck.engine.events import State
from launchdeck.engine.plan import RENDERED, combine, config_parts, digest_of, service_parts
from launchdeck.engine.results import ServiceStatus
from launchdeck.engine.seams import Driver, Kind, Progress, Session, Unit

LOAD_BALANCER = "(load balancer)"
"""The load balancer's unit: a name no compose service can have."""


@dataclass(frozen=True, slots=True)
class Database:
    """Who a managed database is for, from the variables its image reads."""

    user: str
    database: str
    password: str | None


def postgres(service: Service, config: Mapping[str, str]) -> Database:
    """POSTGRES_USER (default ``postgres``), POSTGRES_DB (default the user), POSTGRES_PASSWORD,
    as the postgres image reads them, config filled in."""
    env = service.resolved_environment(config)
    user = env.get("POSTGRES_USER") or "postgres"
    return Database(user, env.get("POSTGRES_DB") or user, env.get("POSTGRES_PASSWORD"))


def mongodb(service: Service, config: Mapping[str, str]) -> Database:
    """MONGO_INITDB_ROOT_USERNAME (default ``mongo``: a managed MongoDB always has a user),
    MONGO_INITDB_DATABASE (default ``test``, the database a mongo client uses when none is
    named), MONGO_INITDB_ROOT_PASSWORD, as the mongo image reads them, config filled in."""
    env = service.resolved_environment(config)
    return Database(env.get("MONGO_INITDB_ROOT_USERNAME") or "mongo",
                    env.get("MONGO_INITDB_DATABASE") or "test",
                    env.get("MONGO_INITDB_ROOT_PASSWORD"))


def running(session: Session, project: Project, name: str) -> Service:
    """Compose service ``name`` as ``session``'s target runs it: with the variables its model
    dependencies give it (where each model service answers), and, on a target that does not
    serve models itself (``session.gateway``), a model service as the OpenAI-compatible
    gateway in its place, which answers at the service's name."""
    gateway = session.gateway
    endpoints = session.models if gateway is None else model_service.cloud_endpoints(project)
    service = model_service.with_models(project, name, endpoints)
    if service.model_provider is not None and gateway is not None:
        service = model_service.gateway(service, gateway)
    return service


def render(session: Session, project: Project, stack: str, config: Mapping[str, str],
           name: str, image: str | None) -> Unit:
    """Unit ``name`` of the project as ``session``'s target would make it; no I/O."""
    if name == LOAD_BALANCER:
        assert session.ingress is not None
        balancer = session.ingress.render()
        parts = {"routes": digest_of([dataclasses.asdict(r) for r in balancer.routes]),
                 "zones": digest_of({d: _plain(z) for d, z in balancer.zones.items()})}
        return Unit(name, Kind.INGRESS, parts, spec=balancer)
    service = running(session, project, name)
    key = config.get(DIGEST_KEY)
    if service.managed_store and session.stores is not None:
        spec = session.stores.render(service)
        parts = {"settings": digest_of({"kind": spec.kind, **spec.settings})}
        if getattr(spec, "mode", None):  # only a mode other than the default has a part
            parts["mode"] = digest_of(dict(spec.mode))
        secret = {} if spec.password is None else {"password": spec.password}
        parts |= config_parts(secret, secret, project=project.name, stack=stack, key=key)
        return Unit(name, Kind.STORE, parts, spec=spec,
                    unkeyed=_unkeyed(parts, secret, project.name, stack, key))
    driver = session.services
    rendered = driver.render(service, image or "")
    parts = service_parts(service, image or "", config, project=project.name, stack=stack,
                          exclude_replicas=rendered.hash is None, key=key)
    if rendered.hash is not None:
        parts[RENDERED] = rendered.hash
    if rendered.mode:
        parts["mode"] = digest_of(rendered.mode)
    read = {n: config[n] for n in service.required_config() if n in config}
    return Unit(name, Kind.STORE if service.managed_store else Kind.SERVICE, parts,
                spec=rendered.spec,
                replicas=service.replica_count if rendered.replicas is None else rendered.replicas,
                after=frozenset(after(session, project, name)),
                replace_on_change=rendered.hash is None, once=runs_once(project, name),
                scales=rendered.scales, unkeyed=_unkeyed(parts, read, project.name, stack, key))


def _unkeyed(parts: Mapping[str, str], values: Mapping[str, str], project: str, stack: str,
             key: str | None) -> str | None:
    """The digest of ``parts`` with the config digests of ``values`` unkeyed, when a key made
    them differ: what a unit deployed before its stack kept a key holds."""
    if key is None or not values:
        return None
    return combine({**parts, **config_parts(values, values, project=project, stack=stack, key=None)})


def runs_once(project: Project, name: str) -> bool:
    """Whether a service waits for ``name`` to complete successfully: it runs to its end."""
    return any(dep == name and d.condition == "service_completed_successfully"
               for s in project.services.values() for dep, d in s.depends_on.items())


def _plain(value: Any) -> Any:
    return dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value


def after(session: Session, project: Project, name: str) -> set[str]:
    """What unit ``name`` waits for besides its depends_on: on a target that rewrites names
    (``session.resolution.waits``), the stores it names or depends on (their endpoint is its
    value) and the services it names (their name must resolve when it starts), loops left
    out; and the load balancer in front of it."""
    service = project.services[name]
    out: set[str] = set()
    if session.resolution.waits:
        out = {s for s in _graph(project)[name]
               if s not in service.depends_on or project.services[s].managed_store}
    if session.ingress is not None and any(r.service == name for r in session.ingress.render().routes):
        out.add(LOAD_BALANCER)
    return out


_last_graph: tuple[Project, dict[str, dict[str, str]]] | None = None


def _graph(project: Project) -> dict[str, dict[str, str]]:
    """``hosts.graph`` of the project being rendered, made once for all its units (a deploy
    renders every unit twice; the graph reads every service's environment for every name)."""
    global _last_graph
    if _last_graph is None or _last_graph[0] is not project:
        _last_graph = (project, hosts.graph(project))
    return _last_graph[1]


def driver(session: Session, unit_kind: Any) -> Driver:
    """The provider's driver for a kind of unit."""
    if unit_kind is Kind.INGRESS:
        assert session.ingress is not None
        return session.ingress
    if unit_kind is Kind.STORE and session.stores is not None:
        return session.stores
    return session.services


STORE_WAIT = 1800.0
"""Seconds a new managed store may take: RDS often takes ten minutes, Cloud SQL up to fifteen."""


def patience(unit: Unit, wait_timeout: float) -> float:
    """Seconds to wait for ``unit`` to settle: the deploy's wait, longer for a managed store."""
    return max(wait_timeout, STORE_WAIT) if unit.kind is Kind.STORE else wait_timeout


async def settle(session: Session, unit: Unit, *, wait_timeout: float,
                 progress: Progress) -> ServiceStatus:
    """Look at ``unit`` until it reaches a final state or its time is up; then it is still
    rolling out (the target may yet finish it), and the last look says how far it got."""
    waited = patience(unit, wait_timeout)
    deadline = poll.clock() + waited
    seen: list[ServiceStatus] = []
    look = driver(session, unit.kind).look

    async def check() -> ServiceStatus | None:
        status = await look(unit, progress)
        seen[:] = [status]
        return status if status.state.final else None

    status = await poll.until(check, interval=session.interval, deadline=deadline)
    if status is not None:
        return status
    status = seen[0] if seen else ServiceStatus(name=unit.name, state=State.SERVICE_DEPLOYMENT_PENDING)
    said = status.message or f"{status.replicas_running}/{status.replicas_desired} running"
    return status.model_copy(update={"state": State.SERVICE_DEPLOYMENT_PENDING,
                                     "message": f"still rolling out after {waited:g}s: {said}"})
