"""Everything about a project that Google Cloud would refuse, found before anything is created."""

from __future__ import annotations

from collections.abc import Mapping

from launchdeck.compose.model import Project, Service
from launchdeck.compose.validate import Severity
from launchdeck.engine.refusal import Problem, one_off
from launchdeck.providers.gcp import render, stores

PULLABLE = ("docker.io", "index.docker.io", "registry-1.docker.io", "gcr.io", "docker.pkg.dev")
"""Registries Cloud Run deploys from: Artifact Registry, Container Registry and Docker Hub
(https://cloud.google.com/run/docs/deploying#images: "Container images stored in Artifact
Registry or Docker Hub"; others, such as ghcr.io or quay.io, are refused with "Expected an
image path like [host/]repo-path[:tag and/or @digest], where host is one of [region.]gcr.io,
[region-]docker.pkg.dev or docker.io")."""
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
            out += render.problems(service) + _image(service) + _probes(service) + _port(service)
    return out + one_off(project, "Cloud Run", how=(
        "Run the one-off step before deploying (a CI step, or at the start of the service that "
        "needs it), or wait for it with condition: service_started."))


def registry(image: str) -> str:
    """The registry host of an image reference (Docker Hub's when it names none)."""
    first = image.split("/", 1)[0]
    if "/" in image and ("." in first or ":" in first or first == "localhost"):
        return first.split(":")[0] if first != "localhost" else first
    return "docker.io"


def pullable(image: str) -> bool:
    host = registry(image)
    return any(host == r or host.endswith(("." + r, "-" + r)) for r in PULLABLE)


def _image(service: Service) -> list[Problem]:
    if service.build is not None or not service.image or pullable(service.image):
        return []
    return [Problem(service.name, ("services", service.name, "image"),
                    f"Cloud Run cannot pull {service.image}: it deploys images from Artifact Registry "
                    f"and Docker Hub only, not {registry(service.image)}",
                    "Copy the image to Artifact Registry (`gcloud artifacts docker images copy`, or "
                    "docker pull, tag and push), or to Docker Hub, and name it there; or give the "
                    "service a build.")]


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


def _port(service: Service) -> list[Problem]:
    if service.ports or service.expose:
        return []
    return [Problem(service.name, ("services", service.name),
                    f"{service.name} declares no port: Cloud Run runs it as a service that must listen "
                    f"on $PORT ({render.DEFAULT_PORT}), or its revision fails to start",
                    f"Make it listen on $PORT and add `expose: [\"{render.DEFAULT_PORT}\"]`; a "
                    "background worker that serves nothing is not a Cloud Run service (run it "
                    "as a Cloud Run worker pool or job outside launchdeck).", Severity.WARNING)]
