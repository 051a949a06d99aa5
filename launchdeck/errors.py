"""The errors a user can cause, each with a message that says what to do.

Front ends (CLI, MCP) show the message and hint, never a traceback. A hint is plain words;
what launchdeck itself offers as a next step is an ``Action`` (set this config value, look
at ps), which each front end words its own way: a command line for people, a tool call
for an agent. The tree:

    LaunchdeckError            anything a user can fix; has a ``hint``
    ├── ComposeError           the compose project cannot be loaded (file:line problems)
    ├── UsageError             a bad option or argument given to a command
    ├── DeployRefused          validation or the target's check found errors
    ├── ConfigMissing          the project reads config values that are not set
    ├── UnknownService         a service name the project does not have
    ├── DependencyCycle        depends_on forms a loop (engine/dag.py)
    ├── UnknownTarget          the portal was asked for a target it does not show (portal/)
    ├── ProgramError           a Pulumi program's project cannot deploy (pulumi/errors.py)
    ├── DeploymentFailed       a Pulumi deployment ended with failed services (pulumi/errors.py)
    ├── BuildError             an image cannot be built (``service``)
    │   └── BuildFailed        the local Docker Engine's build failed (providers/local/)
    └── ProviderError          the target refused or failed (``provider``, ``service``)
        ├── EngineUnavailable  no Docker Engine / cloud API answers
        ├── AwsError           an AWS API refusal, with its error code (providers/aws/)
        ├── WaiterFailed       an AWS waiter reached a failure state (providers/aws/wait.py)
        └── GcpError           a Google API refusal, with its status and reason (providers/gcp/)

Errors inside a parser (InterpolationError, EnvFileError) never leave compose/: the loader
turns them into a ComposeError at the line they came from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Action:
    """A next step launchdeck offers: an operation (deploy, plan, ps, logs, debug, destroy,
    config_set, config_list, config_delete, check) and its arguments (name, service,
    provider, stack …). Front ends word it; nothing below them does."""

    operation: str
    args: Mapping[str, str | bool] = field(default_factory=dict)


class LaunchdeckError(Exception):
    """Base of every error a user can cause and fix."""

    def __init__(self, message: str, *, hint: str = "", actions: Sequence[Action] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.actions = tuple(actions)

    def __str__(self) -> str:
        return f"{self.message}\n{self.hint}" if self.hint else self.message


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a compose file, located as precisely as we can."""

    message: str
    file: str = ""
    line: int = 0
    path: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        parts = [p for p in (where, self.path) if p]
        return ": ".join([*parts, self.message])


class ComposeError(LaunchdeckError):
    """The compose project could not be loaded; ``problems`` lists every cause found."""

    def __init__(self, problems: list[Problem] | Problem, *, hint: str = "") -> None:
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__("\n".join(str(p) for p in self.problems), hint=hint)


class UsageError(LaunchdeckError):
    """A command was called with options that cannot work together or do not exist."""


class DeployRefused(LaunchdeckError):
    """Validation found errors; ``findings`` holds every finding (errors and warnings), as
    compose.validate makes them."""

    def __init__(self, message: str, findings: Sequence[Any], *, hint: str = "",
                 actions: Sequence[Action] = ()) -> None:
        super().__init__(message, hint=hint, actions=actions)
        self.findings = list(findings)


class ConfigMissing(LaunchdeckError):
    """Config values the project reads are not set; ``names`` lists every one."""

    def __init__(self, names: list[str], *, provider: str, stack: str) -> None:
        self.names = names
        super().__init__(
            f"config not set: {', '.join(names)}",
            hint="Set each (or have a strong value generated), then deploy again.",
            actions=[Action("config_set", {"name": name, "provider": provider, "stack": stack})
                     for name in names])


class UnknownService(LaunchdeckError):
    def __init__(self, name: str, known: list[str]) -> None:
        from launchdeck.compose.source import shorten

        super().__init__(f"no service {shorten(name, 60)!r} in the project",
                         hint=f"Services: {', '.join(known) or '(none)'}.")


class BuildError(LaunchdeckError):
    """A service's image cannot be built: its context, its Dockerfile or a step failed."""

    def __init__(self, message: str, *, service: str, hint: str = "",
                 actions: Sequence[Action] = ()) -> None:
        super().__init__(message, hint=hint, actions=actions)
        self.service = service


class ProviderError(LaunchdeckError):
    """The deployment target refused or failed an operation."""

    def __init__(self, message: str, *, provider: str, service: str | None = None,
                 hint: str = "", actions: Sequence[Action] = ()) -> None:
        super().__init__(message, hint=hint, actions=actions)
        self.provider = provider
        self.service = service


class EngineUnavailable(ProviderError):
    """Nothing answers where the provider's API should be."""
