"""The GCP provider against the local fake: deploy, redeploy, change, plan, ps, logs, destroy."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import anyio
import pytest

from launchdeck.compose.validate import DIGEST_KEY
from launchdeck.engine import logs as engine_logs
from launchdeck.engine import ps
from launchdeck.engine.deploy import deploy, plan, preflight
from launchdeck.engine.destroy import destroy
from launchdeck.engine.events import Recorder, State
from launchdeck.engine.plan import Action
from launchdeck.engine.seams import DeployOptions, LogQuery
from launchdeck.errors import ProviderError
from launchdeck.providers.gcp import names
from launchdeck.providers.gcp.provider import GcpProvider
from launchdeck.tools.project import ProjectRef
from testkit.gcp import FakeGcp
from testkit.gcp.core import project_number
from tests.providers.gcp.conftest import LOCATION, PROJECT, SECRETS

LOCK = "locks%2Fshop%2Fdev.json"


def _deploy(provider: GcpProvider, ref: ProjectRef, recorder: Recorder | None = None, **options: object):
    recorder = recorder if recorder is not None else Recorder()
    result = anyio.run(
        partial(
            deploy, ref.load(), provider, stack=ref.stack, sink=recorder, options=DeployOptions(**options)
        )
    )
    return result, recorder


def _service(fake: FakeGcp, name: str, project: str = "shop", stack: str = "dev") -> object:
    return fake.api("run").services[f"{LOCATION}/services/{names.Names.fresh(project, stack).service(name)}"]


def _env(fake: FakeGcp, name: str) -> dict[str, object]:
    """A Cloud Run service's environment: plain values, and secret references as (secret, version)."""
    out: dict[str, object] = {}
    for env in _service(fake, name).template.containers[0].env:
        ref = env.value_source.secret_key_ref
        out[env.name] = (ref.secret, ref.version) if env.HasField("value_source") else env.value
    return out


def _secret(fake: FakeGcp, secret_id: str) -> str:
    secrets = fake.api("secretmanager")
    return secrets.versions[f"projects/{project_number(PROJECT)}/secrets/{secret_id}"][-1][1].decode()


def _writes(fake: FakeGcp) -> list[str]:
    """The mutating requests, as ``METHOD path`` without the query string."""
    return [f"{e['method']} {e['path'].split('?')[0]}" for e in fake.mutations()]


@pytest.fixture
def deployed(provider: GcpProvider, shop: ProjectRef):
    result, recorder = _deploy(provider, shop)
    assert result.ok, [(s.name, s.state, s.message) for s in result.services]
    return result, recorder


# --- a first deploy --------------------------------------------------------------------------


def test_realistic_project_deploys_with_every_service_completed(deployed) -> None:
    """Web (built, with a domain), backend, Postgres and Redis all reach COMPLETED."""
    result, recorder = deployed
    assert {s.name: s.state for s in result.services} == dict.fromkeys(
        ["web", "backend", "db", "cache"], State.SERVICE_DEPLOYMENT_COMPLETED
    )
    web = next(s for s in result.services if s.name == "web")
    assert web.endpoints[-1] == "https://shop.example.com" and web.endpoints[0].endswith(".run.app")
    states = recorder.states("web")
    assert states[0] is State.BUILD_QUEUED and states[-1] is State.SERVICE_DEPLOYMENT_COMPLETED
    assert states.index(State.BUILD_RUNNING) < states.index(State.SERVICE_DEPLOYMENT_PENDING)
    assert {c.service: c.action for c in result.changes} == dict.fromkeys(
        ["web", "backend", "db", "cache", "(load balancer)"], Action.CREATE
    )


def test_web_is_public_and_backend_internal_only(deployed, fake: FakeGcp) -> None:
    """The ingress service takes all traffic, the other only traffic from the network; both have the
    invoker check off instead of an allUsers binding, which domain-restricted sharing refuses."""
    run = fake.api("run")
    web, backend = _service(fake, "web"), _service(fake, "backend")
    assert (web.ingress, backend.ingress) == (1, 2)  # INGRESS_TRAFFIC_ALL, INGRESS_TRAFFIC_INTERNAL_ONLY
    assert web.invoker_iam_disabled and backend.invoker_iam_disabled
    assert run.invokers(web.name) == run.invokers(backend.name) == set()


