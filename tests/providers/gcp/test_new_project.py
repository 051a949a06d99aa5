"""A first deploy to a new project in a secure-by-default organization: what the local GCP does
there by default, and what launchdeck does to get through it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import requests

from launchdeck.providers.gcp import usage
from launchdeck.providers.gcp.api import Gcp, GcpError
from launchdeck.providers.gcp.provider import GcpProvider
from testkit.gcp import FakeGcp
from testkit.gcp import project as new_project
from testkit.gcp.core import project_number
from tests.providers.gcp.conftest import PROJECT, go
from tests.providers.gcp.test_deploy import _deploy, _writes

SU = "/serviceusage/v1"


def _get(fake: FakeGcp, path: str) -> requests.Response:
    return requests.get(fake.url + path, timeout=10)


# --- the local GCP: Service Usage ------------------------------------------------------------------


def test_a_new_project_has_only_the_default_apis_on(fake: FakeGcp) -> None:
    """Service Usage lists storage and logging on, Cloud Run off; Cloud Run answers SERVICE_DISABLED."""
    listed = _get(fake, f"{SU}/projects/{PROJECT}/services?filter=state:ENABLED").json()["services"]
    on = {s["config"]["name"] for s in listed}
    assert {"storage.googleapis.com", "logging.googleapis.com"} <= on and "run.googleapis.com" not in on
    answer = _get(fake, f"/run/v2/projects/{PROJECT}/locations/us-central1/services")
    info = answer.json()["error"]["details"][0]
    assert answer.status_code == 403 and info["reason"] == "SERVICE_DISABLED"
    assert info["metadata"]["service"] == "run.googleapis.com"


def test_an_enabled_api_answers_disabled_for_a_while_after_its_operation(fake: FakeGcp) -> None:
    """batchEnable's operation finishes, the API is listed ENABLED, and still refuses calls until
    the propagation window has passed."""
    fake.knobs.time_scale = 1.0  # GCP's own durations, passed by moving the fake's clock on
    started = requests.post(f"{fake.url}{SU}/projects/{PROJECT}/services:batchEnable",
                            json={"serviceIds": ["run.googleapis.com"]}, timeout=10).json()
    assert not started.get("done")
    fake.advance(new_project.ENABLE_OPERATION)
    assert _get(fake, f"{SU}/{started['name']}").json()["done"] is True
    path = f"/run/v2/projects/{PROJECT}/locations/us-central1/services"
    assert _get(fake, f"{SU}/projects/{PROJECT}/services/run.googleapis.com").json()["state"] == "ENABLED"
    assert _get(fake, path).status_code == 403
    fake.advance(new_project.ENABLE_PROPAGATION)
    assert _get(fake, path).status_code == 200


def test_batch_enable_takes_at_most_twenty(fake: FakeGcp) -> None:
    """More than 20 services in one batchEnable is refused, as the API documents."""
    ids = [f"s{i}.googleapis.com" for i in range(21)]
    answer = requests.post(f"{fake.url}{SU}/projects/{PROJECT}/services:batchEnable",
                           json={"serviceIds": ids}, timeout=10)
    assert answer.status_code == 400 and "maximum of 20" in answer.json()["error"]["message"]


# --- launchdeck: every API a deploy needs, in one batch -------------------------------------------


def test_a_first_deploy_enables_every_api_in_one_batch_first(provider, shop, fake: FakeGcp) -> None:
    """Before anything is made, one batchEnable turns on all the APIs the project needs."""
    fake.clear_requests()  # the fixture's config set turned Secret Manager on, its zone Cloud DNS
    result, _ = _deploy(provider, shop)
    assert result.ok, [(s.name, s.message) for s in result.services]
    writes = [w for w in _writes(fake) if "locks%2F" not in w and "/storage/v1/b" not in w]
    batches = [e for e in fake.mutations("serviceusage") if e["path"].endswith(":batchEnable")]
    assert len(batches) == 1 and writes[0].endswith(":batchEnable")
    wanted = usage.needed(shop.load().project)
    already = new_project.ENABLED_BY_DEFAULT | {"secretmanager.googleapis.com", "dns.googleapis.com"}
    assert set(batches[0]["body"]["serviceIds"]) == wanted - already
    assert {"sqladmin.googleapis.com", "redis.googleapis.com", "dns.googleapis.com",
            "compute.googleapis.com", "servicenetworking.googleapis.com"} <= wanted


def test_a_deploy_that_may_not_enable_names_every_api_and_the_command(provider, shop, fake: FakeGcp) -> None:
    """The caller lacks serviceusage.services.enable: one error names every missing API."""
    fake.knobs.denied_permissions = ["serviceusage.services.enable"]
    with pytest.raises(GcpError) as caught:
        _deploy(provider, shop)
    assert "gcloud services enable" in caught.value.hint
    for service in ("run.googleapis.com", "sqladmin.googleapis.com", "redis.googleapis.com"):
        assert service in caught.value.hint
    assert fake.mutations("run") == [] and fake.mutations("sqladmin") == []


def test_config_set_enables_secret_manager(provider: GcpProvider, fake: FakeGcp) -> None:
    """config set on a new project turns Secret Manager on, waits out its propagation, and writes."""
    go(provider.config_store("app", "dev").set, "TOKEN", "value-1")
    assert go(provider.config_store("app", "dev").names) == ["TOKEN"]
    assert [e["body"] for e in fake.mutations("serviceusage")] == [
        {"serviceIds": ["secretmanager.googleapis.com"]}]


def test_config_ls_on_a_new_project_lists_nothing(provider: GcpProvider, fake: FakeGcp) -> None:
    """With Secret Manager never enabled nothing was set: ls is empty and enables nothing."""
    assert go(provider.config_store("app", "dev").names) == []
    assert fake.mutations() == []


def test_refusals_right_after_enabling_are_retried_until_they_pass(fake: FakeGcp, gcp: Gcp) -> None:
    """An API just enabled by this door is retried through its propagation window, not failed."""
    fake.knobs.time_scale = 1.0  # Service Usage's own delays; the clock moves on once each was met
    enabling = _advance_when(fake, lambda log: any(":batchEnable" in e["path"] for e in log),
                             new_project.ENABLE_OPERATION)
    go(usage.enable, gcp, {"run.googleapis.com"})
    enabling.join(timeout=10)
    _advance_when(fake, lambda log: any(e["api"] == "run" and e["status"] == 403 for e in log),
                  new_project.ENABLE_PROPAGATION)
    found = go(gcp.all, "run.services", "list_services",
               parent=f"projects/{PROJECT}/locations/us-central1")
    assert found == []
    refused = [e for e in fake.requests() if e["api"] == "run" and e["status"] == 403]
    assert refused, "the window was not met: nothing was retried"


# --- the organization's policies --------------------------------------------------------------------


@pytest.mark.parametrize("member", ["allUsers", "allAuthenticatedUsers"])
def test_domain_restricted_sharing_refuses_public_members(enabled: FakeGcp, gcp: Gcp, member: str) -> None:
    """A new organization's domain-restricted sharing refuses a public binding; the hint names the
    constraint."""
    from google.cloud import secretmanager_v1 as sm
    from google.iam.v1 import policy_pb2

    secret = go(gcp.call, "secretmanager", "create_secret", parent=f"projects/{PROJECT}", secret_id="s",
                secret=sm.Secret(replication=sm.Replication(automatic={})))
    policy = policy_pb2.Policy(bindings=[policy_pb2.Binding(role="roles/secretmanager.secretAccessor",
                                                            members=[member])])
    with pytest.raises(GcpError) as caught:
        go(gcp.call, "secretmanager", "set_iam_policy", request={"resource": secret.name, "policy": policy})
    assert caught.value.status == "FAILED_PRECONDITION" and caught.value.code == 400
    assert "constraints/iam.allowedPolicyMemberDomains" in caught.value.hint


# --- IAM and Secret Manager are eventually consistent ---------------------------------------------


def _when(seen: Callable[[], bool], then: Callable[[], None]) -> threading.Thread:
    """Do ``then`` once ``seen`` holds: a lag that lasts until the code under test has met it,
    however fast or slow the machine."""

    def watch() -> None:
        deadline = time.monotonic() + 120
        while not seen() and time.monotonic() < deadline:
            time.sleep(0.005)
        then()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    return watcher


def _advance_when(fake: FakeGcp, seen: Callable[[list[dict]], bool], real_seconds: float) -> threading.Thread:
    """Move the fake's clock on by ``real_seconds`` once the request log shows what was ``seen``."""
    return _when(lambda: seen(fake.requests()), lambda: fake.advance(real_seconds))


