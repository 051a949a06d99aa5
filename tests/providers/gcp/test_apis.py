"""Each API of the fake driven through its real client library via the door: round trips and refusals."""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Callable
from functools import partial
from typing import Any

import anyio
import pytest

from launchdeck.providers.gcp import policy
from launchdeck.providers.gcp.api import Gcp, GcpError
from testkit.gcp import FakeGcp
from tests.providers.gcp.conftest import LOCATION, PROJECT, go

# each is about one API's shapes; a new project's ways are in test_new_project.py
pytestmark = pytest.mark.usefixtures("old_project")

BUCKET = f"{PROJECT}-launchdeck"
IMAGE = f"us-central1-docker.pkg.dev/{PROJECT}/launchdeck/web:c0ffee"


def _tarball() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        data = b"FROM busybox\n"
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return gzip.compress(buffer.getvalue())


async def _bucket(gcp: Gcp) -> object:
    client = gcp.client("storage")
    bucket = client.bucket(BUCKET)
    bucket.labels = {"launchdeck": "shared"}
    bucket.iam_configuration.uniform_bucket_level_access_enabled = True
    bucket.iam_configuration.public_access_prevention = "enforced"
    return await gcp.call("storage", "create_bucket", bucket, location="us-central1")


async def _repository(gcp: Gcp) -> object:
    from google.cloud import artifactregistry_v1 as ar

    op = await gcp.call(
        "artifactregistry",
        "create_repository",
        parent=LOCATION,
        repository_id="launchdeck",
        repository=ar.Repository(format_=ar.Repository.Format.DOCKER, labels={"a": "b"}),
    )
    return await gcp.wait(op, what="create repository", api="artifactregistry")


# --- Cloud Storage -------------------------------------------------------------------------


def test_bucket_round_trip(gcp: Gcp) -> None:
    """A bucket keeps its labels, uniform access and public access prevention; delete makes it 404."""

    async def scenario() -> tuple[object, object]:
        await _bucket(gcp)
        read = await gcp.call("storage", "get_bucket", BUCKET)
        await gcp.run(lambda: read.delete, api="storage", what="delete bucket")
        return read, await gcp.maybe("storage", "get_bucket", BUCKET)

    read, gone = go(scenario)
    assert read.labels == {"launchdeck": "shared"}
    assert read.iam_configuration.uniform_bucket_level_access_enabled
    assert read.iam_configuration.public_access_prevention == "enforced" and gone is None


def test_create_only_if_absent_has_one_winner(gcp: Gcp) -> None:
    """Two concurrent creators of one object with ifGenerationMatch=0: one wins, the other gets 412."""
    outcomes: list[object] = []

    async def create(owner: bytes) -> None:
        blob = gcp.client("storage").bucket(BUCKET).blob("locks/shop/dev")
        try:
            await gcp.run(
                lambda: blob.upload_from_string, owner, if_generation_match=0, api="storage", what="take lock"
            )
            outcomes.append(owner)
        except GcpError as exc:
            outcomes.append(exc.code)

    async def scenario() -> bytes:
        await _bucket(gcp)
        async with anyio.create_task_group() as group:
            group.start_soon(create, b"deploy-1")
            group.start_soon(create, b"deploy-2")
        blob = gcp.client("storage").bucket(BUCKET).blob("locks/shop/dev")
        return await gcp.run(lambda: blob.download_as_bytes, api="storage", what="read lock")

    holder = go(scenario)
    assert sorted(map(str, outcomes)) == sorted(["412", str(holder)])


def test_objects_list_by_prefix_and_delete_on_generation(gcp: Gcp) -> None:
    """Listing by prefix finds only that prefix; a delete with a stale generation is refused 412."""

    async def scenario() -> tuple[list[str], int]:
        await _bucket(gcp)
        bucket = gcp.client("storage").bucket(BUCKET)
        for name in ("ctx/web.tgz", "ctx/api.tgz", "records/shop.json"):
            await gcp.run(
                lambda name=name: bucket.blob(name).upload_from_string, b"x", api="storage", what="put"
            )
        names = [b.name for b in await gcp.call("storage", "list_blobs", BUCKET, prefix="ctx/")]
        blob = await gcp.run(lambda: bucket.get_blob, "ctx/web.tgz", api="storage", what="get")
        with pytest.raises(GcpError) as caught:
            await gcp.run(
                lambda: blob.delete, if_generation_match=blob.generation + 1, api="storage", what="rm"
            )
        return names, caught.value.code

    assert go(scenario) == (["ctx/api.tgz", "ctx/web.tgz"], 412)


# --- Artifact Registry and Cloud Build ------------------------------------------------------


def test_repository_round_trip_and_already_exists(fake: FakeGcp, gcp: Gcp) -> None:
    """A repository is created by an operation done after polls; a second create is ALREADY_EXISTS."""

    async def scenario() -> object:
        made = await _repository(gcp)
        with pytest.raises(GcpError) as caught:
            await _repository(gcp)
        assert caught.value.status == "ALREADY_EXISTS"
        return made

    made = go(scenario)
    assert made.name == f"{LOCATION}/repositories/launchdeck"
    polls = [r for r in fake.requests() if "/operations/" in r["path"]]
    assert len(polls) == fake.knobs.lro_polls


def test_bad_repository_id_is_refused(gcp: Gcp) -> None:
    """A repository id with capitals is not a valid resource name."""
    from google.cloud import artifactregistry_v1 as ar

    with pytest.raises(GcpError) as caught:
        go(
            gcp.call,
            "artifactregistry",
            "create_repository",
            parent=LOCATION,
            repository_id="Bad_Repo",
            repository=ar.Repository(format_=ar.Repository.Format.DOCKER),
        )
    assert caught.value.status == "INVALID_ARGUMENT"


def _build(image: str = IMAGE) -> object:
    from google.cloud.devtools import cloudbuild_v1 as cb

    return cb.Build(
        source=cb.Source(storage_source=cb.StorageSource(bucket=BUCKET, object_="ctx/web.tgz")),
        steps=[cb.BuildStep(name="gcr.io/cloud-builders/docker", args=["build", "-t", image, "."])],
        images=[image],
        logs_bucket=f"gs://{BUCKET}/builds",
        tags=["launchdeck"],
    )