def test_services_carry_size_probes_account_labels_and_min_instances(deployed, fake: FakeGcp) -> None:
    """Cloud Run size from the reservations, probes from the healthcheck, the stack's account, labels."""
    web = _service(fake, "web")
    container = web.template.containers[0]
    assert dict(container.resources.limits) == {"cpu": "1", "memory": "1024Mi"}
    assert not container.resources.cpu_idle  # CPU stays allocated, as a container's does
    assert [p.container_port for p in container.ports] == [8080]
    assert container.startup_probe.http_get.path == container.liveness_probe.http_get.path == "/healthz"
    assert web.template.service_account == f"ld-shop-dev@{PROJECT}.iam.gserviceaccount.com"
    assert web.template.scaling.min_instance_count == 1
    labels = dict(web.labels)
    assert (labels["launchdeck_project"], labels["launchdeck_stack"], labels["launchdeck_service"]) == (
        "shop",
        "dev",
        "web",
    )
    backend = _service(fake, "backend").template.containers[0]
    assert list(backend.args) == ["python", "-m", "http.server", "9000"]
    assert backend.image == "docker.io/library/python:3.12-slim"
    assert [p.container_port for p in backend.ports] == [9000]


def test_service_names_resolve_to_cloud_run_urls_and_store_addresses(deployed, fake: FakeGcp) -> None:
    """http://backend:9000 becomes backend's Cloud Run URL; redis://cache and @db its private address."""
    number = project_number(PROJECT)
    assert _env(fake, "web")["BACKEND_URL"] == f"https://shop-dev-backend-{number}.us-central1.run.app"
    cache = next(iter(fake.api("redis").instances.values()))
    assert _env(fake, "backend")["REDIS_URL"] == f"redis://{cache.host}:6379"
    secret, version = _env(fake, "backend")["DATABASE_URL"]
    db = next(iter(fake.api("sqladmin").instances.values()))
    address = next(a.ip_address for a in db.ip_addresses if a.type_ == 3)  # PRIVATE
    assert version == "1"  # pinned: only reads by number are strongly consistent
    assert _secret(fake, secret) == f"postgres://shop:{SECRETS['POSTGRES_PASSWORD']}@{address}:5432/shop"


def test_services_reach_the_network_the_way_their_environment_needs(deployed, fake: FakeGcp) -> None:
    """Web calls an internal service: all traffic through the network (Private Google Access, NAT);
    backend reaches the stores: private ranges only."""
    web, backend = _service(fake, "web").template.vpc_access, _service(fake, "backend").template.vpc_access
    assert (web.egress, backend.egress) == (1, 2)  # ALL_TRAFFIC, PRIVATE_RANGES_ONLY
    assert [(i.network, i.subnetwork) for i in backend.network_interfaces] == [("default", "default")]
    compute = fake.api("compute")
    subnet = compute.resources[f"projects/{PROJECT}/regions/us-central1/subnetworks/default"]
    router = compute.resources[f"projects/{PROJECT}/regions/us-central1/routers/launchdeck-nat"]
    assert subnet.private_ip_google_access and [n.nat_ip_allocate_option for n in router.nats] == [
        "AUTO_ONLY"
    ]
    assert subnet.self_link and [s.name for s in router.nats[0].subnetworks] == [subnet.self_link]


def test_secrets_are_references_only_the_stack_account_may_read(deployed, fake: FakeGcp) -> None:
    """API_KEY is a Secret Manager reference; the secret's only reader is the stack's account."""
    secret, version = _env(fake, "backend")["API_KEY"]
    # the version number written, not latest
    assert (secret, version) == (names.secret_id("shop", "dev", "API_KEY"), "1")
    readers = fake.api("secretmanager").policies.members_with(
        f"projects/{project_number(PROJECT)}/secrets/{secret}", {"roles/secretmanager.secretAccessor"}
    )
    assert readers == {f"serviceAccount:ld-shop-dev@{PROJECT}.iam.gserviceaccount.com"}


def test_stores_are_private_versioned_and_backed_up(deployed, fake: FakeGcp) -> None:
    """Cloud SQL PostgreSQL 16 (from postgres:16), private IP only, backups on, user and database
    from the environment; Memorystore Redis 7 peered with the network."""
    from google.cloud.sqladmin_v1 import SqlDatabaseVersion

    sql = fake.api("sqladmin")
    ((key, db),) = sql.instances.items()
    assert SqlDatabaseVersion(db.database_version).name == "POSTGRES_16"
    assert db.settings.ip_configuration.ipv4_enabled.value is False
    assert db.settings.ip_configuration.private_network == f"projects/{PROJECT}/global/networks/default"
    assert db.settings.backup_configuration.enabled.value
    assert sql.users[key]["shop"] == SECRETS["POSTGRES_PASSWORD"] and "shop" in sql.databases[key]
    assert dict(db.settings.user_labels)["launchdeck_hash"] != "pending"
    cache = next(iter(fake.api("redis").instances.values()))
    assert (cache.redis_version, cache.connect_mode) == ("REDIS_7_2", 1)  # DIRECT_PEERING
    assert cache.authorized_network == f"projects/{PROJECT}/global/networks/default"


