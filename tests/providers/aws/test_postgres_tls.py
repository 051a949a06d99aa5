"""The PostgreSQL URL a deploy to AWS writes, as real clients use it against a real server that
refuses plain connections, as RDS for PostgreSQL 15 and later do (``rds.force_ssl``).

Debian's PostgreSQL (``scripts/postgres`` installs it) runs as an unprivileged user in a
temporary folder with ``ssl = on``, a certificate for ``localhost`` signed by a certificate
authority made here (as RDS's are signed by the Amazon RDS CAs, which no system trust store
holds) and a pg_hba.conf that admits only ``hostssl``. The URL launchdeck renders for a compose
``DATABASE_URL`` naming the store is connected with as written, but for two swaps: this
server's address for the RDS endpoint, this CA's file for the bundle the task's ``rds-ca``
container delivers. psycopg (libpq) and Node's ``pg`` (npm) both connect, encrypted and
verified; the ``sslmode=require`` launchdeck wrote before does not connect from Node's ``pg``
(brianc/node-postgres#2375).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from launchdeck.compose.load import load
from launchdeck.providers.aws import render
from testkit import drivers

ENDPOINT = "shop-dev-db.c1a2b3d4e5f6.us-east-1.rds.amazonaws.com"
PASSWORD = "pw-shop-7d1e4c2b9a"
COMPOSE = """\
name: shop
services:
  db:
    image: postgres:16
    x-defang-postgres: true
    environment:
      POSTGRES_USER: app
      POSTGRES_DB: app
      POSTGRES_PASSWORD:
  api:
    image: node:20
    environment:
      DATABASE_URL: postgres://app:${POSTGRES_PASSWORD}@db:5432/app
"""


@dataclass(frozen=True)
class Server:
    port: int
    ca: Path
    """The certificate authority that signed the server's certificate."""

    def url(self, written: str) -> str:
        """``written`` (a URL rendered for the task) pointed at this server and this CA."""
        return (written.replace(f"{ENDPOINT}:5432", f"localhost:{self.port}")
                .replace(render.RDS_CA_FILE, str(self.ca)))


def _initdb() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.fail("Debian's PostgreSQL is not installed: run scripts/postgres (as root), or scripts/test")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """PostgreSQL with TLS only, on a free port of 127.0.0.1 and ::1 (``localhost``)."""
    bin_dir = _initdb()
    # PostgreSQL refuses to run as root: as root, the server runs as Debian's postgres user
    owner = pwd.getpwnam("postgres") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
    as_owner = {"user": owner.pw_uid, "group": owner.pw_gid} if os.geteuid() == 0 else {}
    root = Path(tempfile.mkdtemp(prefix="launchdeck-pg-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        data, certs = root / "data", root / "certs"
        certs.mkdir()
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                 "-subj", "/CN=launchdeck test RDS CA", "-keyout", str(certs / "ca.key"),
                 "-out", str(certs / "ca.pem"))
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                 "-keyout", str(certs / "server.key"), "-out", str(certs / "server.csr"))
        (certs / "san.ext").write_text("subjectAltName=DNS:localhost\n")
        _openssl("x509", "-req", "-in", str(certs / "server.csr"), "-CA", str(certs / "ca.pem"),
                 "-CAkey", str(certs / "ca.key"), "-CAcreateserial", "-days", "1",
                 "-extfile", str(certs / "san.ext"), "-out", str(certs / "leaf.pem"))
        # the server sends its chain up to the root, as RDS does
        (certs / "server.pem").write_text((certs / "leaf.pem").read_text() + (certs / "ca.pem").read_text())
        (root / "pw").write_text(PASSWORD + "\n")
        for path in [root, certs, *certs.iterdir()]:
            os.chown(path, owner.pw_uid, owner.pw_gid)
        (certs / "server.key").chmod(0o600)
        subprocess.run([str(bin_dir / "initdb"), "-D", str(data), "-U", "app", f"--pwfile={root / 'pw'}",
                        "--auth=scram-sha-256", "--no-sync"], check=True, capture_output=True, **as_owner)
        (data / "pg_hba.conf").write_text("hostssl all all 127.0.0.1/32 scram-sha-256\n"
                                          "hostssl all all ::1/128 scram-sha-256\n")
        port = _free_port()
        with open(data / "postgresql.conf", "a") as conf:
            conf.write(f"listen_addresses = 'localhost'\nport = {port}\nunix_socket_directories = '{root}'\n"
                       f"ssl = on\nssl_cert_file = '{certs / 'server.pem'}'\n"
                       f"ssl_key_file = '{certs / 'server.key'}'\nfsync = off\n")
        log = root / "server.log"
        with open(log, "w") as out:  # (the server keeps its own copy of the descriptor)
            process = subprocess.Popen([str(bin_dir / "postgres"), "-D", str(data)], stdout=out,
                                       stderr=subprocess.STDOUT, **as_owner)
        here = Server(port, certs / "ca.pem")
        admin = here.url(f"postgres://app:{PASSWORD}@{ENDPOINT}:5432/postgres"
                         f"?sslmode=verify-full&sslrootcert={render.RDS_CA_FILE}")
        deadline = time.monotonic() + 60
        while True:
            try:
                with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
                    conn.execute("CREATE DATABASE app")
                break
            except psycopg.OperationalError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"PostgreSQL did not start:\n{log.read_text()[-2000:]}")
                time.sleep(0.2)
        yield here
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> render.Unit:
    """The api service as a deploy to AWS renders it, with the store at its RDS endpoint."""
    root = tmp_path_factory.mktemp("shop")
    (root / "compose.yaml").write_text(COMPOSE)
    project = load(cwd=str(root), os_environ={}).project
    infra = render.Infra(project="shop", stack="dev", region="us-east-1", account="123456789012",
                         cluster="launchdeck", log_group="/launchdeck/shop/dev", execution_role="arn:exec",
                         task_role="arn:task", subnets=["subnet-1"], public_ip=True, namespace=None,
                         images={"api": "node:20"}, endpoints={"db": ENDPOINT},
                         postgres=frozenset(n for n, s in project.services.items()
                                            if s.managed_store == "postgres"))
    return render.render(project.services["api"], infra, {"POSTGRES_PASSWORD": PASSWORD}, "etag1")


