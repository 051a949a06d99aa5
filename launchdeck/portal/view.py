"""What the portal shows of one target, read through the tools, with every config value
scrubbed out.

ps and the last deployment come from the deployment tools (what runs, with the record's
fallback for failed builds), the history of deployments from the target's blobs (every
provider keeps one), the timeline from the portal's own watch, logs from their
follow with the logs tool's filters, the plan and the diagnosis from their tools. A target
known only by its record (no compose files at hand) is read with a project made from the
record's service names. Config values never leave: the page gets their names and whether
they are set, and any value a service printed or an error quoted is replaced.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel, Field

from launchdeck import redact
from launchdeck.engine.history import Deployment as Entry
from launchdeck.engine.results import ChangeSummary, DeployRecord, LogLine, ServiceStatus
from launchdeck.errors import LaunchdeckError, UnknownService, UsageError
from launchdeck.portal.catalog import Catalog, Target
from launchdeck.portal.watch import TimelineEntry, Watch

if TYPE_CHECKING:
    from launchdeck.compose.model import Project
    from launchdeck.tools.debug import DebugResult
    from launchdeck.tools.rollback import RollbackPreview

M = TypeVar("M", bound=BaseModel)

LOG_TAIL = 200
"""Lines a log stream starts with when no ``since`` is given."""
HISTORY_ROWS = 20
"""Deployments the page lists (the newest)."""
SECRETS_TTL = 10.0
"""Seconds the config values used for scrubbing are kept before being read again."""


class ConfigName(BaseModel):
    name: str
    set: bool
    read: bool = Field(False, description="The project on disk reads it.")


class Deployment(BaseModel):
    """The last deployment, as its record tells it."""

    id: str
    at: datetime | None = None
    ok: bool
    changes: list[ChangeSummary] = []


class Change(BaseModel):
    unit: str
    action: str


class HistoryEntry(BaseModel):
    """One deployment of the target's history, as a row of the page."""

    id: str
    operation: str
    started: datetime
    ended: datetime | None = None
    seconds: float | None = Field(None, description="How long it took.")
    outcome: str
    message: str = ""
    who: str | None = None
    commit: str | None = None
    branch: str | None = None
    dirty: bool | None = None
    rollback_of: str | None = None
    changed: list[Change] = Field([], description="Units it changed (not NOOP).")
    images: dict[str, str] = Field({}, description="Service -> the image it ran.")
    can_roll_back_to: bool = Field(False, description="It ran images a rollback can go back to.")

    @classmethod
    def of(cls, entry: Entry) -> HistoryEntry:
        return cls(id=entry.id, operation=entry.operation, started=entry.started,
                   ended=entry.ended, outcome=entry.outcome, message=entry.message,
                   seconds=(entry.ended - entry.started).total_seconds() if entry.ended else None,
                   who=entry.origin.who, commit=entry.origin.commit, branch=entry.origin.branch,
                   dirty=entry.origin.dirty, rollback_of=entry.rollback_of,
                   changed=[Change(unit=u.name, action=u.action) for u in entry.units
                            if u.action != "NOOP"],
                   images={u.name: u.image for u in entry.units if u.image},
                   can_roll_back_to=entry.operation != "destroy"
                   and any(u.image for u in entry.units))


class View(BaseModel):
    target: Target
    services: list[ServiceStatus] = []
    deployment: Deployment | None = None
    deploying: str | None = Field(None, description="Deployment id of a deploy still running.")
    timeline: list[TimelineEntry] = []
    timeline_of: str | None = Field(None, description="What the timeline shows: 'deploy <id>' or "
                                                      "'destroy'.")
    timeline_error: str | None = None
    config: list[ConfigName] = []
    can_redeploy: bool = False
    history: list[HistoryEntry] = Field([], description="The last deployments, newest first.")
    can_roll_back: bool = Field(False, description="A rollback can start from here (the project "
                                                   "is on disk and nothing is deploying).")
    problem: str | None = Field(None, description="Why part of the view could not be read.")


class PlanView(BaseModel):
    changes: list[ChangeSummary] = []
    problem: str | None = None