def test_domain_goes_through_a_load_balancer_with_a_managed_certificate_and_dns(
    deployed, fake: FakeGcp, gcp
) -> None:
    """NEG -> backend -> URL map for the host -> HTTPS proxy with a managed certificate, HTTP redirect,
    both rules on one address, and the domain's A record pointing at it."""
    compute = fake.api("compute").resources
    g = f"projects/{PROJECT}/global"
    neg = compute[f"projects/{PROJECT}/regions/us-central1/networkEndpointGroups/ld-shop-dev-neg-web"]
    assert neg.cloud_run.service == "shop-dev-web"
    url_map = compute[f"{g}/urlMaps/ld-shop-dev-map"]
    assert [list(h.hosts) for h in url_map.host_rules] == [["shop.example.com"]]
    assert url_map.path_matchers[0].default_service.endswith("/backendServices/ld-shop-dev-be-web")
    assert compute[f"{g}/urlMaps/ld-shop-dev-redirect"].default_url_redirect.https_redirect
    proxy = compute[f"{g}/targetHttpsProxies/ld-shop-dev-https"]
    certificate = compute[f"{g}/sslCertificates/{proxy.ssl_certificates[0].rsplit('/', 1)[-1]}"]
    assert (certificate.type_, list(certificate.managed.domains)) == ("MANAGED", ["shop.example.com"])
    address = compute[f"{g}/addresses/ld-shop-dev-ip"].address
    rules = {compute[f"{g}/forwardingRules/ld-shop-dev-{k}"].port_range for k in ("https", "http")}
    assert rules == {"443", "80"}
    records = fake.api("dns").records[(PROJECT, "example-com")]
    assert records[("shop.example.com.", "A")]["rrdatas"] == [address]


def test_image_is_built_once_by_cloud_build_and_named_by_the_context_digest(
    deployed, provider, shop, fake: FakeGcp
) -> None:
    """One Cloud Build pushes web:<context digest> to the shared repository; a redeploy builds nothing.

    In a new project the build account's grants may not have reached Artifact Registry by the
    first push (Google gives no way to confirm another identity's grant): the build retries its
    push in a step of its own rather than being built again."""
    from launchdeck.engine import build_context

    build = shop.load().project.services["web"].build
    tag = build_context.digest(build_context.scan(build, "web"), build)
    image = _service(fake, "web").template.containers[0].image
    assert image == f"us-central1-docker.pkg.dev/{PROJECT}/launchdeck/shop/dev/web:{tag}"
    builds = list(fake.api("cloudbuild").builds.values())
    assert [list(b.images) for b in builds] == [[image]]
    assert builds[0].status == 3  # SUCCESS
    _deploy(provider, shop, force=True)
    assert len(fake.api("cloudbuild").builds) == len(builds)


# --- redeploys and plans ---------------------------------------------------------------------


def test_second_deploy_of_an_unchanged_project_makes_no_mutating_call(
    deployed, provider, shop, fake: FakeGcp
) -> None:
    """Only the deploy lock (written, then removed) and the deployment's history entry are
    written; every unit plans NOOP."""
    fake.clear_requests()
    result, _ = _deploy(provider, shop)
    assert result.ok and {c.action for c in result.changes} == {Action.NOOP}
    bucket = names.bucket(PROJECT, "us-central1")
    assert _writes(fake) == [
        f"POST /storage/upload/storage/v1/b/{bucket}/o",
        f"POST /storage/upload/storage/v1/b/{bucket}/o",
        f"DELETE /storage/storage/v1/b/{bucket}/o/{LOCK}",
    ]


def test_an_unchanged_project_checks_nothing_its_units_stand_on(
    deployed, provider, shop, fake: FakeGcp
) -> None:
    """No unit is applied, so neither the accounts and their grants nor the network are read again."""
    fake.clear_requests()
    result, _ = _deploy(provider, shop)
    assert result.ok and {c.action for c in result.changes} == {Action.NOOP}
    apis = {e["api"] for e in fake.requests()}
    assert not apis & {"iam", "cloudresourcemanager", "servicenetworking", "artifactregistry"}, apis


def test_the_balancer_is_read_while_the_zones_are(deployed, provider, shop, fake: FakeGcp) -> None:
    """observe reads the balancer's parts without waiting for the DNS zones: only its domains'
    records need them. The list of zones is answered only once the balancer is being read."""
    reading = threading.Event()
    waits: list[bool] = []
    answer = fake.handle

    def handle(method: str, target: str, headers: dict, body: bytes):
        if "/global/urlMaps/" in target:
            reading.set()
        if target.split("?")[0].endswith("/managedZones"):
            waits.append(reading.wait(5))
        return answer(method, target, headers, body)

    fake.handle = handle  # type: ignore[method-assign]
    try:
        result, _ = _deploy(provider, shop)
    finally:
        del fake.handle
    assert result.ok and waits and all(waits), waits