def test_a_new_account_is_confirmed_and_grants_naming_it_are_retried(fake: FakeGcp, gcp: Gcp) -> None:
    """The stack's new account is read until it is there, and a grant refused because IAM has not
    caught up ("does not exist") is retried until it takes."""
    from launchdeck.providers.gcp import access, config, names

    fake.enable(PROJECT)
    fake.knobs.time_scale = 1.0  # IAM's own delays; the clock moves on only once each was met
    email = names.Names("app", "dev").account(PROJECT)
    def read_too_early(log: list[dict]) -> bool:  # a read refused after the create
        made = [i for i, e in enumerate(log) if e["api"] == "iam" and e["method"] == "POST"]
        return bool(made) and any(e["api"] == "iam" and e["status"] == 404 for e in log[made[0]:])

    read_early = _advance_when(fake, read_too_early, new_project.ACCOUNT_PROPAGATION / 2)
    go(access.account, gcp, names.Names("app", "dev"))
    read_early.join(timeout=10)
    go(config.put, gcp, "app-secret", {}, "v")
    named_early = _advance_when(
        fake, lambda log: any(":setIamPolicy" in e["path"] and e["status"] == 400 for e in log),
        new_project.ACCOUNT_PROPAGATION)
    assert go(config.grant, gcp, "app-secret", f"serviceAccount:{email}")
    named_early.join(timeout=10)
    refused = [e for e in fake.requests() if ":setIamPolicy" in e["path"] and e["status"] == 400]
    reads = [e for e in fake.requests() if e["api"] == "iam" and e["method"] == "GET" and e["status"] == 200]
    assert refused and len(reads) >= 3


