"""What a first real deploy meets on a new GCP project, beyond test_new_project.py: whoami and
config set through Service Usage, Memorystore's one operation at a time, 409s confirmed by a
read, and Cloud Build read where the build runs (issue 22)."""

from __future__ import annotations

from pathlib import Path

import pytest

from launchdeck.providers.gcp.api import GcpError
from launchdeck.providers.gcp.provider import GcpProvider
from testkit.gcp import FakeGcp
from tests.providers.gcp.conftest import LOCATION, PROJECT, go
from tests.providers.gcp.test_cli import env, run  # noqa: F401 - env is the CLI's fixture

# --- whoami and config set: what they need, through Service Usage ---------------------------------


def test_whoami_on_a_new_project_reads_it_through_service_usage_and_changes_nothing(
        shop, env: dict[str, str], fake: FakeGcp) -> None:  # noqa: F811
    """A new project has Service Usage on: whoami confirms the credentials reach the project
    with one read of it, enables nothing and names the project."""
    fake.clear_requests()
    done = run("whoami", "--provider", "gcp", cwd=Path(shop.working_directory), env=env)
    assert done.returncode == 0, done.stderr
    assert PROJECT in done.stdout
    read = [e for e in fake.requests() if e["api"] == "serviceusage"]
    assert [e["method"] for e in read] == ["GET"] and fake.mutations() == []


def test_whoami_where_service_usage_is_off_names_the_one_command(shop, env: dict[str, str],  # noqa: F811
                                                                 fake: FakeGcp) -> None:
    """A project whose Service Usage API was turned off: one error with the command that turns
    it on, no traceback."""
    fake.knobs.disabled_apis = ["serviceusage.googleapis.com"]
    done = run("whoami", "--provider", "gcp", cwd=Path(shop.working_directory), env=env)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"gcloud services enable serviceusage.googleapis.com --project {PROJECT}" in done.stderr


def test_whoami_with_credentials_the_project_refuses_fails_clearly(shop, env: dict[str, str],  # noqa: F811
                                                                  fake: FakeGcp) -> None:
    """Credentials that may not read the project fail whoami at once, saying so (before, whoami
    read nothing and passed, and the first deploy failed later)."""
    fake.knobs.denied_permissions = ["serviceusage.services.list"]
    done = run("whoami", "--provider", "gcp", cwd=Path(shop.working_directory), env=env)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "serviceusage.services.list" in done.stderr


def test_config_set_that_may_not_enable_names_what_it_needs_and_the_command(fake: FakeGcp) -> None:
    """config set's error speaks of config set, not of a deploy; nothing is written."""
    fake.knobs.denied_permissions = ["serviceusage.services.enable"]
    provider = GcpProvider(_door(fake), poll=0)
    with pytest.raises(GcpError) as caught:
        go(provider.config_store("app", "dev").set, "TOKEN", "value-1")
    assert "the APIs config set needs" in str(caught.value)
    assert caught.value.hint.startswith(
        f"Enable them: `gcloud services enable secretmanager.googleapis.com --project {PROJECT}`")
    assert [e for e in fake.mutations() if e["api"] == "secretmanager"] == []


def _door(fake: FakeGcp):
    from launchdeck.providers.gcp.api import Gcp

    return Gcp(environ={**fake.env, "GCP_PROJECT_ID": PROJECT}, poll_interval=0, backoff=0.001)


# --- Memorystore: one admin operation at a time; a 409 is "exists" only once read -----------------

NETWORK = f"projects/{PROJECT}/global/networks/default"


def _redis(gcp, instance_id: str, labels: dict[str, str]):
    from google.cloud import redis_v1 as r

    return go(gcp.call, "redis", "create_instance", parent=LOCATION, instance_id=instance_id,
              instance=r.Instance(tier=r.Instance.Tier.BASIC, memory_size_gb=1, labels=labels,
                                  authorized_network=NETWORK))


