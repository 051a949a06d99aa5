"""Every deployment of a (project, stack), kept on the target's blobs beside the last record:
what was applied (each unit's action, digest, image reference, config names with their
values' digests), where it came from, and its timeline as the deploy saw it.

Each entry is one object, ``deployments/<project>/<stack>/<started>-<id>.json``: the key sorts
by time, so listing the folder is the history in order without reading every entry, and an
entry is found by its id from the listing alone. The last ``KEEP`` are kept (older ones are
pruned after each append). The last record (records.py, ``deployments/<project>/<stack>.json``)
stays where every release has kept it; nothing here replaces it.

No config value is ever stored: the units carry digests, and the timeline is collected after
the deploy's events were redacted.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from launchdeck.engine.blobs import Blobs
from launchdeck.engine.events import Event
from launchdeck.engine.gather import gather
from launchdeck.engine.plan import digest_of
from launchdeck.engine.results import PlanResult
from launchdeck.errors import LaunchdeckError, UsageError

if TYPE_CHECKING:
    from launchdeck.engine.seams import Provider

FOLDER = "deployments"
KEEP = 50
"""Entries kept per (project, stack) unless LAUNCHDECK_HISTORY_KEEP says otherwise."""
BUILD_LINES = 500
"""Lines of build output kept per unit and deployment (the last ones)."""
_STAMP = "%Y%m%dT%H%M%S%fZ"

Operation = Literal["deploy", "rollback", "destroy"]
Outcome = Literal["succeeded", "failed", "error", "destroyed"]


class Origin(BaseModel):
    """Who deployed, from where, with which launchdeck."""

    who: str | None = Field(None, description="The caller identity whoami shows.")
    commit: str | None = None
    branch: str | None = None
    dirty: bool | None = Field(None, description="The git tree had uncommitted changes.")
    compose_digest: str | None = Field(None, description="Digest of the compose files' content.")
    version: str = ""


class UnitEntry(BaseModel):
    """One unit as the deployment left it."""

    name: str
    kind: str = "service"
    action: str = "NOOP"
    reason: str = ""
    digest: str | None = None
    image: str | None = Field(None, description="The image reference it ran (an id, or "
                                                "repository@sha256:… where the target knows the "
                                                "digest), for a rollback.")
    config: dict[str, str] = Field({}, description="Config name -> digest of its value.")
    parts: dict[str, str] = Field({}, description="Digest parts as applied.")
    state: str | None = None
    message: str = ""


class Moment(BaseModel):
    """One state change (or message) of a unit, as the deploy saw it."""

    at: datetime
    unit: str | None = None
    state: str | None = None
    message: str = ""


class Deployment(BaseModel):
    """One entry of the history."""

    id: str
    operation: Operation = "deploy"
    project: str
    stack: str
    provider: str
    started: datetime
    ended: datetime | None = None
    outcome: Outcome = "succeeded"
    message: str = ""
    origin: Origin = Origin()
    rollback_of: str | None = Field(None, description="The deployment a rollback went back to.")
    expires: datetime | None = Field(None, description="When the stack expires (--ttl).")
    units: list[UnitEntry] = []
    timeline: list[Moment] = []
    build_output: dict[str, list[str]] = Field({}, description="The last build lines per unit.")

    def unit(self, name: str) -> UnitEntry | None:
        return next((u for u in self.units if u.name == name), None)


@dataclass(frozen=True)
class Intent:
    """What a deploy is, for its entry: a deploy or a rollback (of which deployment), where it
    comes from (None: found when it starts), and when the stack expires."""

    operation: Operation = "deploy"
    origin: Origin | None = None
    rollback_of: str | None = None
    expires: datetime | None = None


class Preview(BaseModel):
    """What rolling back to a deployment would do, found without changing anything."""

    to: str = Field(description="The deployment rolled back to.")
    plan: PlanResult
    images: dict[str, str] = Field(description="Service -> the image reference it will run.")
    config_changed: list[str] = Field([], description="Config names whose value changed since "
                                                      "that deployment (today's is used).")
    settings_changed: dict[str, list[str]] = Field(
        {}, description="Service -> compose settings that differ from that deployment (today's "
                        "are used).")
    not_in_deployment: list[str] = Field([], description="Services that deployment did not "
                                                         "have: deployed as they are today.")
    images_checked: bool = Field(True, description="Whether the target could confirm each "
                                                   "image is still there.")


class Timeline:
    """A sink that keeps what a deploy reports: state changes and messages in the timeline,
    build output per unit (the last BUILD_LINES)."""

    def __init__(self) -> None:
        self.moments: list[Moment] = []
        self.builds: dict[str, list[str]] = {}

    def __call__(self, event: Event) -> None:
        if event.log:
            if event.service:
                lines = self.builds.setdefault(event.service, [])
                lines.append(event.message)
                del lines[:-BUILD_LINES]
            return
        if event.state is None and not event.message:
            return
        self.moments.append(Moment(at=datetime.fromtimestamp(event.at, UTC), unit=event.service,
                                   state=event.state.value if event.state else None,
                                   message=event.message))


async def who(provider: Provider) -> str | None:
    """The caller identity ``provider`` acts as, for an entry (None when it cannot say)."""
    try:
        return (await provider.identity()).principal
    except LaunchdeckError:
        return None


def by_digest(image: str, digest: str) -> str:
    """``image`` named by ``digest`` (``repository@sha256:…``): its tag, or digest, replaced."""
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    if name.rfind(":") > slash:  # a tag, not a registry's port
        name = name[:name.rfind(":")]
    return f"{name}@{digest}"


async def pinned(session: Any, used: Mapping[str, str]) -> dict[str, str]:
    """Each service's image in ``used`` by its digest where ``session`` can tell it
    (PinsImages), else the reference itself; the services are asked at once."""
    from launchdeck.engine.seams import PinsImages

    if not isinstance(session, PinsImages):
        return dict(used)

    async def one(name: str) -> str:
        try:
            return await session.pinned(name, used[name]) or used[name]
        except LaunchdeckError:
            return used[name]

    names = list(used)
    return dict(zip(names, await gather(*[lambda n=n: one(n) for n in names]), strict=True))


def kept() -> int:
    """Entries kept per (project, stack): LAUNCHDECK_HISTORY_KEEP when it is a whole number of
    at least 1, else KEEP."""
    try:
        return max(int(os.environ.get("LAUNCHDECK_HISTORY_KEEP", KEEP)), 1)
    except ValueError:
        return KEEP


def config_of(parts: Mapping[str, str]) -> dict[str, str]:
    """The config names a unit reads and their values' digests, from its digest parts."""
    return {k.removeprefix("config:"): v for k, v in parts.items() if k.startswith("config:")}