async def _run_build(gcp: Gcp, statuses: list[str]) -> object:
    await _bucket(gcp)
    bucket = gcp.client("storage").bucket(BUCKET)
    await gcp.run(
        lambda: bucket.blob("ctx/web.tgz").upload_from_string, _tarball(), api="storage", what="put"
    )
    await _repository(gcp)
    op = await gcp.call("cloudbuild", "create_build", project_id=PROJECT, build=_build(), parent=LOCATION)
    return await gcp.wait(
        op, what="build", api="cloudbuild", on_progress=lambda meta: statuses.append(meta.build.status.name)
    )


def test_build_pushes_the_tag_and_writes_its_log(gcp: Gcp) -> None:
    """A build works over polls, then succeeds: its image tag then exists and its log is in the bucket."""
    statuses: list[str] = []

    async def scenario() -> tuple[object, object, list[str]]:
        build = await _run_build(gcp, statuses)
        tag = await gcp.call(
            "artifactregistry", "get_tag", name=f"{LOCATION}/repositories/launchdeck/packages/web/tags/c0ffee"
        )
        logs = [b.name for b in await gcp.call("storage", "list_blobs", BUCKET, prefix="builds/")]
        return build, tag, logs

    build, tag, logs = go(scenario)
    assert build.status.name == "SUCCESS" and set(statuses) == {"WORKING"}
    assert tag.version.endswith(build.results.images[0].digest)
    assert logs == [f"builds/log-{build.id}.txt"]


def test_package_of_an_image_is_listed_and_deleted(gcp: Gcp) -> None:
    """An image path with slashes is one package (escaped %2F); deleting it removes its tags."""
    image = f"us-central1-docker.pkg.dev/{PROJECT}/launchdeck/shop/dev/web:c0ffee"
    repository = f"{LOCATION}/repositories/launchdeck"

    async def scenario() -> tuple[list[str], object]:
        await _bucket(gcp)
        bucket = gcp.client("storage").bucket(BUCKET)
        await gcp.run(
            lambda: bucket.blob("ctx/web.tgz").upload_from_string, _tarball(), api="storage", what="put"
        )
        await _repository(gcp)
        op = await gcp.call(
            "cloudbuild", "create_build", project_id=PROJECT, build=_build(image), parent=LOCATION
        )
        await gcp.wait(op, what="build", api="cloudbuild")
        packages = [p.name for p in await gcp.call("artifactregistry", "list_packages", parent=repository)]
        done = await gcp.call("artifactregistry", "delete_package", name=packages[0])
        await gcp.wait(done, what="delete package", api="artifactregistry")
        tag = await gcp.maybe(
            "artifactregistry", "get_tag", name=f"{repository}/packages/shop%2Fdev%2Fweb/tags/c0ffee"
        )
        return packages, tag

    packages, tag = go(scenario)
    assert packages == [f"{repository}/packages/shop%2Fdev%2Fweb"] and tag is None


def test_failing_build_ends_in_failure_with_its_log(fake: FakeGcp, gcp: Gcp) -> None:
    """The failing_builds knob fails a build: the operation fails and the log's tail says why."""
    fake.knobs.failing_builds = {"web": "npm ERR! missing script: build"}
    with pytest.raises(GcpError):
        go(_run_build, gcp, [])
    log = next(
        data for name, (_, data) in fake.api("storage").objects[BUCKET].items() if name.startswith("builds/")
    )
    assert b"npm ERR! missing script: build" in log


def test_build_from_a_missing_object_is_refused(gcp: Gcp) -> None:
    """A build whose source object does not exist cannot resolve its source."""

    async def scenario() -> None:
        await _bucket(gcp)
        await gcp.call("cloudbuild", "create_build", project_id=PROJECT, build=_build(), parent=LOCATION)

    with pytest.raises(GcpError) as caught:
        go(scenario)
    assert "could not resolve source" in caught.value.message


# --- Cloud Run ---------------------------------------------------------------------------


def _service(image: str = "us-docker.pkg.dev/cloudrun/container/hello", **fields: object) -> object:
    from google.cloud import run_v2

    return run_v2.Service(
        labels={"launchdeck-stack": "dev"},
        template=run_v2.RevisionTemplate(
            containers=[run_v2.Container(image=image, ports=[run_v2.ContainerPort(container_port=8080)])]
        ),
        **fields,
    )


async def _deploy(gcp: Gcp, service_id: str = "web", service: object = None) -> object:
    op = await gcp.call(
        "run.services",
        "create_service",
        parent=LOCATION,
        service=service or _service(),
        service_id=service_id,
    )
    return await gcp.wait(op, what=f"deploy {service_id}", api="run")


def test_service_becomes_ready_with_a_revision_and_url(gcp: Gcp) -> None:
    """A created service ends Ready with a URL and one revision, listed under it."""

    async def scenario() -> tuple[object, list[str]]:
        service = await _deploy(gcp)
        revisions = await gcp.call("run.revisions", "list_revisions", parent=service.name)
        return service, [r.name for r in revisions]

    service, revisions = go(scenario)
    assert service.terminal_condition.state.name == "CONDITION_SUCCEEDED"
    assert service.uri and service.urls and revisions == [service.latest_ready_revision]
    assert service.observed_generation == service.generation == 1


def test_second_create_is_already_exists(gcp: Gcp) -> None:
    """Creating a service that exists is ALREADY_EXISTS (409)."""

    async def scenario() -> None:
        await _deploy(gcp)
        await _deploy(gcp)

    with pytest.raises(GcpError) as caught:
        go(scenario)
    assert (caught.value.code, caught.value.status) == (409, "ALREADY_EXISTS")


@pytest.mark.parametrize("service_id", ["Web", "web_api", "1web", "web-"])
def test_bad_service_id_is_refused(gcp: Gcp, service_id: str) -> None:
    """A service id that is not a lowercase DNS label is refused before any operation starts."""
    with pytest.raises(GcpError) as caught:
        go(_deploy, gcp, service_id)
    assert caught.value.status == "INVALID_ARGUMENT"


def test_container_that_does_not_listen_fails_the_deploy(fake: FakeGcp, gcp: Gcp) -> None:
    """The failing_services knob fails the revision with the real API's 'failed to start and listen'."""
    fake.knobs.failing_services = {"web": ""}
    with pytest.raises(GcpError) as caught:
        go(_deploy, gcp)
    assert "failed to start and listen on the port" in caught.value.message
    service = go(gcp.call, "run.services", "get_service", name=f"{LOCATION}/services/web")
    assert service.terminal_condition.reason.name == "REVISION_FAILED"


