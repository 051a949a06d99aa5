"""What a cloud refuses is found before deploy, as findings located in the compose file."""

from __future__ import annotations

import pytest

from launchdeck.compose.load import load
from launchdeck.providers.aws.provider import AwsProvider
from launchdeck.providers.gcp.provider import GcpProvider

ONE_OFF = """\
name: shop
services:
  migrate:
    image: busybox:1.36
    command: ["true"]
  web:
    image: nginx
    ports: ["8080:80"]
    depends_on:
      migrate:
        condition: service_completed_successfully
"""


@pytest.mark.parametrize("provider", [AwsProvider(), GcpProvider()], ids=["aws", "gcp"])
def test_a_service_that_waits_for_another_to_complete_is_refused_on_the_clouds(project, provider) -> None:
    """service_completed_successfully is a located error on a cloud, never a silent "healthy"."""
    loaded = load(cwd=str(project({"compose.yaml": ONE_OFF})), os_environ={})
    found = [f for f in provider.check(loaded, "dev", {}) if f.field == "services.web.depends_on.migrate"]
    assert len(found) == 1 and found[0].severity == "error"
    assert found[0].line == 10 and found[0].file.endswith("compose.yaml")
    assert "waits for migrate to complete" in found[0].message and "service_started" in found[0].fix


def test_gcp_refusals_are_findings_with_their_place(project) -> None:
    """A PostgreSQL Cloud SQL does not offer, a store without a password and a PORT Cloud Run
    sets itself are each an error finding on the line that says it."""
    loaded = load(cwd=str(project({"compose.yaml": """\
name: shop
services:
  web:
    image: nginx
    ports: [{target: 80, mode: ingress}]
    environment:
      PORT: "3000"
  db:
    image: postgres:8
    x-defang-postgres: true
"""})), os_environ={})
    found = {(f.field, f.line): f.message for f in GcpProvider().check(loaded, "dev", {})}
    assert found == {
        ("services.web.environment.PORT", 7): "PORT is set by Cloud Run to the container port (80)",
        ("services.db.image", 9): "Cloud SQL has no PostgreSQL 8",
        ("services.db.environment", 8): "x-defang-postgres needs a password on gcp"}
