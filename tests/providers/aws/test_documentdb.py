"""x-defang-mongodb on AWS: a DocumentDB cluster with one instance, checked, deployed, redeployed
and destroyed on the moto harness, which serves DocumentDB with its documented rules."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import anyio
import pytest
from botocore.exceptions import ClientError

from launchdeck.compose.load import load
from launchdeck.compose.validate import DIGEST_KEY, Severity
from launchdeck.engine import ps
from launchdeck.engine.deploy import deploy
from launchdeck.engine.destroy import destroy
from launchdeck.engine.events import Recorder, State
from launchdeck.engine.modes import Mode
from launchdeck.engine.plan import Action
from launchdeck.engine.seams import DeployOptions
from launchdeck.providers.aws import names, preflight, render, stores
from launchdeck.providers.aws.api import Aws
from launchdeck.providers.aws.provider import AwsProvider
from launchdeck.tools.project import ProjectRef
from testkit import aws as T
from testkit import drivers

NOTES = """\
name: notes
services:
  api:
    image: node:20-slim
    command: ["node", "server.js"]
    expose: ["3000"]
    environment:
      MONGO_URL: mongodb://notes:${MONGO_INITDB_ROOT_PASSWORD}@db:27017/notes?authSource=admin
    depends_on: [db]
  db:
    image: mongo:7
    x-defang-mongodb: true
    environment:
      MONGO_INITDB_ROOT_USERNAME: notes
      MONGO_INITDB_DATABASE: notes
      MONGO_INITDB_ROOT_PASSWORD:
"""
PASSWORD = "pw-notes-4f3e2d1c0b9a"
SECRETS = {"MONGO_INITDB_ROOT_PASSWORD": PASSWORD}


def _store(project, image: str, environment: str = "MONGO_INITDB_ROOT_PASSWORD:"):
    body = f"name: demo\nservices:\n  db:\n    image: {image}\n    x-defang-mongodb: true\n"
    if environment:
        body += "    environment:\n" + "".join(f"      {line}\n" for line in environment.splitlines())
    return load(cwd=str(project({"compose.yaml": body})), os_environ={}).project.services["db"]


# -- what DocumentDB offers and refuses, found before anything is made ------------------------


@pytest.mark.parametrize(("image", "version", "warned"), [
    ("mongo:5", "5.0.0", False),
    ("mongo:5.0.26", "5.0.0", False),
    ("mongo:8.0", "8.0.0", False),
    ("mongo:8", "8.0.0", False),
    ("mongo", "8.0.0", False),
    ("mongo:latest", "8.0.0", False),
    ("mongo:4.4", "5.0.0", True),
    ("mongo:6", "8.0.0", True),
    ("mongo:7.0-jammy", "8.0.0", True),
    ("mongo:8.2", "8.0.0", True),
])
def test_the_image_tag_picks_the_documentdb_version_and_says_when_it_differs(project, image, version,
                                                                             warned) -> None:
    """MongoDB 5 and older run on DocumentDB 5.0, 6 and newer on 8.0, with a warning when the
    image asks for another version than the one DocumentDB serves."""
    service = _store(project, image)
    assert stores.engine(service) == ("docdb", version)
    found = stores.problems(service, SECRETS)
    assert [(p.field, p.warning) for p in found] == ([("image", True)] if warned else [])


@pytest.mark.parametrize(("environment", "field", "message"), [
    ("MONGO_INITDB_ROOT_USERNAME: admin\nMONGO_INITDB_ROOT_PASSWORD:",
     "environment.MONGO_INITDB_ROOT_USERNAME", "DocumentDB reserves the master user name 'admin'"),
    ("MONGO_INITDB_ROOT_USERNAME: app_user\nMONGO_INITDB_ROOT_PASSWORD:",
     "environment.MONGO_INITDB_ROOT_USERNAME", "DocumentDB needs a master user of 1 to 63 letters"),
    ("MONGO_INITDB_ROOT_USERNAME: 1app\nMONGO_INITDB_ROOT_PASSWORD:",
     "environment.MONGO_INITDB_ROOT_USERNAME", "DocumentDB needs a master user of 1 to 63 letters"),
    ("MONGO_INITDB_DATABASE: my.db\nMONGO_INITDB_ROOT_PASSWORD:",
     "environment.MONGO_INITDB_DATABASE", "a MongoDB database name has 1 to 63 characters"),
    ("MONGO_INITDB_ROOT_USERNAME: app", "environment", "x-defang-mongodb needs a password on aws"),
])
def test_settings_documentdb_refuses_are_found_with_their_fix(project, environment, field, message) -> None:
    service = _store(project, "mongo:8", environment)
    found = stores.problems(service, SECRETS)
    assert [(p.field, p.message[:len(message)]) for p in found] == [(field, message)]
    assert found[0].fix and not found[0].warning


@pytest.mark.parametrize("password", ["short1!", "has/slash-1234", 'has"quote-1234', "has@at-12345",
                                      "has space 1234", "é-not-ascii-123", "x" * 101])
def test_passwords_documentdb_refuses_are_found_without_being_quoted(project, password) -> None:
    found = stores.problems(_store(project, "mongo:8"), {"MONGO_INITDB_ROOT_PASSWORD": password})
    assert [p.field for p in found] == ["environment.MONGO_INITDB_ROOT_PASSWORD"]
    assert password not in found[0].message + found[0].fix


def test_a_project_with_mongodb_passes_the_aws_check(project) -> None:
    """The sample shape (an app naming its MongoDB store) has no error finding on AWS; its
    version's difference is a located warning."""
    loaded = load(cwd=str(project({"compose.yaml": NOTES})), os_environ={})
    found = preflight.findings(loaded.project, "dev", SECRETS, loaded.where)
    assert [(f.severity, f.service, f.field, f.line) for f in found] == [
        (Severity.WARNING, "db", "services.db.image", 11)]


