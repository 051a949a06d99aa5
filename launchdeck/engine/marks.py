"""The names a (project, stack) gives what it makes in a cloud, apart from every other pair's.

Clouds name things by joining parts with dashes, and project and stack names may hold dashes
themselves: project ``a-b`` stack ``c`` and project ``a`` stack ``b-c`` join alike. A stack
deployed for the first time whose pair does not say where each part ends (``plain`` is false)
gets a *mark* after the two, six hex digits of sha256 of ``project NUL stack``; a stack deployed
before marks existed keeps its unmarked names, as each provider finds them (names are never
changed under a deployed stack). Each provider's ``Names`` subclasses ``StackNames`` and hands
out its cloud's names from ``project``, ``stack`` and ``mark``; its module says why no two
pairs meet under its cloud's rules.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Self

from launchdeck.errors import ProviderError

MARK = 6
"""Hex digits of (project, stack) in the names of a stack whose pair is not plain."""


def foreign(what: str, name: str, owner: tuple[str, str] | None, project: str, stack: str, *,
            provider: str) -> ProviderError:
    """The error of a ``what`` called ``name``, found by the name a deploy gives it, that is
    ``owner``'s (project, stack), or not launchdeck's (None), rather than this stack's: nothing is
    adopted or written into it."""
    whose = f"launchdeck's {owner[0]} ({owner[1]})" if owner else "not made by launchdeck"
    return ProviderError(f"the {what} {name} exists but is {whose}, not {project} ({stack})",
                         provider=provider, hint=f"Delete or rename that {what}, or deploy this "
                         "project under another project or stack name.")


@dataclass(frozen=True)
class StackNames:
    project: str
    stack: str
    mark: str = ""
    """Six hex digits that set the stack's names apart, or "" (a plain pair, or a stack
    deployed before marks)."""

    @staticmethod
    def plain(project: str, stack: str) -> bool:
        """Whether joining ``project`` and ``stack`` with a dash says where each ends."""
        return "-" not in project and "-" not in stack

    @classmethod
    def fresh(cls, project: str, stack: str) -> Self:
        """The names a stack deployed for the first time gets."""
        if cls.plain(project, stack):
            return cls(project, stack)
        return cls(project, stack, hashlib.sha256(f"{project}\0{stack}".encode()).hexdigest()[:MARK])

    @classmethod
    def every(cls, project: str, stack: str) -> list[Self]:
        """The names a stack may have: a first deploy's now, then those of a stack deployed
        before marks, if they differ (what a teardown looks for by name, leaving neither)."""
        fresh, earlier = cls.fresh(project, stack), cls(project, stack)
        return [fresh] if fresh == earlier else [fresh, earlier]
