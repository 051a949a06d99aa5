"""The history on GCP keeps each service's image by the digest Cloud Run resolved as it made the
revision (the Admin API v1's ``status.imageDigest``, which the local GCP fixes at the revision's
creation), or, for a worker pool, the digest Artifact Registry names for its tag; a rollback
runs exactly those images, even after a tag moved to another image."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio

from launchdeck.compose.load import load
from launchdeck.engine.deploy import deploy, preflight
from launchdeck.engine.history import History
from launchdeck.engine.plan import Action
from launchdeck.engine.rollback import preview, rollback
from launchdeck.engine.seams import DeployOptions
from launchdeck.providers.gcp import names
from launchdeck.providers.gcp.api import Gcp
from launchdeck.providers.gcp.provider import GcpProvider
from testkit.gcp import FakeGcp
from tests.providers.gcp.conftest import LOCATION, PROJECT, enable
from tests.providers.gcp.test_cli import env, run  # noqa: F401

TOKEN = "tok-gcp-digests-8e2f4a6c1b"
REGISTRY = f"us-central1-docker.pkg.dev/{PROJECT}"
BASE = f"{REGISTRY}/base/base"
"""An image of a repository of the project's own, whose tag ``stable`` is pushed over."""
COMPOSE = """\
name: pinned
services:
  web:
    build: ./web
    command: ["httpd", "-f", "-p", "8080"]
    ports: ["8080"]
  api:
    image: nginx:1.27
    expose: ["80"]
    environment:
      TOKEN:
      MODE: {version}
  worker:
    image: {base}:stable
    command: ["sleep", "infinity"]
    environment:
      MODE: {version}
"""
SERVICES = ("web", "api", "worker")


def _source(root: Path, version: str) -> None:
    (root / "web").mkdir(exist_ok=True)
    (root / "web" / "Dockerfile").write_text(f"FROM busybox:1.36\nRUN echo {version} > /v\n")
    (root / "compose.yaml").write_text(COMPOSE.format(base=BASE, version=version))


def _deploy(provider: GcpProvider, root: Path) -> Any:
    loaded = load(cwd=root, os_environ={})
    result = anyio.run(lambda: deploy(loaded, provider, stack="dev",
                                      options=DeployOptions(wait_timeout=60)))
    assert result.ok, [(s.name, s.state, s.message) for s in result.services]
    return result


def _running(fake: FakeGcp) -> dict[str, str]:
    """Service -> the image its Cloud Run service (or worker pool) names now."""
    run = fake.api("run")
    out = {}
    for name in SERVICES:
        service_id = names.Names("pinned", "dev").service(name)
        found = run.services.get(f"{LOCATION}/services/{service_id}") or \
            run.pools[f"{LOCATION}/workerPools/{service_id}"]
        out[name] = found.template.containers[0].image
    return out


def _base_repository(gcp: Gcp, fake: FakeGcp) -> None:
    """The project's own repository ``base``, made as its owner would have."""
    from google.cloud import artifactregistry_v1 as ar

    async def make() -> None:
        op = await gcp.call("artifactregistry", "create_repository", parent=LOCATION,
                            repository_id="base",
                            repository=ar.Repository(format_=ar.Repository.Format.DOCKER))
        await gcp.wait(op, what="make a repository", api="artifactregistry")

    anyio.run(make)


