"""The GCP tests' fixtures: the local fake on a free loopback port, and the door pointed at it."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import anyio
import pytest

from launchdeck.providers.gcp.api import Gcp
from launchdeck.providers.gcp.fake import FakeGcp

PROJECT = "shop-project"
LOCATION = f"projects/{PROJECT}/locations/us-central1"


@pytest.fixture(scope="session")
def fake_server():
    with FakeGcp() as server:
        yield server


@pytest.fixture
def fake(fake_server: FakeGcp) -> FakeGcp:
    """A fake with no resources, no logged requests and default knobs."""
    fake_server.reset()
    return fake_server


@pytest.fixture
def gcp(fake: FakeGcp) -> Gcp:
    """The provider's door, reaching the fake through LAUNCHDECK_GCP_ENDPOINT; polls and backoff at once."""
    return Gcp(environ={**fake.env, "GCP_PROJECT_ID": PROJECT}, poll_interval=0, backoff=0.001)


def go(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run one coroutine function to its end, as the CLI enters the async core."""
    return anyio.run(partial(function, *args, **kwargs))
