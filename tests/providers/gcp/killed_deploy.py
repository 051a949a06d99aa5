"""Run as a script: deploy a project, and have the fake SIGKILL this process as its Nth mutating
request arrives.

Usage: python killed_deploy.py <project folder> <N>. LAUNCHDECK_GCP_ENDPOINT points at the fake.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request

import anyio

from launchdeck.engine.deploy import deploy
from launchdeck.providers.gcp.api import Gcp
from launchdeck.providers.gcp.provider import GcpProvider
from launchdeck.tools.project import ProjectRef


def main(folder: str, kill_at: int) -> None:
    knobs = json.dumps({"kill_at": kill_at, "kill_pid": os.getpid()}).encode()
    request = urllib.request.Request(
        f"{os.environ['LAUNCHDECK_GCP_ENDPOINT']}/_fake/knobs",
        data=knobs,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).close()
    provider = GcpProvider(Gcp(poll_interval=0, backoff=0.001), poll=0)
    ref = ProjectRef(working_directory=folder, provider="gcp")
    anyio.run(lambda: deploy(ref.load(), provider, stack="dev"))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
