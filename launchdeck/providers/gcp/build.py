"""Images for services with ``build:``: the context goes to the bucket, Cloud Build builds and
pushes to Artifact Registry.

The image tag is the engine's digest of the context (files with ``.dockerignore`` honoured,
Dockerfile, target, build args), so a plan knows the image without building, and a tag
Artifact Registry already has is not built again. The context is packed reproducibly and
uploaded under the archive's own digest, once. Progress is reported as BUILD_QUEUED and
BUILD_RUNNING; a failed build is BUILD_FAILED with the last lines of its log.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from dataclasses import dataclass
from typing import Any

import anyio.to_thread

from launchdeck.compose.model import Build
from launchdeck.engine import context, poll
from launchdeck.engine.events import State
from launchdeck.errors import BuildError
from launchdeck.providers.base import Progress
from launchdeck.providers.gcp import names
from launchdeck.providers.gcp.api import Gcp, create
from launchdeck.providers.gcp.bucket import Bucket

BUILD_WAIT = 3600
"""Seconds a build may take (Cloud Build's own timeout is set to the same)."""
BUILDER = "gcr.io/cloud-builders/docker"
_DONE = {"SUCCESS"}
_FAILED = {"FAILURE", "INTERNAL_ERROR", "TIMEOUT", "CANCELLED", "EXPIRED"}
_LOG_LINES = 20


@dataclass(frozen=True)
class Packed:
    digest: str
    """Of the archive: its key in the bucket."""
    data: bytes
    files: int


def pack(scanned: context.Context) -> Packed:
    """A scanned build context as a reproducible .tar.gz (blocking: run it in a worker thread)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel in scanned.paths:
            full = scanned.root / rel
            info = tar.gettarinfo(str(full), arcname=rel)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            if info.isfile():
                with full.open("rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
    data = gzip.compress(raw.getvalue(), mtime=0)
    return Packed(hashlib.sha256(data).hexdigest(), data, len(scanned.paths))


def arguments(build: Build, uri: str) -> list[str]:
    """The ``docker build`` arguments of the build step."""
    args = ["build", "--tag", uri, "--file", build.dockerfile or "Dockerfile"]
    if build.target:
        args += ["--target", build.target]
    for key, value in sorted(build.args.items()):
        if value is not None:
            args += ["--build-arg", f"{key}={value}"]
    return [*args, "."]


async def exists(gcp: Gcp, path: str, image_tag: str) -> bool:
    """Whether the shared repository has ``path`` tagged ``image_tag``."""
    name = f"{names.package(gcp.project, gcp.region, path)}/tags/{image_tag}"
    return await gcp.maybe("artifactregistry", "get_tag", name=name) is not None


async def image(
    gcp: Gcp,
    bucket: Bucket,
    source: context.Source,
    build: Build,
    service: str,
    path: str,
    progress: Progress,
    interval: float,
) -> str:
    """The image URI for ``build``, tagged with its source's digest: built by Cloud Build unless
    Artifact Registry has it."""
    from google.cloud.devtools import cloudbuild_v1 as cb
    from google.protobuf import duration_pb2

    image_tag = source.digest
    uri = f"{names.registry(gcp.project, gcp.region)}/{path}:{image_tag}"
    if await exists(gcp, path, image_tag):
        progress(None, f"image {image_tag[:12]} is up to date")
        return uri
    packed = await anyio.to_thread.run_sync(pack, source.context)
    key = names.context_key(packed.digest)
    if not await bucket.exists(key):
        progress(None, f"uploading the build context ({packed.files} files, {len(packed.data) // 1024} KB)")
        await bucket.write(key, packed.data, content_type="application/gzip")
    request = cb.Build(
        source=cb.Source(storage_source=cb.StorageSource(bucket=bucket.name, object_=key)),
        steps=[cb.BuildStep(name=BUILDER, args=arguments(build, uri))],
        images=[uri],
        logs_bucket=f"gs://{bucket.name}/{names.BUILD_LOGS}",
        timeout=duration_pb2.Duration(seconds=BUILD_WAIT),
        tags=["launchdeck", names.label(service)],
    )
    operation = await gcp.call(
        "cloudbuild",
        "create_build",
        project_id=gcp.project,
        build=request,
        parent=f"projects/{gcp.project}/locations/{gcp.region}",
    )
    build_id = operation.metadata.build.id
    progress(State.BUILD_QUEUED, f"Cloud Build {build_id[:8]}")
    running: list[bool] = []

    async def check() -> str | None:
        found = await gcp.call(
            "cloudbuild", "get_build", name=f"projects/{gcp.project}/locations/{gcp.region}/builds/{build_id}"
        )
        status = found.status.name
        if status == "WORKING" and not running:
            running.append(True)
            progress(State.BUILD_RUNNING, "building")
        if status in _FAILED:
            tail = await _log_tail(bucket, build_id)
            detail = found.status_detail or status.lower().replace("_", " ")
            raise BuildError(
                f"image build failed: {detail}" + (f"; last log lines:\n{tail}" if tail else ""),
                service=service,
                hint="Fix the Dockerfile or the code it builds (`docker build` locally shows "
                "the same error), then deploy again.",
            )
        return uri if status in _DONE else None

    built = await poll.until(check, interval=interval, timeout=BUILD_WAIT)
    if built is None:
        raise BuildError(
            "the image build is taking over an hour",
            service=service,
            hint="See the build in the Cloud Build console.",
        )
    return built


async def _log_tail(bucket: Bucket, build_id: str) -> str:
    data = await bucket.read(f"{names.BUILD_LOGS}/log-{build_id}.txt")
    if not data:
        return ""
    lines = [line for line in data.decode("utf-8", "replace").splitlines() if line.strip()]
    return "\n".join(lines[-_LOG_LINES:])


async def repository(gcp: Gcp) -> None:
    """The shared Docker repository of the GCP project and region, made if missing."""
    from google.cloud import artifactregistry_v1 as ar

    name = names.repository(gcp.project, gcp.region)

    async def found() -> Any:
        return await gcp.maybe("artifactregistry", "get_repository", name=name)

    if await found() is not None:
        return
    await create(
        gcp,
        lambda: gcp.call(
            "artifactregistry",
            "create_repository",
            parent=f"projects/{gcp.project}/locations/{gcp.region}",
            repository_id=names.REPOSITORY,
            repository=ar.Repository(
                format_=ar.Repository.Format.DOCKER,
                labels=dict(names.SHARED),
                description="Images built by launchdeck",
            ),
        ),
        found,
        what="the image repository",
        api="artifactregistry",
    )
