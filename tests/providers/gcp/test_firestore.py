"""x-defang-mongodb on GCP: a Firestore database with MongoDB compatibility, against the local GCP."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import anyio
import pytest
from pymongo.uri_parser import parse_uri

from launchdeck.compose.load import load
from launchdeck.compose.validate import DIGEST_KEY, Severity
from launchdeck.engine import ps
from launchdeck.engine.deploy import deploy
from launchdeck.engine.destroy import destroy
from launchdeck.engine.events import Recorder, State
from launchdeck.engine.plan import Action
from launchdeck.engine.seams import DeployOptions
from launchdeck.providers.gcp import names
from launchdeck.providers.gcp.api import Gcp, GcpError
from launchdeck.providers.gcp.provider import GcpProvider
from launchdeck.tools.project import ProjectRef
from testkit import drivers
from testkit.gcp import FakeGcp
from testkit.gcp.core import project_number
from tests.providers.gcp.conftest import PROJECT, enable, go

SAMPLE = Path(__file__).parents[2] / "compose" / "conformance" / "defang-mongo-worker"
PASSWORD = "s3cret-Mongo-pw"
COMPOSE = """\
name: notes
services:
  api:
    image: nginx
    ports: [{target: 80, mode: ingress}]
    environment:
      MONGO_URL: mongodb://root:${MONGO_INITDB_ROOT_PASSWORD}@mongo:27017/notes?authSource=admin
      PLAIN_URL: mongodb://mongo:27017/notes
      GREETING: hello
  mongo:
    image: mongo:7
    x-defang-mongodb: true
    environment:
      MONGO_INITDB_ROOT_USERNAME: root
      MONGO_INITDB_ROOT_PASSWORD:
"""


def _findings(project, body: str):
    root = project({"compose.yaml": "name: notes\nservices:\n" + body})
    return GcpProvider(poll=0).check(load(cwd=root, os_environ={}), "dev", {})


def _deploy(provider: GcpProvider, ref: ProjectRef, recorder: Recorder | None = None):
    recorder = recorder if recorder is not None else Recorder()
    result = anyio.run(partial(deploy, ref.load(), provider, stack=ref.stack, sink=recorder,
                               options=DeployOptions()))
    return result, recorder


@pytest.fixture
def notes(project, provider: GcpProvider) -> ProjectRef:
    root = project({"compose.yaml": COMPOSE})
    go(provider.config_store("notes", "dev").set, "MONGO_INITDB_ROOT_PASSWORD", PASSWORD)
    return ProjectRef(working_directory=str(root), provider="gcp", stack="dev")


@pytest.fixture
def deployed(provider: GcpProvider, notes: ProjectRef):
    result, recorder = _deploy(provider, notes)
    assert result.ok, [(s.name, s.state, s.message) for s in result.services]
    return result, recorder


def _database_id() -> str:
    return names.firestore_database("notes", "dev", "mongo")


def _secret(fake: FakeGcp, secret_id: str) -> str:
    versions = fake.api("secretmanager").versions[f"projects/{project_number(PROJECT)}/secrets/{secret_id}"]
    return versions[-1][1].decode()


def _run(fake: FakeGcp, service: str):
    path = f"projects/{PROJECT}/locations/us-central1/services/{names.Names('notes', 'dev').service(service)}"
    return fake.api("run").services[path]


def _env(fake: FakeGcp, service: str) -> dict[str, object]:
    found = _run(fake, service)
    out: dict[str, object] = {}
    for env in found.template.containers[0].env:
        ref = env.value_source.secret_key_ref
        out[env.name] = (ref.secret, ref.version) if env.HasField("value_source") else env.value
    return out


def _password(fake: FakeGcp) -> str:
    return _secret(fake, names.store_secret_id("notes", "dev", "mongo"))


# --- checks before deploy ----------------------------------------------------------------------


def test_the_platforms_mongodb_sample_passes_the_gcp_check() -> None:
    """The worker sample with x-defang-mongodb has no error on gcp; the unused password is a warning."""
    found = GcpProvider(poll=0).check(load(cwd=SAMPLE, os_environ={}), "dev", {})
    assert [f for f in found if f.severity is Severity.ERROR] == []
    assert any(f.field.endswith("MONGO_INITDB_ROOT_PASSWORD") for f in found
               if f.severity is Severity.WARNING)


@pytest.mark.parametrize(("image", "refused"), [
    ("mongo:4.4", True), ("mongo:9", True), ("mongo:5", False), ("mongo:8.0", False),
    ("mongo", False), ("mongo:latest", False),
])
def test_mongodb_versions_firestore_does_not_serve_are_located_errors(project, image, refused) -> None:
    """Firestore with MongoDB compatibility serves the 5.0 to 8.0 APIs; other tags are refused
    at the image."""
    found = [f for f in _findings(project, f"  db:\n    image: {image}\n    x-defang-mongodb: true\n")
             if f.field.endswith("image")]
    assert bool(found) is refused
    if refused:
        assert found[0].severity is Severity.ERROR and found[0].line == 4 and "mongo:7" in found[0].fix


@pytest.mark.parametrize(("user", "refused"), [
    ("app_user", True), ("Admin", True), ("abc", True), ("9lives", True), ("app-user", False),
    ("root", False),
])
def test_user_names_firestore_refuses_are_located_errors(project, user, refused) -> None:
    """A user credential id is 4-63 lowercase letters, digits and hyphens, a letter first."""
    body = (f"  db:\n    image: mongo:7\n    x-defang-mongodb: true\n    environment:\n"
            f"      MONGO_INITDB_ROOT_USERNAME: {user}\n")
    found = [f for f in _findings(project, body) if f.field.endswith("MONGO_INITDB_ROOT_USERNAME")]
    assert bool(found) is refused
    if refused:
        assert found[0].severity is Severity.ERROR and found[0].line == 7


# --- deploy ----------------------------------------------------------------------------------------


def test_a_mongodb_store_is_an_enterprise_firestore_database_in_the_region(deployed, fake: FakeGcp) -> None:
    """One Firestore database of the Enterprise edition, Native type, in us-central1, with the app's user."""
    firestore = fake.api("firestore")
    database = firestore.databases[(PROJECT, _database_id())]
    assert database["databaseEdition"] == "ENTERPRISE" and database["type"] == "FIRESTORE_NATIVE"
    assert database["locationId"] == "us-central1"
    assert database["mongodbCompatibleDataAccessMode"] == "DATA_ACCESS_MODE_ENABLED"
    assert list(firestore.creds[(PROJECT, _database_id())]) == ["root"]
    assert list(firestore.databases) == [(PROJECT, _database_id())]