def test_changing_one_service_updates_only_that_service(deployed, provider, shop, fake: FakeGcp) -> None:
    """A new variable on backend updates backend's Cloud Run service and nothing else."""
    compose = Path(shop.working_directory) / "compose.yaml"
    compose.write_text(
        compose.read_text().replace(
            "REDIS_URL: redis://cache:6379", "REDIS_URL: redis://cache:6379\n      LOG_LEVEL: debug"
        )
    )
    fake.clear_requests()
    result, _ = _deploy(provider, shop)
    assert result.ok
    assert {c.service: c.action for c in result.changes} == {
        "web": Action.NOOP,
        "backend": Action.UPDATE,
        "db": Action.NOOP,
        "cache": Action.NOOP,
        "(load balancer)": Action.NOOP,
    }
    bucket = names.bucket(PROJECT, "us-central1")
    assert [w for w in _writes(fake) if "/storage/" in w] == [  # lock, record, history, unlock
        f"POST /storage/upload/storage/v1/b/{bucket}/o",
        f"POST /storage/upload/storage/v1/b/{bucket}/o",
        f"POST /storage/upload/storage/v1/b/{bucket}/o",
        f"DELETE /storage/storage/v1/b/{bucket}/o/{LOCK}",
    ]
    assert [w for w in _writes(fake) if "/storage/" not in w] == [
        f"PATCH /run/v2/{LOCATION}/services/shop-dev-backend"
    ]
    assert _env(fake, "backend")["LOG_LEVEL"] == "debug"


def test_plan_preview_changes_nothing_and_takes_no_lock(provider, shop, fake: FakeGcp) -> None:
    """A plan of a project never deployed lists every unit as CREATE and sends no mutating request."""
    fake.clear_requests()
    ready = anyio.run(partial(preflight, shop.load(), provider, stack="dev"))
    result = anyio.run(plan, ready)
    assert {c.service: c.action for c in result.changes} == dict.fromkeys(
        ["web", "backend", "db", "cache", "(load balancer)"], Action.CREATE
    )
    assert fake.mutations() == []


def test_plan_after_a_change_names_the_setting(deployed, provider, shop, fake: FakeGcp) -> None:
    """A plan after a command change says backend's command changed, without changing anything."""
    compose = Path(shop.working_directory) / "compose.yaml"
    compose.write_text(compose.read_text().replace('"http.server", "9000"]', '"http.server", "9001"]'))
    fake.clear_requests()
    result = anyio.run(plan, anyio.run(partial(preflight, shop.load(), provider, stack="dev")))
    backend = next(c for c in result.changes if c.service == "backend")
    assert (backend.action, backend.reason) == (Action.UPDATE, "command changed")
    assert fake.mutations() == []


def test_a_new_config_value_rolls_out_a_new_revision(deployed, provider, shop, fake: FakeGcp) -> None:
    """config set of API_KEY updates backend (its revision reads the new latest version)."""
    anyio.run(provider.config_store("shop", "dev").set, "API_KEY", "sk-rotated-0000")
    before = _service(fake, "backend").latest_ready_revision
    result, _ = _deploy(provider, shop)
    backend = next(c for c in result.changes if c.service == "backend")
    assert (backend.action, backend.reason) == (Action.UPDATE, "config API_KEY changed")
    assert _service(fake, "backend").latest_ready_revision != before


def test_a_value_that_no_longer_reads_config_leaves_no_secret_behind(
    deployed, provider, shop, fake: FakeGcp
) -> None:
    """DATABASE_URL without the password becomes plain; the derived secret it had is deleted."""
    compose = Path(shop.working_directory) / "compose.yaml"
    compose.write_text(compose.read_text().replace("shop:${POSTGRES_PASSWORD}@db", "shop@db"))
    derived = names.derived_secret_id("shop", "dev", "backend", "DATABASE_URL")
    assert any(s.endswith(f"/{derived}") for s in fake.api("secretmanager").secrets)
    result, _ = _deploy(provider, shop)
    assert result.ok and isinstance(_env(fake, "backend")["DATABASE_URL"], str)
    assert not any(s.endswith(f"/{derived}") for s in fake.api("secretmanager").secrets)