async def _v1_revision(gcp: Gcp, revision: str) -> Any:
    """A revision as the Admin API v1 shows it (namespaces.revisions.get, regional endpoint)."""
    return await gcp.rest("run", "GET", f"/apis/serving.knative.dev/v1/namespaces/{PROJECT}/"
                          f"revisions/{revision.rsplit('/', 1)[-1]}",
                          host="us-central1-run.googleapis.com")


def test_a_revision_keeps_the_digest_its_tag_named_when_it_was_made(fake: FakeGcp, gcp: Gcp) -> None:
    """The v1 revision's status.imageDigest is the public tag's digest when the revision was
    made: pushing over the tag upstream leaves it, and a new revision resolves the new one;
    an image named by digest resolves to that digest."""
    from google.cloud import run_v2

    async def scenario() -> tuple[Any, Any, Any, Any]:
        service = await _deploy(gcp, "web", _service("nginx:1.27"))
        first = await _v1_revision(gcp, service.latest_ready_revision)
        fake.push_public("docker.io/library/nginx:1.27")
        again = await _v1_revision(gcp, service.latest_ready_revision)
        service.template.containers[0].env.append(run_v2.EnvVar(name="MODE", value="two"))
        op = await gcp.call("run.services", "update_service", service=service)
        service = await gcp.wait(op, what="update web", api="run")
        second = await _v1_revision(gcp, service.latest_ready_revision)
        digest = first["status"]["imageDigest"].split("@")[1]
        pinned = await _deploy(gcp, "pinned", _service(f"nginx@{digest}"))
        return first, again, second, await _v1_revision(gcp, pinned.latest_ready_revision)

    first, again, second, pinned = go(scenario)
    assert (first["apiVersion"], first["kind"]) == ("serving.knative.dev/v1", "Revision")
    assert first["spec"]["containers"] == [{"image": "nginx:1.27"}]
    assert first["status"]["conditions"][0]["type"] == "Ready"
    assert first["status"]["conditions"][0]["status"] == "True"
    assert first["status"]["imageDigest"].startswith("docker.io/library/nginx@sha256:")
    assert again["status"]["imageDigest"] == first["status"]["imageDigest"]
    assert second["status"]["imageDigest"].startswith("docker.io/library/nginx@sha256:")
    assert second["status"]["imageDigest"] != first["status"]["imageDigest"]
    assert pinned["status"]["imageDigest"] == first["status"]["imageDigest"]


def test_an_artifact_registry_revision_resolves_what_its_tag_was_pushed_as(fake: FakeGcp,
                                                                          gcp: Gcp) -> None:
    """An image of the project's repository resolves to the digest its tag named at the
    revision's creation, not what a later push of the tag names."""

    async def scenario() -> None:
        op = await gcp.call("artifactregistry", "create_repository", parent=LOCATION,
                            repository_id="launchdeck", repository={"format_": "DOCKER"})
        await gcp.wait(op, what="make a repository", api="artifactregistry")

    go(scenario)
    registry = fake.api("artifactregistry")
    pushed = registry.push(IMAGE, "first")
    service = go(_deploy, gcp, "web", _service(IMAGE))
    registry.push(IMAGE, "second")
    found = go(_v1_revision, gcp, service.latest_ready_revision)
    assert found["status"]["imageDigest"] == f"{IMAGE.rsplit(':', 1)[0]}@{pushed}"


def test_an_unknown_v1_revision_is_not_found(gcp: Gcp) -> None:
    """The v1 read of a revision that does not exist is 404 NOT_FOUND."""
    with pytest.raises(GcpError) as caught:
        go(_v1_revision, gcp, "web-00001-abc")
    assert (caught.value.code, caught.value.status) == (404, "NOT_FOUND")


def test_image_not_in_the_registry_fails_the_deploy(gcp: Gcp) -> None:
    """A service whose Artifact Registry image was never pushed fails with 'Image ... not found'."""
    with pytest.raises(GcpError) as caught:
        go(_deploy, gcp, "web", _service(IMAGE))
    assert "not found" in caught.value.message


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("service_account", f"nobody@{PROJECT}.iam.gserviceaccount.com", "does not exist"),
        (
            "vpc_access",
            {"network_interfaces": [{"network": "default", "subnetwork": "nowhere"}]},
            "was not found",
        ),
    ],
)
def test_missing_account_or_subnetwork_is_refused_before_any_operation(
    gcp: Gcp, field: str, value: object, said: str
) -> None:
    """A revision naming a service account or Direct VPC egress subnetwork that does not exist is refused."""
    service = _service()
    setattr(service.template, field, value)
    with pytest.raises(GcpError) as caught:
        go(_deploy, gcp, "web", service)
    assert caught.value.status == "INVALID_ARGUMENT" and said in caught.value.message


def test_public_invoker_policy_and_delete(fake: FakeGcp, gcp: Gcp) -> None:
    """In an old project (no organization policy) allUsers can be made invoker of a service;
    deleting it leaves it NOT_FOUND."""
    from google.iam.v1 import policy_pb2


    async def scenario() -> object:
        service = await _deploy(gcp)
        policy = policy_pb2.Policy(
            bindings=[policy_pb2.Binding(role="roles/run.invoker", members=["allUsers"])]
        )
        await gcp.call("run.services", "set_iam_policy", request={"resource": service.name, "policy": policy})
        assert fake.api("run").invokers(service.name) == {"allUsers"}
        await gcp.wait(
            await gcp.call("run.services", "delete_service", name=service.name), what="rm", api="run"
        )
        return await gcp.maybe("run.services", "get_service", name=service.name)

    assert go(scenario) is None


