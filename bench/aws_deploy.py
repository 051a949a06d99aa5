"""How well an AWS deploy uses parallelism, against a moto server with latency on every call.

For 1, 5 and 20 services (one built from source with an ingress port and a healthcheck, the
rest from images, each reading a config value), with a fixed latency added to every API
request, prints for a first deploy and for a no-op redeploy: the wall time, the lower bound
(the longest chain of calls that had to wait for each other, times the latency), their
ratio, and the number of calls (total and mutating). A ratio near 1 means independent work
ran at once; the rest is moto's own time and the waits between polls.
Run: .venv/bin/python bench/aws_deploy.py [--sizes 1 5 20] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import anyio  # noqa: E402
from projects import write_project  # noqa: E402 - beside this script

from launchdeck.engine.deploy import deploy  # noqa: E402
from launchdeck.providers.aws.provider import AwsProvider  # noqa: E402
from launchdeck.tools.project import ProjectRef  # noqa: E402
from testkit import aws as T  # noqa: E402


def measure(provider: AwsProvider, chain: T.Chain, calls: T.Calls, ref: ProjectRef,
            latency: float) -> tuple[float, ...]:
    calls.clear()
    chain.reset()
    loaded = ref.load()
    start = time.perf_counter()
    result = anyio.run(lambda: deploy(loaded, provider, stack="dev"))
    wall = time.perf_counter() - start
    assert result.ok, [(s.name, s.message) for s in result.services]
    bound = chain.depth * latency
    return wall, bound, wall / bound, len(calls.made), len(calls.mutating())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 5, 20])
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added to each request")
    args = parser.parse_args()
    with T.MotoServer() as server:
        os.environ.update(server.env)
        print(f"moto server {server.url}, {args.latency * 1000:.0f} ms added to every AWS request")
        print(f"{'services':>8} {'run':>7} {'wall s':>7} {'bound s':>8} {'ratio':>6} {'calls':>6} "
              f"{'mutating':>8}")
        for size in args.sizes:
            server.reset()
            session = T.session()
            T.codebuild_pushes(session)
            calls = T.Calls().attach(session)
            T.Latency(args.latency).attach(session)
            chain = T.Chain()
            provider = AwsProvider(chain.aws(session), poll=args.latency)
            with tempfile.TemporaryDirectory() as folder:
                write_project(Path(folder), size)
                anyio.run(provider.config_store("bench", "dev").set, "API_KEY", "bench-key")
                ref = ProjectRef(working_directory=folder, provider="aws")
                for run in ("first", "no-op"):
                    wall, bound, ratio, total, mutating = measure(provider, chain, calls, ref,
                                                                   args.latency)
                    print(f"{size:>8} {run:>7} {wall:>7.2f} {bound:>8.2f} {ratio:>6.2f} {total:>6} "
                          f"{mutating:>8}")


if __name__ == "__main__":
    main()