def test_replicas_become_min_instances(provider, project, gcp, fake: FakeGcp) -> None:
    """deploy.replicas: 2 keeps two instances warm; changing it updates the service in place."""
    text = (
        "name: tiny\nservices:\n  api:\n    image: nginx\n    ports: [{target: 80, mode: ingress}]\n"
        "    deploy: {replicas: 2}\n"
    )
    root = project({"compose.yaml": text})
    ref = ProjectRef(working_directory=str(root), provider="gcp")
    result, _ = _deploy(provider, ref)
    api = _service(fake, "api", project="tiny")
    assert (result.services[0].replicas_desired, api.template.scaling.min_instance_count) == (2, 2)
    (root / "compose.yaml").write_text(text.replace("replicas: 2", "replicas: 3"))
    again, _ = _deploy(provider, ref)
    assert [c.action for c in again.changes] == [Action.UPDATE]
    assert _service(fake, "api", project="tiny").template.scaling.min_instance_count == 3


# --- ps and logs -----------------------------------------------------------------------------


def test_ps_reports_states_endpoints_and_deployment(deployed, provider, shop) -> None:
    """ps reads Cloud Run and the stores: every service COMPLETED, with its endpoints."""
    result, _ = deployed
    statuses = {s.name: s for s in anyio.run(ps.ps, provider, shop.load().project, "dev")}
    assert {n: s.state for n, s in statuses.items()} == dict.fromkeys(
        ["web", "backend", "db", "cache"], State.SERVICE_DEPLOYMENT_COMPLETED
    )
    assert statuses["web"].endpoints[-1] == "https://shop.example.com"
    assert statuses["web"].deployment_id == result.deployment_id
    assert statuses["backend"].endpoints == [] and statuses["backend"].replicas_running == 1
    assert statuses["db"].endpoints[0].endswith(":5432") and statuses["cache"].endpoints[0].endswith(":6379")


def test_ps_before_any_deploy_says_not_deployed(provider, shop) -> None:
    """Nothing deployed: every service NOT_DEPLOYED, no error."""
    statuses = anyio.run(ps.ps, provider, shop.load().project, "dev")
    assert {s.state for s in statuses} == {State.NOT_DEPLOYED}


def _write_logs(gcp, service_id: str, revision: str, lines: list[tuple[datetime, str]]) -> None:
    """Lines as Cloud Run writes a container's output: through the real logging client."""
    from google.cloud.logging import Resource

    logger = gcp.client("logging").logger("run.googleapis.com%2Fstdout")
    resource = Resource(
        type="cloud_run_revision",
        labels={
            "service_name": service_id,
            "revision_name": revision,
            "location": "us-central1",
            "configuration_name": service_id,
            "project_id": PROJECT,
        },
    )
    for at, text in lines:
        logger.log_text(text, resource=resource, timestamp=at)


def test_logs_come_from_cloud_logging_with_filters_and_tail(deployed, provider, gcp, fake: FakeGcp) -> None:
    """Lines of the services' revisions come back by service, time, deployment and tail."""
    result, _ = deployed
    now = datetime.now(UTC)
    for name, lines in (("web", ["GET / 200", "GET /healthz 200"]), ("backend", ["ready"])):
        service = _service(fake, name)
        _write_logs(
            gcp,
            service.name.rsplit("/", 1)[-1],
            service.latest_ready_revision.rsplit("/", 1)[-1],
            [(now + timedelta(seconds=2 * i + (name == "backend")), text) for i, text in enumerate(lines)],
        )

    def read(**query: object) -> list[tuple[str, str]]:
        lines = anyio.run(engine_logs.read, provider, "shop", "dev", LogQuery(**query))
        return [(line.service, line.text) for line in lines]

    assert read() == [("web", "GET / 200"), ("backend", "ready"), ("web", "GET /healthz 200")]
    assert read(services=("web",), tail=1) == [("web", "GET /healthz 200")]
    assert read(since=now + timedelta(milliseconds=1500)) == [("web", "GET /healthz 200")]
    assert read(services=("web",), deployment=result.deployment_id) == [
        ("web", "GET / 200"),
        ("web", "GET /healthz 200"),
    ]
    assert read(services=("web",), deployment="000000000000") == []


def test_follow_polls_for_new_lines(deployed, provider, gcp, fake: FakeGcp) -> None:
    """follow yields what was there, then lines written later, once each."""
    service = _service(fake, "backend")
    args = (gcp, service.name.rsplit("/", 1)[-1], service.latest_ready_revision.rsplit("/", 1)[-1])
    _write_logs(*args, [(datetime.now(UTC), "first")])
    seen: list[str] = []

    async def follow() -> None:
        with anyio.fail_after(30):
            async for line in engine_logs.follow(
                provider, "shop", "dev", LogQuery(services=("backend",)), interval=0.05
            ):
                seen.append(line.text)
                if line.text == "first":
                    await anyio.to_thread.run_sync(_write_logs, *args, [(datetime.now(UTC), "second")])
                if len(seen) == 2:
                    return

    anyio.run(follow)
    assert seen == ["first", "second"]