class Listing(BaseModel):
    targets: list[Target]
    project_on_disk: str | None = None
    unlisted: list[str] = Field([], description="Chosen providers whose deployments could not be "
                                                "listed.")
    problems: list[str] = Field([], description="Why, for each of them.")


class Secrets:
    """The config values of each target, read now and then, to scrub them from what is shown."""

    def __init__(self, catalog: Catalog, *, ttl: float = SECRETS_TTL) -> None:
        self.catalog = catalog
        self.ttl = ttl
        self._known: dict[str, tuple[float, list[str], list[str]]] = {}

    async def of(self, target: Target) -> tuple[list[str], list[str]]:
        """(names set, values long enough to find in text) of the target's config store."""
        cached = self._known.get(target.key)
        if cached is not None and time.monotonic() - cached[0] < self.ttl:
            return cached[1], cached[2]
        from launchdeck.tools import config

        store = self.catalog.provider(target.provider).config_store(target.project, target.stack)
        names = sorted(await store.names())
        values = redact.secrets((await store.values(names)).values())
        names = config.shown(names)
        self._known[target.key] = (time.monotonic(), names, values)
        return names, values

    def forget(self, target: Target) -> None:
        self._known.pop(target.key, None)


class Histories:
    """The history entries read so far, by key: an entry never changes once written, so each
    view (read every second) lists the target's history and reads only the new ones."""

    def __init__(self, catalog: Catalog, *, limit: int = HISTORY_ROWS) -> None:
        self.catalog = catalog
        self.limit = limit
        self._known: dict[str, dict[str, Entry]] = {}

    async def of(self, target: Target) -> list[HistoryEntry]:
        from launchdeck.tools import deployment

        known = self._known.setdefault(target.key, {})
        entries = await deployment.history(self.catalog.provider(target.provider), target.project,
                                           target.stack, limit=self.limit, known=known)
        return [HistoryEntry.of(e) for e in entries]


def scrub(model: M, secrets: Sequence[str]) -> M:
    """``model`` with every config value in ``secrets`` replaced, in every text it holds."""
    return redact.model(model, secrets)


async def listing(catalog: Catalog) -> Listing:
    targets = await catalog.targets()
    return Listing(targets=targets, project_on_disk=catalog.project_name,
                   unlisted=sorted(catalog.problems),
                   problems=[f"{p}: {why}" for p, why in sorted(catalog.problems.items())])


def on_disk(catalog: Catalog, target: Target) -> Project | None:
    """The project on disk, for its targets."""
    return catalog.loaded.project if target.on_disk and catalog.loaded is not None else None


def project_of(catalog: Catalog, target: Target, record: DeployRecord | None) -> Project:
    """The project on disk for its targets; else one made of the record's services, which is
    all ps and logs need to know."""
    from launchdeck.compose.model import Deploy, Project, Service

    found = on_disk(catalog, target)
    if found is not None:
        return found
    services = record.result.services if record else []
    return Project(name=target.project, working_dir="",
                   services={s.name: Service(name=s.name, deploy=Deploy(replicas=s.replicas_desired
                                                                       or 1))
                             for s in services})


