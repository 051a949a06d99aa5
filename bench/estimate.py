"""The cost estimate's speed on a 50-service project, in-process (goal: under 100 ms).

Writes a project of 50 services (ingress web services with domains and replicas, workers,
built services, Postgres and Redis stores), then measures, for aws and gcp: loading the
compose project plus pricing it (what `launchdeck estimate` does), and pricing alone.
Prints the median and the slowest of several runs. No network: the prices ship with the package.
Run: .venv/bin/python bench/estimate.py [--runs 21]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import anyio

from launchdeck.compose.validate import required_config
from launchdeck.tools.estimate import estimate, price
from launchdeck.tools.project import ProjectRef

SERVICES = 50
GOAL_MS = 100.0


def write_project(folder: Path) -> None:
    lines = ["name: bench", "services:"]
    for i in range(SERVICES):
        name = f"svc{i:02d}"
        if i % 10 == 8:
            lines += [f"  {name}:", "    image: postgres:16", "    x-defang-postgres: true",
                      "    environment: {POSTGRES_PASSWORD: null}"]
            continue
        if i % 10 == 9:
            lines += [f"  {name}:", "    image: redis:7", "    x-defang-redis: true"]
            continue
        lines += [f"  {name}:"]
        lines += ["    build: ./app"] if i % 3 == 0 else ["    image: busybox"]
        if i % 2 == 0:
            lines += ["    ports: [{target: 8080, mode: ingress}]", f"    domainname: {name}.example.com",
                      "    healthcheck: {test: [CMD, wget, -q, --spider, 'http://localhost:8080/']}"]
        lines += [f"    environment: {{API_KEY_{i}: null, MODE: prod}}",
                  f"    deploy: {{replicas: {1 + i % 3}, resources: {{reservations: "
                  f"{{cpus: '{0.25 * (1 + i % 4)}', memory: {256 * (1 + i % 8)}M}}}}}}"]
    (folder / "app").mkdir()
    (folder / "app" / "Dockerfile").write_text("FROM busybox\n")
    (folder / "compose.yaml").write_text("\n".join(lines) + "\n")


def timed(fn, runs: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_project(folder)
        for provider in ("aws", "gcp"):
            ref = ProjectRef(working_directory=str(folder), provider=provider)
            result = anyio.run(lambda ref=ref: estimate(ref))  # warm: imports, price table
            loaded = ref.load()
            names = required_config(loaded)
            whole = timed(lambda ref=ref: anyio.run(lambda: estimate(ref)), args.runs)
            alone = timed(lambda p=provider, project=loaded.project, names=names:
                          price(project, p, None, None, names), args.runs)
            print(f"{provider}: {len(result.services) - 1} services, {result.monthly_total:,.2f} "
                  f"{result.currency} a month")
            print(f"  load + estimate: median {statistics.median(whole):6.1f} ms, slowest "
                  f"{max(whole):6.1f} ms (goal < {GOAL_MS:g} ms)")
            print(f"  estimate alone:  median {statistics.median(alone):6.1f} ms, slowest "
                  f"{max(alone):6.1f} ms")


if __name__ == "__main__":
    main()
