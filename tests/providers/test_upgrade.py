"""A stack the previous release deployed is this release's to redeploy, on every target.

The last release's package, read from git at its commit, deploys a project through its own
CLI in a child process; this release then plans it in-process through tools/ and must find
every unit NOOP (nothing renamed, no setting rendered differently), read the old deployment
record (a changed setting is named, which needs the record's parts) and, where the lock
stayed where that release kept it (GCP's object), respect the old release's deploy lock. On
AWS (an SSM parameter then, an S3 object now, which can be taken over by version) and locally
(a flock then, a file now) the lock moved: a deploy of each release at the same moment does not
see the other's, which matters only while a team upgrades mid-deploy.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest

from launchdeck.engine import hosts
from launchdeck.engine.plan import Action
from launchdeck.errors import LaunchdeckError
from launchdeck.tools import deploy as deploy_tool
from launchdeck.tools.project import ProjectRef
from testkit import BUSYBOX
from testkit import aws as T
from tests.providers.aws.conftest import SECRETS, SHOP
from tests.providers.gcp.conftest import PROJECT, zone

RELEASE = "24b4c41"
"""The last release's commit (main before the provider seam was redrawn)."""
REPO = Path(__file__).resolve().parents[2]
OLD_DEPLOYMENT = "0ld0re1ease0"

LOCAL = f"""\
name: @NAME@
services:
  web:
    build: ./web
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    ports:
      - target: 8080
        mode: ingress
    environment:
      BACKEND_URL: http://worker:9000
      API_KEY:
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://localhost:8080/index.html"]
      interval: 1s
      retries: 20
    depends_on: [worker]
  worker:
    image: {BUSYBOX}
    command: ["sleep", "3600"]
"""
"""A smaller project for the Docker Engine (no registry for store images): a built service
with an ingress port and a healthcheck, reading config, after a plain one."""

HOLD_LOCK = """\
import sys

import anyio

from launchdeck.tools.project import ProjectRef


async def main() -> None:
    folder, provider, deployment = sys.argv[1:4]
    ref = ProjectRef(working_directory=folder, provider=provider)
    async with ref.target().lock(ref.load().project.name, "dev", "deploy", deployment):
        print("held", flush=True)
        await anyio.to_thread.run_sync(sys.stdin.readline)


anyio.run(main)
"""
"""Run by the old release: hold the stack's deploy lock until stdin has a line."""


@pytest.fixture(scope="session")
def old_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The last release's package, unpacked from git: a folder a child process puts first on
    PYTHONPATH to run that release (its dependencies are this environment's)."""
    folder = tmp_path_factory.mktemp("release")
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", RELEASE, "launchdeck"],
                             capture_output=True, check=False)
    if archive.returncode != 0:
        pytest.fail(f"the last release ({RELEASE}) is not in this clone's history: "
                    f"{archive.stderr.decode().strip()}; fetch the full history (git fetch --unshallow)")
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    (folder / "hold_lock.py").write_text(HOLD_LOCK)
    where = subprocess.run([sys.executable, "-c", "import launchdeck; print(launchdeck.__file__)"],
                           capture_output=True, text=True, check=True, cwd=folder.parent,
                           env={**os.environ, "PYTHONPATH": str(folder)}).stdout.strip()
    assert Path(where).is_relative_to(folder), f"the child imported {where}, not the release"
    return folder


