"""Everything about a project that AWS would refuse, found before anything is created.

A deploy that fails on its fifth resource leaves four behind and the user with a puzzle;
these are the refusals that can be known from the project and its config values alone:
names that clash once made valid for AWS, and what RDS and ElastiCache refuse of a managed
store (master user, database name, password, engine version). ``findings`` is pure and
returns them as validation findings, each with its fix; the engine's preflight refuses a
deploy with all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from launchdeck.compose.model import Project, path_label
from launchdeck.compose.validate import Finding, Severity
from launchdeck.providers.aws import names, stores
from launchdeck.providers.aws.render import container_ports

Where = Callable[[tuple[Any, ...]], tuple[str, int]]
"""A compose path -> (file, line), as ``Loaded.where`` answers; without one, no line is given."""


def findings(project: Project, stack: str, config: Mapping[str, str],
             where: Where | None = None) -> list[Finding]:
    """Every refusal AWS would give this project, as error findings with their fixes."""
    locate = where or (lambda path: (project.compose_files[0] if project.compose_files else "", 0))

    def finding(service: str | None, path: tuple[Any, ...], message: str, fix: str) -> Finding:
        file, line = locate(path)
        return Finding(severity=Severity.ERROR, service=service, field=path_label(path), file=file,
                       line=line, message=message, fix=fix)

    out: list[Finding] = []
    containers = [n for n, s in project.services.items() if not s.managed_store]
    ports = {n: container_ports(project.services[n]) for n in containers}
    for problem in names.problems(project.name, stack, list(project.services), ports):
        out.append(finding(problem.service, ("services", problem.service) if problem.service else (),
                           problem.message, problem.fix))
    for service in project.services.values():
        if service.managed_store:
            for problem in stores.problems(service, config):
                path = ("services", service.name, *problem.field.split(".", 1))
                out.append(finding(service.name, path, problem.message, problem.fix))
    return out