def test_config_values_are_read_by_version_number_not_latest(provider: GcpProvider, fake: FakeGcp) -> None:
    """A value set a moment ago is what a deploy reads, though ``latest`` still answers the old one."""
    from launchdeck.providers.gcp import names

    fake.enable(PROJECT)
    fake.knobs.time_scale = 1.0  # latest lags a minute, longer than any machine takes here
    store = provider.config_store("app", "dev")
    go(store.set, "TOKEN", "old-value")
    fake.advance(new_project.LATEST_LAG)
    go(store.set, "TOKEN", "new-value")
    assert go(store.values, ["TOKEN"]) == {"TOKEN": "new-value"}
    latest = f"projects/{PROJECT}/secrets/{names.secret_id('app', 'dev', 'TOKEN')}/versions/latest"
    assert go(provider.gcp.call, "secretmanager", "access_secret_version", name=latest).payload.data == \
        b"old-value"


def test_a_revision_refused_for_a_grant_not_yet_propagated_is_retried(provider, shop, fake: FakeGcp) -> None:
    """Cloud Run refuses the first revision (secret access not propagated); a new one is made and the
    deploy completes."""
    fake.knobs.held_roles = ["roles/secretmanager.secretAccessor"]  # until a revision has met it
    run = fake.api("run")

    def refused() -> bool:
        with fake.lock:
            return any(r.conditions and r.conditions[0].state == 3 for r in run.revisions.values())

    released = _when(refused, lambda: setattr(fake.knobs, "held_roles", []))
    result, recorder = _deploy(provider, shop)
    released.join(timeout=10)
    assert result.ok, [(s.name, s.message) for s in result.services]
    assert any("trying a new revision" in (e.message or "") for e in recorder.events)
    failed = [r for r in run.revisions.values() if r.conditions[0].state == 3]
    assert failed and "Permission denied on secret" in failed[0].conditions[0].message


def test_a_derived_secret_is_granted_before_its_store_is_made(provider, shop, fake: FakeGcp) -> None:
    """A database URL with its password is a derived secret: made empty and granted to the
    stack's account in prepare, so its grant propagates while Cloud SQL creates the instance;
    its value is added once the instance's address is known."""
    result, _ = _deploy(provider, shop)
    assert result.ok, [(s.name, s.message) for s in result.services]
    writes = _writes(fake)
    derived = [i for i, w in enumerate(writes) if "-derived-backend-DATABASE_URL" in w]
    granted = [i for i in derived if writes[i].endswith(":setIamPolicy")]
    versions = [i for i in derived if writes[i].endswith(":addVersion")]
    store = [i for i, w in enumerate(writes) if w.startswith("POST /sqladmin/") and w.endswith("/instances")]
    assert granted and versions and store, writes
    assert granted[0] < store[0] < versions[0]


# --- stores report why -----------------------------------------------------------------------------