@dataclass
class Deployed:
    """A project the old release deployed, and how to run that release against its target."""

    folder: Path
    provider: str
    env: dict[str, str]
    release: Path

    def old(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """The old release's CLI, in the project's folder."""
        return subprocess.run([sys.executable, "-m", "launchdeck", *args], cwd=self.folder,
                              input=stdin, capture_output=True, text=True, timeout=300,
                              check=False, env=self._child_env())

    def hold_lock(self) -> subprocess.Popen[str]:
        """The old release holding the stack's deploy lock (until stdin is closed)."""
        child = subprocess.Popen([sys.executable, str(self.release / "hold_lock.py"),
                                  str(self.folder), self.provider, OLD_DEPLOYMENT],
                                 cwd=self.release, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, env=self._child_env())
        line = child.stdout.readline() if child.stdout else ""
        if line.strip() != "held":
            child.kill()
            pytest.fail(f"the old release could not take its lock: {line}{child.communicate()[1]}")
        return child

    def ref(self) -> ProjectRef:
        return ProjectRef(working_directory=str(self.folder), provider=self.provider)

    def _child_env(self) -> dict[str, str]:
        ours = ("AWS_", "GCP_", "GOOGLE_", "LAUNCHDECK_", "COMPOSE_", "PYTHONPATH")
        clean = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
        return {**clean, **self.env, "PYTHONPATH": str(self.release)}


def _deploy_with_old_release(deployed: Deployed, config: dict[str, str]) -> Deployed:
    """Set config and deploy with the old release's CLI, as a user of it did."""
    flags = ("--provider", deployed.provider)
    for name, value in config.items():
        done = deployed.old("config", "set", name, *flags, stdin=value + "\n")
        assert done.returncode == 0, done.stderr
    up = deployed.old("compose", "up", *flags, "--detach", "--wait-timeout", "120")
    assert up.returncode == 0, up.stdout + up.stderr
    return deployed


@pytest.fixture(params=["local", "aws", "aws-dashed", "gcp", "gcp-dashed"])
def deployed(request: pytest.FixtureRequest, old_release: Path, tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployed]:
    """A realistic project deployed by the old release to each target; this process reaches
    the same target through the same variables. ``aws-dashed``: the project is ``my-shop``,
    whose AWS names this release would mark on a first deploy (aws/names.py): the old
    release's stack keeps the ones it has. ``gcp-dashed``: the same on GCP (gcp/names.py)."""
    state = tmp_path / "state"
    env = {"LAUNCHDECK_STATE_DIR": str(state)}
    target = request.param.removesuffix("-dashed")
    if request.param == "local":
        from launchdeck.providers.local import spec as S

        api = request.getfixturevalue("docker_api")
        name = f"upgrade-{secrets.token_hex(3)}"  # this run's own, on a Docker Engine others share
        folder = tmp_path / "upgrade"
        (folder / "web").mkdir(parents=True)
        (folder / "compose.yaml").write_text(LOCAL.replace("@NAME@", name))
        (folder / "web" / "Dockerfile").write_text(f"FROM {BUSYBOX}\nCOPY index.html /www/\n")
        (folder / "web" / "index.html").write_text("<h1>upgrade</h1>\n")
        config = {"API_KEY": SECRETS["API_KEY"]}
    elif target == "aws":
        aws_env = request.getfixturevalue("aws_env")
        # the last release's stacks live in accounts past their first day (it did not survive one);
        # its CodeBuild role lacks the s3:GetBucketAcl its builds need (the upgrade is tested here)
        lax = T.LAX
        aws_env.configure(scale=lax.scale, consistency=lax.consistency,
                          codebuild_builds=lax.codebuild_builds, fargate_vcpu=lax.fargate_vcpu,
                          codebuild_role_checked=lax.codebuild_role_checked)
        folder = tmp_path / "shop"
        shutil.copytree(SHOP, folder)
        if request.param == "aws-dashed":
            compose = folder / "compose.yaml"
            compose.write_text(compose.read_text().replace("\nname: shop\n", "\nname: my-shop\n", 1))
        env |= {**aws_env.env, "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_CONFIG_FILE": str(tmp_path / "none"),
                "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
        config = SECRETS
    else:
        # the last release left enabling APIs and public access to the user: its stacks live in
        # projects where both were done by hand
        fake = request.getfixturevalue("old_project")
        fake.knobs.lro_polls = 0
        anyio.run(zone, request.getfixturevalue("gcp"))
        folder = tmp_path / "shop"
        shutil.copytree(SHOP, folder)
        if request.param == "gcp-dashed":
            compose = folder / "compose.yaml"
            compose.write_text(compose.read_text().replace("\nname: shop\n", "\nname: my-shop\n", 1))
        env |= {**fake.env, "GCP_PROJECT_ID": PROJECT,
                "GOOGLE_APPLICATION_CREDENTIALS": str(tmp_path / "none.json")}
        config = SECRETS
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    yield _deploy_with_old_release(Deployed(folder, target, env, old_release), config)
    if request.param == "local":
        label = {"label": [f"{S.PROJECT}={name}"]}
        for c in api.containers(all=True, filters=label):
            api.remove_container(c["Id"], force=True, v=True)
        for n in api.networks(filters=label):
            api.remove_network(n["Id"])
        for image in api.images(filters={"reference": f"{name}/*"}):
            api.remove_image(image["Id"], force=True)


def _plan(deployed: Deployed) -> dict[str, tuple[Action, str]]:
    result = anyio.run(lambda: deploy_tool.plan(deployed.ref()))
    return {c.service: (c.action, c.reason) for c in result.changes}


def test_a_stack_the_last_release_deployed_redeploys_as_all_noop(deployed: Deployed) -> None:
    """This release plans the old release's stack unchanged, reads its record and (where the
    lock did not move) honours its lock: nothing it deployed is renamed or rendered differently."""
    project = deployed.ref().load().project
    planned = _plan(deployed)
    assert set(project.services) <= set(planned), f"units not planned: {planned}"
    changed = {name: change for name, change in planned.items() if change[0] is not Action.NOOP}
    if deployed.provider == "gcp":
        # this release makes Cloud Run services public without an allUsers binding and has them
        # read secrets by version (issue 22): each container service rolls once, in place,
        # and nothing else (stores, load balancer) changes
        containers = {n for n, s in project.services.items() if not s.managed_store}
        assert changed == {n: (Action.UPDATE, "target settings changed") for n in containers}
        changed = {}
    if deployed.provider == "aws":
        # this release's target groups accept 200-499 on a service without a health check path
        # and drain in 30 s (issue 21): the load balancer is updated once, in place
        assert changed.pop("(load balancer)") == (Action.UPDATE, "routes changed")
        # a service naming a Postgres store verifies RDS's certificate (sslmode=verify-full with
        # the RDS CA bundle its task fetches first; issue 21): each such service rolls once, in
        # place, and only those
        naming = {name for name, service in project.services.items() if not service.managed_store
                  and any(hosts.mentions(value, store) for value in hosts.values(service)
                          for store, s in project.services.items() if s.managed_store == "postgres")}
        assert naming, "the project names no Postgres store: this allowance is for nothing"
        assert {n: changed.pop(n, None) for n in naming} == {
            n: (Action.UPDATE, "target settings changed") for n in naming}
    assert changed == {}

    # the record's parts name what changed: the old record is found and read
    compose = deployed.folder / "compose.yaml"
    compose.write_text(compose.read_text().replace("http://backend:9000", "http://backend:9000/v2")
                       .replace("http://worker:9000", "http://worker:9000/v2"))
    reasons = {name: reason for name, (action, reason) in _plan(deployed).items()
               if action is not Action.NOOP}
    assert reasons["web"] == "environment changed"
    if deployed.provider == "local":  # (on the clouds the one-time update above is still planned)
        assert set(reasons) == {"web"}

    if deployed.provider != "gcp":
        return  # the lock moved (see the module's docstring)
    # a deploy the old release is running holds the stack against this one
    holder = deployed.hold_lock()
    try:
        anyio.run(lambda: deploy_tool.deploy(deployed.ref(), wait_seconds=30))
    except LaunchdeckError as exc:
        assert OLD_DEPLOYMENT in str(exc), str(exc)
    else:
        pytest.fail("this release deployed while the old release held the stack's lock")
    finally:
        holder.communicate("\n", timeout=60)


@pytest.mark.parametrize("deployed", ["local", "aws"], indirect=True)
def test_this_releases_first_deploy_keys_the_stack_and_keeps_every_unit(deployed: Deployed) -> None:
    """The last release kept config digests unkeyed; this one keys them with a secret of the
    stack's own, made by its first deploy. Units deployed before it are the same units: the
    deploy changes none of them for it (what it changes is the one-time updates allowed above,
    on AWS), makes the key in the config store and leaves a stack that plans all NOOP."""
    from launchdeck.compose.validate import DIGEST_KEY
    from launchdeck.tools import config as config_tool

    ref = deployed.ref()
    project = ref.load().project
    store = ref.target().config_store(project.name, "dev")
    assert anyio.run(lambda: store.values([DIGEST_KEY])) == {}
    result = anyio.run(lambda: deploy_tool.deploy(ref, wait_seconds=120))
    assert result.ok, result
    reading = {n for n, s in project.services.items() if s.required_config()}
    assert reading, "the project reads no config: this test keys nothing"
    allowed = {"(load balancer)"} | {
        name for name, service in project.services.items() if not service.managed_store
        and any(hosts.mentions(value, store_name) for value in hosts.values(service)
                for store_name, s in project.services.items() if s.managed_store == "postgres")}
    changed = {c.service for c in result.changes if c.action is not Action.NOOP}
    assert changed <= (allowed if deployed.provider == "aws" else set()), result.changes
    assert reading - changed, "every unit that reads config changed for other reasons"
    key = anyio.run(lambda: store.values([DIGEST_KEY]))[DIGEST_KEY]
    assert key not in result.model_dump_json()
    assert DIGEST_KEY not in anyio.run(lambda: config_tool.config_list(ref)).names
    assert {action for action, _ in _plan(deployed).values()} == {Action.NOOP}