@pytest.fixture(scope="module")
def written(rendered) -> str:
    """The DATABASE_URL the api's task reads (a SecureString: it holds the password)."""
    [url] = rendered.parameters.values()
    return url


def test_the_written_url_verifies_the_endpoint_against_the_delivered_bundle(rendered, written) -> None:
    """verify-full with the RDS CA bundle's path, where the task's rds-ca container puts it."""
    assert written == (f"postgres://app:{PASSWORD}@{ENDPOINT}:5432/app"
                       f"?sslmode=verify-full&sslrootcert={render.RDS_CA_FILE}")
    [app, fetch] = rendered.task_definition["containerDefinitions"]
    assert fetch["name"] == render.RDS_CA_CONTAINER and render.RDS_CA_FILE in fetch["command"][-1]
    assert app["mountPoints"][0]["containerPath"] == render.RDS_CA_DIR


def test_the_server_refuses_plain_connections(server) -> None:
    """The test is worth its name: without TLS, neither client gets in."""
    plain = f"postgres://app:{PASSWORD}@localhost:{server.port}/app"
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        drivers.psycopg_query(plain + "?sslmode=disable")
    with pytest.raises(ConnectionError, match="no encryption"):
        drivers.node_pg_query(plain)


def test_psycopg_connects_encrypted_and_verified(server, written) -> None:
    """libpq verifies the server's certificate against the sslrootcert file and its name."""
    assert drivers.psycopg_query(server.url(written)) == {"one": 1, "ssl": True}


def test_node_pg_connects_encrypted_and_verified(server, written) -> None:
    """Node's pg reads sslrootcert into its ssl.ca and verifies the server with it."""
    assert drivers.node_pg_query(server.url(written)) == {"one": 1, "ssl": True}


def test_both_clients_refuse_a_certificate_the_bundle_did_not_sign(server, written, tmp_path) -> None:
    """The verification is real: another CA's bundle fails both clients."""
    other = tmp_path / "other.pem"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=someone else",
             "-keyout", str(tmp_path / "other.key"), "-out", str(other))
    url = server.url(written).replace(str(server.ca), str(other))
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        drivers.psycopg_query(url)
    with pytest.raises(ConnectionError, match="certificate"):
        drivers.node_pg_query(url)


def test_node_pg_refused_what_launchdeck_wrote_before(server) -> None:
    """``sslmode=require`` alone (the earlier rewrite) is verify-full against Node's own CA list
    in pg, which does not hold the server's CA: the connection fails. libpq took it."""
    before = f"postgres://app:{PASSWORD}@localhost:{server.port}/app?sslmode=require"
    with pytest.raises(ConnectionError, match="self[- ]signed certificate in certificate chain"):
        drivers.node_pg_query(before)
    assert drivers.psycopg_query(before) == {"one": 1, "ssl": True}


def test_node_clients_configured_from_parts_trust_the_bundle_named_for_node(server, rendered) -> None:
    """A Node client given ``ssl: true`` rather than the URL verifies against Node's CA list, to
    which the task's NODE_EXTRA_CA_CERTS adds the bundle."""
    [app, _] = rendered.task_definition["containerDefinitions"]
    named = {e["name"]: e["value"] for e in app["environment"]}["NODE_EXTRA_CA_CERTS"]
    assert named == render.RDS_CA_FILE
    parts = {"host": "localhost", "port": server.port, "user": "app", "password": PASSWORD,
             "database": "app", "ssl": True}
    with pytest.raises(ConnectionError, match="self[- ]signed certificate in certificate chain"):
        drivers.node_pg_query(parts)
    assert drivers.node_pg_query(parts, extra_ca=Path(server.url(named))) == {"one": 1, "ssl": True}
