"""Everything about a project that Google Cloud would refuse, found before anything is created."""

from __future__ import annotations

from collections.abc import Mapping

from launchdeck.compose.model import Project, Service
from launchdeck.compose.validate import Severity
from launchdeck.engine import modes
from launchdeck.engine.refusal import Problem, one_off
from launchdeck.providers.gcp import registries, render, stores

STARTUP_MAX = 240
"""Bounds of a startup probe's initial delay, period and timeout, in seconds
(https://cloud.google.com/run/docs/configuring/healthchecks)."""


def problems(project: Project, config: Mapping[str, str]) -> list[Problem]:
    """What Cloud Run, Cloud SQL and Memorystore refuse of the project and its config values."""
    out: list[Problem] = []
    for service in project.services.values():
        if service.managed_store:
            out += stores.problems(service, config)
        elif service.model_provider is None:
            probes = _worker(service) if render.is_worker(service) else _probes(service)
            out += render.problems(service) + _image(service) + probes
    return out + one_off(project, "Cloud Run", how=(
        "Run the one-off step before deploying (a CI step, or at the start of the service that "
        "needs it), or wait for it with condition: service_started."))


def _image(service: Service) -> list[Problem]:
    """An image Cloud Run cannot pull, nor a remote repository for it (registries.py): one that
    needs credentials or that Google cannot reach."""
    if service.build is not None or not service.image:
        return []
    why = registries.refusal(service.image)
    if why is None:
        return []
    host = registries.registry(service.image)
    return [Problem(service.name, ("services", service.name, "image"),
                    f"Cloud Run cannot pull {service.image}: {host} is {why}; Cloud Run pulls from "
                    "Artifact Registry and Docker Hub, and the remote repository launchdeck makes "
                    "for other registries pulls without credentials",
                    "Copy the image to Artifact Registry in the project (`gcloud artifacts docker "
                    "images copy`, or docker pull, tag and push to REGION-docker.pkg.dev/PROJECT/"
                    "REPOSITORY/...) or to Docker Hub, and name it there; or give the service a build.")]


def _probes(service: Service) -> list[Problem]:
    """Healthcheck settings past what a Cloud Run probe takes (render clamps them; said here)."""
    health = service.healthcheck
    if health is None or health.disabled or not health.test:
        return []
    out = []
    for field, value in (("interval", health.interval), ("timeout", health.timeout),
                         ("start_period", health.start_period)):
        if value is not None and value > STARTUP_MAX:
            out.append(Problem(service.name, ("services", service.name, "healthcheck", field),
                               f"healthcheck {field} {value:g}s is past Cloud Run's probe bound of "
                               f"{STARTUP_MAX}s; {STARTUP_MAX}s is used",
                               f"Set {field} to at most {STARTUP_MAX}s.", Severity.WARNING))
    if health.timeout is not None and health.interval is not None and health.timeout > health.interval:
        out.append(Problem(service.name, ("services", service.name, "healthcheck", "timeout"),
                           "healthcheck timeout is longer than its interval, which Cloud Run refuses; "
                           "the interval is used",
                           "Make the timeout at most the interval.", Severity.WARNING))
    return out


def _worker(service: Service) -> list[Problem]:
    """What a worker (no port: a Cloud Run worker pool) asks that a worker pool does not do:
    probes (Cloud Run probes over HTTP, TCP or gRPC, and a worker listens on nothing) and
    autoscaling ("worker pools ... do not support autoscaling",
    https://cloud.google.com/run/docs/deploy-worker-pools)."""
    out = []
    health = service.healthcheck
    if health is not None and not health.disabled and health.test:
        out.append(Problem(service.name, ("services", service.name, "healthcheck"),
                           f"{service.name} declares no port, so it runs as a Cloud Run worker pool, "
                           "which probes nothing: its healthcheck is not used",
                           "Remove the healthcheck, or give the service the port it serves its "
                           "health on (`expose`) to run it as a Cloud Run service.", Severity.WARNING))
    if service.autoscaling is not None:
        count = render.pool_instances(service, modes.DEFAULT)
        out.append(Problem(service.name, ("services", service.name),
                           f"{service.name} declares no port, so it runs as a Cloud Run worker pool, "
                           f"which does not autoscale: it runs {count} instance(s)",
                           "Set deploy.replicas to the instances it should run, or give it a port "
                           "to run it as a Cloud Run service that scales.", Severity.WARNING))
    return out
