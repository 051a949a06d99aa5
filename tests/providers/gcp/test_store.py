"""Config values in Secret Manager, and the deploy lock in Cloud Storage, against the fake."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from functools import partial

import anyio
import pytest

from launchdeck.engine import lock
from launchdeck.errors import ProviderError
from launchdeck.providers.gcp import names
from launchdeck.providers.gcp.api import Gcp, GcpError
from launchdeck.providers.gcp.provider import GcpProvider
from testkit.gcp import FakeGcp
from testkit.gcp.core import project_number
from tests.providers.gcp.conftest import PROJECT, go

# --- config values ---------------------------------------------------------------------------


def test_config_round_trip(provider: GcpProvider) -> None:
    """set, names, values and delete; a name never set has no value and cannot be deleted."""
    store = provider.config_store("shop", "dev")

    async def scenario() -> tuple[list[str], dict[str, str], bool, bool, list[str]]:
        await store.set("B_TOKEN", "tok-1")
        await store.set("A_KEY", "key-1")
        await store.set("A_KEY", "key-2")
        listed = await store.names()
        values = await store.values(["A_KEY", "B_TOKEN", "NEVER_SET"])
        return (
            listed,
            values,
            await store.delete("B_TOKEN"),
            await store.delete("NEVER_SET"),
            await store.names(),
        )

    listed, values, deleted, missing, after = go(scenario)
    assert listed == ["A_KEY", "B_TOKEN"] and values == {"A_KEY": "key-2", "B_TOKEN": "tok-1"}
    assert (deleted, missing, after) == (True, False, ["A_KEY"])


def test_config_set_adds_a_version_to_a_labelled_secret(provider: GcpProvider, fake: FakeGcp) -> None:
    """Each set is a new version of one secret labelled with project, stack and kind."""
    store = provider.config_store("shop", "dev")
    go(store.set, "API_KEY", "one")
    go(store.set, "API_KEY", "two")
    name = f"projects/{project_number(PROJECT)}/secrets/{names.secret_id('shop', 'dev', 'API_KEY')}"
    secrets = fake.api("secretmanager")
    assert len(secrets.versions[name]) == 2
    assert dict(secrets.secrets[name].labels) == {
        "launchdeck_project": "shop",
        "launchdeck_stack": "dev",
        "launchdeck_kind": "config",
    }


def test_each_stack_sees_only_its_own_config(provider: GcpProvider) -> None:
    """dev and prod of one project, and another project, keep separate names."""
    go(provider.config_store("shop", "dev").set, "DEV_ONLY", "1")
    go(provider.config_store("shop", "prod").set, "PROD_ONLY", "2")
    go(provider.config_store("blog", "dev").set, "BLOG_ONLY", "3")
    assert go(provider.config_store("shop", "dev").names) == ["DEV_ONLY"]
    assert go(provider.config_store("shop", "prod").values, ["DEV_ONLY", "PROD_ONLY"]) == {"PROD_ONLY": "2"}


def test_config_values_stay_out_of_the_request_log(provider: GcpProvider, fake: FakeGcp) -> None:
    """What is sent to Secret Manager as a value is not kept anywhere the fake shows."""
    go(provider.config_store("shop", "dev").set, "API_KEY", "sk-do-not-log-me")
    assert "sk-do-not-log-me" not in json.dumps(fake.requests())


def test_no_project_is_a_clear_error_before_any_call(fake: FakeGcp) -> None:
    """Without GCP_PROJECT_ID (nor a project in the credentials) nothing is sent; the error says so."""
    store = GcpProvider(Gcp(environ=fake.env)).config_store("shop", "dev")
    with pytest.raises(GcpError, match="no GCP project is set") as caught:
        go(store.names)
    assert "GCP_PROJECT_ID" in caught.value.hint and fake.requests() == []


# --- the lock -----------------------------------------------------------------------------------


def _lock(provider: GcpProvider, deployment: str):
    return lock.held(provider.blobs(), "shop", "dev", "deploy", deployment, provider="gcp")


async def _take(provider: GcpProvider, deployment: str) -> None:
    async with _lock(provider, deployment):
        pass


def test_a_held_lock_refuses_a_second_deploy_naming_the_first(provider: GcpProvider) -> None:
    """While one deploy holds the stack, another is refused with its id and a ps action."""

    async def scenario() -> ProviderError:
        async with _lock(provider, "first0000000"):
            with pytest.raises(ProviderError) as caught:
                await _take(provider, "second000000")
        return caught.value

    error = go(scenario)
    assert "another deploy of shop (dev) is running (deployment first0000000" in error.message
    assert [a.operation for a in error.actions] == ["ps"] and "launchdeck" not in error.hint


def test_a_released_lock_can_be_taken_again(provider: GcpProvider, fake: FakeGcp) -> None:
    """After the holder is done the lock object is gone and the next deploy takes it."""
    go(_take, provider, "first0000000")
    go(_take, provider, "second000000")
    bucket = fake.api("storage").objects[names.bucket(PROJECT, "us-central1")]
    assert lock.key("shop", "dev") not in bucket


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.mark.parametrize(
    "holder",
    [
        {"host": socket.gethostname(), "pid": "dead", "expires": time.time() + 3600},
        {"host": "another-machine", "pid": 1, "expires": time.time() - 1},
    ],
)
def test_a_lock_whose_owner_is_gone_is_taken_over(provider: GcpProvider, fake: FakeGcp, holder: dict) -> None:
    """A lock of a process of this machine that has ended, or one past its expiry, is taken over."""
    stale = {
        **holder,
        "pid": _dead_pid() if holder["pid"] == "dead" else holder["pid"],
        "owner": "deploy",
        "deployment": "gone00000000",
    }
    go(provider.bucket.ensure, project_number(PROJECT))
    go(partial(provider.bucket.write, lock.key("shop", "dev"), json.dumps(stale).encode()))
    go(_take, provider, "mine00000000")
    assert lock.key("shop", "dev") not in fake.api("storage").objects[provider.bucket.name]


def test_a_lock_of_a_live_process_elsewhere_is_respected(provider: GcpProvider) -> None:
    """A lock of another machine's process, not expired, refuses the deploy."""
    holder = {
        "host": "another-machine",
        "pid": 1,
        "expires": time.time() + 3600,
        "owner": "destroy",
        "deployment": "theirs000000",
        "since": "2026-01-01T00:00:00+00:00",
    }
    go(provider.bucket.ensure, project_number(PROJECT))
    go(partial(provider.bucket.write, lock.key("shop", "dev"), json.dumps(holder).encode()))
    with pytest.raises(ProviderError, match="another destroy of shop"):
        go(_take, provider, "mine00000000")


