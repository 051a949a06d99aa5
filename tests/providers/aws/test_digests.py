"""The history on AWS keeps each service's image by the digest its tasks ran (ECS's
``imageDigest``, the moto harness modelling what ECS resolves as a deployment starts), so a
rollback runs exactly those images, even after the tag moved to another image."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio

from launchdeck.compose.load import load
from launchdeck.engine.deploy import deploy, preflight
from launchdeck.engine.history import History
from launchdeck.engine.rollback import rollback
from launchdeck.engine.seams import DeployOptions
from launchdeck.providers.aws.api import Aws
from launchdeck.providers.aws.provider import AwsProvider
from testkit import aws as T
from tests.providers.aws.test_cli import isolated, run  # noqa: F401

TOKEN = "tok-digests-5c1e9a7b3d"
COMPOSE = """\
name: pinned
services:
  web:
    build: ./web
    command: ["httpd", "-f", "-p", "8080"]
    ports: ["8080"]
    deploy:
      resources:
        reservations: {{memory: 256M}}
  api:
    image: {api}
    expose: ["80"]
    environment:
      TOKEN:
    deploy:
      resources:
        reservations: {{memory: 256M}}
  worker:
    image: {base}:stable
    command: ["sleep", "infinity"]
    environment:
      MODE: {version}
    deploy:
      resources:
        reservations: {{memory: 256M}}
"""
SERVICES = ("web", "api", "worker")


def _manifest(layer: str) -> str:
    return json.dumps({"schemaVersion": 2,
                       "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                       "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                                  "size": 2, "digest": "sha256:" + "0" * 64},
                       "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                                   "size": 2, "digest": "sha256:" + layer * 64}]})


def _source(root: Path, version: str, api: str, base: str) -> None:
    (root / "web").mkdir(exist_ok=True)
    (root / "web" / "Dockerfile").write_text(f"FROM busybox:1.36\nRUN echo {version} > /v\n")
    (root / "compose.yaml").write_text(COMPOSE.format(api=api, base=base, version=version))


def _deploy(provider: AwsProvider, root: Path) -> Any:
    loaded = load(cwd=root, os_environ={})
    result = anyio.run(lambda: deploy(loaded, provider, stack="dev",
                                      options=DeployOptions(wait_timeout=60)))
    assert result.ok, [(s.name, s.state, s.message) for s in result.services]
    return result


def _account(boto: Any) -> tuple[AwsProvider, Any, str]:
    """The provider with the stack's config set, ECR, and the account's registry with an
    empty ``base`` repository."""
    provider = AwsProvider(Aws(boto), poll=0.01)
    anyio.run(provider.config_store("pinned", "dev").set, "TOKEN", TOKEN)
    ecr = T.session().client("ecr")
    account = T.session().client("sts").get_caller_identity()["Account"]
    ecr.create_repository(repositoryName="base")
    return provider, ecr, f"{account}.dkr.ecr.{T.REGION}.amazonaws.com"


def _images(boto: Any) -> dict[str, str]:
    """Service -> the image its ECS service's task definition names now."""
    ecs = boto.client("ecs")
    out = {}
    for service in SERVICES:
        described = ecs.describe_services(cluster="launchdeck", services=[f"pinned-dev-{service}"])
        arn = described["services"][0]["taskDefinition"]
        found = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
        out[service] = found["containerDefinitions"][-1]["image"]
    return out