@pytest.mark.parametrize(("store", "reason", "said"), [
    ("db", "quota", "QUOTA_EXCEEDED"),
    ("cache", "zone", "ZONE_RESOURCE_POOL_EXHAUSTED"),
])
def test_a_store_create_that_fails_fails_the_deploy_with_gcps_reason(
        provider, shop, fake: FakeGcp, store: str, reason: str, said: str) -> None:
    """The create's operation is kept and polled: its error ends the deploy at once, named."""
    fake.knobs.failing_stores = {f"shop-dev-{store}": reason}
    started = time.monotonic()
    result, _ = _deploy(provider, shop)
    failed = {s.name: s.message for s in result.services if s.state.failed}
    assert not result.ok and said in failed.get(store, ""), failed
    assert time.monotonic() - started < 60


def test_a_cloud_sql_change_while_another_runs_waits_for_it(enabled: FakeGcp, gcp: Gcp) -> None:
    """operationInProgress is waited out: the second change goes through once the first is done."""
    from google.cloud import sqladmin_v1 as s

    from launchdeck.providers.gcp import network

    fake = enabled
    fake.knobs.lro_polls = 3
    go(network.private_services_access, gcp, network.Network(), project_number(PROJECT), 0)
    vpc = f"projects/{PROJECT}/global/networks/default"
    private = s.IpConfiguration(ipv4_enabled=False, private_network=vpc)
    body = s.DatabaseInstance(name="db-1", database_version=s.SqlDatabaseVersion.POSTGRES_16,
                              settings=s.Settings(tier="db-f1-micro", ip_configuration=private))
    op = go(gcp.rest, "sqladmin", "POST", f"/v1/projects/{PROJECT}/instances", response_type=s.Operation,
            body=body)
    go(gcp.wait, op, what="make", api="sqladmin")
    base = f"/v1/projects/{PROJECT}/instances/db-1"
    go(gcp.rest, "sqladmin", "POST", f"{base}/databases", body=s.Database(name="a"),
       response_type=s.Operation)
    second = go(gcp.rest, "sqladmin", "POST", f"{base}/databases", body=s.Database(name="b"),
                response_type=s.Operation)
    assert second.operation_type.name == "CREATE_DATABASE"
    busy = [e for e in fake.requests() if e["api"] == "sqladmin" and e["status"] == 409]
    assert busy, "the second change was never refused: nothing was waited out"


# --- a build identity that can build ------------------------------------------------------------


def test_builds_run_as_the_build_account_with_what_a_build_needs(provider, shop, fake: FakeGcp) -> None:
    """The build names launchdeck-builder, which holds push, log and bucket rights on the project."""
    result, _ = _deploy(provider, shop)
    assert result.ok, [(s.name, s.message) for s in result.services]
    email = f"launchdeck-builder@{PROJECT}.iam.gserviceaccount.com"
    builds = list(fake.api("cloudbuild").builds.values())
    assert builds and {b.service_account for b in builds} == {f"projects/{PROJECT}/serviceAccounts/{email}"}
    roles = ("roles/artifactregistry.writer", "roles/logging.logWriter", "roles/storage.objectUser")
    holders = {role: fake.api("cloudresourcemanager").members_with(PROJECT, {role}) for role in roles}
    assert all(f"serviceAccount:{email}" in members for members in holders.values())
    assert builds[-1].status == 3  # SUCCESS


def test_builds_start_beside_private_services_access(provider, shop, fake: FakeGcp) -> None:
    """The builds wait for what they stand on (the repository, the build account), not for
    the rest of prepare: Private Services Access (an address, then a peering, each an
    operation) is still being made when the build starts, and the stores start after it."""
    fake.knobs.lro_polls = 12
    result, _ = _deploy(provider, shop)
    assert result.ok, [(s.name, s.message) for s in result.services]
    writes = _writes(fake)
    build = next(i for i, w in enumerate(writes) if w.startswith("POST /cloudbuild/"))
    store = next(i for i, w in enumerate(writes)
                 if w.startswith("POST /sqladmin/") and w.endswith("/instances"))
    assert build < store, writes


def _fresh_build(fake: FakeGcp, provider) -> tuple[object, str, str]:
    """A build of web:abc as the build account launchdeck has just made (and granted)."""
    from launchdeck.compose.model import Build, Service
    from launchdeck.providers.gcp import access, build, names
    from tests.providers.gcp.test_build import _empty_tar_gz

    go(provider.bucket.ensure, project_number(PROJECT))
    go(build.repository, provider.gcp)
    builder = build.CloudBuild(provider.gcp, provider.bucket, go(access.builder, provider.gcp))
    go(builder.upload, "contexts/t.tar.gz", _empty_tar_gz())
    image = f"{names.registry(PROJECT, 'us-central1')}/shop/dev/web:abc"
    build_id = go(builder.start, "contexts/t.tar.gz", image,
                  Service(name="web", build=Build(context=".", dockerfile="Dockerfile")))
    return builder, build_id, image