def test_firestore_is_enabled_in_the_one_batch(deployed, fake: FakeGcp) -> None:
    """firestore.googleapis.com is turned on with the rest, in the deploy's one batchEnable (after
    the one `config set` made for Secret Manager); no network API is asked for."""
    batches = [e["body"]["serviceIds"] for e in fake.requests() if e["path"].endswith("services:batchEnable")]
    assert batches[0] == ["secretmanager.googleapis.com"] and len(batches) == 2
    assert "firestore.googleapis.com" in batches[1] and "run.googleapis.com" in batches[1]
    assert not {"sqladmin.googleapis.com", "servicenetworking.googleapis.com", "compute.googleapis.com"} \
        & set(batches[1])


def test_connection_strings_become_the_documented_form_as_derived_secrets(deployed, fake: FakeGcp) -> None:
    """Both the value with config and the plain one are rewritten, kept as secrets the service reads."""
    database = fake.api("firestore").databases[(PROJECT, _database_id())]
    password = _password(fake)
    wanted = (f"mongodb://root:{password}@{database['uid']}.us-central1.firestore.goog:443/{_database_id()}"
              "?loadBalanced=true&tls=true&authMechanism=SCRAM-SHA-256&retryWrites=false")
    env = _env(fake, "api")
    assert env["GREETING"] == "hello"
    for key in ("MONGO_URL", "PLAIN_URL"):
        secret, version = env[key]
        assert secret == names.derived_secret_id("notes", "dev", "api", key) and version.isdigit()
        assert _secret(fake, secret) == wanted


