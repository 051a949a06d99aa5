"""How long a first AWS deploy takes on a new account, against what could not overlap.

The moto account behaves like a new one (testkit/aws.py ``FRESH``) with AWS's real durations
(``REAL``: RDS creating, ElastiCache creating, ACM validation, CodeBuild phases, ECS rollouts,
the service-linked role race) scaled by ``--scale``. For the shop test project (a web front
with a domain, a backend, PostgreSQL, Redis, a config value) and for 20 services, it prints
the wall time of a first deploy and of a no-op redeploy, both in real AWS seconds (wall time
divided by the scale), next to the critical path: the longest chain of those durations the
dependency graph forces (a service after what it depends on, its build and the load balancer
in front of it; builds one at a time, as a new account's CodeBuild quota allows). A ratio
near 1.0 means everything that could overlap did.
Run: .venv/bin/python bench/aws_timeline.py [--scale 0.01]
"""

from __future__ import annotations

import argparse
import os
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
from launchdeck.providers.aws.api import Aws  # noqa: E402
from launchdeck.providers.aws.provider import AwsProvider  # noqa: E402
from launchdeck.tools.project import ProjectRef  # noqa: E402
from testkit import aws as T  # noqa: E402

SHOP = REPO / "tests" / "providers" / "aws" / "shop"
CONFIG = {"API_KEY": "bench-key-1234", "POSTGRES_PASSWORD": "bench-pw-1a2b3c4d"}


def critical_path(project: Project) -> float:
    """Real seconds of the longest chain the graph forces on a first deploy of a new account."""
    real = T.REAL
    prepare = real["iam.service_linked_role"]  # every unit stands on the cluster
    build = sum(real[f"codebuild.{p}"] for p in ("queued", "provisioning", "build", "post_build"))
    built = sorted(n for n, s in project.services.items() if s.build and not s.managed_store)
    builds = {name: prepare + build * (i + 1) for i, name in enumerate(built)}  # one at a time
    domains = any(s.domainname for s in project.services.values())
    balancer = prepare + (real["acm.validate"] if domains else 0.0)
    ingress = {n for n, s in project.services.items() if s.ingress_ports}
    done: dict[str, float] = {}

    def finish(name: str) -> float:
        if name not in done:
            service = project.services[name]
            if service.managed_store:
                done[name] = prepare + real["rds.create" if service.managed_store == "postgres"
                                            else "elasticache.create"]
            else:
                start = max([prepare, builds.get(name, 0.0), balancer if name in ingress else 0.0,
                             *[finish(d) for d in service.depends_on if d in project.services]])
                done[name] = start + real["ecs.rollout"]
        return done[name]

    return max(finish(n) for n in project.services)


def run(provider: AwsProvider, ref: ProjectRef, scale: float) -> float:
    loaded = ref.load()
    start = time.perf_counter()
    result = anyio.run(lambda: deploy(loaded, provider, stack="dev"))
    assert result.ok, [(s.name, s.message) for s in result.services]
    return (time.perf_counter() - start) / scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.01, help="seconds here per AWS second")
    args = parser.parse_args()
    with T.MotoServer(T.World(scale=args.scale)) as server:
        os.environ.update(server.env)
        print(f"moto as a new account, AWS durations x {args.scale} (figures below in AWS seconds)")
        print(f"{'project':>12} {'run':>7} {'wall s':>8} {'critical s':>10} {'ratio':>6}")
        for label in ("shop", "20 services"):
            server.reset()
            T.session().client("route53").create_hosted_zone(Name="example.com", CallerReference="b")
            session = T.session()
            T.codebuild_pushes(session)
            provider = AwsProvider(Aws(session), poll=max(args.scale, 0.01))
            with tempfile.TemporaryDirectory() as folder:
                if label == "shop":
                    shutil.copytree(SHOP, folder, dirs_exist_ok=True)
                else:
                    write_project(Path(folder), 20)
                ref = ProjectRef(working_directory=folder, provider="aws")
                name = ref.load().project.name
                for key, value in CONFIG.items():
                    anyio.run(provider.config_store(name, "dev").set, key, value)
                bound = critical_path(ref.load().project)
                for which in ("first", "no-op"):
                    wall = run(provider, ref, args.scale)
                    shown = bound if which == "first" else float("nan")
                    print(f"{label:>12} {which:>7} {wall:>8.0f} {shown:>10.0f} "
                          f"{wall / bound if which == 'first' else float('nan'):>6.2f}")


if __name__ == "__main__":
    main()
