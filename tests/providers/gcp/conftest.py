"""The GCP tests' fixtures: the local fake on a free loopback port, the door pointed at it, the
provider on that door, and the realistic project ready to deploy."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import pytest

from launchdeck.providers.gcp.api import Gcp
from launchdeck.providers.gcp.provider import GcpProvider
from launchdeck.tools.project import ProjectRef
from testkit.gcp import FakeGcp
from tests.providers.aws.conftest import SECRETS, SHOP

PROJECT = "shop-project"
LOCATION = f"projects/{PROJECT}/locations/us-central1"


@pytest.fixture(scope="session")
def fake_server():
    with FakeGcp() as server:
        _SERVERS[server.url] = server
        yield server


@pytest.fixture
def fake(fake_server: FakeGcp) -> FakeGcp:
    """A fake with no resources, no logged requests and default knobs."""
    fake_server.reset()
    return fake_server


@pytest.fixture
def enabled(fake: FakeGcp) -> FakeGcp:
    """The fake with every API already on in the project: for tests of one API's behaviour,
    which are not about a new project's first steps."""
    fake.enable(PROJECT)
    return fake


@pytest.fixture
def old_project(fake: FakeGcp) -> FakeGcp:
    """The fake as an old, hand-tuned project: every API on, nothing lagging, no organization
    policy. For tests of one API's shapes; a new project's ways have tests of their own."""
    fake.knobs.new_project = False
    return fake


@pytest.fixture
def gcp(fake: FakeGcp) -> Gcp:
    """The provider's door, reaching the fake through LAUNCHDECK_GCP_ENDPOINT; polls and backoff at once."""
    return Gcp(environ={**fake.env, "GCP_PROJECT_ID": PROJECT}, poll_interval=0, backoff=0.001)


def enable(gcp: Gcp, *services: str) -> None:
    """Turn APIs on in the fake at once, as a user would have before (every API when none named)."""
    _fake_of(gcp).enable(gcp.project, *services)


def _fake_of(gcp: Gcp) -> FakeGcp:
    return _SERVERS[gcp.setting("LAUNCHDECK_GCP_ENDPOINT") or ""]


_SERVERS: dict[str, FakeGcp] = {}


def go(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run one coroutine function to its end, as the CLI enters the async core."""
    return anyio.run(partial(function, *args, **kwargs))


@pytest.fixture
def provider(gcp: Gcp) -> GcpProvider:
    """The provider on the door to the fake; waits poll without pausing."""
    return GcpProvider(gcp, poll=0)


async def zone(gcp: Gcp, dns_name: str = "example.com.") -> None:
    """A public Cloud DNS zone, as the user would have made for their domain (with Cloud DNS,
    which they enabled to make it)."""
    enable(gcp, "dns.googleapis.com")
    managed = gcp.client("dns").zone(dns_name.rstrip(".").replace(".", "-"), dns_name)
    await gcp.run(lambda: managed.create, api="dns", what="make a zone")


@pytest.fixture
def shop(tmp_path: Path, provider: GcpProvider, gcp: Gcp) -> ProjectRef:
    """The AWS tests' realistic project, copied to a fresh folder, with its config in Secret Manager and
    a DNS zone for its domain."""
    folder = tmp_path / "shop"
    shutil.copytree(SHOP, folder)

    async def setup() -> None:
        await zone(gcp)
        store = provider.config_store("shop", "dev")
        for name, value in SECRETS.items():
            await store.set(name, value)

    anyio.run(setup)
    return ProjectRef(working_directory=str(folder), provider="gcp", stack="dev")
