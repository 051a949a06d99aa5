"""The one protocol every deployment target implements, and the values it trades in.

A provider is a folder (local/, aws/, gcp/) with a class that satisfies ``Provider``. It gets
its SDK clients through its constructor and imports its SDK lazily, so that loading
launchdeck (or starting the MCP server) pulls in no cloud SDK.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from launchdeck.compose.model import Project
from launchdeck.engine.events import Sink
from launchdeck.engine.status import DeployResult, LogLine, ServiceStatus


@dataclass(frozen=True, slots=True)
class DeployOptions:
    wait_timeout: float = 300.0
    """Seconds to wait for every service to become healthy."""
    force: bool = False
    """Rebuild images and recreate containers even when nothing changed."""
    network: str = "default"
    """Cloud network: ``default`` (the account's default VPC) or ``dedicated`` (one made for
    the project and stack). The local provider ignores it."""


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


class ConfigStore(Protocol):
    """Secret config values of one (project, stack). Values never leave except to the target."""

    async def set(self, name: str, value: str) -> None: ...

    async def names(self) -> list[str]: ...

    async def delete(self, name: str) -> bool: ...

    async def values(self, names: Sequence[str]) -> dict[str, str]: ...


class Provider(Protocol):
    name: str

    def config_store(self, project: str, stack: str) -> ConfigStore: ...

    async def deploy(self, project: Project, stack: str, config: Mapping[str, str],
                     deployment_id: str, options: DeployOptions, sink: Sink) -> DeployResult: ...

    async def ps(self, project: Project, stack: str) -> list[ServiceStatus]: ...

    async def logs(self, project: str, stack: str, query: LogQuery) -> list[LogLine]: ...

    def follow(self, project: str, stack: str, query: LogQuery) -> AsyncIterator[LogLine]: ...

    async def destroy(self, project: str, stack: str, *, volumes: bool, sink: Sink) -> Teardown: ...


def get_provider(name: str) -> Provider:
    """The provider called ``name``, constructed with its default clients."""
    from launchdeck.errors import UsageError

    if name == "local":
        from launchdeck.providers.local import LocalProvider

        return LocalProvider()
    if name == "aws":
        from launchdeck.providers.aws import AwsProvider

        return AwsProvider()
    if name == "gcp":
        raise UsageError(f"deploying to {name} is not available in this version",
                         hint="Deploy with --provider local; `launchdeck compose config "
                              f"--provider {name}` already checks cloud readiness.")
    raise UsageError(f"unknown provider {name!r}", hint="Use local, aws or gcp.")