def test_the_lock_lives_in_a_private_bucket(provider: GcpProvider, fake: FakeGcp) -> None:
    """The bucket the lock makes has uniform access, public access prevention and a lifecycle rule."""
    go(_take, provider, "first0000000")
    bucket = fake.api("storage").buckets[names.bucket(PROJECT, "us-central1")]
    assert bucket["iamConfiguration"]["uniformBucketLevelAccess"]["enabled"]
    assert bucket["iamConfiguration"]["publicAccessPrevention"] == "enforced"
    assert bucket["labels"] == {"launchdeck": "shared"}
    assert bucket["lifecycle"]["rule"][0]["condition"]["matchesPrefix"] == ["contexts/", "builds/"]


def test_the_bucket_can_be_named(fake: FakeGcp) -> None:
    """LAUNCHDECK_GCP_BUCKET names the bucket (bucket names are global); the lock makes it there."""
    gcp = Gcp(environ={**fake.env, "GCP_PROJECT_ID": PROJECT, "LAUNCHDECK_GCP_BUCKET": "my-own-bucket"})
    go(_take, GcpProvider(gcp, poll=0), "first0000000")
    assert list(fake.api("storage").buckets) == ["my-own-bucket"]


def test_a_bucket_name_taken_elsewhere_says_how_to_name_another(fake: FakeGcp) -> None:
    """Bucket names are global: when another project has ours, the error says to set LAUNCHDECK_GCP_BUCKET."""
    squatter = Gcp(environ={**fake.env, "GCP_PROJECT_ID": "someone-else"})
    go(squatter.call, "storage", "create_bucket", names.bucket(PROJECT, "us-central1"))
    provider = GcpProvider(Gcp(environ={**fake.env, "GCP_PROJECT_ID": PROJECT}), poll=0)
    with pytest.raises(GcpError, match="is taken by another Google Cloud project") as caught:
        go(_take, provider, "first0000000")
    assert "LAUNCHDECK_GCP_BUCKET" in caught.value.hint


def test_lock_expiry_is_longer_than_any_wait() -> None:
    """A live deploy's lock never expires under it: two hours, above every wait launchdeck makes."""
    from launchdeck.engine import kinds
    from launchdeck.providers.gcp import build

    assert max(build.BUILD_WAIT, kinds.STORE_WAIT) < lock.EXPIRY


def test_takeover_races_have_one_winner(provider: GcpProvider) -> None:
    """Two deploys finding the same stale lock: one takes it over, the other is refused."""
    stale = {"host": "x", "pid": 1, "expires": time.time() - 1, "owner": "deploy", "deployment": "gone"}
    go(provider.bucket.ensure, project_number(PROJECT))
    go(partial(provider.bucket.write, lock.key("shop", "dev"), json.dumps(stale).encode()))
    outcomes: list[str] = []
    held = anyio.Event()

    async def one(deployment: str) -> None:
        try:
            async with _lock(provider, deployment):
                outcomes.append("held")
                held.set()
                await anyio.sleep(0.2)
        except ProviderError:
            outcomes.append("refused")

    async def both() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(one, "first0000000")
            group.start_soon(one, "second000000")

    go(both)
    assert sorted(outcomes) == ["held", "refused"]