def test_secret_the_service_account_cannot_read_fails_the_deploy(gcp: Gcp) -> None:
    """A secret env var whose secret the revision's account may not access fails the revision."""
    from google.cloud import run_v2
    from google.cloud import secretmanager_v1 as sm

    async def scenario() -> None:
        await gcp.call(
            "secretmanager",
            "create_secret",
            parent=f"projects/{PROJECT}",
            secret_id="api-key",
            secret=sm.Secret(replication=sm.Replication(automatic={})),
        )
        await gcp.call(
            "secretmanager",
            "add_secret_version",
            parent=f"projects/{PROJECT}/secrets/api-key",
            payload=sm.SecretPayload(data=b"sk-123"),
        )
        from google.cloud import iam_admin_v1 as ia

        account = await gcp.rest(
            "iam",
            "POST",
            f"/v1/projects/{PROJECT}/serviceAccounts",
            body=ia.CreateServiceAccountRequest(account_id="shop-runner"),
            response_type=ia.ServiceAccount,
        )
        service = _service()
        service.template.service_account = account.email
        service.template.containers[0].env = [
            run_v2.EnvVar(
                name="API_KEY",
                value_source=run_v2.EnvVarSource(
                    secret_key_ref=run_v2.SecretKeySelector(secret="api-key", version="latest")
                ),
            )
        ]
        await _deploy(gcp, "web", service)

    with pytest.raises(GcpError) as caught:
        go(scenario)
    assert "roles/secretmanager.secretAccessor" in caught.value.message


# --- Secret Manager, IAM, Resource Manager ------------------------------------------------------


def test_secret_round_trip_with_label_filter(gcp: Gcp) -> None:
    """Secrets are created with labels, found by label filter, read at 'latest', deleted."""
    from google.cloud import secretmanager_v1 as sm

    async def scenario() -> tuple[list[str], bytes, object]:
        for name, stack in (("shop-dev-API_KEY", "dev"), ("shop-prod-API_KEY", "prod")):
            secret = await gcp.call(
                "secretmanager",
                "create_secret",
                parent=f"projects/{PROJECT}",
                secret_id=name,
                secret=sm.Secret(
                    replication=sm.Replication(automatic={}), labels={"launchdeck-stack": stack}
                ),
            )
            await gcp.call(
                "secretmanager",
                "add_secret_version",
                parent=secret.name,
                payload=sm.SecretPayload(data=f"value-{stack}".encode()),
            )
        listed = await gcp.call(
            "secretmanager",
            "list_secrets",
            request={"parent": f"projects/{PROJECT}", "filter": "labels.launchdeck-stack=dev"},
        )
        value = await gcp.call(
            "secretmanager",
            "access_secret_version",
            name=f"projects/{PROJECT}/secrets/shop-dev-API_KEY/versions/latest",
        )
        await gcp.call("secretmanager", "delete_secret", name=f"projects/{PROJECT}/secrets/shop-dev-API_KEY")
        gone = await gcp.maybe(
            "secretmanager", "get_secret", name=f"projects/{PROJECT}/secrets/shop-dev-API_KEY"
        )
        return [s.name.split("/")[-1] for s in listed], value.payload.data, gone

    assert go(scenario) == (["shop-dev-API_KEY"], b"value-dev", None)


def test_service_account_round_trip(gcp: Gcp) -> None:
    """A service account is created, read by email, listed and deleted over IAM's HTTP rules."""
    from google.cloud import iam_admin_v1 as ia

    async def scenario() -> tuple[str, list[str], int]:
        body = ia.CreateServiceAccountRequest(
            account_id="shop-dev-runner", service_account=ia.ServiceAccount(display_name="shop dev")
        )
        made = await gcp.rest(
            "iam",
            "POST",
            f"/v1/projects/{PROJECT}/serviceAccounts",
            body=body,
            response_type=ia.ServiceAccount,
        )
        listed = await gcp.rest(
            "iam",
            "GET",
            f"/v1/projects/{PROJECT}/serviceAccounts",
            response_type=ia.ListServiceAccountsResponse,
        )
        await gcp.rest("iam", "DELETE", f"/v1/projects/{PROJECT}/serviceAccounts/{made.email}")
        with pytest.raises(GcpError) as caught:
            await gcp.rest("iam", "GET", f"/v1/projects/{PROJECT}/serviceAccounts/{made.email}")
        return made.email, [a.email for a in listed.accounts], caught.value.code

    email, listed, code = go(scenario)
    assert email == f"shop-dev-runner@{PROJECT}.iam.gserviceaccount.com" and listed == [email] and code == 404


def test_stale_policy_etag_is_aborted(gcp: Gcp) -> None:
    """A project policy written with an etag read before another write is refused 409 ABORTED."""

    async def scenario() -> None:
        policy = await gcp.call("cloudresourcemanager", "get_iam_policy", resource=f"projects/{PROJECT}")
        policy.bindings.add(role="roles/viewer", members=["user:a@example.com"])
        await gcp.call(
            "cloudresourcemanager",
            "set_iam_policy",
            request={"resource": f"projects/{PROJECT}", "policy": policy},
        )
        await gcp.call(
            "cloudresourcemanager",
            "set_iam_policy",
            request={"resource": f"projects/{PROJECT}", "policy": policy},
        )

    with pytest.raises(GcpError) as caught:
        go(scenario)
    assert (caught.value.code, caught.value.status) == (409, "ABORTED")


def _crossing(gcp: Gcp, rounds: list[int], crossed: int, member: str) -> Callable[[Any], Any]:
    """A ``policy.edit`` change whose first ``crossed`` rounds race another writer: each has the
    policy it was given written first (a new etag), then adds its own member to the stale copy."""
    other = gcp.client("cloudresourcemanager")

    def change(held: Any) -> Any:
        rounds.append(1)
        if len(rounds) <= crossed:
            fresh = type(held)()
            fresh.CopyFrom(held)
            fresh.bindings.add(role="roles/viewer", members=[f"user:other{len(rounds)}@example.com"])
            other.set_iam_policy(request={"resource": f"projects/{PROJECT}", "policy": fresh})
        return policy.add(held, "roles/aiplatform.user", member)

    return change


