"""What a target refuses of a project, found before anything is created, as located findings.

A deploy that fails on its fifth resource leaves four behind and the user with a puzzle. A
provider lists each refusal it can know from the project and its config values alone (a
name, a store's version or password, a variable the platform sets itself) as a ``Problem``
naming the compose path; the engine turns them into findings located in the compose file,
and preflight refuses the deploy with all of them before anything changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from launchdeck.compose.model import Project, path_label
from launchdeck.compose.validate import Finding, Severity

Where = Callable[[tuple[Any, ...]], tuple[str, int]]
"""A compose path -> (file, line), as ``Loaded.where`` answers."""


@dataclass(frozen=True)
class Problem:
    """One thing the target would refuse: where (a compose path), what, and the fix."""

    service: str | None
    path: tuple[Any, ...]
    message: str
    fix: str
    severity: Severity = Severity.ERROR


def findings(project: Project, problems: Iterable[Problem], where: Where | None = None) -> list[Finding]:
    """``problems`` as findings, each located in the compose file (its first file and no line
    when ``where`` cannot say)."""
    locate = where or (lambda path: (project.compose_files[0] if project.compose_files else "", 0))
    out = []
    for problem in problems:
        file, line = locate(problem.path)
        out.append(Finding(severity=problem.severity, service=problem.service,
                           field=path_label(problem.path), file=file, line=line,
                           message=problem.message, fix=problem.fix))
    return out


def one_off(project: Project, target: str, *, how: str) -> list[Problem]:
    """A service others wait on to complete (``service_completed_successfully``), on a target
    that runs only services that stay up."""
    out = []
    for name, service in project.services.items():
        for dep, d in service.depends_on.items():
            if d.condition == "service_completed_successfully":
                out.append(Problem(name, ("services", name, "depends_on", dep),
                                   f"waits for {dep} to complete, and {target} runs only services "
                                   "that stay up", how))
    return out
