"""How long a first GCP deploy takes on a new project, against the critical path of its graph.

The local GCP runs as a new project with realistic durations (``knobs.realistic``): Cloud SQL
and Memorystore creation, Cloud Build builds, Cloud Run revisions, API enablement and its
propagation, IAM propagation, each the real figure from ``testkit/gcp/project.py`` (with its
source there), on a clock scaled by ``--scale``. For the shop project (the tests' realistic
one: a built web service, a backend, PostgreSQL, Redis and a domain) and for 20 services, it
prints the first deploy's wall time, in real-time terms (wall / scale), against the chain
bound: enabling the APIs (operation + propagation), then the longest chain of the dependency
graph (a store's creation, a build, a revision), plus the IAM propagation a first deploy
cannot skip (a new account before it is named; a build pushes only once its account's grant
has propagated). Then a no-op redeploy, in real time with every call taking a typical round
trip (``REQUEST``), against its chain bound: the calls that must follow one another
(``NOOP_CHAIN``). Each figure is the median of ``--runs`` runs (the machine may be shared).
The aims: first deploy <= 1.1x its bound, no-op <= 1.2x its bound.
Run: .venv/bin/python bench/gcp_timeline.py [--scale 0.005] [--sizes 20] [--runs 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import anyio  # noqa: E402
from projects import write_project  # noqa: E402 - beside this script

from launchdeck.compose.model import Project  # noqa: E402
from launchdeck.engine.deploy import deploy  # noqa: E402
from launchdeck.providers.gcp.api import Gcp  # noqa: E402
from launchdeck.providers.gcp.provider import GcpProvider  # noqa: E402
from launchdeck.tools.project import ProjectRef  # noqa: E402
from testkit.gcp import FakeGcp  # noqa: E402
from testkit.gcp import project as real  # noqa: E402

PROJECT = "bench-project"
SHOP = REPO / "tests" / "providers" / "aws" / "shop"
SHOP_SECRETS = {"API_KEY": "bench-api-key", "POSTGRES_PASSWORD": "bench-password-1"}


def chain(project: Project) -> float:
    """Real seconds of the longest path: enabling, the first account's propagation, then the
    slowest unit after everything it waits on; a service reading a secret cannot start before
    the account's grant on it has propagated, nor a built one before its build has pushed,
    which its build account's grant must have reached first."""
    done: dict[str, float] = {}

    def finish(name: str) -> float:
        if name not in done:
            service = project.services[name]
            deps = [finish(d) for d in service.depends_on if d in project.services]
            if service.managed_store:
                own = real.SQL_CREATE if service.managed_store == "postgres" else real.REDIS_CREATE
                done[name] = max(deps, default=0.0) + own
            else:  # its image and its secret access come from the start, its revision after all
                ready = [real.BUILD if service.build else 0.0,
                         real.GRANT_PROPAGATION if service.required_config() or service.build else 0.0]
                done[name] = max(deps + ready) + real.REVISION
        return done[name]

    longest = max(finish(n) for n in project.services)
    return real.ENABLE_OPERATION + real.ENABLE_PROPAGATION + real.ACCOUNT_PROPAGATION + longest


NOOP_CHAIN = (
    "the config value's newest version number (Secret Manager lists the versions)",
    "its value, read by that number (only reads by number are strongly consistent)",
    "the deploy lock (a conditional write: another deploy may hold it)",
    "what exists, all at once (services, worker pools, stores, the balancer, the DNS zones, "
    "the last record)",
    "the deployment's record and history entry",
    "the lock, released",
)
"""The calls a no-op redeploy cannot make at once: each needs the one before (a value before
the digest it goes into, the lock before what it guards, the outcome before its record)."""
DOMAIN_READ = "a domain's A record, read in the zone the list of zones found"
"""One more for a project with a domain: whether DNS points at the balancer."""


def noop_chain(project: Project) -> list[str]:
    has_domain = any(s.domainname and s.ingress_ports and not s.managed_store
                     for s in project.services.values())
    return [*NOOP_CHAIN[:4], *([DOMAIN_READ] if has_domain else []), *NOOP_CHAIN[4:]]