def test_policy_edit_reads_again_after_a_crossing_write(gcp: Gcp) -> None:
    """A write refused as ABORTED (another writer came between) is made again on a fresh read,
    keeping what the other wrote; a policy that keeps changing ends in our words."""

    async def scenario() -> tuple[bool, dict[str, list[str]], int]:
        rounds: list[int] = []
        edit = _crossing(gcp, rounds, crossed=1, member="serviceAccount:run@example.com")
        wrote = await policy.edit(gcp, "cloudresourcemanager", f"projects/{PROJECT}", edit, busy="busy")
        held = await gcp.call("cloudresourcemanager", "get_iam_policy", resource=f"projects/{PROJECT}")
        return wrote, {b.role: list(b.members) for b in held.bindings}, len(rounds)

    wrote, roles, rounds = go(scenario)
    assert (wrote, rounds) == (True, 2)
    assert roles["roles/aiplatform.user"] == ["serviceAccount:run@example.com"]
    assert roles["roles/viewer"] == ["user:other1@example.com"]

    async def always_crossed() -> None:
        edit = _crossing(gcp, [], crossed=policy.TRIES, member="serviceAccount:late@example.com")
        await policy.edit(gcp, "cloudresourcemanager", f"projects/{PROJECT}", edit, busy="it kept changing")

    with pytest.raises(GcpError, match="it kept changing") as caught:
        go(always_crossed)
    assert caught.value.hint == "Try again in a moment."


def test_revoke_takes_a_reader_out_and_a_gone_secret_is_fine(gcp: Gcp) -> None:
    """`config.revoke` leaves the other readers of a secret, and a secret already deleted is no error."""
    from launchdeck.providers.gcp import config

    async def scenario() -> list[str]:
        await config.put(gcp, "kept", {}, "value")
        await config.grant(gcp, "kept", "serviceAccount:a@example.com")
        await config.grant(gcp, "kept", "serviceAccount:b@example.com")
        await config.revoke(gcp, "kept", "serviceAccount:a@example.com")
        await config.revoke(gcp, "never-made", "serviceAccount:a@example.com")
        held = await gcp.call(
            "secretmanager", "get_iam_policy", request={"resource": f"projects/{PROJECT}/secrets/kept"}
        )
        return [m for b in held.bindings for m in b.members]

    assert go(scenario) == ["serviceAccount:b@example.com"]


# --- Cloud Logging ---------------------------------------------------------------------------


def test_log_entries_filtered_ordered_and_paged(gcp: Gcp) -> None:
    """Entries written for two services are read back for one, newest first, across pages."""
    from google.cloud.logging import Resource

    async def scenario() -> list[str]:
        client = gcp.client("logging")
        for service in ("web", "api"):
            resource = Resource(type="cloud_run_revision", labels={"service_name": service})
            logger = client.logger("run.googleapis.com%2Fstdout")
            for index in range(3):
                await gcp.run(
                    partial(getattr, logger, "log_text"),
                    f"{service} line {index}",
                    resource=resource,
                    labels={"launchdeck-stack": "dev"},
                    api="logging",
                    what="write",
                )
        query = (
            'resource.type="cloud_run_revision" AND resource.labels.service_name="web" '
            'AND labels.launchdeck-stack="dev" AND timestamp>="2020-01-01T00:00:00Z"'
        )

        def read() -> list[str]:
            entries = client.list_entries(
                resource_names=[f"projects/{PROJECT}"], filter_=query, order_by="timestamp desc", page_size=2
            )
            return [e.payload for e in entries]

        return await gcp.run(lambda: read, api="logging", what="read")

    assert go(scenario) == ["web line 2", "web line 1", "web line 0"]


def test_unparseable_log_filter_is_refused(gcp: Gcp) -> None:
    """A filter the language cannot parse is INVALID_ARGUMENT, not an empty answer."""
    client = gcp.client("logging")
    with pytest.raises(GcpError) as caught:
        go(
            gcp.run,
            lambda: (
                lambda: list(
                    client.list_entries(
                        resource_names=[f"projects/{PROJECT}"], filter_='resource.type="x" AND ('
                    )
                )
            ),
            api="logging",
            what="read",
        )
    assert caught.value.status == "INVALID_ARGUMENT"


# --- Cloud SQL and Memorystore -----------------------------------------------------------------


async def _private_access(gcp: Gcp) -> None:
    """Private services access on the default network: a peering range, then the connection."""
    from google.cloud import compute_v1 as c

    from testkit.gcp.core import project_number

    op = await gcp.call(
        "compute.GlobalAddresses",
        "insert",
        project=PROJECT,
        address_resource=c.Address(
            name="google-services",
            purpose="VPC_PEERING",
            address_type="INTERNAL",
            prefix_length=16,
            network=f"projects/{PROJECT}/global/networks/default",
        ),
    )
    await gcp.wait(op, what="reserve range", api="compute")
    network = f"projects/{project_number(PROJECT)}/global/networks/default"
    made = await gcp.rest(
        "servicenetworking",
        "POST",
        "/v1/services/servicenetworking.googleapis.com/connections",
        body={"network": network, "reservedPeeringRanges": ["google-services"]},
    )
    while not made.get("done"):
        made = await gcp.rest("servicenetworking", "GET", f"/v1/{made['name']}")


def _sql_instance(**settings: object) -> object:
    from google.cloud import sqladmin_v1 as s

    ip = s.IpConfiguration(ipv4_enabled=False, private_network=f"projects/{PROJECT}/global/networks/default")
    return s.DatabaseInstance(
        name="shop-dev-db",
        database_version=s.SqlDatabaseVersion.POSTGRES_16,
        region="us-central1",
        settings=s.Settings(
            tier="db-custom-1-3840",
            ip_configuration=ip,
            user_labels={"launchdeck": "shop"},
            backup_configuration=s.BackupConfiguration(enabled=True),
            **settings,
        ),
    )


def test_sql_instance_becomes_runnable_with_a_private_ip(gcp: Gcp) -> None:
    """An instance is PENDING_CREATE until its operation is done, then RUNNABLE, private address only."""
    from google.cloud import sqladmin_v1 as s

    async def scenario() -> tuple[str, object]:
        await _private_access(gcp)
        op = await gcp.rest(
            "sqladmin",
            "POST",
            f"/v1/projects/{PROJECT}/instances",
            body=_sql_instance(),
            response_type=s.Operation,
        )
        pending = await gcp.rest(
            "sqladmin",
            "GET",
            f"/v1/projects/{PROJECT}/instances/shop-dev-db",
            response_type=s.DatabaseInstance,
        )
        await gcp.wait(op, what="create db", api="sqladmin")
        ready = await gcp.rest(
            "sqladmin",
            "GET",
            f"/v1/projects/{PROJECT}/instances/shop-dev-db",
            response_type=s.DatabaseInstance,
        )
        return pending.state.name, ready

    before, ready = go(scenario)
    assert before == "PENDING_CREATE" and ready.state.name == "RUNNABLE"
    assert [a.type_.name for a in ready.ip_addresses] == ["PRIVATE"]


