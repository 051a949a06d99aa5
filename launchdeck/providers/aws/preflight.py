"""Everything about a project that AWS would refuse, found before anything is created.

A deploy that fails on its fifth resource leaves four behind and the user with a puzzle;
these are the refusals that can be known from the project and its config values alone:
names that clash once made valid for AWS, and what RDS and ElastiCache refuse of a managed
store (master user, database name, password, engine version). ``findings`` is pure and
returns them as validation findings, each with its fix; the engine's preflight refuses a
deploy with all of them.
"""

from __future__ import annotations

from collections.abc import Mapping

from launchdeck.compose.model import Project
from launchdeck.compose.validate import Finding, Severity
from launchdeck.engine.refusal import Problem, Where, one_off
from launchdeck.engine.refusal import findings as located
from launchdeck.providers.aws import names, stores
from launchdeck.providers.aws.render import container_ports


def findings(project: Project, stack: str, config: Mapping[str, str],
             where: Where | None = None) -> list[Finding]:
    """Every refusal AWS would give this project, as error findings with their fixes."""
    out: list[Problem] = []
    containers = [n for n, s in project.services.items() if not s.managed_store]
    ports = {n: container_ports(project.services[n]) for n in containers}
    clusters = [n for n, s in project.services.items() if s.managed_store == "mongodb"]
    for problem in names.problems(names.Names.fresh(project.name, stack), list(project.services), ports,
                                  clusters):
        out.append(Problem(problem.service, ("services", problem.service) if problem.service else (),
                           problem.message, problem.fix))
    for service in project.services.values():
        if service.managed_store:
            for problem in stores.problems(service, config):
                path = ("services", service.name, *problem.field.split(".", 1))
                out.append(Problem(service.name, path, problem.message, problem.fix,
                                   Severity.WARNING if problem.warning else Severity.ERROR))
    for problem in stores.documentdb_clients(project):
        out.append(Problem(problem.service, ("services", problem.service, *problem.field.split(".", 1)),
                           problem.message, problem.fix,
                           Severity.WARNING if problem.warning else Severity.ERROR))
    for service in project.services.values():
        if service.build is not None and service.build.dockerfile_inline is not None:
            out.append(Problem(service.name, ("services", service.name, "build", "dockerfile_inline"),
                               "CodeBuild builds from a Dockerfile in the context; dockerfile_inline "
                               "is not sent there", "Write it to a file in the build context and "
                               "name it with build.dockerfile."))
    out += one_off(project, "ECS", how=(
        "Run the one-off step before deploying (a CI step, or at the start of the service that "
        "needs it), or wait for it with condition: service_started."))
    return located(project, out, where)
