"""How often a deploy asks GCP the same thing: reads shared by the services that need them, and
none of an API the deploy itself just turned on."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import anyio
import pytest

from launchdeck.providers.gcp import names
from launchdeck.providers.gcp.api import Gcp
from launchdeck.providers.gcp.provider import GcpProvider
from launchdeck.tools.project import ProjectRef
from testkit.gcp import FakeGcp
from tests.providers.gcp.conftest import LOCATION
from tests.providers.gcp.test_deploy import _deploy

SERVICES = 5


@pytest.fixture
def many(tmp_path: Path, provider: GcpProvider) -> ProjectRef:
    """SERVICES image services that all read one config value."""
    lines = ["name: many", "services:"]
    for i in range(SERVICES):
        lines.append(f"  s{i}:\n    image: nginx:1.27\n    ports: [{{target: 80, mode: ingress}}]\n"
                     "    environment: [API_KEY]")
    (tmp_path / "compose.yaml").write_text("\n".join(lines) + "\n")
    anyio.run(provider.config_store("many", "dev").set, "API_KEY", "key-1")
    return ProjectRef(working_directory=str(tmp_path), provider="gcp", stack="dev")


def _reads(fake: FakeGcp, suffix: str) -> int:
    return sum(1 for e in fake.requests()
               if e["method"] == "GET" and e["path"].split("?")[0].endswith(suffix))


def test_services_sharing_a_secret_read_its_versions_and_policy_once(
        provider: GcpProvider, many: ProjectRef, fake: FakeGcp) -> None:
    """Every service reads API_KEY: its versions are listed once for the revisions (besides
    preflight's read of its value) and its policy read once, when prepare grants it."""
    fake.clear_requests()
    result, _ = _deploy(provider, many)
    assert result.ok, [(s.name, s.message) for s in result.services]
    secret = names.secret_id("many", "dev", "API_KEY")
    assert _reads(fake, f"/secrets/{secret}/versions") == 2
    assert _reads(fake, f"/secrets/{secret}:getIamPolicy") == 1


def test_services_rolling_out_together_share_one_list_a_poll(
        provider: GcpProvider, many: ProjectRef, fake: FakeGcp) -> None:
    """While the services roll out at once, each poll lists the region's services once for all of
    them; a service is read on its own when the list shows its rollout ended (or it is the last
    one left)."""
    fake.knobs.new_project = False  # no grant lags: each service rolls out once
    fake.clear_requests()
    result, _ = _deploy(provider, many)
    assert result.ok, [(s.name, s.message) for s in result.services]
    gets = Counter(e["path"].split("?")[0].rsplit("/", 1)[-1] for e in fake.requests()
                   if e["method"] == "GET" and "/services/" in e["path"] and e["api"] == "run")
    assert set(gets) == {names.Names("many", "dev").service(f"s{i}") for i in range(SERVICES)}
    # a read each of a service the fake finishes on its second poll would be 2 * SERVICES
    assert sum(gets.values()) < 2 * SERVICES, gets
    assert _reads(fake, f"{LOCATION}/services") >= 2  # observe's, then the rollouts'


def test_a_first_deploy_does_not_read_the_apis_it_turned_on(
        provider: GcpProvider, many: ProjectRef, fake: FakeGcp, gcp: Gcp) -> None:
    """Cloud Run was off until this deploy turned it on, so it holds nothing of the stack: the
    deploy does not wait out its propagation to list the services there before making them."""
    fake.clear_requests()
    result, _ = _deploy(provider, many)
    assert result.ok, [(s.name, s.message) for s in result.services]
    log = [e for e in fake.requests() if e["api"] == "run"]
    first = next(i for i, e in enumerate(log) if e["method"] != "GET")
    assert log[:first] == [], [e["path"] for e in log[:first]]
    assert "run.googleapis.com" in gcp.enabled_apis
