"""The arguments every operation takes to find a project and its target."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from launchdeck.identity import DEFAULT_STACK, check_provider, check_stack

if TYPE_CHECKING:
    from launchdeck.compose.load import Loaded
    from launchdeck.providers.base import Provider


@dataclass(frozen=True)
class ProjectRef:
    """Where the compose project is, and which (provider, stack) to act on."""

    working_directory: str = "."
    compose_files: tuple[str, ...] = ()
    project_name: str | None = None
    profiles: tuple[str, ...] = ()
    provider: str = field(default_factory=lambda: os.environ.get("LAUNCHDECK_PROVIDER", "local"))
    stack: str = field(default_factory=lambda: os.environ.get("LAUNCHDECK_STACK", DEFAULT_STACK))

    def load(self) -> Loaded:
        from launchdeck.compose.load import load

        return load(self.compose_files, cwd=self.working_directory,
                    project_name=self.project_name, profiles=self.profiles,
                    stack=check_stack(self.stack))

    def target(self) -> Provider:
        from launchdeck.providers import create

        return create(check_provider(self.provider))
