"""Runs the local GCP on its own: ``python -m testkit.gcp --port P``."""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading
import time

from testkit.gcp.server import FakeGcp


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m testkit.gcp",
        description="A faithful local GCP for tests (see the module's docstring).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--time-scale", type=float, default=None,
                        help="fake seconds per real second of GCP's delays (tests: 0.001; 1: as slow as GCP)")
    parser.add_argument("--old-project", action="store_true",
                        help="every API on, nothing lagging, no organization policy")
    args = parser.parse_args()
    started = time.perf_counter()
    fake = FakeGcp(args.host, args.port).start()
    if args.time_scale is not None:
        fake.knobs.time_scale = args.time_scale
    fake.knobs.new_project = not args.old_project
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(
        f"fake GCP listening on {fake.url} (started in {time.perf_counter() - started:.3f} s); "
        f"export LAUNCHDECK_GCP_ENDPOINT={fake.url}",
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    fake.stop()


if __name__ == "__main__":
    main()
