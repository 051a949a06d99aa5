"""Everything about a project that Google Cloud would refuse, found before anything is created."""

from __future__ import annotations

from collections.abc import Mapping

from launchdeck.compose.model import Project
from launchdeck.engine.refusal import Problem, one_off
from launchdeck.providers.gcp import render, stores


def problems(project: Project, config: Mapping[str, str]) -> list[Problem]:
    """What Cloud Run, Cloud SQL and Memorystore refuse of the project and its config values."""
    out: list[Problem] = []
    for service in project.services.values():
        if service.managed_store:
            out += stores.problems(service, config)
        elif service.model_provider is None:
            out += render.problems(service)
    return out + one_off(project, "Cloud Run", how=(
        "Run the one-off step before deploying (a CI step, or at the start of the service that "
        "needs it), or wait for it with condition: service_started."))
