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
        ("ghcr.io/acme/api:1", True),
        ("quay.io/acme/api", True),
        ("public.ecr.aws/nginx/nginx", True),
        ("nginx:1.27", False),
        ("acme/api", False),
        ("docker.io/acme/api", False),
        ("us-central1-docker.pkg.dev/p/r/api:1", False),
        ("gcr.io/p/api", False),
    ],
)
def test_images_from_registries_cloud_run_cannot_pull_are_errors(project, image: str, refused: bool) -> None:
    """Only Artifact Registry, Container Registry and Docker Hub images pass."""
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


def test_a_service_without_ports_is_told_it_must_listen(project) -> None:
    """A worker with no port would fail Cloud Run's startup check: the finding says what to do."""
    found = _findings(project, "  worker:\n    image: nginx\n")
    assert [f.severity for f in found] == [Severity.WARNING]
    assert "$PORT" in found[0].message and "expose" in found[0].fix