def run(fake: FakeGcp, folder: Path, secrets: dict[str, str], scale: float, *,
        quiet: bool = False) -> dict[str, tuple[float, float, int]]:
    """The first deploy's and the no-op's (real seconds, bound, requests); nothing when quiet."""
    fake.reset()
    fake.knobs.realistic, fake.knobs.time_scale = not quiet, scale
    fake.enable(PROJECT, "dns.googleapis.com")  # the user made the domain's zone themselves
    tick = max(scale, 0.001)
    gcp = Gcp(environ={**fake.env, "GCP_PROJECT_ID": PROJECT}, poll_interval=tick, backoff=tick,
              max_backoff=tick * 10)
    provider = GcpProvider(gcp, poll=tick)
    ref = ProjectRef(working_directory=str(folder), provider="gcp")

    async def setup() -> None:
        if "example.com" in (folder / "compose.yaml").read_text():
            zone = gcp.client("dns").zone("example-com", "example.com.")
            await gcp.run(lambda: zone.create, api="dns", what="make a zone")
        for name, value in secrets.items():
            await provider.config_store(ref.load().project.name, "dev").set(name, value)

    anyio.run(setup)
    figures: dict[str, tuple[float, float, int]] = {}
    for attempt in ("first", "no-op"):
        if attempt == "no-op":  # in real time, each call a typical round trip
            fake.knobs.latency = 0.0 if quiet else real.REQUEST
        fake.clear_requests()
        started = time.perf_counter()
        result = anyio.run(lambda: deploy(ref.load(), provider, stack="dev"))
        wall = time.perf_counter() - started
        assert result.ok, [(s.name, s.message) for s in result.services]
        if quiet:
            return figures
        if attempt == "first":
            figures[attempt] = (wall / scale, chain(ref.load().project), len(fake.requests()))
        else:
            figures[attempt] = (wall, len(noop_chain(ref.load().project)) * real.REQUEST,
                                len(fake.requests()))
    return figures


def report(label: str, runs: list[dict[str, tuple[float, float, int]]]) -> None:
    for attempt in ("first", "no-op"):
        walls = [r[attempt][0] for r in runs]
        wall, bound = statistics.median(walls), runs[0][attempt][1]
        calls = statistics.median(r[attempt][2] for r in runs)
        spread = f"{min(walls) / bound:.2f}-{max(walls) / bound:.2f}"
        digits = 0 if attempt == "first" else 2
        print(f"{label:>12} {attempt:>6} {wall:>9.{digits}f} {bound:>9.{digits}f} "
              f"{wall / bound:5.2f}x {spread:>11} {calls:>9.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.005, help="fake seconds per real second")
    parser.add_argument("--sizes", type=int, nargs="+", default=[20])
    parser.add_argument("--runs", type=int, default=3, help="runs of each; the median is shown")
    args = parser.parse_args()
    with FakeGcp() as fake:
        print(f"fake GCP {fake.url}, realistic durations at {args.scale:g}x real time; "
              f"no-op in real time, {real.REQUEST:g} s a call, bound {len(NOOP_CHAIN)} calls in a row "
              "(one more with a domain)")
        print(f"{'project':>12} {'deploy':>6} {'real s':>9} {'bound s':>9} {'ratio':>6} "
              f"{'min-max':>11} {'requests':>9}")
        with tempfile.TemporaryDirectory() as tmp:
            shop = Path(tmp) / "shop"
            shutil.copytree(SHOP, shop)
            # the client libraries' imports (seconds: Compute's alone is large) are paid here
            run(fake, shop, SHOP_SECRETS, 0.0, quiet=True)
            report("shop", [run(fake, shop, SHOP_SECRETS, args.scale) for _ in range(args.runs)])
        for size in args.sizes:
            with tempfile.TemporaryDirectory() as tmp:
                write_project(Path(tmp), size)
                secrets = {"API_KEY": "bench-key"}
                report(f"{size} services", [run(fake, Path(tmp), secrets, args.scale)
                                            for _ in range(args.runs)])


if __name__ == "__main__":
    main()