def test_a_memorystore_change_while_its_create_runs_is_refused_by_the_fake(enabled: FakeGcp, gcp) -> None:
    """The local GCP serialises an instance's admin operations, with Memorystore's error."""
    import requests

    _redis(gcp, "busy-1", {})
    name = f"{LOCATION}/instances/busy-1"
    answer = requests.patch(f"{enabled.url}/redis/v1/{name}", params={"updateMask": "labels"},
                            json={"labels": {"a": "b"}}, timeout=10)
    error = answer.json()["error"]
    assert (answer.status_code, error["status"]) == (400, "FAILED_PRECONDITION")
    assert "due to ongoing operations" in error["message"]


def test_a_memorystore_change_while_another_runs_waits_for_it(enabled: FakeGcp, gcp) -> None:
    """The door waits out the running create, then the change goes through."""
    from google.cloud import redis_v1 as r
    from google.protobuf import field_mask_pb2

    enabled.knobs.lro_polls = 3
    _redis(gcp, "busy-2", {})
    name = f"{LOCATION}/instances/busy-2"
    op = go(gcp.call, "redis", "update_instance", update_mask=field_mask_pb2.FieldMask(paths=["labels"]),
            instance=r.Instance(name=name, labels={"x": "y"}))
    go(gcp.wait, op, what="label it", api="redis")
    assert dict(go(gcp.call, "redis", "get_instance", name=name).labels) == {"x": "y"}
    busy = [e for e in enabled.requests() if e["api"] == "redis" and e["status"] == 400]
    assert busy, "the change was never refused: nothing was waited out"


def _spec(shop, service: str):
    from launchdeck.providers.gcp import stores

    return stores.store(shop.load().project.services[service], {"POSTGRES_PASSWORD": "pw-1a2b3c4d5e6f"})


def test_a_409_on_a_memorystore_create_is_exists_only_when_the_instance_is_ours(enabled, gcp, shop) -> None:
    """An instance of the store's id that another stack labelled: the deploy stops, naming it;
    one labelled ours (a create sent again after its answer was lost) is waited for."""
    from launchdeck.errors import ProviderError
    from launchdeck.providers.gcp import names, stores

    spec = _spec(shop, "cache")
    instance_id = names.Names("shop", "dev").redis("cache")
    _redis(gcp, instance_id, names.labels("shop", "prod", service="cache"))
    with pytest.raises(ProviderError) as caught:
        go(stores.ensure, gcp, spec, None, names.Names("shop", "dev"), "e1", NETWORK, lambda _: None)
    assert f"Memorystore instance {instance_id} exists already" in str(caught.value)
    assert "another project or stack name" in caught.value.hint


def test_a_409_on_a_memorystore_create_of_ours_is_waited_for(enabled, gcp, shop) -> None:
    from launchdeck.providers.gcp import names, stores

    spec = _spec(shop, "cache")
    _redis(gcp, names.Names("shop", "dev").redis("cache"), names.labels("shop", "dev", service="cache"))
    named = names.Names("shop", "dev")
    assert go(stores.ensure, gcp, spec, None, named, "e1", NETWORK, lambda _: None) is None


# --- Cloud SQL: a 409 is "exists" only once read ------------------------------------------------


def _sql(gcp, name: str, labels: dict[str, str]):
    from google.cloud import sqladmin_v1 as s

    from launchdeck.providers.gcp import network
    from testkit.gcp.core import project_number

    go(network.private_services_access, gcp, network.Network(), project_number(PROJECT), 0)
    private = s.IpConfiguration(ipv4_enabled=False, private_network=NETWORK)
    return s.DatabaseInstance(name=name, database_version=s.SqlDatabaseVersion.POSTGRES_16,
                              settings=s.Settings(tier="db-f1-micro", ip_configuration=private,
                                                  user_labels=labels))


