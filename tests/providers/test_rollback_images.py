"""A rollback on a cloud target first asks its registry whether each image it would go back to
is still there (ECR DescribeImages on AWS through the moto server; Artifact Registry on the
local GCP): with one deleted, the rollback is refused, naming it, before any change."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest

from launchdeck.compose.load import load
from launchdeck.engine.deploy import deploy, preflight
from launchdeck.engine.history import History
from launchdeck.engine.rollback import preview, rollback
from launchdeck.engine.seams import DeployOptions
from launchdeck.errors import DeployRefused

COMPOSE = """\
name: rollme
services:
  web:
    build: ./web
    command: ["httpd", "-f", "-p", "8080"]
    ports: ["8080"]
    deploy:
      resources:
        reservations: {memory: 256M}
"""


@dataclass
class Cloud:
    provider: Any
    changes: Callable[[], int]
    """How many changing requests the target has had."""
    delete: Callable[[str], None]
    """Delete an image from the target's registry, as a lifecycle rule would."""


@pytest.fixture(params=["aws", "gcp"])
def cloud(request: pytest.FixtureRequest) -> Iterator[Cloud]:
    if request.param == "aws":
        from launchdeck.providers.aws.api import Aws
        from launchdeck.providers.aws.provider import AwsProvider
        from testkit import aws as T

        calls = request.getfixturevalue("calls")

        def delete_ecr(image: str) -> None:  # the history names it by digest
            repository, digest = image.split("/", 1)[1].split("@", 1)
            done = T.session().client("ecr").batch_delete_image(
                repositoryName=repository, imageIds=[{"imageDigest": digest}])
            assert done["imageIds"] and not done["failures"]

        yield Cloud(AwsProvider(Aws(request.getfixturevalue("boto")), poll=0.01),
                    lambda: len(calls.mutating()), delete_ecr)
    else:
        from launchdeck.providers.gcp import names
        from launchdeck.providers.gcp.provider import GcpProvider

        fake, gcp = request.getfixturevalue("fake"), request.getfixturevalue("gcp")

        def delete_package(image: str) -> None:
            path = image.removeprefix(names.registry(gcp.project, gcp.region) + "/")
            path = path.split("@", 1)[0].rsplit(":", 1)[0]  # the history names it by digest

            async def run() -> None:
                op = await gcp.call("artifactregistry", "delete_package",
                                    name=names.package(gcp.project, gcp.region, path))
                await gcp.wait(op, what="delete an image", api="artifactregistry")

            anyio.run(run)

        yield Cloud(GcpProvider(gcp, poll=0), lambda: len(fake.mutations()), delete_package)


def _source(root: Path, version: str) -> None:
    (root / "web").mkdir(exist_ok=True)
    (root / "web" / "Dockerfile").write_text(f"FROM busybox:1.36\nRUN echo {version} > /v\n")
    (root / "compose.yaml").write_text(COMPOSE)


def _deploy(cloud: Cloud, root: Path) -> Any:
    loaded = load(cwd=root, os_environ={})
    return anyio.run(lambda: deploy(loaded, cloud.provider, stack="dev",
                                    options=DeployOptions(wait_timeout=60)))


def test_a_rollback_to_a_deleted_image_is_refused_before_any_change(cloud: Cloud,
                                                                    tmp_path: Path) -> None:
    """v1, v2 (new source, new image); v1's preview checks its image is there; with v1's image
    deleted, the preview and the rollback are refused naming it and what to do, and the target
    and the history are as they were."""
    _source(tmp_path, "v1")
    first = _deploy(cloud, tmp_path)
    assert first.ok, [(s.name, s.state, s.message) for s in first.services]
    _source(tmp_path, "v2")
    assert _deploy(cloud, tmp_path).ok
    history = History(cloud.provider.blobs(), "rollme", "dev")
    v1 = anyio.run(history.find, first.deployment_id)
    image = v1.unit("web").image
    assert image and image != anyio.run(history.find, "latest").unit("web").image

    async def ready() -> Any:
        return await preflight(load(cwd=tmp_path, os_environ={}), cloud.provider, stack="dev")

    async def shown() -> Any:
        return await preview(await ready(), v1)

    assert anyio.run(shown).images_checked is True
    cloud.delete(image)
    before = cloud.changes()

    async def back() -> Any:
        return await rollback(await ready(), v1, options=DeployOptions(wait_timeout=60))

    for attempt in (shown, back):
        with pytest.raises(DeployRefused) as refused:
            anyio.run(attempt)
        assert f"the image of web ({image}) is no longer on {cloud.provider.name}" in \
            refused.value.message
        assert "Deploy from source again" in (refused.value.hint or "")
    assert cloud.changes() == before
    assert len(anyio.run(history.entries)) == 2


def test_an_image_of_another_registry_counts_as_kept(cloud: Cloud, tmp_path: Path) -> None:
    """A public image is not the target's registry's to expire: the check does not refuse it."""
    from launchdeck.compose.model import Project
    from launchdeck.engine.events import discard
    from launchdeck.engine.seams import KeepsImages

    async def check() -> bool:
        session = await cloud.provider.session(Project(name="rollme", working_dir=str(tmp_path)),
                                               "dev", {}, "plan", DeployOptions(), discard)
        assert isinstance(session, KeepsImages)
        return await session.has_image("busybox:1.36")

    assert anyio.run(check) is True