def test_a_rollback_runs_the_digests_that_ran_after_the_tag_moved(aws_env, boto, calls,
                                                                  tmp_path: Path,
                                                                  isolated) -> None:  # noqa: F811
    """v1 (web built; api pulled as nginx:1.27; worker from base:stable, a mutable repository of
    the account), base:stable then pushed over with another image, v2 (new web source,
    nginx:1.28, worker redeployed on the moved tag), rollback to v1: the history names each
    image by digest, the rollback's task definitions name v1's digests (not what base:stable
    names now), nothing is built, and ``deployments show`` lists the digests; no config value
    appears anywhere."""
    provider, ecr, registry = _account(boto)
    was = ecr.put_image(repositoryName="base", imageTag="stable",
                        imageManifest=_manifest("a"))["image"]["imageId"]["imageDigest"]
    _source(tmp_path, "v1", "nginx:1.27", f"{registry}/base")
    first = _deploy(provider, tmp_path)
    history = History(provider.blobs(), "pinned", "dev")
    v1 = anyio.run(history.find, first.deployment_id)
    images = {name: v1.unit(name).image or "" for name in SERVICES}
    tag = _images(boto)["web"].rsplit(":", 1)[1]
    built = ecr.describe_images(repositoryName="launchdeck/pinned/dev/web",
                                imageIds=[{"imageTag": tag}])["imageDetails"][0]["imageDigest"]
    assert images["web"] == f"{registry}/launchdeck/pinned/dev/web@{built}"
    assert images["worker"] == f"{registry}/base@{was}"
    assert images["api"].startswith("nginx@sha256:"), images

    now = ecr.put_image(repositoryName="base", imageTag="stable",
                        imageManifest=_manifest("b"))["image"]["imageId"]["imageDigest"]
    assert now != was
    _source(tmp_path, "v2", "nginx:1.28", f"{registry}/base")
    _deploy(provider, tmp_path)
    v2 = anyio.run(history.find, "latest")
    assert v2.unit("worker").image == f"{registry}/base@{now}"
    for name in SERVICES:
        assert "@sha256:" in (v2.unit(name).image or "") and v2.unit(name).image != images[name]

    calls.clear()

    async def back() -> Any:
        ready = await preflight(load(cwd=tmp_path, os_environ={}), provider, stack="dev")
        return await rollback(ready, v1, options=DeployOptions(wait_timeout=60))

    result = anyio.run(back)
    assert result.ok, [(s.name, s.state, s.message) for s in result.services]
    assert calls.by_operation()["codebuild.StartBuild"] == 0
    assert _images(boto) == images
    latest = anyio.run(history.find, "latest")
    assert (latest.operation, latest.rollback_of) == ("rollback", v1.id)
    assert {name: latest.unit(name).image for name in SERVICES} == images

    env = {**isolated, **aws_env.env}
    shown = run("deployments", "show", v1.id, "--provider", "aws", cwd=tmp_path, env=env)
    assert shown.returncode == 0, shown.stderr
    assert all(image in shown.stdout for image in images.values()), shown.stdout
    as_json = run("deployments", "show", v1.id, "--provider", "aws", "--format", "json",
                  cwd=tmp_path, env=env)
    assert as_json.returncode == 0, as_json.stderr
    units = {u["name"]: u["image"] for u in json.loads(as_json.stdout)["deployment"]["units"]
             if u["name"] in SERVICES}
    assert units == images
    for text in (shown.stdout, shown.stderr, as_json.stdout, as_json.stderr,
                 *(e.model_dump_json() for e in anyio.run(history.entries))):
        assert TOKEN not in text


def test_a_unit_left_as_it_was_keeps_its_digest_without_asking_ecs(aws_env, boto, calls,
                                                                   tmp_path: Path) -> None:
    """ECS resolves a tag to a digest once per rollout: a redeploy that leaves a service as it
    was takes its digest from the record instead of reading its tasks again; a service it
    changes is read."""
    provider, ecr, registry = _account(boto)
    ecr.put_image(repositoryName="base", imageTag="stable", imageManifest=_manifest("a"))
    _source(tmp_path, "v1", "nginx:1.27", f"{registry}/base")
    _deploy(provider, tmp_path)
    history = History(provider.blobs(), "pinned", "dev")
    first = anyio.run(history.find, "latest")

    def tasks_read() -> set[str]:
        return {c.params["serviceName"] for c in calls.made
                if (c.service, c.operation) == ("ecs", "ListTasks") and "serviceName" in c.params}

    calls.clear()
    _deploy(provider, tmp_path)
    again = anyio.run(history.find, "latest")
    assert again.id != first.id and tasks_read() == set()
    assert {n: again.unit(n).image for n in SERVICES} == {n: first.unit(n).image for n in SERVICES}

    (tmp_path / "compose.yaml").write_text((tmp_path / "compose.yaml").read_text()
                                           .replace("MODE: v1", "MODE: v1b"))
    calls.clear()
    _deploy(provider, tmp_path)
    assert tasks_read() == {"pinned-dev-worker"}
    latest = anyio.run(history.find, "latest")
    assert {n: latest.unit(n).image for n in SERVICES} == {n: first.unit(n).image for n in SERVICES}
