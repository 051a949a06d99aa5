"""The Cloud Build driver against the local GCP: what a build reports when it fails where it does."""

from __future__ import annotations

import pytest

from launchdeck.compose.model import Build, Service
from launchdeck.engine.build import Phase
from launchdeck.providers.gcp import build, names
from launchdeck.providers.gcp.provider import GcpProvider
from testkit.gcp import FakeGcp
from testkit.gcp.core import project_number
from tests.providers.gcp.conftest import PROJECT, go

pytestmark = pytest.mark.usefixtures("enabled")  # about the driver, not enabling Cloud Build

WEB = Service(name="web", build=Build(context=".", dockerfile="Dockerfile"))


def _failed(provider: GcpProvider, context: bytes, image: str) -> Phase:
    """Upload ``context``, build it as ``image``, and poll the build until it ends."""
    go(provider.bucket.ensure, project_number(PROJECT))
    builder = build.CloudBuild(provider.gcp, provider.bucket)
    go(builder.upload, "contexts/test.tar.gz", context)
    build_id = go(builder.start, "contexts/test.tar.gz", image, WEB)
    for _ in range(10):
        phase = go(builder.poll, build_id)
        if phase.state in ("succeeded", "failed"):
            return phase
    pytest.fail("the build never ended")


def test_a_source_cloud_build_cannot_unpack_fails_at_fetching_it(provider: GcpProvider) -> None:
    """A context that is not a gzipped tarball fails before any build step runs."""
    image = f"{names.registry(PROJECT, 'us-central1')}/shop/dev/web:abc"
    phase = _failed(provider, b"not a tarball", image)
    assert phase.state == "failed" and phase.step == "fetch source"
    assert "not a gzipped tar archive" in phase.reason


def test_a_failing_build_step_is_named_by_its_number_and_command(provider: GcpProvider,
                                                                 fake: FakeGcp) -> None:
    """The docker build step failing is reported as that step, with Cloud Build's reason."""
    fake.knobs.failing_builds = {"/web:": "npm ERR! missing script: build"}
    go(build.repository, provider.gcp)
    image = f"{names.registry(PROJECT, 'us-central1')}/shop/dev/web:abc"
    phase = _failed(provider, _empty_tar_gz(), image)
    assert phase == Phase("failed", "step 0 (docker build)", "npm ERR! missing script: build")


def _empty_tar_gz() -> bytes:
    import gzip
    import io
    import tarfile

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w"):
        pass
    return gzip.compress(raw.getvalue())