def test_a_store_named_like_another_clusters_instance_is_a_clash(project) -> None:
    """The cluster's instance is ``<cluster>-1``: a PostgreSQL store that would be called so is
    refused before anything is made."""
    compose = NOTES + ("  db-1:\n    image: postgres:16\n    x-defang-postgres: true\n"
                       "    environment:\n      POSTGRES_PASSWORD:\n")
    loaded = load(cwd=str(project({"compose.yaml": compose})), os_environ={})
    found = preflight.findings(loaded.project, "dev", {**SECRETS, "POSTGRES_PASSWORD": PASSWORD},
                               loaded.where)
    assert [f.message for f in found if f.severity is Severity.ERROR] == [
        "services 'db' and 'db-1' would share the database instance 'notes-dev-db-1'"]


@pytest.mark.parametrize(("url", "severity", "message"), [
    ("mongodb+srv://notes:${MONGO_INITDB_ROOT_PASSWORD}@db/notes", Severity.ERROR,
     "a mongodb+srv:// URL cannot reach db on aws"),
    ("mongodb://notes:${MONGO_INITDB_ROOT_PASSWORD}@db:27017/notes?retryWrites=true", Severity.ERROR,
     "DocumentDB does not support retryable writes"),
    ("mongodb://notes:${MONGO_INITDB_ROOT_PASSWORD}@db:27017/notes?ssl=false", Severity.ERROR,
     "DocumentDB requires TLS: ssl=false cannot connect"),
    ("mongodb://notes:${MONGO_INITDB_ROOT_PASSWORD}@db:27017/notes?tlsAllowInvalidCertificates=true",
     Severity.WARNING, "tlsAllowInvalidCertificates=true accepts any certificate"),
])
def test_connection_strings_documentdb_cannot_serve_are_found_where_they_are(project, url, severity,
                                                                              message) -> None:
    compose = NOTES.replace("mongodb://notes:${MONGO_INITDB_ROOT_PASSWORD}@db:27017/notes?authSource=admin",
                            url)
    loaded = load(cwd=str(project({"compose.yaml": compose})), os_environ={})
    found = preflight.findings(loaded.project, "dev", SECRETS, loaded.where)
    found = [f for f in found if f.service == "api"]
    assert [(f.severity, f.field, f.line, f.message[:len(message)]) for f in found] == [
        (severity, "services.api.environment.MONGO_URL", 8, message)]
    assert found[0].fix


# -- connection strings ----------------------------------------------------------------------

CA = render.RDS_CA_FILE