def origin(working_dir: str | None, compose_files: list[str], who: str | None) -> Origin:
    """Where a deployment comes from: git commit, branch and dirtiness of ``working_dir``
    (when it is in git), the compose files' digest, launchdeck's version."""
    from launchdeck import __version__

    contents = []
    for path in compose_files:
        try:
            with open(path, "rb") as file:
                contents.append(file.read().decode(errors="replace"))
        except OSError:
            contents.append("")
    found = Origin(who=who, version=__version__,
                   compose_digest=digest_of(contents) if compose_files else None)
    if not working_dir:
        return found
    commit = _git(working_dir, "rev-parse", "HEAD")
    if commit is None:
        return found
    branch = _git(working_dir, "rev-parse", "--abbrev-ref", "HEAD")
    status = _git(working_dir, "status", "--porcelain", "--untracked-files=no")
    return found.model_copy(update={"commit": commit, "branch": None if branch == "HEAD" else branch,
                                    "dirty": None if status is None else bool(status)})


def _git(folder: str, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", folder, *args], capture_output=True, text=True,
                              timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


class History:
    """The deployments of one (project, stack) on ``blobs``, oldest first."""

    def __init__(self, blobs: Blobs, project: str, stack: str) -> None:
        self.blobs, self.project, self.stack = blobs, project, stack
        self.folder = f"{FOLDER}/{project}/{stack}/"

    def key(self, entry: Deployment) -> str:
        return f"{self.folder}{entry.started.astimezone(UTC).strftime(_STAMP)}-{entry.id}.json"

    async def keys(self) -> list[str]:
        return [k for k in await self.blobs.list(self.folder)
                if k.endswith(".json") and "/" not in k[len(self.folder):]]

    async def append(self, entry: Deployment, *, keep: int | None = None) -> None:
        """Add ``entry``, then prune to the last ``keep`` (default: ``kept()``)."""
        keep = kept() if keep is None else keep
        key = self.key(entry)
        _, kept_keys = await gather(lambda: self.blobs.write(key, entry.model_dump_json().encode()),
                                    self.keys)  # the list need not wait for the write to include it
        keys = sorted({*kept_keys, key})
        for old in keys[:max(len(keys) - keep, 0)]:
            await self.blobs.delete(old)

    async def entries(self, limit: int | None = None) -> list[Deployment]:
        """The deployments kept, oldest first (the last ``limit``)."""
        keys = await self.keys()
        out = []
        for key in keys[-limit:] if limit else keys:
            entry = await self._read(key)
            if entry is not None:
                out.append(entry)
        return out

    async def find(self, ref: str) -> Deployment:
        """The deployment ``ref`` names: an id (or its unique start), ``latest``, or
        ``previous`` (the last successful one before the latest); UsageError when none."""
        keys = await self.keys()
        if not keys:
            raise UsageError(f"{self.project} ({self.stack}) has no deployment history here",
                             hint="Deploy it first; each deploy is kept from then on.")
        if ref == "latest":
            return await self._must(keys[-1], ref)
        if ref == "previous":
            for key in reversed(keys[:-1]):
                entry = await self._read(key)
                if entry is not None and entry.outcome == "succeeded" \
                        and entry.operation != "destroy":
                    return entry
            raise UsageError(f"{self.project} ({self.stack}) has no successful deployment before "
                             "the latest", hint="List them (deployments) and name one by id.")
        ids = {k[len(self.folder):].removesuffix(".json").partition("-")[2]: k for k in keys}
        chosen = [k for i, k in ids.items() if i.startswith(ref)] if ref else []
        if len(chosen) != 1:
            said = "matches several deployments" if chosen else "is not a deployment"
            raise UsageError(f"{ref[:40]!r} {said} of {self.project} ({self.stack})",
                             hint="List them (deployments) and give an id, latest or previous.")
        return await self._must(chosen[0], ref)

    async def _must(self, key: str, ref: str) -> Deployment:
        entry = await self._read(key)
        if entry is None:
            raise UsageError(f"deployment {ref!r} of {self.project} ({self.stack}) cannot be read",
                             hint="Choose another one from the list (deployments).")
        return entry

    async def _read(self, key: str) -> Deployment | None:
        found = await self.blobs.read(key)
        if found is None:
            return None
        try:
            return Deployment.model_validate_json(found[0])
        except ValueError:
            return None


async def histories(blobs: Blobs) -> list[tuple[str, str]]:
    """(project, stack) of every history kept on ``blobs``, sorted."""
    found = set()
    for name in await blobs.list(f"{FOLDER}/"):
        parts = name[len(FOLDER) + 1:].split("/")
        if len(parts) == 3 and parts[2].endswith(".json"):
            found.add((parts[0], parts[1]))
    return sorted(found)
