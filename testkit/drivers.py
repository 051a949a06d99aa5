"""Real database drivers' connection-string parsers, for tests of what launchdeck writes.

A rewritten connection string is only right if the drivers applications use read it as meant.
``pymongo_options`` parses one with pymongo's own URI parser (pymongo from PyPI, in the test
extras); ``node_mongodb_options`` with the Node ``mongodb`` driver from npm (its MongoClient
parses and validates every option when it is made, and connects only when asked to), installed
once into a cache folder (``npm install --prefix``): Node 20 and npm are on the machine, and
the npm registry is reachable.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
from pathlib import Path
from typing import Any

NODE_MONGODB = "mongodb@6"
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
    folder = cache / "node-mongodb-6"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "node_modules" / "mongodb" / "package.json").exists():
            subprocess.run(["npm", "install", "--prefix", str(folder), "--no-audit", "--no-fund",
                            "--loglevel=error", NODE_MONGODB], check=True, capture_output=True,
                           timeout=600)
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