def test_a_cloud_sql_name_an_instance_deleted_last_week_holds_is_traded_for_another(enabled, gcp) -> None:
    """409 and no instance to read: the name is held by a deleted one; a new name is tried."""
    from google.cloud import sqladmin_v1 as s

    from launchdeck.providers.gcp import names, stores

    labels = names.labels("shop", "dev", service="db")
    old = _sql(gcp, "shop-dev-db-aaaaaa", labels)
    go(gcp.wait, go(stores._create_sql, gcp, old, lambda: "unused", "shop", "dev", "db"),
       what="make", api="sqladmin")
    gone = go(gcp.rest, "sqladmin", "DELETE", f"/v1/projects/{PROJECT}/instances/shop-dev-db-aaaaaa",
              response_type=s.Operation)
    go(gcp.wait, gone, what="delete", api="sqladmin")
    again = _sql(gcp, "shop-dev-db-aaaaaa", labels)
    op = go(stores._create_sql, gcp, again, lambda: "shop-dev-db-bbbbbb", "shop", "dev", "db")
    assert op is not None and op.target_id == "shop-dev-db-bbbbbb"


def test_a_cloud_sql_409_is_exists_only_when_a_read_shows_it_ours(enabled, gcp) -> None:
    """The same name sent again (its first answer lost) is this stack's: None, look waits; an
    instance of that name labelled for another stack stops the deploy."""
    from launchdeck.errors import ProviderError
    from launchdeck.providers.gcp import names, stores

    mine = _sql(gcp, "shop-dev-db-cccccc", names.labels("shop", "dev", service="db"))
    assert go(stores._create_sql, gcp, mine, lambda: "unused", "shop", "dev", "db") is not None
    assert go(stores._create_sql, gcp, mine, lambda: "unused", "shop", "dev", "db") is None
    theirs = _sql(gcp, "shop-dev-db-dddddd", names.labels("shop", "prod", service="db"))
    go(stores._create_sql, gcp, theirs, lambda: "unused", "shop", "prod", "db")
    with pytest.raises(ProviderError, match="Cloud SQL instance shop-dev-db-dddddd exists already"):
        go(stores._create_sql, gcp, theirs, lambda: "unused", "shop", "dev", "db")


# --- Cloud Build: a build is read where it was made --------------------------------------------


def test_a_regional_build_is_found_only_at_its_own_location(enabled: FakeGcp, gcp, provider) -> None:
    """The legacy global path (and another region's) does not find a build made in
    us-central1; its regional name does. The driver reads it there, by the name it was made with."""
    from launchdeck.errors import ProviderError
    from launchdeck.providers.gcp import build, names
    from testkit.gcp.core import project_number
    from tests.providers.gcp.test_build import WEB, _empty_tar_gz

    go(provider.bucket.ensure, project_number(PROJECT))
    go(build.repository, provider.gcp)
    builder = build.CloudBuild(provider.gcp, provider.bucket)
    go(builder.upload, "contexts/where.tar.gz", _empty_tar_gz())
    image = f"{names.registry(PROJECT, 'us-central1')}/shop/dev/web:where"
    build_id = go(builder.start, "contexts/where.tar.gz", image, WEB)
    with pytest.raises(ProviderError) as caught:  # another region
        go(gcp.call, "cloudbuild", "get_build",
           name=f"projects/{PROJECT}/locations/europe-west1/builds/{build_id}")
    assert caught.value.code == 404
    with pytest.raises(ProviderError) as caught:  # the legacy global path, projects/P/builds/ID
        go(gcp.call, "cloudbuild", "get_build", project_id=PROJECT, id=build_id)
    assert caught.value.code == 404
    enabled.clear_requests()
    ended = [go(builder.poll, build_id).state for _ in range(10)]
    assert ended[-1] in ("succeeded", "failed")  # (the default identity may not push: not the point)
    read = {e["path"].split("?")[0] for e in enabled.requests() if e["api"] == "cloudbuild"}
    assert read == {f"/cloudbuild/v1/{LOCATION}/builds/{build_id}"}, read