@pytest.mark.parametrize(("value", "rendered"), [
    ("mongodb://u:${PW}@db:27017/app",
     f"mongodb://u:pw@db.docdb.example:27017/app?tls=true&tlsCAFile={CA}&replicaSet=rs0&retryWrites=false"),
    ("mongodb://u:${PW}@db:27017/app?authSource=admin",
     "mongodb://u:pw@db.docdb.example:27017/app?authSource=admin&tls=true"
     f"&tlsCAFile={CA}&replicaSet=rs0&retryWrites=false"),
    ("mongodb://u:${PW}@db",
     f"mongodb://u:pw@db.docdb.example/?tls=true&tlsCAFile={CA}&replicaSet=rs0&retryWrites=false"),
    ("mongodb://u:${PW}@db:27017/app?ssl=true&retryWrites=false",
     f"mongodb://u:pw@db.docdb.example:27017/app?ssl=true&retryWrites=false&tlsCAFile={CA}&replicaSet=rs0"),
    ("mongodb://u:${PW}@elsewhere:27017/app", "mongodb://u:pw@elsewhere:27017/app"),
    ("postgres://u:${PW}@pg:5432/app",
     f"postgres://u:pw@pg.rds.example:5432/app?sslmode=verify-full&sslrootcert={CA}"),
])
def test_mongodb_urls_to_documentdb_get_tls_the_rds_ca_and_no_retryable_writes(project, value,
                                                                                rendered) -> None:
    """A MongoDB URL rewritten to the cluster's endpoint carries what DocumentDB needs, unless it
    says it already; other URLs are as before."""
    body = f"    image: nginx\n    environment:\n      URL: {value}\n"
    root = project({"compose.yaml": f"name: demo\nservices:\n  app:\n{body}"})
    service = load(cwd=str(root), os_environ={}).project.services["app"]
    infra = render.Infra(project="demo", stack="dev", region="us-east-1", account="123456789012",
                         cluster="launchdeck", log_group="/launchdeck/demo/dev", execution_role="arn:exec",
                         task_role="arn:task", subnets=["subnet-1"], public_ip=True, namespace=None,
                         images={"app": "nginx"},
                         endpoints={"db": "db.docdb.example", "pg": "pg.rds.example"},
                         documentdb=frozenset({"db"}), postgres=frozenset({"pg"}))
    _, _, derived = render.environment(service, infra, {"PW": "pw"})
    assert list(derived.values()) == [rendered]


# -- on the moto harness ---------------------------------------------------------------------


def _deploy(provider, ref, recorder=None):
    recorder = recorder if recorder is not None else Recorder()
    result = anyio.run(lambda: deploy(ref.load(), provider, stack=ref.stack, sink=recorder,
                                      options=DeployOptions()))
    return result, recorder


@pytest.fixture
def notes(project, aws_env) -> ProjectRef:
    root = project({"compose.yaml": NOTES})
    store = AwsProvider(Aws(T.session())).config_store("notes", "dev")
    anyio.run(store.set, "MONGO_INITDB_ROOT_PASSWORD", PASSWORD)
    return ProjectRef(working_directory=str(root), provider="aws", stack="dev")


@pytest.fixture
def deployed(provider, notes, calls, caplog):
    caplog.set_level(logging.DEBUG)
    result, recorder = _deploy(provider, notes)
    assert result.ok, [(s.name, s.state, s.message) for s in result.services]
    return result, recorder


def test_a_mongodb_store_deploys_as_a_documentdb_cluster_with_one_instance(deployed, boto) -> None:
    """The cluster is DocumentDB 8.0 (for mongo:7), encrypted, in the VPC's subnet group of two
    zones, behind its own security group; its one instance is the smallest class."""
    result, _ = deployed
    assert {s.name: s.state for s in result.services} == {
        "api": State.SERVICE_DEPLOYMENT_COMPLETED, "db": State.SERVICE_DEPLOYMENT_COMPLETED}
    docdb = boto.client("docdb")
    [cluster] = docdb.describe_db_clusters(DBClusterIdentifier="notes-dev-db")["DBClusters"]
    assert (cluster["Engine"], cluster["EngineVersion"], cluster["MasterUsername"]) == \
        ("docdb", "8.0.0", "notes")
    assert cluster["StorageEncrypted"] and cluster["Port"] == 27017 and not cluster["DeletionProtection"]
    [instance] = docdb.describe_db_instances(DBInstanceIdentifier="notes-dev-db-1")["DBInstances"]
    assert (instance["DBInstanceClass"], instance["DBClusterIdentifier"]) == ("db.t4g.medium", "notes-dev-db")
    group = boto.client("rds").describe_db_subnet_groups(
        DBSubnetGroupName=cluster["DBSubnetGroup"])["DBSubnetGroups"][0]
    assert len({s["SubnetAvailabilityZone"]["Name"] for s in group["Subnets"]}) >= 2
    [sg] = [g["VpcSecurityGroupId"] for g in cluster["VpcSecurityGroups"]]
    rules = boto.client("ec2").describe_security_groups(GroupIds=[sg])["SecurityGroups"][0]["IpPermissions"]
    members = boto.client("ec2").describe_security_groups(Filters=[
        {"Name": "tag:launchdeck:project", "Values": ["notes"]},
        {"Name": "tag:launchdeck:role", "Values": ["members"]}])["SecurityGroups"][0]["GroupId"]
    assert [(r["FromPort"], [p["GroupId"] for p in r["UserIdGroupPairs"]], r["IpRanges"]) for r in rules] \
        == [(27017, [members], [])]