async def view(catalog: Catalog, watch: Watch, secrets: Secrets, target: Target,
               histories: Histories | None = None) -> View:
    """Where every service of ``target`` stands, its last deployment, and the portal's timeline."""
    from launchdeck.tools import deployment

    problems: list[str] = []
    provider = catalog.provider(target.provider)
    record = None
    try:
        record = await deployment.record(provider, target.project, target.stack)
    except LaunchdeckError as exc:
        problems.append(str(exc))
    try:
        services = await deployment.services(provider, project_of(catalog, target, record),
                                             target.stack, record)
    except LaunchdeckError as exc:
        problems.append(str(exc))
        services = list(record.result.services) if record else []
    names: list[str] = []
    values: list[str] = []
    try:
        names, values = await secrets.of(target)
    except LaunchdeckError as exc:
        problems.append(str(exc))
    read = set()
    if target.on_disk and catalog.loaded is not None:
        from launchdeck.compose.validate import required_config

        read = set(required_config(catalog.loaded))
    config = [ConfigName(name=n, set=n in names, read=n in read) for n in sorted(set(names) | read)]
    deployment = None
    if record is not None:
        deployment = Deployment(id=record.result.deployment_id, at=target.recorded_at,
                                ok=record.result.ok, changes=record.result.changes)
    rows: list[HistoryEntry] = []
    if histories is not None:
        try:
            rows = await histories.of(target)
        except LaunchdeckError as exc:
            problems.append(str(exc))
    running = watch.running(target)
    timeline = watch.timelines.get(target.key)
    out = View(target=target, services=services, deployment=deployment,
               deploying=running.deployment_id if running else None,
               timeline=list(timeline.entries) if timeline else [],
               timeline_of=(f"{timeline.operation} {timeline.deployment_id or ''}".strip()
                            if timeline else None),
               timeline_error=timeline.error if timeline else None,
               config=config, can_redeploy=target.on_disk and running is None,
               history=rows, can_roll_back=target.on_disk and running is None,
               problem="\n".join(problems) or None)
    return scrub(out, values)


async def plan(catalog: Catalog, secrets: Secrets, target: Target) -> PlanView:
    """What redeploying the project on disk would change (nothing is changed, no lock taken)."""
    from launchdeck.tools.deploy import plan as run_plan

    if not target.on_disk:
        return PlanView(problem="No plan: the portal has no compose files for this project. "
                                "Start it with the project's directory to see one.")
    try:
        result = await run_plan(catalog.ref(target.provider), loaded=catalog.reload())
    except LaunchdeckError as exc:
        return scrub(PlanView(problem=str(exc)), (await _values(secrets, target)))
    return PlanView(changes=result.changes)


async def rollback_preview(catalog: Catalog, secrets: Secrets, target: Target,
                           to: str) -> RollbackPreview:
    """What rolling ``target`` back to deployment ``to`` would change (nothing is changed);
    refused, naming it, when an image it needs is gone."""
    from launchdeck.tools.rollback import preview

    if not target.on_disk:
        raise UsageError("a rollback needs the project's compose files",
                         hint="Start the portal with the project's directory.")
    if not to:
        raise UsageError("name the deployment to roll back to",
                         hint="Pick one of the deployments the history lists.")
    return scrub(await preview(catalog.ref(target.provider), to), await _values(secrets, target))


async def diagnose(catalog: Catalog, secrets: Secrets, target: Target,
                   service: str | None) -> DebugResult:
    """debug_failure's findings (cause, evidence, fix) for the failed services, or one."""
    from launchdeck.tools.debug import debug

    if not target.on_disk:
        raise UsageError("a diagnosis needs the project's compose files",
                         hint="Start the portal with the project's directory.")
    result = await debug(catalog.ref(target.provider), service=service)
    return scrub(result, await _values(secrets, target))


async def _values(secrets: Secrets, target: Target) -> list[str]:
    try:
        return (await secrets.of(target))[1]
    except LaunchdeckError:
        return []


async def logs(catalog: Catalog, secrets: Secrets, target: Target, *, services: Sequence[str] = (),
               since: str | None = None, contains: str | None = None,
               interval: float | None = None) -> AsyncIterator[LogLine]:
    """What the services print, followed: the last lines first (or those since ``since``),
    then each new one; with the logs tool's filters."""
    from launchdeck.tools import deployment
    from launchdeck.tools.logs import parse_time

    provider = catalog.provider(target.provider)
    project = on_disk(catalog, target)  # else the record's services
    if project is None:
        project = project_of(catalog, target,
                             await deployment.record(provider, target.project, target.stack))
    known = list(project.services)
    for name in services:
        if name not in known:
            raise UnknownService(name, known)
    start = parse_time(since)
    async for line in deployment.follow(provider, target.project, target.stack,
                                        services=services, since=start,
                                        tail=None if start else LOG_TAIL, interval=interval):
        shown = scrub(line, await _values(secrets, target))
        if contains and contains not in shown.text:  # filter what is shown, not the values
            continue
        yield shown
