"""What Cloud Run refuses, found by `check` before a deploy, each finding located in the compose file."""

from __future__ import annotations

import pytest

from launchdeck.compose.load import load
from launchdeck.compose.validate import Severity
from launchdeck.providers.gcp.provider import GcpProvider


def _findings(project, body: str):
    root = project({"compose.yaml": "name: shop\nservices:\n" + body})
    return GcpProvider(poll=0).check(load(cwd=root, os_environ={}), "dev", {})


@pytest.mark.parametrize(
    ("image", "refused"),
    [
        ("ghcr.io/acme/api:1", False),
        ("quay.io/acme/api", False),
        ("public.ecr.aws/nginx/nginx", False),
        ("registry.k8s.io/pause:3.9", False),
        ("nginx:1.27", False),
        ("acme/api", False),
        ("docker.io/acme/api", False),
        ("us-central1-docker.pkg.dev/p/r/api:1", False),
        ("gcr.io/p/api", False),
        ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/api:1", True),
        ("localhost:5000/api", True),
    ],
)
def test_only_images_no_remote_repository_can_pull_are_errors(project, image: str, refused: bool) -> None:
    """Artifact Registry, Container Registry and Docker Hub images are pulled by Cloud Run, other
    public registries' through a remote repository; one that wants credentials or that Google
    cannot reach is an error."""
    found = [f for f in _findings(project, f"  api:\n    image: {image}\n    ports: ['80:80']\n")
             if f.field.endswith("image")]
    assert bool(found) is refused
    if refused:
        assert found[0].severity is Severity.ERROR and found[0].line == 4
        assert "Artifact Registry" in found[0].fix


def test_probe_settings_past_cloud_runs_bounds_are_warned(project) -> None:
    """A 5-minute interval and a timeout longer than it are named; the deploy clamps them."""
    found = _findings(project, "  api:\n    image: nginx\n    ports: ['80:80']\n    healthcheck:\n"
                               "      test: ['CMD', 'true']\n      interval: 5m\n      timeout: 6m\n")
    fields = {f.field for f in found if f.severity is Severity.WARNING}
    assert {"services.api.healthcheck.interval", "services.api.healthcheck.timeout"} <= fields


def test_a_worker_without_ports_is_not_told_to_listen(project) -> None:
    """A service with no port runs as a Cloud Run worker pool: nothing to find."""
    assert _findings(project, "  worker:\n    image: nginx\n") == []


def test_what_a_worker_pool_does_not_do_is_warned(project) -> None:
    """A worker's healthcheck (a worker pool probes nothing) and autoscaling (a worker pool has a
    fixed count) are named where they are written."""
    found = _findings(project, "  worker:\n    image: nginx\n    healthcheck:\n      test: ['CMD', 'true']\n"
                               "      interval: 5m\n    x-defang-autoscaling: true\n")
    assert {(f.field, f.severity) for f in found} == {
        ("services.worker.healthcheck", Severity.WARNING), ("services.worker", Severity.WARNING)}
    assert any("does not autoscale" in f.message for f in found)