def test_the_service_reaches_the_cluster_with_tls_the_rds_ca_and_no_retryable_writes(deployed, boto) -> None:
    """The app's MONGO_URL names the cluster's endpoint with DocumentDB's options, kept in SSM;
    its task gets the RDS CA bundle from a container that runs first."""
    endpoint = boto.client("docdb").describe_db_clusters(
        DBClusterIdentifier="notes-dev-db")["DBClusters"][0]["Endpoint"]
    url = boto.client("ssm").get_parameter(Name="/launchdeck/notes/dev/.derived/api/MONGO_URL",
                                           WithDecryption=True)["Parameter"]["Value"]
    assert url == (f"mongodb://notes:{PASSWORD}@{endpoint}:27017/notes?authSource=admin&tls=true"
                   f"&tlsCAFile={CA}&replicaSet=rs0&retryWrites=false")
    read = drivers.node_mongodb_options(url)  # as the Node driver in the app reads it
    assert (read["hosts"], read["tls"], read["retryWrites"]) == ([f"{endpoint}:27017"], True, False)
    ecs = boto.client("ecs")
    task = ecs.describe_task_definition(taskDefinition="notes-dev-api")["taskDefinition"]
    app, fetch = task["containerDefinitions"]
    assert app["dependsOn"] == [{"containerName": "rds-ca", "condition": "SUCCESS"}]
    assert app["mountPoints"] == [{"sourceVolume": "rds-ca", "containerPath": render.RDS_CA_DIR,
                                   "readOnly": True}]
    assert fetch["name"] == "rds-ca" and fetch["essential"] is False
    assert render.RDS_CA_BUNDLE in " ".join(fetch["command"]) and CA in " ".join(fetch["command"])
    assert [v["name"] for v in task["volumes"]] == ["rds-ca"]


def test_an_unchanged_project_redeploys_with_nothing_changed(deployed, provider, notes, calls) -> None:
    """Every unit plans NOOP: the cluster's digest is in its tag, its instance is found."""
    calls.clear()
    result, _ = _deploy(provider, notes)
    assert result.ok and {c.action for c in result.changes} == {Action.NOOP}
    assert [c for c in calls.mutating() if c.service in ("docdb", "rds", "ecs")] == []


def test_a_new_password_is_applied_to_the_cluster_in_place(deployed, provider, notes, calls) -> None:
    """A rotated password modifies the cluster (no new one) and its hash tag; the app rolls."""
    anyio.run(provider.config_store("notes", "dev").set, "MONGO_INITDB_ROOT_PASSWORD", "pw-notes-rotated-99")
    calls.clear()
    result, recorder = _deploy(provider, notes)
    assert result.ok, [(s.name, s.state, s.message) for s in result.services]
    assert {c.service: c.action for c in result.changes} == {"db": Action.UPDATE, "api": Action.UPDATE}
    assert [c.operation for c in calls.mutating() if c.service == "docdb"] == [
        "ModifyDBCluster", "AddTagsToResource"]
    assert any("resetting-master-credentials" in e.message for e in recorder.events)
    again, _ = _deploy(provider, notes)
    assert {c.action for c in again.changes} == {Action.NOOP}


def test_a_new_password_waits_for_a_busy_cluster(deployed, provider, notes, calls, aws_env) -> None:
    """DocumentDB refuses a change while the cluster is busy (here: a password set outside the
    deploy a moment ago); the deploy says so and applies its own once the cluster is available."""
    aws_env.configure(scale=0.05)  # the reset lasts 3 s: longer than the deploy takes to reach it
    T.session().client("docdb").modify_db_cluster(DBClusterIdentifier="notes-dev-db", ApplyImmediately=True,
                                                  MasterUserPassword="pw-set-by-hand-1234")
    anyio.run(provider.config_store("notes", "dev").set, "MONGO_INITDB_ROOT_PASSWORD", "pw-notes-rotated-77")
    calls.clear()
    result, recorder = _deploy(provider, notes)
    assert result.ok, [(s.name, s.state, s.message) for s in result.services]
    tries = [c for c in calls.made if c.operation == "ModifyDBCluster"]
    assert len(tries) >= 2  # refused once at least, then taken
    assert any("busy; the new password waits for it" in e.message for e in recorder.events)