def test_the_rewritten_uri_is_read_by_pymongos_parser_with_tls_load_balancing_and_no_retried_writes(
    deployed, fake: FakeGcp
) -> None:
    """pymongo's own URI parser reads the user, host, database and the options Firestore requires."""
    env = _env(fake, "api")
    parsed = parse_uri(_secret(fake, env["MONGO_URL"][0]))
    options = parsed["options"]
    assert options["tls"] is True and options["loadBalanced"] is True and options["retryWrites"] is False
    assert options["authMechanism"] == "SCRAM-SHA-256"
    assert parsed["username"] == "root" and parsed["password"] == _password(fake)
    assert parsed["database"] == _database_id()
    [(host, port)] = parsed["nodelist"]
    assert host.endswith(".us-central1.firestore.goog") and port == 443


def test_the_rewritten_uri_is_read_by_the_node_driver_as_firestore_requires(deployed, fake: FakeGcp) -> None:
    """The Node ``mongodb`` driver (npm, 6.x) makes a client of the string the revision reads:
    load-balanced mode, TLS, no retryable writes, SCRAM-SHA-256, the database's endpoint."""
    options = drivers.node_mongodb_options(_secret(fake, _env(fake, "api")["MONGO_URL"][0]))
    assert options["tls"] is True and options["loadBalanced"] is True and options["retryWrites"] is False
    assert options["authMechanism"] == "SCRAM-SHA-256" and options["username"] == "root"
    assert options["dbName"] == _database_id()
    [host] = options["hosts"]
    assert host.endswith(".us-central1.firestore.goog:443")


def test_a_service_reaching_only_firestore_gets_no_network(deployed, fake: FakeGcp) -> None:
    """Firestore answers at a public TLS endpoint: the service needs no Direct VPC egress."""
    assert not _run(fake, "api").template.HasField("vpc_access")


def test_a_second_deploy_of_an_unchanged_mongodb_project_is_all_noop(
    deployed, provider, notes, fake: FakeGcp
) -> None:
    """Every unit plans NOOP and nothing but the lock and the history entry is written."""
    fake.clear_requests()
    result, _ = _deploy(provider, notes)
    assert result.ok and {c.action for c in result.changes} == {Action.NOOP}
    writes = [f"{e['method']} {e['path'].split('?')[0]}" for e in fake.mutations()]
    assert all("/storage/" in w for w in writes) and len(writes) == 3, writes


def test_ps_reports_the_store_at_its_firestore_endpoint(deployed, provider, notes) -> None:
    """The store is completed, at UID.LOCATION.firestore.goog:443."""
    statuses = {s.name: s for s in anyio.run(ps.ps, provider, notes.load().project, "dev")}
    assert statuses["mongo"].state is State.SERVICE_DEPLOYMENT_COMPLETED
    assert statuses["mongo"].endpoints[0].endswith(".us-central1.firestore.goog:443")


def test_no_config_value_or_generated_password_reaches_output_records_or_the_request_log(
    provider, notes, fake: FakeGcp, caplog
) -> None:
    """The config password and Firestore's generated one are only in Secret Manager."""
    import logging

    from google.protobuf import json_format

    caplog.set_level(logging.DEBUG)
    result, recorder = _deploy(provider, notes)
    assert result.ok
    statuses = anyio.run(ps.ps, provider, notes.load().project, "dev")
    records = [data.decode("utf-8", "replace") for objects in fake.api("storage").objects.values()
               for _, data in objects.values()]
    seen = (
        "".join(json_format.MessageToJson(s) for s in fake.api("run").services.values())
        + result.model_dump_json()
        + json.dumps(fake.requests())
        + json.dumps([s.model_dump(mode="json") for s in statuses])
        + " ".join(e.message for e in recorder.events)
        + caplog.text
        + "".join(records)
    )
    generated = _password(fake)
    assert PASSWORD not in seen and generated not in seen


def test_a_new_user_name_replaces_the_credential_and_the_connection_strings(
    deployed, provider, notes, fake: FakeGcp
) -> None:
    """Another MONGO_INITDB_ROOT_USERNAME updates the store: a new credential, the old one
    deleted, and the services' connection strings name the new user with its password."""
    compose = Path(notes.working_directory) / "compose.yaml"
    compose.write_text(COMPOSE.replace("USERNAME: root", "USERNAME: notes-app"))
    result, _ = _deploy(provider, notes)
    assert result.ok
    actions = {c.service: c.action for c in result.changes}
    assert actions["mongo"] is Action.UPDATE and actions["api"] is Action.UPDATE
    assert list(fake.api("firestore").creds[(PROJECT, _database_id())]) == ["notes-app"]
    parsed = parse_uri(_secret(fake, _env(fake, "api")["MONGO_URL"][0]))
    assert parsed["username"] == "notes-app" and parsed["password"] == _password(fake)