def test_a_context_is_uploaded_while_the_build_account_propagates(provider, shop, enabled: FakeGcp) -> None:
    """Checking the registry for the image and uploading its context need no build account:
    they are done while the new account propagates, and only the build's start waits for its grants."""
    enabled.knobs.time_scale = 0.01  # a new account takes 0.6 s to be usable in a policy
    result, _ = _deploy(provider, shop)
    assert result.ok, [(s.name, s.message) for s in result.services]
    calls = enabled.requests()
    looked = next(i for i, c in enumerate(calls) if "/o/contexts%2F" in c["path"])  # is it there?
    upload = next(i for i, c in enumerate(calls) if i > looked and "/upload/" in c["path"])
    granted = next(i for i, c in enumerate(calls)
                   if c["path"].split("?")[0].endswith(f"/projects/{PROJECT}:setIamPolicy")
                   and c["status"] == 200)
    started = next(i for i, c in enumerate(calls) if c["path"].startswith("/cloudbuild/"))
    assert upload < granted < started, [f"{c['method']} {c['path']}" for c in calls]


def test_a_push_refused_while_the_build_accounts_grants_propagate_is_retried_within_the_build(
    enabled: FakeGcp, provider
) -> None:
    """The build account's push right has not reached Artifact Registry: the build's push step
    tries again until it has, and the one build succeeds without being run again."""
    enabled.knobs.held_roles = ["roles/artifactregistry.writer"]  # the grant lags, however fast we are
    builder, build_id, image = _fresh_build(enabled, provider)
    phases = [go(builder.poll, build_id) for _ in range(8)]
    assert all(p.state in ("queued", "running") for p in phases)  # never failed, never pushed
    enabled.knobs.held_roles = []  # the grant has reached Artifact Registry
    enabled.advance(new_project.GRANT_PROPAGATION)
    for _ in range(20):
        if go(builder.poll, build_id).state == "succeeded":
            break
    builds = list(enabled.api("cloudbuild").builds.values())
    assert len(builds) == 1 and builds[0].status == 3 and list(builds[0].images) == [image]  # SUCCESS
    push = builds[0].steps[-1]
    assert push.entrypoint == "bash" and f"until docker push {image};" in push.args[1]
    log = go(builder.log_tail, build_id, 50)
    assert any("uploadArtifacts" in line and "retrying" in line for line in log), log


def test_a_push_still_refused_when_its_step_times_out_fails_the_build(enabled: FakeGcp, provider) -> None:
    """A push refused for longer than grants take to propagate fails the build at its push step,
    with the refusal in the log."""
    from launchdeck.providers.gcp.api import PROPAGATION

    enabled.knobs.held_roles = ["roles/artifactregistry.writer"]  # never released
    builder, build_id, _ = _fresh_build(enabled, provider)
    assert all(go(builder.poll, build_id).state in ("queued", "running") for _ in range(8))  # refused
    enabled.advance(PROPAGATION)
    phase = None
    for _ in range(20):
        phase = go(builder.poll, build_id)
        if phase.state == "failed":
            break
    assert phase is not None and phase.state == "failed" and phase.step == "step 1 (push)", phase
    assert "timed out" in phase.reason
    assert any("uploadArtifacts" in line for line in go(builder.log_tail, build_id, 50))


def test_a_build_as_the_default_identity_cannot_push_in_a_new_project(enabled: FakeGcp, provider) -> None:
    """The default compute account holds no role in a secure-by-default organization: the push fails."""
    from launchdeck.compose.model import Build, Service
    from launchdeck.providers.gcp import build, names
    from tests.providers.gcp.test_build import _empty_tar_gz

    go(provider.bucket.ensure, project_number(PROJECT))
    go(build.repository, provider.gcp)
    builder = build.CloudBuild(provider.gcp, provider.bucket)
    go(builder.upload, "contexts/t.tar.gz", _empty_tar_gz())
    image = f"{names.registry(PROJECT, 'us-central1')}/shop/dev/web:abc"
    build_id = go(builder.start, "contexts/t.tar.gz", image,
                  Service(name="web", build=Build(context=".", dockerfile="Dockerfile")))
    phase = None
    for _ in range(10):
        phase = go(builder.poll, build_id)
        if phase.state == "failed":
            break
    assert phase is not None and phase.state == "failed" and "uploadArtifacts" in phase.reason
    assert len(enabled.api("cloudbuild").builds[build_id].steps) == 1  # no account just granted: no retry