def test_a_cluster_left_without_its_instance_gets_it_from_the_next_deploy(deployed, provider, notes, boto,
                                                                         calls) -> None:
    """A deploy cut short between the cluster and its instance is finished by the next one: the
    half-made store plans an update, which makes the instance and nothing else."""
    T.session().client("docdb").delete_db_instance(DBInstanceIdentifier="notes-dev-db-1")
    calls.clear()
    result, _ = _deploy(provider, notes)
    assert result.ok, [(s.name, s.state, s.message) for s in result.services]
    assert {c.service: c.action for c in result.changes}["db"] is Action.UPDATE
    assert [c.operation for c in calls.mutating() if c.service == "docdb"] == ["CreateDBInstance"]
    assert boto.client("docdb").describe_db_instances(
        DBInstanceIdentifier="notes-dev-db-1")["DBInstances"][0]["DBInstanceStatus"] == "available"


def test_destroy_takes_a_final_snapshot_and_leaves_nothing(deployed, provider, notes, boto) -> None:
    """The instance, then the cluster (with a final snapshot named by DocumentDB's rules) go;
    the tagging API finds only the config value; ps says not deployed."""
    recorder = Recorder()
    teardown = anyio.run(lambda: destroy(provider, "notes", "dev", volumes=False, sink=recorder))
    docdb = boto.client("docdb")
    with pytest.raises(ClientError, match="DBClusterNotFoundFault"):
        docdb.describe_db_clusters(DBClusterIdentifier="notes-dev-db")
    assert docdb.describe_db_instances(Filters=[{"Name": "engine", "Values": ["docdb"]}])["DBInstances"] == []
    [snapshot] = docdb.describe_db_cluster_snapshots()["DBClusterSnapshots"]
    assert snapshot["DBClusterSnapshotIdentifier"].startswith("notes-db-mongodb-")
    assert snapshot["DBClusterSnapshotIdentifier"].endswith("-final-snapshot")
    assert any("delete-db-cluster-snapshot" in k for k in teardown.kept)
    assert any("DocumentDB cluster notes-dev-db to go: deleting" in e.message for e in recorder.events)
    found = boto.client("resourcegroupstaggingapi").get_resources(TagFilters=[
        {"Key": "launchdeck:project", "Values": ["notes"]}])["ResourceTagMappingList"]
    left = [m["ResourceARN"] for m in found if _exists(boto, m["ResourceARN"])]
    assert sorted(a.rsplit(":", 1)[-1] for a in left) == [  # the config, with its digest key
        "parameter/launchdeck/notes/dev/LAUNCHDECK_DIGEST_KEY",
        "parameter/launchdeck/notes/dev/MONGO_INITDB_ROOT_PASSWORD"]
    statuses = anyio.run(ps.ps, provider, notes.load().project, "dev")
    assert {s.state for s in statuses} == {State.NOT_DEPLOYED}


