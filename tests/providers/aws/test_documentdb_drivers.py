"""The MongoDB connection strings written for DocumentDB, as the real drivers read them: pymongo
(its URI parser and a MongoClient made without connecting) and the Node ``mongodb`` driver."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pytest

from launchdeck.compose.load import load
from launchdeck.providers.aws import render
from testkit import drivers

ENDPOINT = "notes-dev-db.cluster-c1a2b3d4e5f6.us-east-1.docdb.amazonaws.com"
PASSWORD = "pw-notes-4f3e2d1c0b9a"


@pytest.fixture(scope="module")
def delivered(tmp_path_factory) -> Path:
    """A CA bundle where the task's volume would hold the RDS one (a CA made here: the file only
    has to be a real PEM certificate for the drivers to load it)."""
    folder = tmp_path_factory.mktemp("rds-ca")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=rds-ca-test",
                    "-keyout", str(folder / "key.pem"), "-out", str(folder / "global-bundle.pem"),
                    "-days", "1"], check=True, capture_output=True)
    return folder / "global-bundle.pem"


def _rewritten(project, value: str) -> str:
    root = project({"compose.yaml": f"name: notes\nservices:\n  api:\n    image: node:20\n"
                                    f"    environment:\n      MONGO_URL: {value}\n"})
    service = load(cwd=str(root), os_environ={}).project.services["api"]
    infra = render.Infra(project="notes", stack="dev", region="us-east-1", account="123456789012",
                         cluster="launchdeck", log_group="/launchdeck/notes/dev", execution_role="arn:exec",
                         task_role="arn:task", subnets=["subnet-1"], public_ip=True, namespace=None,
                         images={"api": "node:20"}, endpoints={"db": ENDPOINT}, documentdb=frozenset({"db"}))
    _, _, derived = render.environment(service, infra, {"PW": PASSWORD})
    [url] = derived.values()
    return url


URLS = [
    # (as written in compose, the database, the authSource a driver uses)
    ("mongodb://notes:${PW}@db:27017/notes?authSource=admin", "notes", "admin"),
    ("mongodb://notes:${PW}@db:27017/notes", "notes", "notes"),
    ("mongodb://notes:${PW}@db", None, "admin"),
    ("mongodb://notes:${PW}@db:27017/?ssl=true", None, "admin"),
]


@pytest.mark.parametrize(("written", "database", "source"), URLS)
def test_pymongo_reads_tls_with_the_rds_ca_and_no_retryable_writes(project, delivered, written, database,
                                                                   source) -> None:
    """pymongo's URI parser takes every option; a MongoClient made from the string verifies the
    server's certificate against the delivered CA and does not retry writes."""
    url = _rewritten(project, written)
    assert f"tlsCAFile={render.RDS_CA_FILE}" in url
    here = url.replace(render.RDS_CA_FILE, str(delivered))
    parsed = drivers.pymongo_options(here)
    assert parsed["nodelist"] == [(ENDPOINT, 27017)] and parsed["database"] == database
    options = {k.lower(): v for k, v in parsed["options"].items()}
    assert options.get("tls", options.get("ssl")) is True and options["retrywrites"] is False
    assert options["replicaset"] == "rs0" and options["tlscafile"] == str(delivered)
    from pymongo import MongoClient

    with pytest.warns(UserWarning, match="DocumentDB"):  # pymongo knows the endpoint's domain
        client = MongoClient(here, connect=False)
    try:
        context = client.options.pool_options._ssl_context
        assert context is not None and context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
        assert client.options.retry_writes is False
        assert client.options.pool_options._credentials.source == source
    finally:
        client.close()


@pytest.mark.parametrize(("written", "database", "source"), URLS)
def test_the_node_driver_reads_tls_with_the_rds_ca_and_no_retryable_writes(project, written, database,
                                                                           source) -> None:
    """The Node ``mongodb`` driver (npm, 6.x) makes a client of the string as written for the
    task: TLS on with the RDS CA's path, no retryable writes, the cluster's endpoint and port."""
    options = drivers.node_mongodb_options(_rewritten(project, written))
    assert options["tls"] is True and options["tlsCAFile"] == render.RDS_CA_FILE
    assert options["retryWrites"] is False and options["replicaSet"] == "rs0"
    assert options["hosts"] == [f"{ENDPOINT}:27017"] and options["dbName"] == (database or "test")
    assert options["username"] == "notes" and options["authSource"] == source


def test_both_drivers_refuse_what_a_wrong_rewrite_would_write(delivered) -> None:
    """The parsers are strict: a URL whose options could not be read fails, so the tests above
    would catch a broken rewrite."""
    broken = f"mongodb://notes:pw@{ENDPOINT}:27017/notes?tls=yes-please&tlsCAFile={delivered}"
    with pytest.raises(ValueError):
        drivers.pymongo_options(broken)
    with pytest.raises(ValueError):
        drivers.node_mongodb_options(broken)
