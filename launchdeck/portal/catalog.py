"""Which deployment targets the portal shows: every deployment record a provider can list, and
the project on disk the portal was started with.

A provider's ``RecordStore`` reads and writes the record of one (project, stack) but cannot
list them, so for the local provider the listing reads the folder it keeps records in
(``<state dir>/deployments/<project>/<stack>.json``); the records themselves are still read
through the store. Other providers list nothing until they offer a listing seam; their
project on disk is still shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from launchdeck.errors import LaunchdeckError, UsageError
from launchdeck.tools.project import ProjectRef

if TYPE_CHECKING:
    from launchdeck.compose.load import Loaded
    from launchdeck.providers.base import Provider

LISTED = ("local",)
"""Providers whose deployment records the portal can list."""


class Target(BaseModel):
    """One (provider, project, stack) the portal shows."""

    provider: str
    project: str
    stack: str
    on_disk: bool = Field(False, description="The portal has the project's compose files.")
    recorded_at: datetime | None = Field(None, description="When its deployment record was written.")

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.project}/{self.stack}"


@dataclass(frozen=True)
class OnDisk:
    """The compose project the portal was started with (``-C``, ``-f``, ``-p``, ``--profile``)."""

    working_directory: str
    compose_files: tuple[str, ...] = ()
    project_name: str | None = None
    profiles: tuple[str, ...] = ()


def recorded(provider: str, root: Path) -> list[tuple[str, str, datetime]]:
    """(project, stack, written at) of each record ``provider`` keeps under ``root`` (its state
    directory), sorted; empty for a provider whose records cannot be listed."""
    if provider not in LISTED:
        return []
    found = []
    for path in sorted((root / "deployments").glob("*/*.json")):
        try:
            written = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        except OSError:  # removed while listing
            continue
        found.append((path.parent.name, path.stem, written))
    return found


class Catalog:
    """The targets of the chosen providers, and the project on disk (loaded once, to name it)."""

    def __init__(self, providers: Sequence[str], stack: str, on_disk: OnDisk | None = None, *,
                 state_root: Path | None = None) -> None:
        self.providers = tuple(providers)
        self.stack = stack
        self.on_disk = on_disk
        self.state_root = state_root
        self._cache: dict[str, Provider] = {}
        self._loaded: Loaded | None = None
        if on_disk is not None:
            self._loaded = self.ref(self.providers[0]).load()  # a broken compose file stops here

    @property
    def root(self) -> Path:
        from launchdeck.paths import state_dir

        return self.state_root or state_dir()

    @property
    def project_name(self) -> str | None:
        """The name of the project on disk, if the portal has one."""
        return self._loaded.project.name if self._loaded else None

    def provider(self, name: str) -> Provider:
        """One provider per name for the portal's life, so each keeps its connection."""
        if name not in self._cache:
            from launchdeck.providers import create

            self._cache[name] = create(name)
        return self._cache[name]

    def ref(self, provider: str) -> ProjectRef:
        """The project on disk, on ``provider``, as the tools take it."""
        if self.on_disk is None:
            raise UsageError("the portal was started without a project directory",
                             hint="Start it with the project's directory to plan and redeploy.")
        d = self.on_disk
        return ProjectRef(working_directory=d.working_directory, compose_files=d.compose_files,
                          project_name=d.project_name, profiles=d.profiles, provider=provider,
                          stack=self.stack)

    def targets(self) -> list[Target]:
        """The project on disk on each chosen provider first, then every recorded target."""
        out: dict[str, Target] = {}
        times = {(p, project, stack): at for p in self.providers
                 for project, stack, at in recorded(p, self.root)}
        if self.project_name is not None:
            for p in self.providers:
                t = Target(provider=p, project=self.project_name, stack=self.stack, on_disk=True,
                           recorded_at=times.get((p, self.project_name, self.stack)))
                out[t.key] = t
        for (p, project, stack), at in times.items():
            t = Target(provider=p, project=project, stack=stack, recorded_at=at)
            out.setdefault(t.key, t)
        return list(out.values())

    def find(self, provider: str, project: str, stack: str) -> Target:
        """The known target so named; a LaunchdeckError for any other (the page acts on
        nothing the portal did not list)."""
        for target in self.targets():
            if (target.provider, target.project, target.stack) == (provider, project, stack):
                return target
        raise UnknownTarget(f"{provider}/{project}/{stack}")

    def reload(self) -> Loaded:
        """The project on disk as it is now (for a plan or a redeploy)."""
        self._loaded = self.ref(self.providers[0]).load()
        return self._loaded

    @property
    def loaded(self) -> Loaded | None:
        return self._loaded


class UnknownTarget(LaunchdeckError):
    def __init__(self, key: str) -> None:
        super().__init__(f"the portal knows no deployment {key}",
                         hint="Pick one of the deployments the page lists.")