def test_high_availability_adds_a_replica_instance_and_affordable_removes_it(provider, notes, boto) -> None:
    """high_availability: a replica instance beside the primary, deletion protection and 14 days
    of backups, on the same cluster (an UPDATE); affordable again: the replica goes and the
    primary stays; destroy lifts the protection it was asked to remove the data through."""
    ha = DeployOptions(mode=Mode.HIGH_AVAILABILITY)
    for options in (DeployOptions(), ha):
        result = anyio.run(lambda o=options: deploy(notes.load(), provider, stack="dev", sink=Recorder(),
                                                    options=o))
        assert result.ok, [(s.name, s.state, s.message) for s in result.services]
    docdb = boto.client("docdb")
    [cluster] = docdb.describe_db_clusters(DBClusterIdentifier="notes-dev-db")["DBClusters"]
    assert sorted(m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"]) == \
        ["notes-dev-db-1", "notes-dev-db-2"]
    assert (cluster["DeletionProtection"], cluster["BackupRetentionPeriod"]) == (True, 14)
    result, _ = _deploy(provider, notes)
    assert result.ok
    [cluster] = docdb.describe_db_clusters(DBClusterIdentifier="notes-dev-db")["DBClusters"]
    assert [m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"]] == ["notes-dev-db-1"]
    assert (cluster["DeletionProtection"], cluster["BackupRetentionPeriod"]) == (False, 1)
    anyio.run(lambda: deploy(notes.load(), provider, stack="dev", sink=Recorder(), options=ha))
    anyio.run(lambda: destroy(provider, "notes", "dev", volumes=True, sink=Recorder()))
    with pytest.raises(ClientError, match="DBClusterNotFoundFault"):
        docdb.describe_db_clusters(DBClusterIdentifier="notes-dev-db")


def _exists(boto, arn: str) -> bool:
    from launchdeck.providers.aws.inventory import kind
    from launchdeck.providers.aws.teardown import exists

    return anyio.run(exists, Aws(boto), kind(arn), arn)


def test_the_password_is_sent_only_where_documentdb_and_ssm_need_it(deployed, provider, notes, boto, calls,
                                                                     caplog) -> None:
    """The config value is in no name, tag, task definition, record, event, ps or log: it goes
    only to DocumentDB's password parameter and to the app's derived SecureString."""
    result, recorder = deployed
    anyio.run(lambda: destroy(provider, "notes", "dev", volumes=False, sink=recorder))
    carried = {(c.service, c.operation) for c in calls.made if PASSWORD in json.dumps(c.params, default=str)}
    assert carried <= {("docdb", "CreateDBCluster"), ("ssm", "PutParameter")}, carried
    create = next(c for c in calls.made if c.operation == "CreateDBCluster")
    assert [k for k, v in create.params.items() if PASSWORD in json.dumps(v)] == ["MasterUserPassword"]
    s3 = boto.client("s3")
    bucket = "launchdeck-123456789012-us-east-1"
    records = "".join(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read().decode()
                      for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))
    ecs = boto.client("ecs")
    tasks = json.dumps([ecs.describe_task_definition(taskDefinition=a)["taskDefinition"]
                        for a in ecs.list_task_definitions()["taskDefinitionArns"]], default=str)
    events = " ".join(e.message for e in recorder.events)
    seen = records + tasks + result.model_dump_json() + events + caplog.text
    assert PASSWORD not in seen


def test_a_refused_store_stops_the_deploy_before_any_change(provider, project, aws_env, calls) -> None:
    """A reserved master user is a located refusal; nothing is created."""
    root = project({"compose.yaml": NOTES.replace("MONGO_INITDB_ROOT_USERNAME: notes",
                                                  "MONGO_INITDB_ROOT_USERNAME: admin")})
    anyio.run(AwsProvider(Aws(T.session())).config_store("notes", "dev").set, "MONGO_INITDB_ROOT_PASSWORD",
              PASSWORD)
    calls.clear()
    from launchdeck.errors import DeployRefused

    with pytest.raises(DeployRefused, match="reserves the master user name 'admin'"):
        _deploy(provider, ProjectRef(working_directory=str(root), provider="aws", stack="dev"))
    assert [c for c in calls.mutating() if c.service != "s3"] == []


# -- the harness serves DocumentDB as strictly as AWS ----------------------------------------


@pytest.fixture
def raw(aws_env):
    """An unhooked docdb client and an RDS subnet group in two zones: the moto process alone
    answers."""
    session = T.session()
    ec2 = session.client("ec2")
    subnets = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    by_zone = {s["AvailabilityZone"]: s["SubnetId"] for s in subnets}
    session.client("rds").create_db_subnet_group(DBSubnetGroupName="two", DBSubnetGroupDescription="d",
                                                 SubnetIds=sorted(by_zone.values())[:2])
    session.client("rds").create_db_subnet_group(DBSubnetGroupName="one", DBSubnetGroupDescription="d",
                                                 SubnetIds=[sorted(by_zone.values())[0]])
    return session.client("docdb")


_CLUSTER = {"DBClusterIdentifier": "c1", "Engine": "docdb", "EngineVersion": "5.0.0",
            "MasterUsername": "app", "MasterUserPassword": PASSWORD, "DBSubnetGroupName": "two"}


@pytest.mark.parametrize(("changes", "code"), [
    ({"EngineVersion": "6.0.0"}, "InvalidParameterCombination"),
    ({"EngineVersion": "7.0.0"}, "InvalidParameterCombination"),
    ({"MasterUsername": "admin"}, "InvalidParameterValue"),
    ({"MasterUsername": "app_user"}, "InvalidParameterValue"),
    ({"MasterUserPassword": "short"}, "InvalidParameterValue"),
    ({"MasterUserPassword": "has/slash-1234"}, "InvalidParameterValue"),
    ({"MasterUserPassword": "x" * 101}, "InvalidParameterValue"),
    ({"DBClusterIdentifier": "c--1"}, "InvalidParameterValue"),
    ({"DBClusterIdentifier": "1c"}, "InvalidParameterValue"),
    ({"DBSubnetGroupName": "one"}, "DBSubnetGroupDoesNotCoverEnoughAZs"),
])
def test_the_harness_refuses_clusters_documentdb_refuses(raw, changes, code) -> None:
    with pytest.raises(ClientError) as caught:
        raw.create_db_cluster(**{**_CLUSTER, **changes})
    assert caught.value.response["Error"]["Code"] == code
    assert PASSWORD not in str(caught.value)


def _available(raw, cluster: str = "c1") -> None:
    for _ in range(400):
        if raw.describe_db_clusters(DBClusterIdentifier=cluster)["DBClusters"][0]["Status"] == "available":
            return
        anyio.run(anyio.sleep, 0.01)
    raise AssertionError("the cluster never became available")


def test_the_harness_makes_clusters_and_instances_take_time(raw) -> None:
    """A new cluster is creating, then available; its instance too; each at least once seen."""
    raw.create_db_cluster(**_CLUSTER)
    assert raw.describe_db_clusters(DBClusterIdentifier="c1")["DBClusters"][0]["Status"] == "creating"
    _available(raw)
    raw.create_db_instance(DBInstanceIdentifier="c1-1", DBClusterIdentifier="c1", Engine="docdb",
                           DBInstanceClass="db.t4g.medium")
    assert raw.describe_db_instances(DBInstanceIdentifier="c1-1")["DBInstances"][0]["DBInstanceStatus"] \
        == "creating"


@pytest.mark.parametrize(("call", "params", "code"), [
    ("create_db_instance", {"DBInstanceIdentifier": "c1-1", "DBClusterIdentifier": "c1", "Engine": "docdb",
                            "DBInstanceClass": "db.t4g.micro"}, "InvalidParameterCombination"),
    ("create_db_instance", {"DBInstanceIdentifier": "c1-1", "DBClusterIdentifier": "nope", "Engine": "docdb",
                            "DBInstanceClass": "db.t4g.medium"}, "DBClusterNotFoundFault"),
    ("delete_db_cluster", {"DBClusterIdentifier": "c1"}, "InvalidParameterValue"),
    ("delete_db_cluster", {"DBClusterIdentifier": "c1", "SkipFinalSnapshot": True,
                           "FinalDBSnapshotIdentifier": "c1-final"}, "InvalidParameterCombination"),
    ("delete_db_cluster", {"DBClusterIdentifier": "c1", "FinalDBSnapshotIdentifier": "c1--final"},
     "InvalidParameterValue"),
    ("delete_db_cluster", {"DBClusterIdentifier": "c1", "FinalDBSnapshotIdentifier": "1-final"},
     "InvalidParameterValue"),
])
def test_the_harness_refuses_instances_and_deletions_documentdb_refuses(raw, call, params, code) -> None:
    raw.create_db_cluster(**_CLUSTER)
    _available(raw)
    with pytest.raises(ClientError) as caught:
        getattr(raw, call)(**params)
    assert caught.value.response["Error"]["Code"] == code


def test_the_harness_keeps_protected_and_populated_clusters(raw) -> None:
    """Deletion protection and a live instance each stop DeleteDBCluster; a snapshot name is
    used once."""
    raw.create_db_cluster(**{**_CLUSTER, "DeletionProtection": True})
    _available(raw)
    with pytest.raises(ClientError, match="deletion protection"):
        raw.delete_db_cluster(DBClusterIdentifier="c1", FinalDBSnapshotIdentifier="c1-final")
    raw.modify_db_cluster(DBClusterIdentifier="c1", DeletionProtection=False, ApplyImmediately=True)
    raw.create_db_instance(DBInstanceIdentifier="c1-1", DBClusterIdentifier="c1", Engine="docdb",
                           DBInstanceClass="db.t4g.medium")
    with pytest.raises(ClientError, match="non-deleting state"):
        raw.delete_db_cluster(DBClusterIdentifier="c1", FinalDBSnapshotIdentifier="c1-final")
    raw.delete_db_instance(DBInstanceIdentifier="c1-1")
    raw.delete_db_cluster(DBClusterIdentifier="c1", FinalDBSnapshotIdentifier="c1-final")
    assert raw.describe_db_clusters(DBClusterIdentifier="c1")["DBClusters"][0]["Status"] == "deleting"
    raw.create_db_cluster(**{**_CLUSTER, "DBClusterIdentifier": "c2"})
    _available(raw, "c2")
    with pytest.raises(ClientError) as caught:
        raw.delete_db_cluster(DBClusterIdentifier="c2", FinalDBSnapshotIdentifier="c1-final")
    assert caught.value.response["Error"]["Code"] == "DBClusterSnapshotAlreadyExistsFault"


def test_the_harness_keeps_a_subnet_group_a_cluster_is_in(raw) -> None:
    """DeleteDBSubnetGroup is refused while a DocumentDB cluster, even a deleting one, is in it."""
    raw.create_db_cluster(**_CLUSTER)
    _available(raw)
    raw.delete_db_cluster(DBClusterIdentifier="c1", SkipFinalSnapshot=True)
    with pytest.raises(ClientError) as caught:
        T.session().client("rds").delete_db_subnet_group(DBSubnetGroupName="two")
    assert caught.value.response["Error"]["Code"] == "InvalidDBSubnetGroupStateFault"


def test_strict_holds_the_providers_own_requests_to_the_same_rules(aws_env) -> None:
    """A bad request through a hooked session is a violation (a bug in the provider), at once."""
    session = T.session()
    strict = T.Strict().attach(session)
    with pytest.raises(T.StrictViolation, match="Cannot find version 4.2.0"):
        session.client("docdb").create_db_cluster(**{**_CLUSTER, "EngineVersion": "4.2.0"})
    assert len(strict.violations) == 1 and PASSWORD not in strict.violations[0]


def test_names_follow_documentdbs_identifier_rules() -> None:
    """The instance and final snapshot names are valid however long the project's names are."""
    import re

    rule = re.compile(r"[A-Za-z](?:-?[A-Za-z0-9])*")
    instance = names.Names("a" * 60, "production").store_instance("db")
    snapshot = names.cluster_snapshot("2048-game", "d_b", "0a1b2c3d4e5f")
    assert rule.fullmatch(instance) and len(instance) <= 63
    assert rule.fullmatch(snapshot) and snapshot.startswith("x2048-game-d-b-mongodb-")


# -- the platform's sample -------------------------------------------------------------------

SAMPLE = Path(__file__).parents[2] / "compose" / "conformance" / "defang-mongo-worker"
SAMPLE_CONFIG = {"MONGO_INITDB_ROOT_PASSWORD": PASSWORD, "MONGO_PASSWORD": PASSWORD,
                 "OPENAI_API_KEY": "sk-sample-0a9b8c7d6e5f"}


def test_the_mongo_worker_sample_checks_deploys_and_tears_down(provider, tmp_path, aws_env, boto) -> None:
    """defang-mongo-worker (a built worker naming its x-defang-mongodb store as root) has no error
    on the AWS check, deploys, redeploys as NOOP and leaves only its config values and the final
    snapshot behind."""
    folder = tmp_path / "sample"
    shutil.copytree(SAMPLE, folder)
    ref = ProjectRef(working_directory=str(folder), provider="aws", stack="dev")
    loaded = ref.load()
    store = provider.config_store(loaded.project.name, "dev")
    for name, value in SAMPLE_CONFIG.items():
        anyio.run(store.set, name, value)
    assert [f for f in preflight.findings(loaded.project, "dev", SAMPLE_CONFIG, loaded.where)
            if f.severity is Severity.ERROR] == []
    result, _ = _deploy(provider, ref)
    assert result.ok, [(s.name, s.state, s.message) for s in result.services]
    again, _ = _deploy(provider, ref)
    assert {c.action for c in again.changes} == {Action.NOOP}
    name = loaded.project.name
    url = boto.client("ssm").get_parameter(Name=f"/launchdeck/{name}/dev/.derived/worker/MONGO_URI",
                                           WithDecryption=True)["Parameter"]["Value"]
    assert url.endswith(f":27017/?tls=true&tlsCAFile={CA}&replicaSet=rs0&retryWrites=false")
    anyio.run(lambda: destroy(provider, name, "dev", volumes=False, sink=Recorder()))
    found = boto.client("resourcegroupstaggingapi").get_resources(TagFilters=[
        {"Key": "launchdeck:project", "Values": [name]}])["ResourceTagMappingList"]
    left = [m["ResourceARN"] for m in found if _exists(boto, m["ResourceARN"])]
    assert sorted(a.rsplit("/", 1)[-1] for a in left) == sorted([*SAMPLE_CONFIG, DIGEST_KEY])
    assert len(boto.client("docdb").describe_db_cluster_snapshots()["DBClusterSnapshots"]) == 1
