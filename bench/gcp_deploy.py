"""How well a GCP deploy uses parallelism, against the local fake with latency on every request.

For 1, 5 and 20 services (one built from source with an ingress port and a healthcheck, the
rest from images, each reading a config value), with a fixed latency the fake adds to every
API request, prints for a first deploy and for a no-op redeploy: the wall time, the requests
made (total and mutating), and their summed latency over the wall time, the average number
of requests in flight. A figure near 1 means the deploy waited on one request at a time;
above it, independent work ran at once. Operations finish after the fake's default two polls.
Run: .venv/bin/python bench/gcp_deploy.py [--sizes 1 5 20] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import anyio  # noqa: E402
from projects import write_project  # noqa: E402 - beside this script

from launchdeck.engine.deploy import deploy  # noqa: E402
from launchdeck.providers.gcp.api import Gcp  # noqa: E402
from launchdeck.providers.gcp.provider import GcpProvider  # noqa: E402
from launchdeck.tools.project import ProjectRef  # noqa: E402
from testkit.gcp import FakeGcp  # noqa: E402

PROJECT = "bench-project"


def measure(fake: FakeGcp, provider: GcpProvider, ref: ProjectRef, latency: float) -> tuple[float, ...]:
    fake.clear_requests()
    loaded = ref.load()
    start = time.perf_counter()
    result = anyio.run(lambda: deploy(loaded, provider, stack="dev"))
    wall = time.perf_counter() - start
    assert result.ok, [(s.name, s.message) for s in result.services]
    total, mutating = len(fake.requests()), len(fake.mutations())
    return wall, total, mutating, total * latency / wall


def _deploy_once(fake: FakeGcp, size: int) -> None:
    fake.reset()
    provider = GcpProvider(Gcp(environ={**fake.env, "GCP_PROJECT_ID": PROJECT}, poll_interval=0), poll=0)
    with tempfile.TemporaryDirectory() as folder:
        write_project(Path(folder), size)
        anyio.run(provider.config_store("bench", "dev").set, "API_KEY", "bench-key")
        loaded = ProjectRef(working_directory=folder, provider="gcp").load()
        anyio.run(lambda: deploy(loaded, provider, stack="dev"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 5, 20])
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added to each request")
    args = parser.parse_args()
    with FakeGcp() as fake:
        print(f"fake GCP {fake.url}, {args.latency * 1000:.0f} ms added to every API request")
        _deploy_once(fake, 1)  # imports and client set-up are paid here, not in the figures
        print(f"{'services':>8} {'run':>7} {'wall s':>7} {'requests':>8} {'mutating':>8} {'in flight':>9}")
        for size in args.sizes:
            fake.reset()
            fake.knobs.latency = args.latency
            gcp = Gcp(environ={**fake.env, "GCP_PROJECT_ID": PROJECT}, poll_interval=args.latency)
            provider = GcpProvider(gcp, poll=args.latency)
            with tempfile.TemporaryDirectory() as folder:
                write_project(Path(folder), size)
                anyio.run(provider.config_store("bench", "dev").set, "API_KEY", "bench-key")
                ref = ProjectRef(working_directory=folder, provider="gcp")
                for run in ("first", "no-op"):
                    wall, total, mutating, flight = measure(fake, provider, ref, args.latency)
                    print(f"{size:>8} {run:>7} {wall:>7.2f} {total:>8} {mutating:>8} {flight:>9.2f}")


if __name__ == "__main__":
    main()