def test_sql_instance_moves_on_without_its_operation_being_polled(fake: FakeGcp, gcp: Gcp) -> None:
    """A client that dies after asking still gets an instance: reads of it alone bring it to RUNNABLE."""
    from google.cloud import sqladmin_v1 as s

    async def scenario() -> list[str]:
        await _private_access(gcp)
        await gcp.rest("sqladmin", "POST", f"/v1/projects/{PROJECT}/instances", body=_sql_instance())
        states = []
        for _ in range(fake.knobs.lro_polls + 1):
            found = await gcp.rest(
                "sqladmin",
                "GET",
                f"/v1/projects/{PROJECT}/instances/shop-dev-db",
                response_type=s.DatabaseInstance,
            )
            states.append(found.state.name)
        return states

    assert go(scenario)[-1] == "RUNNABLE"


def test_sql_users_databases_backups_and_delete(gcp: Gcp) -> None:
    """Users, databases and backups wait for RUNNABLE; a deleted instance's name cannot be reused."""
    from google.cloud import sqladmin_v1 as s

    base = f"/v1/projects/{PROJECT}/instances"

    async def scenario() -> GcpError:
        await _private_access(gcp)
        op = await gcp.rest("sqladmin", "POST", base, body=_sql_instance(), response_type=s.Operation)
        with pytest.raises(GcpError):
            await gcp.rest("sqladmin", "POST", f"{base}/shop-dev-db/users", body=s.User(name="app"))
        await gcp.wait(op, what="create", api="sqladmin")
        for path, body in (
            ("users", s.User(name="app", password="pw")),
            ("databases", s.Database(name="shop")),
            ("backupRuns", s.BackupRun(description="before deploy")),
        ):
            done = await gcp.rest(
                "sqladmin", "POST", f"{base}/shop-dev-db/{path}", body=body, response_type=s.Operation
            )
            await gcp.wait(done, what=path, api="sqladmin")
        await gcp.rest(
            "sqladmin",
            "PUT",
            f"{base}/shop-dev-db/users",
            params={"name": "app"},
            body=s.User(name="app", password="pw2"),
        )
        deleted = await gcp.rest(
            "sqladmin",
            "DELETE",
            f"{base}/shop-dev-db",
            params={"enableFinalBackup": "true"},
            response_type=s.Operation,
        )
        await gcp.wait(deleted, what="delete", api="sqladmin")
        with pytest.raises(GcpError) as caught:
            await gcp.rest("sqladmin", "POST", base, body=_sql_instance())
        return caught.value

    error = go(scenario)
    assert error.code == 409 and "reuse the name" in error.message


def test_sql_needs_public_or_private_ip(gcp: Gcp) -> None:
    """An instance with neither public nor private IP is refused."""
    from google.cloud import sqladmin_v1 as s

    instance = _sql_instance()
    instance.settings.ip_configuration = s.IpConfiguration(ipv4_enabled=False)
    with pytest.raises(GcpError) as caught:
        go(gcp.rest, "sqladmin", "POST", f"/v1/projects/{PROJECT}/instances", body=instance)
    assert caught.value.code == 400 and "Private IP" in caught.value.message


def test_private_ip_without_private_services_access_is_refused(gcp: Gcp) -> None:
    """A private IP on a network not peered with Google's services is refused, naming Service Networking."""
    with pytest.raises(GcpError) as caught:
        go(gcp.rest, "sqladmin", "POST", f"/v1/projects/{PROJECT}/instances", body=_sql_instance())
    assert caught.value.code == 400 and "Service Networking" in caught.value.message


def test_service_networking_wants_the_project_number(gcp: Gcp) -> None:
    """A connection naming the network by project id (not number) is refused INVALID_ARGUMENT."""
    with pytest.raises(GcpError) as caught:
        go(
            gcp.rest,
            "servicenetworking",
            "POST",
            "/v1/services/servicenetworking.googleapis.com/connections",
            body={"network": f"projects/{PROJECT}/global/networks/default", "reservedPeeringRanges": ["r"]},
        )
    assert caught.value.status == "INVALID_ARGUMENT" and "project number" in caught.value.message


def test_service_networking_lists_the_connection_made(gcp: Gcp) -> None:
    """After the connection's operation is done, listing by network finds it with its range."""
    from testkit.gcp.core import project_number

    async def scenario() -> object:
        await _private_access(gcp)
        return await gcp.rest(
            "servicenetworking",
            "GET",
            "/v1/services/servicenetworking.googleapis.com/connections",
            params={"network": f"projects/{project_number(PROJECT)}/global/networks/default"},
        )

    assert [c["reservedPeeringRanges"] for c in go(scenario)["connections"]] == [["google-services"]]


def test_redis_instance_becomes_ready(gcp: Gcp) -> None:
    """A Redis instance is CREATING, then READY with a host and port; delete removes it."""
    from google.cloud import redis_v1 as r

    async def scenario() -> tuple[object, object]:
        op = await gcp.call(
            "redis",
            "create_instance",
            parent=LOCATION,
            instance_id="shop-dev-cache",
            instance=r.Instance(
                tier=r.Instance.Tier.BASIC,
                memory_size_gb=1,
                redis_version="REDIS_7_2",
                labels={"launchdeck": "shop"},
            ),
        )
        ready = await gcp.wait(op, what="create cache", api="redis")
        await gcp.wait(await gcp.call("redis", "delete_instance", name=ready.name), what="rm", api="redis")
        return ready, await gcp.maybe("redis", "get_instance", name=ready.name)

    ready, gone = go(scenario)
    assert ready.state.name == "READY" and ready.host and ready.port == 6379 and gone is None


def test_redis_update_replaces_labels_named_in_the_mask(gcp: Gcp) -> None:
    """An update with update_mask labels replaces the labels once its operation is done."""
    from google.cloud import redis_v1 as r
    from google.protobuf import field_mask_pb2

    async def scenario() -> object:
        op = await gcp.call(
            "redis",
            "create_instance",
            parent=LOCATION,
            instance_id="shop-dev-cache",
            instance=r.Instance(tier=r.Instance.Tier.BASIC, memory_size_gb=1, labels={"a": "1"}),
        )
        ready = await gcp.wait(op, what="create", api="redis")
        changed = await gcp.call(
            "redis",
            "update_instance",
            update_mask=field_mask_pb2.FieldMask(paths=["labels"]),
            instance=r.Instance(name=ready.name, labels={"b": "2"}),
        )
        return await gcp.wait(changed, what="update", api="redis")

    updated = go(scenario)
    assert dict(updated.labels) == {"b": "2"} and updated.state.name == "READY"


