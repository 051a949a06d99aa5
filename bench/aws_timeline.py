"""How long a first AWS deploy takes on a new account, against what could not overlap.

The moto account behaves like a new one (testkit/aws.py ``FRESH``) with AWS's real durations
(``REAL``: RDS creating, ElastiCache creating, ACM validation, CodeBuild phases, ECS rollouts,
the service-linked role race) scaled by ``--scale``. For the shop test project (a web front
with a domain, a backend, PostgreSQL, Redis, a config value) and for 20 services, it prints
the wall time of a first deploy and of a no-op redeploy, both in real AWS seconds (wall time
divided by the scale), next to the critical path: the longest chain of those durations the
dependency graph forces (a service after what it depends on, its build and the load balancer
in front of it; builds one at a time, as a new account's CodeBuild quota allows). A ratio
near 1.0 means everything that could overlap did. The provider polls at its own interval,
scaled like the rest; moto builds its backends before the clock starts (AWS has them); and
the provider's boto3 clients are made before it too, and the docker SDK that reads a build
context's .dockerignore is imported (making a client, or that import, takes tens of
milliseconds of this machine's time once per process, which the scale would turn into seconds
of AWS time; on AWS it is a fraction of a second in all). Every call still costs moto's own
time and the provider's, which on a busy machine is a second or more of AWS time at the
default scale (try --scale 0.05 to see less of it).
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
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import anyio  # noqa: E402
import docker.utils.build  # noqa: E402, F401 - imported before the clock: build_context.scan uses it
from projects import write_project  # noqa: E402 - beside this script

from launchdeck.compose.model import Project  # noqa: E402
from launchdeck.engine import hosts  # noqa: E402
from launchdeck.engine.deploy import deploy  # noqa: E402
from launchdeck.providers.aws.api import Aws  # noqa: E402
from launchdeck.providers.aws.provider import AwsProvider  # noqa: E402
from launchdeck.providers.aws.session import POLL  # noqa: E402
from launchdeck.tools.project import ProjectRef  # noqa: E402
from testkit import aws as T  # noqa: E402

SHOP = REPO / "tests" / "providers" / "aws" / "shop"
CONFIG = {"API_KEY": "bench-key-1234", "POSTGRES_PASSWORD": "bench-pw-1a2b3c4d"}


def critical_path(project: Project) -> float:
    """Real seconds of the longest chain the graph forces on a first deploy of a new account.

    A unit starts when what it waits for has reached its milestone, as the engine's graph says
    (engine/deploy.py ``_graph``): a compose dependency its condition (``service_started``: the
    other has started, not finished, its rollout), and, besides, the stores and services its
    environment names and the load balancer in front of it, settled. What each stands on: a
    service the cluster (made once ECS can assume its new service-linked role); a store and the
    load balancer their security groups, with rules naming each other (once EC2 shows the new
    groups); a build the CodeBuild project (made once its new role can be assumed)."""
    real = T.REAL
    prepare = real["iam.service_linked_role"]
    grounded = real["ec2.visible"]
    build = sum(real[f"codebuild.{p}"] for p in ("queued", "provisioning", "build", "post_build"))
    built = sorted(n for n, s in project.services.items() if s.build and not s.managed_store)
    builds = {name: real["iam.role"] + build * (i + 1) for i, name in enumerate(built)}  # one at a time
    domains = any(s.domainname for s in project.services.values())
    balancer = grounded + (real["acm.validate"] if domains else 0.0)
    ingress = {n for n, s in project.services.items() if s.ingress_ports}
    named = hosts.graph(project)
    started: dict[str, float] = {}

    def waits(name: str) -> dict[str, str]:
        service = project.services[name]
        out = {d: c.condition for d, c in service.depends_on.items() if d in project.services}
        for other in named[name]:
            if other not in service.depends_on or project.services[other].managed_store:
                out[other] = "service_healthy"
        return out

    def start(name: str) -> float:
        if name not in started:
            service = project.services[name]
            if service.managed_store:
                started[name] = grounded
            else:
                started[name] = max([prepare, builds.get(name, 0.0),
                                     balancer if name in ingress else 0.0,
                                     *[start(d) if c == "service_started" else finish(d)
                                       for d, c in waits(name).items()]])
        return started[name]

    def finish(name: str) -> float:
        service = project.services[name]
        if service.managed_store:
            return start(name) + real["rds.create" if service.managed_store == "postgres"
                                      else "elasticache.create"]
        return start(name) + sum(real[f"ecs.{p}"] for p in ("provisioning", "pending", "healthy"))

    return max(finish(n) for n in project.services)


def warm(session: Any) -> None:
    """Make moto build each service's backend (its default VPC, its tables) before the clock
    starts: after a reset moto builds them at the first request, which takes it a second or
    more; AWS has them already."""
    for service, operation in (("ec2", "describe_vpcs"), ("rds", "describe_db_instances"),
                               ("elasticache", "describe_replication_groups"),
                               ("elbv2", "describe_load_balancers"), ("ecs", "list_clusters"),
                               ("iam", "list_roles"), ("servicediscovery", "list_namespaces"),
                               ("resourcegroupstaggingapi", "get_resources"),
                               ("ecr", "describe_repositories"), ("logs", "describe_log_groups"),
                               ("codebuild", "list_projects"), ("acm", "list_certificates"),
                               ("s3", "list_buckets"), ("ssm", "describe_parameters"),
                               ("sts", "get_caller_identity")):
        getattr(session.client(service), operation)()


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
            warm(session)
            T.codebuild_pushes(session)
            aws = Aws(session)
            for service in T.SERVICES:  # made before the clock, as moto's backends are
                aws.client(service)
            provider = AwsProvider(aws, poll=POLL * args.scale)  # its own, scaled
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