def test_a_caller_who_may_not_act_as_the_build_account_is_told_the_role(provider, shop, fake) -> None:
    """Without iam.serviceAccounts.actAs on the build account, one error names the role that grants it."""
    fake.knobs.denied_permissions = ["iam.serviceAccounts.actAs"]
    with pytest.raises(GcpError) as caught:
        _deploy(provider, shop)
    assert "roles/iam.serviceAccountUser" in caught.value.hint and "launchdeck-builder" in caught.value.hint
    assert fake.mutations("cloudbuild") == []


# --- managed certificates wait for DNS --------------------------------------------------------------


def test_a_managed_certificate_waits_for_the_a_record(provider, shop, fake: FakeGcp) -> None:
    """The certificate is PROVISIONING until the domain's A record points at the balancer, then ACTIVE;
    the deploy says so meanwhile."""
    from launchdeck.providers.gcp import ingress, names

    fake.knobs.time_scale = 0.002  # ACTIVE 1.8 s after DNS points
    result, _ = _deploy(provider, shop)
    assert result.ok
    compute = fake.api("compute")
    key = next(k for k in compute.resources if "/sslCertificates/" in k)
    records = fake.api("dns").records[(PROJECT, "example-com")]
    assert ("shop.example.com.", "A") in records
    routes = ingress.routes(shop.load().project, names.Names("shop", "dev"))
    status = go(ingress.certificate_status, provider.gcp, names.Names("shop", "dev"), routes)
    assert status == "PROVISIONING" and compute.resources[key].managed.status == "PROVISIONING"
    del records[("shop.example.com.", "A")]
    fake.advance(new_project.CERTIFICATE_AFTER_DNS)
    go(ingress.certificate_status, provider.gcp, names.Names("shop", "dev"), routes)
    assert compute.resources[key].managed.status == "PROVISIONING"  # DNS no longer points: no clock


# --- hints keyed on what GCP says ------------------------------------------------------------------


def test_a_project_without_billing_is_told_to_link_a_billing_account(provider, shop, fake: FakeGcp) -> None:
    """Enabling the APIs fails for want of billing: the hint is the billing command, not a role."""
    fake.knobs.billing_disabled = True
    with pytest.raises(GcpError) as caught:
        _deploy(provider, shop)
    assert "gcloud billing projects link shop-project" in caught.value.hint


def test_an_api_call_refused_for_billing_names_billing(enabled: FakeGcp, gcp: Gcp) -> None:
    """BILLING_DISABLED on a call is answered with the billing command."""
    enabled.knobs.billing_disabled = True
    with pytest.raises(GcpError) as caught:
        go(gcp.all, "run.services", "list_services", parent=f"projects/{PROJECT}/locations/us-central1")
    assert caught.value.reason == "BILLING_DISABLED" and "gcloud billing projects link" in caught.value.hint


def test_a_missing_act_as_names_the_service_account_user_role(enabled: FakeGcp, gcp: Gcp) -> None:
    """A service naming an account the caller may not act as: the hint names roles/iam.serviceAccountUser."""
    from google.cloud import run_v2

    enabled.knobs.denied_permissions = ["iam.serviceAccounts.actAs"]
    service = run_v2.Service(template=run_v2.RevisionTemplate(
        service_account=f"runner@{PROJECT}.iam.gserviceaccount.com",
        containers=[run_v2.Container(image="docker.io/library/nginx")]))
    with pytest.raises(GcpError) as caught:
        go(gcp.call, "run.services", "create_service", parent=f"projects/{PROJECT}/locations/us-central1",
           service=service, service_id="web")
    assert "roles/iam.serviceAccountUser" in caught.value.hint
    assert f"runner@{PROJECT}.iam.gserviceaccount.com" in caught.value.hint


def test_waiting_for_propagation_is_reported_as_progress(provider, shop, fake: FakeGcp) -> None:
    """A first deploy says when it waits for Google to propagate what it just made or enabled."""
    fake.knobs.time_scale = 0.003
    result, recorder = _deploy(provider, shop)
    assert result.ok
    said = [e.message for e in recorder.events if "waiting for Google to propagate" in (e.message or "")]
    assert said and len(said) == len(set(said))