def test_a_database_whose_password_was_lost_gets_a_new_credential(
    deployed, provider, notes, gcp: Gcp, fake: FakeGcp
) -> None:
    """A deploy cut short between the database and its kept password (here: the secret gone) is
    finished by the next: the same database, the credential made anew, the services updated."""
    before = _password(fake)
    secret = f"projects/{PROJECT}/secrets/{names.store_secret_id('notes', 'dev', 'mongo')}"
    go(gcp.call, "secretmanager", "delete_secret", name=secret)
    result, _ = _deploy(provider, notes)
    assert result.ok
    assert list(fake.api("firestore").databases) == [(PROJECT, _database_id())]
    assert list(fake.api("firestore").creds[(PROJECT, _database_id())]) == ["root"]
    after = _password(fake)
    assert after != before and after in _secret(fake, _env(fake, "api")["MONGO_URL"][0])


# --- destroy ---------------------------------------------------------------------------------------


def test_destroy_exports_the_database_then_deletes_it_and_leaves_nothing(
    deployed, provider, notes, fake: FakeGcp
) -> None:
    """The database is exported to the shared bucket (kept, and said so), then deleted with its
    credential secret; only the config secret remains."""
    teardown = anyio.run(partial(destroy, provider, "notes", "dev", sink=Recorder()))
    firestore = fake.api("firestore")
    assert firestore.databases == {}
    [prefix] = firestore.exports
    bucket = names.bucket(PROJECT, "us-central1")
    assert prefix.startswith(f"gs://{bucket}/firestore-exports/{_database_id()}/")
    folder = prefix.removeprefix(f"gs://{bucket}/")
    assert any(name.startswith(folder) for name in fake.api("storage").objects[bucket])
    assert any(prefix in kept and "gcloud firestore import" in kept for kept in teardown.kept)
    secrets = sorted(s.rsplit("/", 1)[-1] for s in fake.api("secretmanager").secrets)
    assert secrets == sorted(names.secret_id("notes", "dev", n)
                             for n in ("MONGO_INITDB_ROOT_PASSWORD", DIGEST_KEY))
    statuses = {s.name: s.state for s in anyio.run(ps.ps, provider, notes.load().project, "dev")}
    assert set(statuses.values()) == {State.NOT_DEPLOYED}


def test_a_deploy_after_destroy_makes_the_store_again(deployed, provider, notes, fake: FakeGcp) -> None:
    """Right after `down`, the same database id is made again, with a new credential the
    services read."""
    anyio.run(partial(destroy, provider, "notes", "dev", sink=Recorder()))
    result, _ = _deploy(provider, notes)
    assert result.ok, [(s.name, s.state, s.message) for s in result.services]
    assert list(fake.api("firestore").databases) == [(PROJECT, _database_id())]
    assert _password(fake) in _secret(fake, _env(fake, "api")["MONGO_URL"][0])


