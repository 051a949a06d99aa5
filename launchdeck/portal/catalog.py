"""Which deployment targets the portal shows: every deployment record a provider can list, and
the project on disk the portal was started with.

The engine's ``Records`` read and write the record of one (project, stack) on a target's blobs;
a provider whose description says it lists its records is asked for them
(``tools.deployment.recorded``). Other providers list nothing yet; their project on disk is
still shown.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from launchdeck.errors import LaunchdeckError, UsageError
from launchdeck.tools.project import ProjectRef

if TYPE_CHECKING:
    from launchdeck.compose.load import Loaded
    from launchdeck.engine.seams import Provider


LIST_TTL = 3.0
"""Seconds a provider's list of histories is kept before it is listed again."""


def listed(provider: str) -> bool:
    """The portal can list the deployment records of ``provider``."""
    from launchdeck.providers import description

    return description(provider).lists_records


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


class Catalog:
    """The targets of the chosen providers, and the project on disk (loaded once, to name it)."""

    def __init__(self, providers: Sequence[str], stack: str, on_disk: OnDisk | None = None) -> None:
        self.providers = tuple(providers)
        self.stack = stack
        self.on_disk = on_disk
        self._made: dict[str, Provider] = {}
        self._refs: dict[str, ProjectRef] = {}
        self._loaded: Loaded | None = None
        self.problems: dict[str, str] = {}
        """Why a provider's histories could not be listed, by provider (from the last listing)."""
        self._listed: dict[str, tuple[float, list[tuple[str, str]]]] = {}
        if on_disk is not None:  # a broken compose file, or stack file, stops here
            self._loaded = self.ref(self.providers[0]).load()

    @property
    def project_name(self) -> str | None:
        """The name of the project on disk, if the portal has one."""
        return self._loaded.project.name if self._loaded else None

    def provider(self, name: str) -> Provider:
        """One provider per name, so each keeps its connection: with a project on disk, the
        one its plans and redeploys use (in its stack file's region and profile)."""
        if self.on_disk is not None:
            return self.ref(name).target()
        if name not in self._made:
            from launchdeck.providers import create

            self._made[name] = create(name)
        return self._made[name]

    def ref(self, provider: str) -> ProjectRef:
        """The project on disk, on ``provider``, as the tools take it: one per provider for the
        portal's life, made again only when the stack's file changes (a region edited, an
        account recorded), so every action sees the file as it is now."""
        from launchdeck.stacks import read

        if self.on_disk is None:
            raise UsageError("the portal was started without a project directory",
                             hint="Start it with the project's directory to plan and redeploy.")
        d = self.on_disk
        now = read(d.working_directory, self.stack)  # a UsageError if it cannot be read
        made = self._refs.get(provider)
        if made is None or made.settings.stack != now:
            made = self._refs[provider] = ProjectRef(
                working_directory=d.working_directory, compose_files=d.compose_files,
                project_name=d.project_name, profiles=d.profiles, provider=provider,
                stack=self.stack)
        return made

    def recorded(self, provider: str) -> list[tuple[str, str, datetime]]:
        """(project, stack, written at) of each record ``provider`` keeps, sorted; empty for a
        provider whose records cannot be listed."""
        from launchdeck.tools.deployment import recorded

        if not listed(provider):
            return []
        return recorded(self.provider(provider))

    async def histories(self, provider: str) -> list[tuple[str, str]]:
        """(project, stack) of each history ``provider`` keeps (listed again after LIST_TTL:
        every open page asks each second); empty (and the reason kept in ``problems``) when its
        blobs cannot be read."""
        from launchdeck.tools.deployment import histories

        listed = self._listed.get(provider)
        if listed is not None and time.monotonic() - listed[0] < LIST_TTL:
            return listed[1]
        try:
            found = await histories(self.provider(provider))
        except LaunchdeckError as exc:
            self.problems[provider] = str(exc)
            found = []
        else:
            self.problems.pop(provider, None)
        self._listed[provider] = (time.monotonic(), found)
        return found

    async def targets(self) -> list[Target]:
        """The project on disk on each chosen provider first, then every target with a history
        or a record."""
        out: dict[str, Target] = {}
        times: dict[tuple[str, str, str], datetime | None] = {}
        for p in self.providers:
            for project, stack in await self.histories(p):
                times[(p, project, stack)] = None
            for project, stack, at in self.recorded(p):
                times[(p, project, stack)] = at
        if self.project_name is not None:
            for p in self.providers:
                t = Target(provider=p, project=self.project_name, stack=self.stack, on_disk=True,
                           recorded_at=times.get((p, self.project_name, self.stack)))
                out[t.key] = t
        for (p, project, stack), at in sorted(times.items(), key=lambda item: item[0]):
            t = Target(provider=p, project=project, stack=stack, recorded_at=at)
            out.setdefault(t.key, t)
        return list(out.values())

    async def find(self, provider: str, project: str, stack: str) -> Target:
        """The known target so named; a LaunchdeckError for any other (the page acts on
        nothing the portal did not list)."""
        for target in await self.targets():
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