def test_redis_version_outside_the_supported_ones_is_refused(gcp: Gcp) -> None:
    """redisVersion must be one the API offers."""
    from google.cloud import redis_v1 as r

    with pytest.raises(GcpError) as caught:
        go(
            gcp.call,
            "redis",
            "create_instance",
            parent=LOCATION,
            instance_id="cache",
            instance=r.Instance(tier=r.Instance.Tier.BASIC, memory_size_gb=1, redis_version="REDIS_9_9"),
        )
    assert caught.value.status == "INVALID_ARGUMENT"


# --- Compute and Cloud DNS ------------------------------------------------------------------------


def test_load_balancer_chain_and_delete_order(gcp: Gcp) -> None:
    """NEG, backend, URL map, certificate, HTTPS proxy, address, rule; a backend in use cannot go."""
    from google.cloud import compute_v1 as c

    g = f"projects/{PROJECT}/global"

    async def insert(client: str, **kwargs: object) -> None:
        op = await gcp.call(f"compute.{client}", "insert", project=PROJECT, **kwargs)
        await gcp.wait(op, what=f"insert {client}", api="compute")

    async def scenario() -> tuple[object, GcpError]:
        await insert(
            "RegionNetworkEndpointGroups",
            region="us-central1",
            network_endpoint_group_resource=c.NetworkEndpointGroup(
                name="shop-web-neg",
                network_endpoint_type="SERVERLESS",
                cloud_run=c.NetworkEndpointGroupCloudRun(service="web"),
            ),
        )
        await insert(
            "BackendServices",
            backend_service_resource=c.BackendService(
                name="shop-web",
                load_balancing_scheme="EXTERNAL_MANAGED",
                protocol="HTTPS",
                backends=[
                    c.Backend(
                        group=f"projects/{PROJECT}/regions/us-central1/networkEndpointGroups/shop-web-neg"
                    )
                ],
            ),
        )
        await insert(
            "UrlMaps", url_map_resource=c.UrlMap(name="shop", default_service=f"{g}/backendServices/shop-web")
        )
        await insert(
            "SslCertificates",
            ssl_certificate_resource=c.SslCertificate(
                name="shop-cert",
                type_="MANAGED",
                managed=c.SslCertificateManagedSslCertificate(domains=["shop.example.com"]),
            ),
        )
        await insert(
            "TargetHttpsProxies",
            target_https_proxy_resource=c.TargetHttpsProxy(
                name="shop-https",
                url_map=f"{g}/urlMaps/shop",
                ssl_certificates=[f"{g}/sslCertificates/shop-cert"],
            ),
        )
        await insert(
            "GlobalAddresses", address_resource=c.Address(name="shop-ip", labels={"launchdeck": "shop"})
        )
        await insert(
            "GlobalForwardingRules",
            forwarding_rule_resource=c.ForwardingRule(
                name="shop-https",
                target=f"{g}/targetHttpsProxies/shop-https",
                port_range="443",
                load_balancing_scheme="EXTERNAL_MANAGED",
            ),
        )
        cert = await gcp.call("compute.SslCertificates", "get", project=PROJECT, ssl_certificate="shop-cert")
        with pytest.raises(GcpError) as caught:
            await gcp.call("compute.BackendServices", "delete", project=PROJECT, backend_service="shop-web")
        return cert, caught.value

    cert, in_use = go(scenario)
    assert cert.managed.status == "ACTIVE" and in_use.code == 400 and "already being used" in in_use.message


def test_compute_resource_appears_without_its_operation_being_polled(gcp: Gcp) -> None:
    """An address whose insert nobody waits for is there after a few reads, as on the real API."""
    from google.cloud import compute_v1 as c

    async def scenario() -> object:
        await gcp.call(
            "compute.GlobalAddresses", "insert", project=PROJECT, address_resource=c.Address(name="ip")
        )
        for _ in range(5):
            found = await gcp.maybe("compute.GlobalAddresses", "get", project=PROJECT, address="ip")
            if found is not None:
                return found
        return None

    assert go(scenario) is not None


def test_compute_enum_values_are_checked(gcp: Gcp) -> None:
    """A string enum field with a value outside the enum is refused, as the real API does."""
    from google.cloud import compute_v1 as c

    with pytest.raises(GcpError) as caught:
        go(
            gcp.call,
            "compute.BackendServices",
            "insert",
            project=PROJECT,
            backend_service_resource=c.BackendService(name="b", load_balancing_scheme="EVERYWHERE"),
        )
    assert caught.value.code == 400


def test_url_map_update_and_certificate_swap(gcp: Gcp) -> None:
    """A URL map is replaced by update; an HTTPS proxy's certificates are swapped by setSslCertificates."""
    from google.cloud import compute_v1 as c

    g = f"projects/{PROJECT}/global"

    async def insert(client: str, **kwargs: object) -> None:
        op = await gcp.call(f"compute.{client}", "insert", project=PROJECT, **kwargs)
        await gcp.wait(op, what=f"insert {client}", api="compute")

    async def scenario() -> tuple[object, object]:
        for name in ("a", "b"):
            await insert(
                "BackendServices",
                backend_service_resource=c.BackendService(
                    name=name, load_balancing_scheme="EXTERNAL_MANAGED"
                ),
            )
        for name in ("cert-1", "cert-2"):
            await insert(
                "SslCertificates",
                ssl_certificate_resource=c.SslCertificate(
                    name=name,
                    type_="MANAGED",
                    managed=c.SslCertificateManagedSslCertificate(domains=["x.io"]),
                ),
            )
        await insert("UrlMaps", url_map_resource=c.UrlMap(name="m", default_service=f"{g}/backendServices/a"))
        await insert(
            "TargetHttpsProxies",
            target_https_proxy_resource=c.TargetHttpsProxy(
                name="p", url_map=f"{g}/urlMaps/m", ssl_certificates=[f"{g}/sslCertificates/cert-1"]
            ),
        )
        op = await gcp.call(
            "compute.UrlMaps",
            "update",
            project=PROJECT,
            url_map="m",
            url_map_resource=c.UrlMap(name="m", default_service=f"{g}/backendServices/b"),
        )
        await gcp.wait(op, what="update", api="compute")
        op = await gcp.call(
            "compute.TargetHttpsProxies",
            "set_ssl_certificates",
            project=PROJECT,
            target_https_proxy="p",
            target_https_proxies_set_ssl_certificates_request_resource=c.TargetHttpsProxiesSetSslCertificatesRequest(
                ssl_certificates=[f"{g}/sslCertificates/cert-2"]
            ),
        )
        await gcp.wait(op, what="swap", api="compute")
        url_map = await gcp.call("compute.UrlMaps", "get", project=PROJECT, url_map="m")
        proxy = await gcp.call("compute.TargetHttpsProxies", "get", project=PROJECT, target_https_proxy="p")
        return url_map, proxy

    url_map, proxy = go(scenario)
    assert url_map.default_service.endswith("/backendServices/b")
    assert [p.rsplit("/", 1)[-1] for p in proxy.ssl_certificates] == ["cert-2"]