def test_the_platforms_sample_deploys_and_tears_down_with_nothing_left(
    tmp_path: Path, provider: GcpProvider, fake: FakeGcp
) -> None:
    """The worker sample (a build, x-defang-llm, a Mongo store) deploys; its MONGO_URI reaches
    Firestore as pymongo reads it; destroy leaves only its config."""
    import shutil

    folder = tmp_path / "sample"
    shutil.copytree(SAMPLE, folder)
    ref = ProjectRef(working_directory=str(folder), provider="gcp", stack="dev")
    name = ref.load().project.name
    store = provider.config_store(name, "dev")
    for key in ("MONGO_PASSWORD", "OPENAI_API_KEY", "MONGO_INITDB_ROOT_PASSWORD"):
        go(store.set, key, f"{key.lower()}-value")
    result, _ = _deploy(provider, ref)
    assert result.ok, [(s.name, s.state, s.message) for s in result.services]
    # the worker declares no port: it runs as a Cloud Run worker pool
    worker = names.Names.fresh(name, "dev").service("worker")
    path = f"projects/{PROJECT}/locations/us-central1/workerPools/{worker}"
    env = fake.api("run").pools[path].template.containers[0].env
    secret = next(e.value_source.secret_key_ref.secret for e in env if e.name == "MONGO_URI")
    parsed = parse_uri(_secret(fake, secret))
    assert parsed["username"] == "root" and parsed["options"]["loadBalanced"] is True
    anyio.run(partial(destroy, provider, name, "dev", sink=Recorder()))
    assert fake.api("firestore").databases == {} and fake.api("run").services == {}
    assert fake.api("run").pools == {}
    left = sorted(s.rsplit("/", 1)[-1] for s in fake.api("secretmanager").secrets)
    assert left == sorted(names.secret_id(name, "dev", k) for k in (
        "MONGO_PASSWORD", "OPENAI_API_KEY", "MONGO_INITDB_ROOT_PASSWORD", DIGEST_KEY))


# --- the local GCP's Firestore Admin API ---------------------------------------------------------------


def _create(gcp: Gcp, database: str, **body: object):
    return go(gcp.rest, "firestore", "POST", f"/v1/projects/{PROJECT}/databases",
              params={"databaseId": database}, body=body)


def test_firestore_answers_service_disabled_until_enabled(gcp: Gcp) -> None:
    """A new project does not have firestore.googleapis.com on."""
    with pytest.raises(GcpError) as caught:
        go(gcp.rest, "firestore", "GET", f"/v1/projects/{PROJECT}/databases")
    assert caught.value.reason == "SERVICE_DISABLED"
    assert "gcloud services enable firestore.googleapis.com" in caught.value.hint


@pytest.mark.parametrize("database", ["abc", "9db-one", "db_one", "Db-one", "db-one-", "a" * 64,
                                      "12345678-1234-1234-1234-123456789abc"])
def test_database_ids_outside_firestores_rules_are_refused(gcp: Gcp, database: str) -> None:
    """4-63 of [a-z0-9-], a letter first, a letter or digit last, not UUID-like."""
    enable(gcp, "firestore.googleapis.com")
    with pytest.raises(GcpError) as caught:
        _create(gcp, database, locationId="us-central1", type="FIRESTORE_NATIVE",
                databaseEdition="ENTERPRISE")
    assert caught.value.code == 400


@pytest.mark.parametrize(("body", "what"), [
    ({"type": "FIRESTORE_NATIVE"}, "location"),
    ({"locationId": "us-central1"}, "type"),
    ({"locationId": "mars-north1", "type": "FIRESTORE_NATIVE"}, "mars-north1"),
    ({"locationId": "us-central1", "type": "FIRESTORE_NATIVE", "labels": {"a": "b"}}, "labels"),
    ({"locationId": "us-central1", "type": "FIRESTORE_NATIVE", "databaseEdition": "PLATINUM"}, "PLATINUM"),
])
def test_a_database_without_location_or_type_or_with_unknown_fields_is_refused(gcp: Gcp, body, what) -> None:
    """locationId and type are required; unknown names and enum values are refused by the schema."""
    enable(gcp, "firestore.googleapis.com")
    with pytest.raises(GcpError) as caught:
        _create(gcp, "db-one", **body)
    assert caught.value.code == 400 and what in str(caught.value)


def test_a_database_is_made_by_an_operation_and_is_not_there_before(gcp: Gcp) -> None:
    """The create answers an operation; a read before it is done finds nothing, a second create conflicts."""
    enable(gcp, "firestore.googleapis.com")
    op = _create(gcp, "db-one", locationId="us-central1", type="FIRESTORE_NATIVE",
                 databaseEdition="ENTERPRISE")
    assert not op.get("done")
    assert op["metadata"]["@type"].endswith("CreateDatabaseMetadata")
    path = f"/v1/projects/{PROJECT}/databases/db-one"
    with pytest.raises(GcpError) as caught:
        go(gcp.rest, "firestore", "GET", path)
    assert caught.value.code == 404
    with pytest.raises(GcpError) as again:
        _create(gcp, "db-one", locationId="us-central1", type="FIRESTORE_NATIVE")
    assert again.value.code == 409
    while not op.get("done"):
        op = go(gcp.rest, "firestore", "GET", f"/v1/{op['name']}")
    assert op["response"]["uid"] == go(gcp.rest, "firestore", "GET", path)["uid"]


