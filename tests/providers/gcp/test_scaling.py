"""Replicas that follow the load, and a stack's mode, on Cloud Run, Cloud SQL and Memorystore
(the local GCP)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import anyio
import pytest

from launchdeck.engine import ps
from launchdeck.engine.deploy import deploy, plan, preflight
from launchdeck.engine.destroy import destroy
from launchdeck.engine.events import Recorder
from launchdeck.engine.modes import Mode
from launchdeck.engine.plan import Action
from launchdeck.engine.seams import DeployOptions
from launchdeck.errors import ProviderError
from launchdeck.providers.gcp import names
from launchdeck.providers.gcp.provider import GcpProvider
from launchdeck.tools.project import ProjectRef
from testkit.gcp import FakeGcp
from tests.providers.gcp.conftest import LOCATION


def _deploy(provider: GcpProvider, ref: ProjectRef, mode: Mode = Mode.AFFORDABLE):
    result = anyio.run(partial(deploy, ref.load(), provider, stack=ref.stack, sink=Recorder(),
                               options=DeployOptions(mode=mode)))
    assert result.ok, [(s.name, s.state, s.message) for s in result.services]
    return result


def _plan(provider: GcpProvider, ref: ProjectRef, mode: Mode = Mode.AFFORDABLE):
    async def run():
        ready = await preflight(ref.load(), provider, stack=ref.stack)
        return await plan(ready, options=DeployOptions(mode=mode))
    return {c.service: (c.action, c.reason) for c in anyio.run(run).changes}


def _scaling(fake: FakeGcp, name: str):
    service = fake.api("run").services[f"{LOCATION}/services/{names.Names('shop', 'dev').service(name)}"]
    return service.template.scaling


def _edit(shop: ProjectRef, old: str, new: str) -> None:
    path = Path(shop.working_directory) / "compose.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


BACKEND = "        reservations: {memory: 512M}\n"


def test_autoscaling_sets_cloud_run_instance_bounds(provider, shop, fake) -> None:
    """x-defang-autoscaling without min scales to zero, up to its max; ps shows the range."""
    _edit(shop, BACKEND, BACKEND + "    x-defang-autoscaling: {max: 4}\n")
    _deploy(provider, shop)
    bounds = _scaling(fake, "backend")
    assert (bounds.min_instance_count, bounds.max_instance_count) == (0, 4)
    web = _scaling(fake, "web")
    assert (web.min_instance_count, web.max_instance_count) == (1, 0)  # a fixed count, as before
    found = {s.name: s for s in anyio.run(partial(ps.ps, provider, shop.load().project, "dev"))}
    assert found["backend"].replicas_range == "0-4"
    assert found["web"].replicas_range is None
    assert {a for a, _ in _plan(provider, shop).values()} == {Action.NOOP}


def test_removing_autoscaling_fixes_the_count_again(provider, shop, fake) -> None:
    """Without the extension the service is back to a fixed minimum and no maximum."""
    _edit(shop, BACKEND, BACKEND + "    x-defang-autoscaling: {min: 1, max: 3}\n")
    _deploy(provider, shop)
    bounds = _scaling(fake, "backend")
    assert (bounds.min_instance_count, bounds.max_instance_count) == (1, 3)
    _edit(shop, "    x-defang-autoscaling: {min: 1, max: 3}\n", "")
    again = _deploy(provider, shop)
    assert {c.service: c.action for c in again.changes}["backend"] is Action.UPDATE
    bounds = _scaling(fake, "backend")
    assert (bounds.min_instance_count, bounds.max_instance_count) == (1, 0)


def test_high_availability_makes_regional_and_standard_tier_stores(provider, shop, fake) -> None:
    """high_availability: Cloud SQL REGIONAL with deletion protection, Memorystore STANDARD_HA,
    and at least two instances of every service; compose down still removes it all."""
    from google.cloud.redis_v1 import Instance
    from google.cloud.sqladmin_v1 import SqlAvailabilityType

    _deploy(provider, shop, Mode.HIGH_AVAILABILITY)
    (db,) = fake.api("sqladmin").instances.values()
    assert SqlAvailabilityType(db.settings.availability_type).name == "REGIONAL"
    assert db.settings.deletion_protection_enabled.value is True
    (cache,) = fake.api("redis").instances.values()
    assert Instance.Tier(cache.tier).name == "STANDARD_HA"
    assert _scaling(fake, "web").min_instance_count == 2
    assert _scaling(fake, "backend").min_instance_count == 2
    anyio.run(partial(destroy, provider, "shop", "dev", volumes=True))
    assert not fake.api("sqladmin").instances


def test_switching_mode_patches_cloud_sql_and_refuses_to_lose_redis_data(provider, shop, fake) -> None:
    """affordable -> high_availability: the Memorystore tier cannot change in place, so the plan
    is refused until the store allows downtime; then Cloud SQL is patched to REGIONAL (the same
    instance, an UPDATE) and Redis is made anew."""
    from google.cloud.sqladmin_v1 import SqlAvailabilityType

    _deploy(provider, shop)
    (before,) = fake.api("sqladmin").instances
    with pytest.raises(ProviderError, match="data of this one lost"):
        _plan(provider, shop, Mode.HIGH_AVAILABILITY)
    _edit(shop, "    x-defang-redis: true\n", "    x-defang-redis: {allow-downtime: true}\n")
    planned = _plan(provider, shop, Mode.HIGH_AVAILABILITY)
    assert planned["db"] == (Action.UPDATE, "mode changed")
    assert planned["cache"][0] is Action.UPDATE
    assert planned["web"] == (Action.UPDATE, "mode changed")
    _deploy(provider, shop, Mode.HIGH_AVAILABILITY)
    ((after, db),) = fake.api("sqladmin").instances.items()
    assert after == before
    assert SqlAvailabilityType(db.settings.availability_type).name == "REGIONAL"
    assert {a for a, _ in _plan(provider, shop, Mode.HIGH_AVAILABILITY).values()} == {Action.NOOP}
