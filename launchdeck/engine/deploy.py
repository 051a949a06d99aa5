"""The deploy every provider shares: preflight, plan, then apply in dependency order.

preflight: validate against the provider's capabilities → refuse on error findings → refuse,
naming every one, when config is unset.
plan: observe what exists → render each unit → compare digests; changes nothing, takes no lock.
start: take the lock → observe (the build contexts are read meanwhile) → prepare (unless
every unit is NOOP) → for each unit in dependency order, independent ones at once: build →
render → apply unless NOOP → settle; remove what the project no longer has (the builds start
as soon as what they stand on is there: after prepare, or, for a session that
``PreparesBuilds``, at once, the session waiting in ``image`` for what a build needs; the units
likewise, for a session that ``PreparesInParts``: each once its own part of prepare is made);
record the outcome on the target, and append the deployment (with its timeline) to the
target's history (engine/history.py). A rollback is a deploy with each service's image given.

Providers supply the seams (engine/seams.py); events, failure propagation, the plan, the
deployment record and the result live here once.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

import anyio
import anyio.to_thread

from launchdeck import redact
from launchdeck.compose.load import Loaded
from launchdeck.compose.model import Project, Service
from launchdeck.compose.validate import DIGEST_KEY, has_errors, required_config, validate
from launchdeck.engine import build_context, dag, history, hosts, kinds, lock
from launchdeck.engine.build_context import Source
from launchdeck.engine.events import Event, Sink, State, discard
from launchdeck.engine.gather import gather
from launchdeck.engine.plan import Action, decide
from launchdeck.engine.records import Records
from launchdeck.engine.results import ChangeSummary, DeployRecord, DeployResult, PlanResult, ServiceStatus
from launchdeck.engine.seams import DeployOptions, Found, Kind, Provider, Session, Unit
from launchdeck.errors import ConfigMissing, DeployRefused, LaunchdeckError
from launchdeck.identity import new_deployment_id


@runtime_checkable
class PreparesBuilds(Protocol):
    """A session whose image builds stand on less than all that ``prepare`` makes (a builder
    and a registry, not the network or the roles): the engine asks for the images at once,
    beside ``prepare``, and the session's ``image`` waits for ``prepare_builds`` (which
    ``prepare`` may call too) where a build first needs what it makes."""

    async def prepare_builds(self) -> None: ...


@runtime_checkable
class PreparesInParts(Protocol):
    """A session whose units stand on parts of what ``prepare`` makes (a managed store on the
    network and its security groups, not on the cluster or the roles): the engine runs
    ``prepare`` beside the units, and each unit, before it is rendered again and applied, waits
    for ``prepared_for`` it: its own part, made once whether ``prepare`` or a unit asks first
    (``engine/gather.Once``), whose error each asker gets. A deploy that removes units
    prepares first, as any other."""

    async def prepared_for(self, unit: Unit) -> None: ...


@dataclass(frozen=True)
class Ready:
    """A project that passed preflight, with the config values its services read."""

    project: Project
    provider: Provider
    stack: str
    config: dict[str, str]


async def missing_config(loaded: Loaded, provider: Provider, stack: str) -> list[str]:
    """Config names the project reads that are not set on its target, sorted."""
    present = set(await provider.config_store(loaded.project.name, stack).names())
    return [name for name in required_config(loaded) if name not in present]


async def preflight(loaded: Loaded, provider: Provider, *, stack: str) -> Ready:
    """Raise DeployRefused or ConfigMissing if the project cannot deploy; else what start needs."""
    project = loaded.project
    findings = validate(loaded, provider.name, provider.capabilities)
    if has_errors(findings):
        errors = [f for f in findings if f.severity == "error"]
        raise DeployRefused(
            f"{len(errors)} error(s) stop {project.name} deploying to {provider.name}:\n"
            + "\n".join(str(f) for f in errors), findings,
            hint="Fix them and deploy again; checking the compose file lists every finding.")
    required = required_config(loaded)
    # the stack's digest key, where there are values to digest (engine/plan.py)
    values = await provider.config_store(project.name, stack).values(
        [*required, DIGEST_KEY] if required else [])
    missing = [name for name in required if name not in values]  # values() has only names set
    if missing:
        raise ConfigMissing(missing, provider=provider.name, stack=stack)
    read = {name: value for name, value in values.items() if name != DIGEST_KEY}
    refused = [f for f in provider.check(loaded, stack, read) if f.severity == "error"]
    if refused:
        raise DeployRefused(
            f"{len(refused)} problem(s) stop {project.name} deploying to {provider.name}:\n"
            + "\n".join(str(f) for f in refused), [*findings, *refused],
            hint="Fix them and deploy again; nothing was changed.")
    return Ready(project, provider, stack, values)


async def plan(ready: Ready, *, options: DeployOptions | None = None,
               images: Mapping[str, str] | None = None) -> PlanResult:
    """What deploying would change, unit by unit; no change is made and no lock taken.
    ``images``: the image each named service runs instead of its own (a rollback's)."""
    options = options or DeployOptions()
    provider, project = ready.provider, ready.project
    session = await provider.session(project, ready.stack, ready.config, "plan", options, discard)
    images = images or {}
    found, record, sources = await gather(
        session.observe, Records(provider.blobs(), project.name, ready.stack).read,
        lambda: _sources(project, images))
    if session.refusal is not None:
        raise session.refusal
    images = await _images(session, project, images, sources)
    units = _render_all(session, ready, images)
    changes = _changes(units, found, record, options.force)
    return PlanResult(project=project.name, stack=ready.stack, provider=provider.name,
                      changes=list(changes.values()))


async def start(ready: Ready, *, options: DeployOptions | None = None, sink: Sink = discard,
                deployment_id: str | None = None, images: Mapping[str, str] | None = None,
                intent: history.Intent | None = None) -> DeployResult:
    """Deploy a project that passed preflight. ``images``: the image each named service runs
    instead of building or resolving its own (a rollback's); ``intent``: what the history
    entry says of it (a plain deploy from where the project is, by default)."""
    options = options or DeployOptions()
    etag = deployment_id or new_deployment_id()
    provider, project = ready.provider, ready.project
    intent = intent or history.Intent()
    if intent.origin is None:
        who = await history.who(provider)
        intent = replace(intent, origin=await anyio.to_thread.run_sync(
            history.origin, project.working_dir, project.compose_files, who))
    async with lock.held(provider.blobs(), project.name, ready.stack, intent.operation, etag,
                         provider=provider.name):
        ready, new_key = await _keyed(ready)
        session = await provider.session(project, ready.stack, ready.config, etag, options, sink)
        run = _Run(ready, session, options, sink, etag, images or {}, intent, new_key=new_key)
        try:
            return await run.execute()
        except LaunchdeckError as exc:
            with anyio.CancelScope(shield=True):
                await run.remember(None, error=str(exc))
            raise


async def _keyed(ready: Ready) -> tuple[Ready, bool]:
    """``ready`` with its stack's digest key, and whether the key is new. The stack's first
    deploy that reads config makes it (under the lock, read again first: a deploy that held the
    lock before this one may have made it since preflight read); the run keeps it with the
    config values before it changes anything (``_Run.keep_key``). A project that reads no config
    has nothing to key, and its target's store is left alone."""
    if DIGEST_KEY in ready.config or not ready.config:
        return ready, False
    store = ready.provider.config_store(ready.project.name, ready.stack)
    key = (await store.values([DIGEST_KEY])).get(DIGEST_KEY)
    new = key is None
    if key is None:
        key = secrets.token_urlsafe(32)
    return replace(ready, config={**ready.config, DIGEST_KEY: key}), new


async def deploy(loaded: Loaded, provider: Provider, *, stack: str,
                 options: DeployOptions | None = None, sink: Sink = discard,
                 deployment_id: str | None = None) -> DeployResult:
    """Deploy ``loaded`` to ``provider``; raise DeployRefused or ConfigMissing before any change."""
    ready = await preflight(loaded, provider, stack=stack)
    return await start(ready, options=options, sink=sink, deployment_id=deployment_id)


# -- the parts plan and start share ------------------------------------------------------------


def _built(service: Service) -> bool:
    """Whether a deploy builds ``service`` from source (a managed store never is)."""
    return service.build is not None and not service.managed_store


async def _sources(project: Project, pinned: Mapping[str, str]) -> dict[str, Source]:
    """The context of each service built from source but not ``pinned``, read in worker threads
    once for the plan and the build (while the target is observed: a large one takes a while)."""
    names = [name for name, service in project.services.items()
             if _built(service) and name not in pinned]
    read = await gather(*[lambda n=n: anyio.to_thread.run_sync(build_context.source, project.services[n])
                          for n in names])
    return dict(zip(names, read, strict=True))


async def _images(session: Session, project: Project, pinned: Mapping[str, str],
                  sources: Mapping[str, Source]) -> dict[str, str]:
    """The image each service would run, found without building or pulling anything; a service
    ``pinned`` runs that image, and nothing of its own is built."""

    async def one(service: Service) -> str:
        if service.name in pinned:
            return pinned[service.name]
        return await session.image(service, sources.get(service.name), build=False, progress=_quiet)

    names = list(project.services)
    found = await gather(*[lambda n=n: one(project.services[n]) for n in names])
    return dict(zip(names, found, strict=True))


def _quiet(state: State | None, message: str, *, log: bool = False) -> None:
    """Progress nobody watches (a plan's reads)."""


def _render_all(session: Session, ready: Ready, images: Mapping[str, str]) -> dict[str, Unit]:
    names = list(ready.project.services)
    if session.ingress is not None and session.ingress.render().routes:
        names.append(kinds.LOAD_BALANCER)
    return {name: _render(session, ready, name, images.get(name)) for name in names}


def _render(session: Session, ready: Ready, name: str, image: str | None) -> Unit:
    return kinds.render(session, ready.project, ready.stack, ready.config, name, image)


def _changes(units: Mapping[str, Unit], found: Mapping[str, Found], record: DeployRecord | None,
             force: bool) -> dict[str, ChangeSummary]:
    """Each unit's action and why, then DELETE for what exists but is no longer wanted."""
    applied = record.parts if record else {}
    out = {}
    for name, unit in units.items():
        action, reason = _decide(unit, found.get(name), applied.get(name), force)
        out[name] = ChangeSummary(service=name, kind=unit.kind.value, action=action, reason=reason)
    for name in sorted(set(found) - set(units)):
        out[name] = ChangeSummary(service=name, kind=found[name].kind.value, action=Action.DELETE,
                                  reason="no longer in the project")
    return out


def _decide(unit: Unit, found: Found | None, applied: Mapping[str, str] | None,
            force: bool) -> tuple[Action, str]:
    # a unit the target scales runs what the load asks: its count now is not drift
    replicas = found.replicas if unit.scales and found is not None else unit.replicas
    held = found.digest if found else None
    if held is not None and held == unit.unkeyed:  # deployed before the stack had a key: the same
        held = unit.digest
    return decide(unit.digest, replicas, held,
                  found.replicas if found else 0, found.ready if found else False, force=force,
                  replace_on_change=unit.replace_on_change, parts=unit.parts, applied=applied)


# -- one deploy --------------------------------------------------------------------------------


@dataclass
class _Build:
    done: anyio.Event = field(default_factory=anyio.Event)
    image: str | None = None
    error: str | None = None


class _Run:
    """One deploy: the plan it starts from, the statuses it reaches, the record it leaves."""

    def __init__(self, ready: Ready, session: Session, options: DeployOptions, sink: Sink,
                 etag: str, pinned: Mapping[str, str], intent: history.Intent, *,
                 new_key: bool = False) -> None:
        self.ready, self.session, self.options, self.etag = ready, session, options, etag
        self.pinned, self.intent = pinned, intent
        self.started = datetime.now(UTC)
        # a failure's reason may quote log lines, and a service may print its own secrets
        self.hidden = redact.secrets(ready.config.values())
        self.timeline = history.Timeline()
        self.sink = self._redacted(sink) if self.hidden else self._kept(sink)
        self.project = ready.project
        self.used: dict[str, str] = {}
        self.changes: dict[str, ChangeSummary] = {}
        self.earlier: DeployRecord | None = None
        self.units: dict[str, Unit] = {}
        self.statuses: dict[str, ServiceStatus] = {}
        self.applied: dict[str, dict[str, str]] = {}
        self.builds: dict[str, _Build] = {}
        self.new_key = new_key
        """The stack's digest key was made by this deploy and is not kept yet."""
        self.keeping = anyio.Lock()
        self.in_parts = False
        """Each unit waits for its own part of prepare (``PreparesInParts``), not all of it."""

    def _kept(self, sink: Sink) -> Sink:
        def both(event: Event) -> None:
            self.timeline(event)  # after redaction: the history keeps no config value
            sink(event)
        return both

    def _redacted(self, sink: Sink) -> Sink:
        kept = self._kept(sink)
        return lambda event: kept(replace(event, message=redact.text(event.message, self.hidden)))

    def emit(self, name: str | None, state: State | None = None, message: str = "") -> None:
        self.sink(Event(name, state, message))

    def progress(self, name: str) -> Callable[..., None]:
        def report(state: State | None, message: str, *, log: bool = False) -> None:
            self.sink(Event(name, state, message, log=log))
        return report

    async def execute(self) -> DeployResult:
        session, project = self.session, self.project
        records = Records(self.ready.provider.blobs(), project.name, self.ready.stack)
        found, earlier, self.sources = await gather(session.observe, records.read,
                                                    lambda: _sources(project, self.pinned))
        if session.refusal is not None:
            raise session.refusal
        self.found: Mapping[str, Found] = found
        self.earlier = earlier
        images = await _images(session, project, self.pinned, self.sources)
        units = self.units = _render_all(session, self.ready, images)
        self.changes = _changes(units, found, earlier, self.options.force)
        building = [name for name, c in self.changes.items()
                    if c.action is not Action.NOOP and name in self.sources]
        for name, change in self.changes.items():
            if change.action not in (Action.NOOP, Action.DELETE):
                self.emit(name, State.BUILD_QUEUED if name in building else State.UPDATE_QUEUED,
                          change.reason)
        # services go first (their ports are free again), the provider's own units last
        removed = [c.service for c in self.changes.values() if c.action is Action.DELETE]
        graph = _graph(project, units)
        completion = {dep for s in project.services.values() for dep, d in s.depends_on.items()
                      if d.condition == "service_completed_successfully"}
        self.builds = {name: _Build() for name in building}
        prepared = anyio.Event()
        # an unchanged project applies nothing that stands on what prepare makes
        changing = bool(removed) or any(c.action is not Action.NOOP for c in self.changes.values())
        self.in_parts = changing and not removed and isinstance(session, PreparesInParts)

        async def builds() -> None:
            if not isinstance(session, PreparesBuilds):  # else image() waits for what it needs
                await prepared.wait()
            await gather(*[lambda n=n: self._build(n) for n in building])

        async def work(name: str, milestones: dag.Milestones) -> None:
            await self._unit(name, images.get(name), milestones, until_exit=name in completion)

        async def ready() -> None:
            if changing:
                await session.prepare()
            await self.keep_key()  # before a unit holds a digest made with it
            prepared.set()
            for name in removed:
                if found[name].kind is not Kind.INGRESS:
                    await self._remove(name)

        async def apply() -> dict[str, dag.Milestones]:
            if not self.in_parts:
                await ready()
                return await dag.run(graph, work)
            _, reached = await gather(ready, lambda: dag.run(graph, work))
            return reached

        _, reached = await gather(builds, apply)
        for name, mark in reached.items():
            if name not in self.statuses and name in project.services:
                state = State.SERVICE_DEPLOYMENT_FAILED
                self.statuses[name] = ServiceStatus(name=name, state=state, message=mark.failure or "",
                                                    replicas_desired=units[name].replicas,
                                                    deployment_id=self.etag)
                self.emit(name, state, mark.failure or "")
        if session.resolution.restarts:
            await self._roll()
        for name in removed:
            if found[name].kind is Kind.INGRESS:
                await self._remove(name)
        result = DeployResult(project=project.name, stack=self.ready.stack,
                              provider=self.ready.provider.name, deployment_id=self.etag,
                              services=[self.statuses[name] for name in project.services],
                              changes=[self.changes[name] for name in sorted(self.changes)])
        result = redact.model(result, self.hidden)

        async def keep() -> None:
            await self.keep_key()
            pinned = await self._pinned()
            await gather(lambda: self._record(records, result, pinned),
                         lambda: self.remember(result, pinned=pinned))

        # none needs another: what is left over goes while the outcome is kept
        await gather(session.tidy, keep)
        return result

    async def keep_key(self) -> None:
        """Keep the stack's new digest key with its config values (once, whoever asks first)."""
        async with self.keeping:
            if self.new_key:
                store = self.ready.provider.config_store(self.project.name, self.ready.stack)
                await store.set(DIGEST_KEY, self.ready.config[DIGEST_KEY])
                self.new_key = False

    async def _pinned(self) -> dict[str, str]:
        """Each service's image by digest where the target can tell it (history.pinned). A unit
        this deploy left as it was, still on the reference the last one pinned, is not asked
        again: ECS and Cloud Run resolve a tag to a digest once per rollout, so it runs what
        the record says."""
        earlier = self.earlier.images if self.earlier else {}
        known = {name: earlier[name][1] for name, image in self.used.items()
                 if name in earlier and earlier[name][0] == image
                 and name in self.changes and self.changes[name].action is Action.NOOP}
        asked = await history.pinned(self.session, {n: i for n, i in self.used.items() if n not in known})
        return known | asked

    async def remember(self, result: DeployResult | None, *, error: str = "",
                       pinned: Mapping[str, str] | None = None) -> None:
        """Append this deployment to the target's history (``error``: why it stopped early)."""
        units = self.units
        statuses = {s.name: s for s in result.services} if result else dict(self.statuses)
        used = await self._pinned() if pinned is None else pinned
        entries = []
        for name, change in sorted(self.changes.items()):
            applied = self.applied.get(name) or (self.earlier.parts.get(name, {})
                                                 if self.earlier else {})
            unit = units.get(name)
            status = statuses.get(name)
            entries.append(history.UnitEntry(
                name=name, kind=change.kind, action=change.action.value, reason=change.reason,
                digest=unit.digest if unit else None, image=used.get(name),
                config=history.config_of(applied), parts=dict(applied),
                state=status.state.value if status else None,
                message=status.message if status else ""))
        outcome: history.Outcome = "error" if result is None else \
            "succeeded" if result.ok else "failed"
        entry = history.Deployment(
            id=self.etag, operation=self.intent.operation, project=self.project.name,
            stack=self.ready.stack, provider=self.ready.provider.name, started=self.started,
            ended=datetime.now(UTC), outcome=outcome,
            message=redact.text(error, self.hidden), origin=self.intent.origin or history.Origin(),
            rollback_of=self.intent.rollback_of, expires=self.intent.expires, units=entries,
            timeline=self.timeline.moments, build_output=self.timeline.builds)
        await history.History(self.ready.provider.blobs(), self.project.name,
                              self.ready.stack).append(entry)

    async def _roll(self) -> None:
        """Restart each service whose tasks started before a service it names existed (it
        kept its tasks, or a loop of names started it first): a task resolves names only when
        it starts. Each is looked at until its new tasks settle; a failure is its result."""
        made = [n for n, c in self.changes.items()
                if c.action is Action.CREATE and n in self.applied]
        if not made:
            return
        started = [n for n, c in self.changes.items() if c.action not in (Action.NOOP, Action.DELETE)]
        named = hosts.references(self.project)
        rolling = [n for n in hosts.to_roll(self.project, made, started)
                   if self.statuses.get(n) is not None and not self.units[n].once
                   and self.statuses[n].state is State.SERVICE_DEPLOYMENT_COMPLETED]

        async def one(name: str) -> None:
            unit, progress = self.units[name], self.progress(name)
            new = ", ".join(sorted(named[name] & set(made)))
            progress(None, f"restarting so that its tasks resolve the new services it names: {new}")
            try:
                await kinds.driver(self.session, unit.kind).restart(unit, progress)
                status = await kinds.settle(self.session, unit, wait_timeout=self.options.wait_timeout,
                                            progress=progress)
            except LaunchdeckError as exc:
                status = ServiceStatus(name=name, state=State.SERVICE_DEPLOYMENT_FAILED,
                                       message=f"restarting it failed: {exc}")
            if status.deployment_id is None:
                status.deployment_id = self.etag
            self.statuses[name] = status
            self.emit(name, status.state, status.message or ", ".join(status.endpoints))

        await gather(*[lambda n=n: one(n) for n in rolling])

    async def _remove(self, name: str) -> None:
        self.emit(name, None, "removing: no longer in the project")
        found = self.found[name]
        await kinds.driver(self.session, found.kind).remove(name, found, self.progress(name))

    async def _build(self, name: str) -> None:
        build = self.builds[name]
        try:
            build.image = await self.session.image(self.project.services[name], self.sources[name],
                                                   build=True, progress=self.progress(name))
        except LaunchdeckError as exc:
            build.error = str(exc)
            self.emit(name, State.BUILD_FAILED, build.error)
        finally:
            build.done.set()

    async def _unit(self, name: str, image: str | None, milestones: dag.Milestones, *,
                    until_exit: bool) -> None:
        build = self.builds.get(name)
        if build is not None:
            await build.done.wait()
            if build.image is None:  # reported as BUILD_FAILED when it happened
                self.statuses[name] = ServiceStatus(name=name, state=State.BUILD_FAILED,
                                                    message=build.error or "", deployment_id=self.etag)
                milestones.fail(f"build failed:\n{build.error}")
                return
            image = build.image
        try:
            status = await self._apply(name, image, milestones)
        except LaunchdeckError as exc:
            status = ServiceStatus(name=name, state=State.SERVICE_DEPLOYMENT_FAILED, message=str(exc),
                                   deployment_id=self.etag)
        if name in self.project.services:
            self.statuses[name] = status
        if until_exit:
            milestones.exit_code = status.exit_code
        self.emit(name, status.state, status.message if status.message else ", ".join(status.endpoints))
        if status.state.failed:
            milestones.fail(status.message or f"{name} failed")
        else:
            milestones.started.set()
            milestones.healthy.set()

    async def _apply(self, name: str, image: str | None, milestones: dag.Milestones) -> ServiceStatus:
        session = self.session
        if image is not None:
            self.used[name] = image  # the reference itself: a rollback runs it again
        if self.in_parts:  # what it stands on, and the key its digest is made with, kept
            assert isinstance(session, PreparesInParts)
            await gather(lambda: session.prepared_for(self.units[name]), self.keep_key)
        unit = _render(session, self.ready, name, image)  # what its dependencies made is known now
        found = self.found.get(name)
        action, reason = _decide(unit, found, (self.earlier.parts if self.earlier else {}).get(name),
                                 self.options.force)
        planned = self.changes[name]
        if action is not planned.action:
            self.changes[name] = planned.model_copy(update={"action": action, "reason": reason})
        progress = self.progress(name)
        if action is Action.NOOP and found is not None and found.status is not None and \
                found.status.state in (State.SERVICE_DEPLOYMENT_COMPLETED, State.STOPPED):
            self.applied[name] = dict(unit.parts)
            return found.status
        if action is not Action.NOOP:
            if self.builds.get(name) is not None:
                self.emit(name, State.UPDATE_QUEUED, reason)
            progress(State.SERVICE_DEPLOYMENT_PENDING, reason)
            await kinds.driver(session, unit.kind).apply(unit, action, progress)
        milestones.started.set()
        status = await kinds.settle(session, unit, wait_timeout=self.options.wait_timeout,
                                    progress=progress)
        if not status.state.failed:
            self.applied[name] = dict(unit.parts)
        if status.deployment_id is None:
            status.deployment_id = self.etag
        return status

    async def _record(self, records: Any, result: DeployResult, pinned: Mapping[str, str]) -> None:
        """Keep the outcome on the target (ps shows a failed build from it) when it differs."""
        parts = dict(self.earlier.parts) if self.earlier else {}
        parts = {name: p for name, p in parts.items() if name in self.changes
                 and self.changes[name].action is not Action.DELETE}
        parts.update(self.applied)
        images = {name: (self.used[name], pinned[name]) for name in self.used if name in pinned}
        earlier = self.earlier
        if earlier and all(c.action is Action.NOOP for c in result.changes) and parts == earlier.parts \
                and images == earlier.images \
                and [s.state for s in earlier.result.services] == [s.state for s in result.services]:
            return
        await records.write(DeployRecord(result=result, parts=parts, images=images))


def _graph(project: Project, units: Mapping[str, Unit]) -> dict[str, dict[str, str]]:
    """Each unit's dependencies and the milestone it waits for: compose's depends_on, then
    what the provider's rendering says a unit needs first (as healthy)."""
    graph: dict[str, dict[str, str]] = {}
    for name, unit in units.items():
        deps: dict[str, str] = {}
        service = project.services.get(name)
        if service is not None:
            deps.update({dep: d.condition for dep, d in service.depends_on.items() if dep in units})
        for dep in sorted(unit.after):  # what it needs in place, whatever depends_on says
            if dep in units and dep != name and deps.get(dep) != "service_completed_successfully":
                deps[dep] = "service_healthy"
        graph[name] = deps
    return graph