def _made(gcp: Gcp, database: str, **body: object) -> None:
    op = _create(gcp, database, locationId="us-central1", type="FIRESTORE_NATIVE", **body)
    while not op.get("done"):
        op = go(gcp.rest, "firestore", "GET", f"/v1/{op['name']}")


def test_delete_protection_or_a_stale_etag_refuses_a_delete(gcp: Gcp) -> None:
    """A database with delete protection enabled, or named with an old etag, is not deleted."""
    enable(gcp, "firestore.googleapis.com")
    _made(gcp, "db-kept", databaseEdition="ENTERPRISE", deleteProtectionState="DELETE_PROTECTION_ENABLED")
    _made(gcp, "db-other", databaseEdition="ENTERPRISE")
    with pytest.raises(GcpError) as caught:
        go(gcp.rest, "firestore", "DELETE", f"/v1/projects/{PROJECT}/databases/db-kept")
    assert caught.value.status == "FAILED_PRECONDITION" and "delete protection" in str(caught.value)
    with pytest.raises(GcpError) as stale:
        go(gcp.rest, "firestore", "DELETE", f"/v1/projects/{PROJECT}/databases/db-other",
           params={"etag": "old"})
    assert stale.value.status == "FAILED_PRECONDITION"


def test_a_deleted_databases_id_is_free_again_at_once(gcp: Gcp) -> None:
    """The delete answers the deleted database with its prior id; the same id is made again
    right away (Firestore documents no wait before a deleted database's id is reused)."""
    enable(gcp, "firestore.googleapis.com")
    _made(gcp, "db-again", databaseEdition="ENTERPRISE")
    op = go(gcp.rest, "firestore", "DELETE", f"/v1/projects/{PROJECT}/databases/db-again")
    while not op.get("done"):
        op = go(gcp.rest, "firestore", "GET", f"/v1/{op['name']}")
    assert op["response"]["previousId"] == "db-again" and op["response"]["deleteTime"]
    _made(gcp, "db-again", databaseEdition="ENTERPRISE")
    made = go(gcp.rest, "firestore", "GET", f"/v1/projects/{PROJECT}/databases/db-again")
    assert "deleteTime" not in made and "previousId" not in made


def test_user_credentials_show_their_password_once_and_need_the_enterprise_edition(gcp: Gcp) -> None:
    """Create returns securePassword; get and list never do; a Standard database takes none."""
    enable(gcp, "firestore.googleapis.com")
    _made(gcp, "db-mongo", databaseEdition="ENTERPRISE")
    _made(gcp, "db-plain", databaseEdition="STANDARD")
    base = f"/v1/projects/{PROJECT}/databases/db-mongo/userCreds"
    made = go(gcp.rest, "firestore", "POST", base, params={"userCredsId": "app-user"}, body={})
    assert made["securePassword"] and made["state"] == "ENABLED"
    assert "securePassword" not in go(gcp.rest, "firestore", "GET", f"{base}/app-user")
    assert ["securePassword" in c for c in go(gcp.rest, "firestore", "GET", base)["userCreds"]] == [False]
    with pytest.raises(GcpError) as taken:
        go(gcp.rest, "firestore", "POST", base, params={"userCredsId": "app-user"}, body={})
    assert taken.value.code == 409
    with pytest.raises(GcpError) as bad:
        go(gcp.rest, "firestore", "POST", base, params={"userCredsId": "App_User"}, body={})
    assert bad.value.code == 400
    with pytest.raises(GcpError) as standard:
        go(gcp.rest, "firestore", "POST", f"/v1/projects/{PROJECT}/databases/db-plain/userCreds",
           params={"userCredsId": "app-user"}, body={})
    assert standard.value.status == "FAILED_PRECONDITION"
    go(gcp.rest, "firestore", "DELETE", f"{base}/app-user")
    assert go(gcp.rest, "firestore", "GET", base) is None or \
        go(gcp.rest, "firestore", "GET", base).get("userCreds", []) == []
