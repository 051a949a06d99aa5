"""How long a first GCP deploy takes on a new project, against the critical path of its graph.

The local GCP runs as a new project with realistic durations (``knobs.realistic``): Cloud SQL
and Memorystore creation, Cloud Build builds, Cloud Run revisions, API enablement and its
propagation, IAM propagation, each the real figure from ``testkit/gcp/project.py`` (with its
source there), on a clock scaled by ``--scale``. For the shop project (the tests' realistic
one: a built web service, a backend, PostgreSQL, Redis and a domain) and for 20 services, it
prints the first deploy's wall time, in real-time terms (wall / scale), against the chain
bound: enabling the APIs (operation + propagation), then the longest chain of the dependency
graph (a store's creation, a build, a revision), plus the IAM propagation a first deploy
cannot skip (a new account before it is named). Then a no-op redeploy. The aim: first deploy
<= 1.1x its bound.
Run: .venv/bin/python bench/gcp_timeline.py [--scale 0.005] [--sizes 20]
"""

from __future__ import annotations

import argparse
import shutil
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
    the account's grant on it has propagated."""
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
                         real.GRANT_PROPAGATION if service.required_config() else 0.0]
                done[name] = max(deps + ready) + real.REVISION
        return done[name]

    longest = max(finish(n) for n in project.services)
    return real.ENABLE_OPERATION + real.ENABLE_PROPAGATION + real.ACCOUNT_PROPAGATION + longest


def run(fake: FakeGcp, folder: Path, secrets: dict[str, str], scale: float, label: str, *,
        quiet: bool = False) -> None:
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
    loaded = ref.load()
    bound = chain(loaded.project)
    for attempt in ("first", "no-op"):
        fake.clear_requests()
        started = time.perf_counter()
        result = anyio.run(lambda: deploy(ref.load(), provider, stack="dev"))
        wall = time.perf_counter() - started
        assert result.ok, [(s.name, s.message) for s in result.services]
        if quiet:
            return
        as_real = wall / scale
        ratio = f"{as_real / bound:5.2f}x" if attempt == "first" else "     "
        print(f"{label:>12} {attempt:>6} {as_real:>9.0f} {bound:>9.0f} {ratio} {len(fake.requests()):>9}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.005, help="fake seconds per real second")
    parser.add_argument("--sizes", type=int, nargs="+", default=[20])
    args = parser.parse_args()
    with FakeGcp() as fake:
        print(f"fake GCP {fake.url}, realistic durations at {args.scale:g}x real time")
        print(f"{'project':>12} {'deploy':>6} {'real s':>9} {'bound s':>9} {'ratio':>6} {'requests':>9}")
        with tempfile.TemporaryDirectory() as tmp:
            shop = Path(tmp) / "shop"
            shutil.copytree(SHOP, shop)
            # the client libraries' imports (seconds: Compute's alone is large) are paid here
            run(fake, shop, SHOP_SECRETS, 0.0, "warm-up", quiet=True)
            run(fake, shop, SHOP_SECRETS, args.scale, "shop")
        for size in args.sizes:
            with tempfile.TemporaryDirectory() as tmp:
                write_project(Path(tmp), size)
                run(fake, Path(tmp), {"API_KEY": "bench-key"}, args.scale, f"{size} services")


if __name__ == "__main__":
    main()
