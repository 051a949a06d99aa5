"""The arguments every operation takes to find a project and its target.

The target comes from, in order of strength: flags, the environment, the stack's file
(``.launchdeck/<stack>``), the defaults. The provider is made once per reference.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from launchdeck.identity import DEFAULT_STACK, check_provider, check_stack

if TYPE_CHECKING:
    from launchdeck.compose.load import Loaded
    from launchdeck.compose.target import Description
    from launchdeck.engine.results import Target
    from launchdeck.engine.seams import Provider
    from launchdeck.stacks import Settings


@dataclass(frozen=True)
class ProjectRef:
    """Where the compose project is, and which (provider, stack) to act on."""

    working_directory: str = "."
    compose_files: tuple[str, ...] = ()
    project_name: str | None = None
    profiles: tuple[str, ...] = ()
    provider: str | None = None
    """Given by the caller (a flag); None: the environment, the stack's file, else the
    registry's default."""
    stack: str = field(default_factory=lambda: os.environ.get("LAUNCHDECK_STACK", DEFAULT_STACK))
    region: str | None = None
    profile: str | None = None
    """Credentials profile, for a provider that takes one (else its variable, else the
    stack's)."""
    allow_new_account: bool = False
    mode: str | None = None
    """The stack's mode given by the caller (a deploy records it in the stack's file); None:
    the file's, else affordable."""

    def load(self) -> Loaded:
        from launchdeck.compose.load import load

        return load(self.compose_files, cwd=self.working_directory,
                    project_name=self.project_name, profiles=self.profiles,
                    stack=check_stack(self.stack))

    @cached_property
    def settings(self) -> Settings:
        """The provider, region and profile in force, and what overrode the stack's file."""
        from launchdeck.stacks import resolve

        return resolve(self.working_directory, check_stack(self.stack), provider=self.provider,
                       region=self.region, profile=self.profile, mode=self.mode)

    @property
    def provider_name(self) -> str:
        return check_provider(self.settings.provider)

    @property
    def description(self) -> Description:
        """How front ends speak of the provider in force."""
        from launchdeck.providers import description

        return description(self.provider_name)

    def target(self) -> Provider:
        """The provider, made once for this reference."""
        return self._provider

    @cached_property
    def _provider(self) -> Provider:
        from launchdeck.providers import create

        settings = self.settings
        return create(self.provider_name, region=settings.region, profile=settings.profile)

    async def identity(self, *, pin: bool = False) -> Target:
        """Who and where the provider acts as. With ``pin`` (deploy, destroy), credentials that
        reach another account than the stack's file records are refused, and a stack's first
        deploy records its account."""
        from launchdeck.stacks import check_account, record_account

        found = await self.target().identity()
        if pin and self.description.account is not None:
            if not self.allow_new_account:
                check_account(self.settings.stack, found.account)
            record_account(self.working_directory, self.settings.stack, found.account)
        return found

    async def line(self, *, pin: bool = False) -> str:
        """The target as one line (``identity`` described in its provider's words)."""
        return describe(await self.identity(pin=pin))

    def notes(self) -> tuple[str, ...]:
        """Where a flag or the environment overrode the stack's file."""
        return self.settings.notes


def describe(target: Target) -> str:
    """``target`` as one line, in the words of its provider's description."""
    from launchdeck.providers import description

    return target.describe(description(target.provider))