# --- destroy -----------------------------------------------------------------------------------


def test_destroy_removes_everything_but_config_and_keeps_a_final_backup(
    deployed, provider, shop, fake: FakeGcp
) -> None:
    """After destroy only the config secrets remain of the stack (and the GCP project's shared build
    account, as its image repository stays); the database left a final backup."""
    teardown = anyio.run(partial(destroy, provider, "shop", "dev", sink=Recorder()))
    assert "URL map ld-shop-dev-map" in teardown.removed
    assert fake.api("run").services == {} and fake.api("redis").instances == {}
    assert fake.api("sqladmin").instances == {}
    backups = [run for runs in fake.api("sqladmin").backups.values() for run in runs]
    assert [b.description for b in backups] == [
        next(k for k in teardown.kept if "final backup" in k).split(" (")[0]
    ]
    secrets = sorted(s.rsplit("/", 1)[-1] for s in fake.api("secretmanager").secrets)
    # the stack's digest key stays with them (engine/plan.py)
    assert secrets == sorted(names.secret_id("shop", "dev", n) for n in [*SECRETS, DIGEST_KEY])
    assert set(fake.api("iam").accounts) == {f"launchdeck-builder@{PROJECT}.iam.gserviceaccount.com"}
    compute = [k for k in fake.api("compute").resources if "/ld-shop-dev" in k]
    assert compute == []
    records = fake.api("dns").records[(PROJECT, "example-com")]
    assert sorted(t for _, t in records) == ["NS", "SOA"]
    assert fake.api("artifactregistry").images[names.repository(PROJECT, "us-central1")] == {}
    statuses = {s.name: s.state for s in anyio.run(ps.ps, provider, shop.load().project, "dev")}
    assert set(statuses.values()) == {State.NOT_DEPLOYED}


def test_destroy_takes_the_account_out_of_the_kept_secrets_readers(deployed, provider, fake: FakeGcp) -> None:
    """The kept config secrets no longer name the deleted service account."""
    anyio.run(partial(destroy, provider, "shop", "dev", sink=Recorder()))
    policies = fake.api("secretmanager").policies
    readers = set().union(
        *(
            policies.members_with(s, {"roles/secretmanager.secretAccessor"})
            for s in fake.api("secretmanager").secrets
        )
    )
    assert readers == set()


# --- secrets, faults, concurrency, failures ------------------------------------------------------


def test_secrets_never_reach_specs_results_events_requests_or_logs(
    provider, shop, fake: FakeGcp, caplog
) -> None:
    """Config values live only in Secret Manager: not in Cloud Run specs, results, events, ps, the
    request log or the logs."""
    from google.protobuf import json_format

    caplog.set_level(logging.DEBUG)
    result, recorder = _deploy(provider, shop)
    assert result.ok
    statuses = anyio.run(ps.ps, provider, shop.load().project, "dev")
    specs = [json_format.MessageToJson(s) for s in fake.api("run").services.values()]
    seen = (
        "".join(specs)
        + result.model_dump_json()
        + json.dumps(fake.requests())
        + json.dumps([s.model_dump(mode="json") for s in statuses])
        + " ".join(e.message for e in recorder.events)
        + caplog.text
    )
    for value in SECRETS.values():
        assert value not in seen


@pytest.mark.parametrize("code", [503, 429])
def test_deploy_converges_with_a_fifth_of_requests_failing(provider, shop, fake: FakeGcp, code: int) -> None:
    """503s (or 429s) on 20% of requests are retried; the deploy completes and a redeploy is a no-op."""
    fake.knobs.fault_rate, fake.knobs.fault_code = 0.2, code
    result, _ = _deploy(provider, shop)
    assert result.ok, [(s.name, s.message) for s in result.services]
    assert sum(1 for r in fake.requests() if r["status"] == code) > 20
    again, _ = _deploy(provider, shop)
    assert {c.action for c in again.changes} == {Action.NOOP}


def test_two_deploys_at_once_one_is_refused(provider, shop, fake: FakeGcp) -> None:
    """The second concurrent deploy of the same stack is refused, naming the first."""
    fake.knobs.latency = 0.01
    loaded = shop.load()
    outcomes: list[object] = []

    async def one() -> None:
        try:
            outcomes.append(await deploy(loaded, provider, stack="dev"))
        except ProviderError as exc:
            outcomes.append(exc)

    async def both() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(one)
            group.start_soon(one)

    anyio.run(both)
    errors = [o for o in outcomes if isinstance(o, ProviderError)]
    assert len(errors) == 1 and "another deploy of shop (dev) is running" in str(errors[0])
    assert [o.ok for o in outcomes if not isinstance(o, ProviderError)] == [True]