def test_a_rollback_runs_the_digests_that_ran_after_the_tags_moved(
        provider: GcpProvider, gcp: Gcp, fake: FakeGcp, tmp_path: Path,
        env: dict[str, str]) -> None:  # noqa: F811
    """v1 (web built; api pulled as nginx:1.27 from Docker Hub; worker, a worker pool, from
    base:stable in a repository of the project), then nginx:1.27 pushed over upstream and
    base:stable pushed over, v2 (new web source, the others redeployed on the moved tags),
    rollback to v1: the history names each image by digest, the preview's plan updates the
    three, the rollback's services and worker pool name v1's digests (not what the tags name
    now), no Cloud Build runs, and ``deployments show`` lists the digests; no config value
    appears anywhere."""
    enable(gcp)
    anyio.run(provider.config_store("pinned", "dev").set, "TOKEN", TOKEN)
    _base_repository(gcp, fake)
    registry = fake.api("artifactregistry")
    was = registry.push(f"{BASE}:stable", "base, first")
    _source(tmp_path, "v1")
    first = _deploy(provider, tmp_path)
    history = History(provider.blobs(), "pinned", "dev")
    v1 = anyio.run(history.find, first.deployment_id)
    images = {name: v1.unit(name).image or "" for name in SERVICES}
    built = _running(fake)["web"]
    assert images["web"] == f"{built.rsplit(':', 1)[0]}@{registry.digest_of(built)}"
    assert images["worker"] == f"{BASE}@{was}"
    pulled = fake.api("run").public["docker.io/library/nginx"]["1.27"]
    assert images["api"] == f"docker.io/library/nginx@{pulled}"

    moved = fake.push_public("nginx:1.27")
    now = registry.push(f"{BASE}:stable", "base, second")
    assert moved != pulled and now != was
    _source(tmp_path, "v2")
    _deploy(provider, tmp_path)
    v2 = anyio.run(history.find, "latest")
    assert v2.unit("api").image == f"docker.io/library/nginx@{moved}"
    assert v2.unit("worker").image == f"{BASE}@{now}"
    for name in SERVICES:
        assert "@sha256:" in (v2.unit(name).image or "") and v2.unit(name).image != images[name]

    async def ready() -> Any:
        return await preflight(load(cwd=tmp_path, os_environ={}), provider, stack="dev")

    async def shown() -> Any:
        return await preview(await ready(), v1)

    seen = anyio.run(shown)
    assert seen.images == images and seen.images_checked is True
    assert {c.service: c.action for c in seen.plan.changes if c.service in SERVICES} == \
        {name: Action.UPDATE for name in SERVICES}

    fake.clear_requests()

    async def back() -> Any:
        return await rollback(await ready(), v1, options=DeployOptions(wait_timeout=60))

    result = anyio.run(back)
    assert result.ok, [(s.name, s.state, s.message) for s in result.services]
    assert fake.mutations("cloudbuild") == [] and fake.api("cloudbuild").builds
    assert _running(fake) == images
    latest = anyio.run(history.find, "latest")
    assert (latest.operation, latest.rollback_of) == ("rollback", v1.id)
    assert {name: latest.unit(name).image for name in SERVICES} == images

    shown_cli = run("deployments", "show", v1.id, "--provider", "gcp", cwd=tmp_path, env=env)
    assert shown_cli.returncode == 0, shown_cli.stderr
    assert all(image in shown_cli.stdout for image in images.values()), shown_cli.stdout
    as_json = run("deployments", "show", v1.id, "--provider", "gcp", "--format", "json",
                  cwd=tmp_path, env=env)
    assert as_json.returncode == 0, as_json.stderr
    units = {u["name"]: u["image"] for u in json.loads(as_json.stdout)["deployment"]["units"]
             if u["name"] in SERVICES}
    assert units == images
    for text in (shown_cli.stdout, shown_cli.stderr, as_json.stdout, as_json.stderr,
                 json.dumps(fake.requests()),
                 *(e.model_dump_json() for e in anyio.run(history.entries))):
        assert TOKEN not in text


def test_a_no_op_redeploy_keeps_its_pins_without_asking(provider: GcpProvider, gcp: Gcp, fake: FakeGcp,
                                             tmp_path: Path) -> None:
    """A second deploy of an unchanged project changes nothing on Cloud Run or Artifact Registry
    to pin its images and reads no revision: Cloud Run resolved each tag as it made the
    revision that still serves, so the record's digests stand, and the history names them."""
    enable(gcp)
    anyio.run(provider.config_store("pinned", "dev").set, "TOKEN", TOKEN)
    _base_repository(gcp, fake)
    fake.api("artifactregistry").push(f"{BASE}:stable", "base")
    _source(tmp_path, "v1")
    _deploy(provider, tmp_path)
    history = History(provider.blobs(), "pinned", "dev")
    before = anyio.run(history.find, "latest")

    fake.clear_requests()
    again = _deploy(provider, tmp_path)
    assert {c.action for c in again.changes} == {Action.NOOP}
    assert {e["api"] for e in fake.mutations()} == {"storage"}  # the lock and the history entry
    assert [e["path"] for e in fake.requests() if "/apis/serving.knative.dev/v1/" in e["path"]] == []
    latest = anyio.run(history.find, "latest")
    assert {n: latest.unit(n).image for n in SERVICES} == {n: before.unit(n).image for n in SERVICES}
