"""The errors a user can cause, each with a message that says what to do.

Front ends (CLI, MCP) show ``str(error)`` and never a traceback. The tree:

    LaunchdeckError            anything a user can fix; has a ``hint``
    ├── ComposeError           the compose project cannot be loaded (file:line problems)
    └── UsageError             a bad option or argument given to a command
"""

from __future__ import annotations

from dataclasses import dataclass


class LaunchdeckError(Exception):
    """Base of every error a user can cause and fix."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

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