def test_private_google_access_and_nat_router(gcp: Gcp) -> None:
    """The default subnetwork starts without Private Google Access, gets it, and a NAT router is made."""
    from google.cloud import compute_v1 as c

    async def scenario() -> tuple[bool, bool, object]:
        before = await gcp.call(
            "compute.Subnetworks", "get", project=PROJECT, region="us-central1", subnetwork="default"
        )
        op = await gcp.call(
            "compute.Subnetworks",
            "set_private_ip_google_access",
            project=PROJECT,
            region="us-central1",
            subnetwork="default",
            subnetworks_set_private_ip_google_access_request_resource=c.SubnetworksSetPrivateIpGoogleAccessRequest(
                private_ip_google_access=True
            ),
        )
        await gcp.wait(op, what="pga", api="compute")
        after = await gcp.call(
            "compute.Subnetworks", "get", project=PROJECT, region="us-central1", subnetwork="default"
        )
        op = await gcp.call(
            "compute.Routers",
            "insert",
            project=PROJECT,
            region="us-central1",
            router_resource=c.Router(
                name="launchdeck-nat",
                network=f"projects/{PROJECT}/global/networks/default",
                nats=[
                    c.RouterNat(
                        name="launchdeck",
                        nat_ip_allocate_option="AUTO_ONLY",
                        source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES",
                    )
                ],
            ),
        )
        await gcp.wait(op, what="router", api="compute")
        router = await gcp.call(
            "compute.Routers", "get", project=PROJECT, region="us-central1", router="launchdeck-nat"
        )
        return before.private_ip_google_access, after.private_ip_google_access, router

    before, after, router = go(scenario)
    assert (before, after) == (False, True) and [n.name for n in router.nats] == ["launchdeck"]


def test_project_is_named_by_its_number(gcp: Gcp) -> None:
    """Resource Manager answers a project id with the project named by its number."""
    from testkit.gcp.core import project_number

    found = go(gcp.call, "cloudresourcemanager", "get_project", name=f"projects/{PROJECT}")
    assert (found.name, found.project_id) == (f"projects/{project_number(PROJECT)}", PROJECT)


def test_default_network_exists(gcp: Gcp) -> None:
    """Every project has the 'default' network a new project comes with."""
    network = go(gcp.call, "compute.Networks", "get", project=PROJECT, network="default")
    assert network.name == "default"


def test_dns_zone_changes_and_records(gcp: Gcp) -> None:
    """A record added to the zone found by its DNS name is listed; adding it twice is refused."""

    async def scenario() -> tuple[list[str], GcpError]:
        client = gcp.client("dns")
        zone = client.zone("example", "example.com.")
        await gcp.run(lambda: zone.create, api="dns", what="zone")
        zones = [z for z in await gcp.call("dns", "list_zones") if z.dns_name == "example.com."]

        def add() -> None:
            change = zones[0].changes()
            change.add_record_set(zones[0].resource_record_set("shop.example.com.", "A", 300, ["34.1.2.3"]))
            change.create()

        await gcp.run(lambda: add, api="dns", what="add")
        records = await gcp.run(
            lambda: lambda: [(r.name, r.record_type) for r in zones[0].list_resource_record_sets()],
            api="dns",
            what="records",
        )
        with pytest.raises(GcpError) as caught:
            await gcp.run(lambda: add, api="dns", what="add again")
        return records, caught.value

    records, again = go(scenario)
    assert ("shop.example.com.", "A") in records and again.code == 409


# --- the request log ----------------------------------------------------------------------------


def test_reads_make_no_mutating_request(fake: FakeGcp, gcp: Gcp) -> None:
    """After a deploy, reading everything back logs reads only; the deploy itself logged one create."""

    async def scenario() -> None:
        service = await _deploy(gcp)
        fake.clear_requests()
        await gcp.call("run.services", "get_service", name=service.name)
        await gcp.call("run.services", "get_iam_policy", request={"resource": service.name})
        await gcp.call("run.revisions", "list_revisions", parent=service.name)

    go(scenario)
    assert fake.mutations() == [] and len(fake.requests()) == 3


def test_an_image_from_another_registry_is_refused(gcp: Gcp) -> None:
    """Cloud Run pulls from Artifact Registry, Container Registry and Docker Hub only."""
    service = _service()
    service.template.containers[0].image = "ghcr.io/acme/api:1"
    with pytest.raises(GcpError) as caught:
        go(_deploy, gcp, "web", service)
    assert caught.value.status == "INVALID_ARGUMENT" and "docker.pkg.dev or docker.io" in caught.value.message


def test_a_startup_probe_past_its_bounds_is_refused(gcp: Gcp) -> None:
    """A startup probe period over 240 s is refused, as Cloud Run documents."""
    from google.cloud import run_v2

    service = _service()
    service.template.containers[0].startup_probe = run_v2.Probe(
        period_seconds=300, tcp_socket=run_v2.TCPSocketAction(port=8080))
    with pytest.raises(GcpError) as caught:
        go(_deploy, gcp, "web", service)
    assert "period_seconds" in caught.value.message and "between 1 and 240" in caught.value.message
