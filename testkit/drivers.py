"""Real database drivers' connection-string parsers, for tests of what launchdeck writes.

A rewritten connection string is only right if the drivers applications use read it as meant.
``pymongo_options`` parses one with pymongo's own URI parser (pymongo from PyPI, in the test
extras); ``node_mongodb_options`` with the Node ``mongodb`` driver from npm (its MongoClient
parses and validates every option when it is made, and connects only when asked to), installed
once into a cache folder (``npm install --prefix``): Node 20 and npm are on the machine, and
the npm registry is reachable.

For PostgreSQL, ``node_pg_query`` connects with Node's ``pg`` (npm, 8.x: its
pg-connection-string reads ``sslmode`` and ``sslrootcert`` from a URL) and ``psycopg_query``
with psycopg (PyPI, libpq underneath); each runs one query against a real server and says
whether the session is encrypted, as the server sees it (``pg_stat_ssl``).
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
from pathlib import Path
from typing import Any

NODE_MONGODB = "mongodb@6"
NODE_PG = "pg@8"
CACHE = Path(os.environ.get("LAUNCHDECK_TEST_CACHE", Path.home() / ".cache" / "launchdeck-tests"))

_NODE_PARSE = """
const { MongoClient } = require('mongodb');
const client = new MongoClient(process.argv[1]);
const o = client.options;
process.stdout.write(JSON.stringify({
  hosts: o.hosts.map(String), dbName: o.dbName, tls: o.tls, tlsCAFile: o.tlsCAFile,
  replicaSet: o.replicaSet, retryWrites: o.retryWrites, readPreference: o.readPreference.mode,
  loadBalanced: o.loadBalanced,
  authMechanism: o.credentials ? o.credentials.mechanism : null,
  authSource: o.credentials ? o.credentials.source : null,
  username: o.credentials ? o.credentials.username : null,
}));
"""


def node_mongodb(cache: Path = CACHE) -> Path:
    """The folder holding the Node ``mongodb`` driver (its ``node_modules``), installed on first
    use; concurrent test processes wait for one install."""
    return _node_package(NODE_MONGODB, "node-mongodb-6", cache)


def node_pg(cache: Path = CACHE) -> Path:
    """The folder holding Node's ``pg`` (its ``node_modules``), installed on first use."""
    return _node_package(NODE_PG, "node-pg-8", cache)


def _node_package(spec: str, name: str, cache: Path) -> Path:
    folder = cache / name
    folder.mkdir(parents=True, exist_ok=True)
    module = spec.rsplit("@", 1)[0]
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "node_modules" / module / "package.json").exists():
            subprocess.run(["npm", "install", "--prefix", str(folder), "--no-audit", "--no-fund",
                            "--loglevel=error", spec], check=True, capture_output=True, timeout=600)
    return folder


def node_mongodb_options(uri: str, cache: Path = CACHE) -> dict[str, Any]:
    """What the Node ``mongodb`` driver makes of ``uri`` (it raises on any option it refuses)."""
    folder = node_mongodb(cache)
    done = subprocess.run(["node", "-e", _NODE_PARSE, uri], cwd=folder, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "NODE_PATH": str(folder / "node_modules")})
    if done.returncode != 0:
        raise ValueError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "node failed")
    return json.loads(done.stdout)


def pymongo_options(uri: str) -> dict[str, Any]:
    """What pymongo's URI parser makes of ``uri``: nodelist, database, username and the options
    (validated, by their canonical names); it raises on any option it refuses."""
    from pymongo import uri_parser

    parsed = uri_parser.parse_uri(uri, validate=True, warn=False)
    return {"nodelist": parsed["nodelist"], "database": parsed["database"],
            "username": parsed["username"], "options": dict(parsed["options"])}


_SESSION_QUERY = "SELECT 1 AS one, (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS ssl"

_NODE_PG_QUERY = """
const { Client } = require('pg');
const client = new Client(JSON.parse(process.argv[1]));
client.connect()
  .then(() => client.query(process.argv[2]))
  .then((result) => { process.stdout.write(JSON.stringify(result.rows[0])); return client.end(); })
  .catch((error) => {
    process.stderr.write(String(error && error.message || error) + '\\n');
    process.exit(1);
  });
"""


def node_pg_query(connection: str | dict[str, Any], *, extra_ca: Path | None = None,
                  cache: Path = CACHE) -> dict[str, Any]:
    """Connect with Node's ``pg`` (a URL, or a client config from parts), ``SELECT 1`` and read
    whether the session is encrypted: ``{"one": 1, "ssl": True}``. ``extra_ca``: the file Node is
    told of with ``NODE_EXTRA_CA_CERTS`` (none otherwise). Raises ``ConnectionError`` with
    ``pg``'s message when it does not connect."""
    folder = node_pg(cache)
    config = {"connectionString": connection} if isinstance(connection, str) else connection
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "NODE_EXTRA_CA_CERTS"))}
    env["NODE_PATH"] = str(folder / "node_modules")
    if extra_ca is not None:
        env["NODE_EXTRA_CA_CERTS"] = str(extra_ca)
    done = subprocess.run(["node", "-e", _NODE_PG_QUERY, json.dumps(config), _SESSION_QUERY], cwd=folder,
                          capture_output=True, text=True, timeout=60, env=env)
    if done.returncode != 0:
        raise ConnectionError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "node failed")
    return json.loads(done.stdout)


def psycopg_query(url: str) -> dict[str, Any]:
    """Connect with psycopg (libpq), ``SELECT 1`` and read whether the session is encrypted;
    psycopg's own error (``psycopg.OperationalError``, or ``ProgrammingError`` for an option
    libpq refuses) when it does not connect."""
    import psycopg

    with psycopg.connect(url, connect_timeout=10) as conn:
        one, encrypted = conn.execute(_SESSION_QUERY).fetchone()
    return {"one": one, "ssl": encrypted}