def test_a_domain_without_a_dns_zone_is_refused_before_any_change(provider, shop, gcp, fake: FakeGcp) -> None:
    """No Cloud DNS zone serves the domain: a clear error with the steps, and nothing made but the lock."""
    fake.api("dns").zones.clear()
    fake.clear_requests()
    with pytest.raises(
        ProviderError, match="no Cloud DNS zone in project shop-project serves shop.example.com"
    ) as caught:
        _deploy(provider, shop)
    assert "gcloud dns managed-zones create" in caught.value.hint
    assert [w for w in _writes(fake) if LOCK not in w and "/storage/v1/b" not in w
            and "/serviceusage/" not in w] == []  # the APIs it needs, enabled first


def test_a_failing_build_is_build_failed_with_its_log_tail(provider, shop, fake: FakeGcp) -> None:
    """Cloud Build failing a step: web is BUILD_FAILED with the step's error; the rest still deploys."""
    fake.knobs.failing_builds = {"/web:": "npm ERR! missing script: build"}
    result, recorder = _deploy(provider, shop)
    web = next(s for s in result.services if s.name == "web")
    assert web.state is State.BUILD_FAILED and "npm ERR! missing script: build" in web.message
    assert web.message.startswith("image build failed at step 0 (docker build): ")
    assert State.BUILD_FAILED in recorder.states("web")
    assert next(s for s in result.services if s.name == "backend").state is State.SERVICE_DEPLOYMENT_COMPLETED
    statuses = {s.name: s.state for s in anyio.run(ps.ps, provider, shop.load().project, "dev")}
    assert statuses["web"] is State.BUILD_FAILED  # from the deployment record


def test_a_service_that_does_not_start_fails_with_cloud_runs_reason(provider, shop, fake: FakeGcp) -> None:
    """A revision that never listens ends SERVICE_DEPLOYMENT_FAILED with Cloud Run's message."""
    fake.knobs.failing_services = {"shop-dev-backend": ""}
    result, _ = _deploy(provider, shop)
    backend = next(s for s in result.services if s.name == "backend")
    assert backend.state is State.SERVICE_DEPLOYMENT_FAILED
    assert "failed to start and listen on the port" in backend.message
    assert not result.ok


def test_a_service_taken_out_of_the_project_is_removed_with_its_images(
    deployed, provider, shop, fake: FakeGcp
) -> None:
    """Dropping web removes its Cloud Run service, its images and (no domain left) the load balancer."""
    compose = Path(shop.working_directory) / "compose.yaml"
    text = compose.read_text()
    compose.write_text(text[: text.index("  web:")] + text[text.index("  backend:") :])
    result, _ = _deploy(provider, shop)
    assert {c.service: c.action for c in result.changes} == {
        "web": Action.DELETE,
        "backend": Action.NOOP,
        "db": Action.NOOP,
        "cache": Action.NOOP,
        "(load balancer)": Action.DELETE,
    }
    assert list(fake.api("run").services) == [f"{LOCATION}/services/shop-dev-backend"]
    assert fake.api("artifactregistry").images[names.repository(PROJECT, "us-central1")] == {}
    assert [k for k in fake.api("compute").resources if "/ld-shop-dev" in k] == []
    again, _ = _deploy(provider, shop)
    assert {c.action for c in again.changes} == {Action.NOOP}


def test_a_cancelled_deploy_lets_go_of_the_lock(provider, shop, fake: FakeGcp) -> None:
    """Cancelling a deploy (Ctrl-C, an MCP client's cancel) releases the stack at once."""
    fake.knobs.latency = 0.01
    loaded = shop.load()

    async def cancelled() -> None:
        with anyio.move_on_after(0.5) as scope:
            await deploy(loaded, provider, stack="dev")
        assert scope.cancelled_caught

    anyio.run(cancelled)
    fake.knobs.latency = 0
    result, _ = _deploy(provider, shop)
    assert result.ok


@pytest.mark.parametrize("kill_at", [2, 8, 14, 20, 26, 32])
def test_a_deploy_killed_midway_is_completed_by_the_next_with_nothing_orphaned(
    kill_at, provider, shop, fake: FakeGcp
) -> None:
    """SIGKILL as the Nth mutating request arrives; the next deploy converges, with one of everything."""
    script = Path(__file__).parent / "killed_deploy.py"
    child = subprocess.run(
        [sys.executable, str(script), shop.working_directory, str(kill_at)],
        env={**_child_env(fake)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -9, child.stderr[-2000:]
    fake.knobs.kill_at = 0
    result, _ = _deploy(provider, shop)
    assert result.ok, [(s.name, s.state, s.message) for s in result.services]
    assert sorted(fake.api("run").services) == [
        f"{LOCATION}/services/shop-dev-{n}" for n in ("backend", "web")
    ]
    assert len(fake.api("sqladmin").instances) == 1 and len(fake.api("redis").instances) == 1
    certificates = [k for k in fake.api("compute").resources if "/sslCertificates/" in k]
    assert len(certificates) == 1
    again, _ = _deploy(provider, shop)
    assert {c.action for c in again.changes} == {Action.NOOP}
    anyio.run(partial(destroy, provider, "shop", "dev", sink=Recorder()))
    assert fake.api("run").services == {} and fake.api("sqladmin").instances == {}


def _child_env(fake: FakeGcp) -> dict[str, str]:
    import os

    keep = {k: v for k, v in os.environ.items() if not k.startswith(("LAUNCHDECK_", "GCP_", "GOOGLE_"))}
    return {**keep, **fake.env, "GCP_PROJECT_ID": PROJECT}


def test_a_project_without_stores_or_domains_needs_only_the_core_apis(
    provider, project, fake: FakeGcp
) -> None:
    """Cloud SQL, Memorystore, Compute, DNS and Service Networking not enabled: deploy, ps and destroy
    of a project that uses none of them still work."""
    fake.knobs.disabled_apis = [
        f"{api}.googleapis.com" for api in ("sqladmin", "redis", "compute", "dns", "servicenetworking")
    ]
    root = project(
        {
            "compose.yaml": "name: tiny\nservices:\n  api:\n    image: nginx\n"
            "    ports: [{target: 80, mode: ingress}]\n"
        }
    )
    ref = ProjectRef(working_directory=str(root), provider="gcp")
    result, _ = _deploy(provider, ref)
    assert result.ok
    assert [s.state for s in anyio.run(ps.ps, provider, ref.load().project, "dev")] == [
        State.SERVICE_DEPLOYMENT_COMPLETED
    ]
    anyio.run(partial(destroy, provider, "tiny", "dev", sink=Recorder()))
    assert fake.api("run").services == {}


def test_llm_services_account_may_call_vertex_ai(provider, project, fake: FakeGcp) -> None:
    """x-defang-llm gives the stack's account roles/aiplatform.user and the service Vertex's settings."""
    root = project(
        {"compose.yaml": "name: chat\nservices:\n  bot:\n    image: nginx\n    x-defang-llm: true\n"}
    )
    result, _ = _deploy(provider, ProjectRef(working_directory=str(root), provider="gcp"))
    assert result.ok
    members = fake.api("cloudresourcemanager").members_with(PROJECT, {"roles/aiplatform.user"})
    assert members == {f"serviceAccount:ld-chat-dev@{PROJECT}.iam.gserviceaccount.com"}
    # bot declares no port: a worker, run as a Cloud Run worker pool
    pool = fake.api("run").pools[f"{LOCATION}/workerPools/{names.Names('chat', 'dev').service('bot')}"]
    env = {e.name: e.value for e in pool.template.containers[0].env}
    assert env == {
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "GOOGLE_CLOUD_LOCATION": "us-central1",
        "GOOGLE_GENAI_USE_VERTEXAI": "true",
    }


def test_a_model_service_runs_as_a_gateway_in_front_of_vertex(provider, project, fake: FakeGcp) -> None:
    """provider: {type: model} becomes the OpenAI-compatible gateway; the app receives AI_URL
    (the gateway's Cloud Run address) and AI_MODEL, and the stack's account may call Vertex."""
    root = project({"compose.yaml": "name: chat\nservices:\n  app:\n    image: nginx\n"
                                    "    ports: [{target: 80, mode: ingress}]\n    depends_on: [ai]\n"
                                    "  ai:\n    provider:\n      type: model\n      options:\n"
                                    "        model: ai/smollm2\n"})
    result, _ = _deploy(provider, ProjectRef(working_directory=str(root), provider="gcp"))
    assert result.ok, [(s.name, s.state, s.message) for s in result.services]
    gateway = _service(fake, "ai", project="chat").template.containers[0]
    assert gateway.image.endswith("defangio/openai-access-gateway")
    app = {e.name: e.value for e in _service(fake, "app", project="chat").template.containers[0].env}
    assert app["AI_MODEL"] == "ai/smollm2"
    assert app["AI_URL"].startswith("https://") and app["AI_URL"].endswith(".run.app/api/v1/")
    assert fake.api("cloudresourcemanager").members_with(PROJECT, {names.LLM_ROLE})
