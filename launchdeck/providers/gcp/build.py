"""The remote builder of GCP: contexts in the project's bucket, Cloud Build builds and pushes to
Artifact Registry.

The engine runs the build loop (engine/build.py); this is its driver, and it makes the shared
Docker repository the images go to. Cloud Build reads a context as a .tar.gz from Cloud Storage
and writes its log beside the contexts, where a failed build's last lines are read from.

A build account whose push right was just granted may be refused its push for minutes (a grant
"typically takes 2 minutes ... can take 7 minutes or longer",
https://cloud.google.com/iam/docs/access-change-propagation), and Google gives no way to confirm
another identity's grant. Its builds then push in a step of their own that tries again until the
push is allowed (for up to ``PROPAGATION``), so a refused push costs the wait, not a second build.
"""

from __future__ import annotations

from typing import Any

from launchdeck.compose.model import Build, Service
from launchdeck.engine.build import BUILD_WAIT, Phase
from launchdeck.engine.build_context import Archive
from launchdeck.providers.gcp import names
from launchdeck.providers.gcp.api import PROPAGATION, Gcp, create
from launchdeck.providers.gcp.bucket import Bucket

BUILDER = "gcr.io/cloud-builders/docker"
_QUEUED = {"STATUS_UNKNOWN", "PENDING", "QUEUED"}
_FAILED = {"FAILURE", "INTERNAL_ERROR", "TIMEOUT", "CANCELLED", "EXPIRED"}
PUSH_PAUSE = 5
"""Seconds between the pushes of a build whose account's push right may still be propagating."""


def arguments(build: Build, uri: str) -> list[str]:
    """The ``docker build`` arguments of the build step."""
    args = ["build", "--tag", uri, "--file", build.dockerfile or "Dockerfile"]
    if build.target:
        args += ["--target", build.target]
    for key, value in sorted(build.args.items()):
        if value is not None:
            args += ["--build-arg", f"{key}={value}"]
    return [*args, "."]


def retried_push(image: str) -> list[str]:
    """The arguments of a ``bash`` step that pushes ``image`` until the push is allowed."""
    return ["-c", f"until docker push {image}; do echo 'push refused: the rights of the build "
                  f"account may still be propagating'; sleep {PUSH_PAUSE}; done"]


class CloudBuild:
    """The engine's RemoteBuilder on GCP: Artifact Registry, the project's bucket, Cloud Build."""

    name = "Cloud Build"
    archive: Archive = "tar.gz"

    def __init__(self, gcp: Gcp, bucket: Bucket, account: str = "") -> None:
        self.gcp, self.bucket, self.account = gcp, bucket, account
        self._names: dict[str, str] = {}
        """Build id -> its resource name, in the location it was made in (a build is read only
        there: the global path does not find a regional build)."""

    async def has(self, image: str) -> bool:
        path, tag = image.removeprefix(names.registry(self.gcp.project, self.gcp.region) + "/").rsplit(":", 1)
        name = f"{names.package(self.gcp.project, self.gcp.region, path)}/tags/{tag}"
        return await self.gcp.maybe("artifactregistry", "get_tag", name=name) is not None

    async def upload(self, key: str, data: bytes) -> None:
        if not await self.bucket.exists(key):
            await self.bucket.write(key, data, content_type="application/gzip")

    async def start(self, key: str, image: str, service: Service) -> str:
        from google.cloud.devtools import cloudbuild_v1 as cb
        from google.protobuf import duration_pb2

        assert service.build is not None
        steps = [cb.BuildStep(name=BUILDER, args=arguments(service.build, image))]
        if self.account and self.gcp.fresh(self.account):  # its push right may not have propagated
            steps.append(cb.BuildStep(name=BUILDER, id="push", entrypoint="bash", args=retried_push(image),
                                      timeout=duration_pb2.Duration(seconds=int(PROPAGATION))))
        request = cb.Build(
            source=cb.Source(storage_source=cb.StorageSource(bucket=self.bucket.name, object_=key)),
            steps=steps,
            images=[image],
            logs_bucket=f"gs://{self.bucket.name}/{names.BUILD_LOGS}",
            timeout=duration_pb2.Duration(seconds=int(BUILD_WAIT)),
            tags=["launchdeck", names.label(service.name)],
            service_account=(f"projects/{self.gcp.project}/serviceAccounts/{self.account}"
                             if self.account else ""),
        )
        operation = await self.gcp.call(
            "cloudbuild",
            "create_build",
            project_id=self.gcp.project,
            build=request,
            parent=f"projects/{self.gcp.project}/locations/{self.gcp.region}",
        )
        build = operation.metadata.build
        self._names[build.id] = build.name or \
            f"projects/{self.gcp.project}/locations/{self.gcp.region}/builds/{build.id}"
        return build.id

    async def poll(self, build_id: str) -> Phase:
        found = await self.gcp.call("cloudbuild", "get_build", name=self._name(build_id))
        status = found.status.name
        if status in _FAILED:
            return Phase("failed", _failed_step(found), found.status_detail or _words(status))
        if status == "SUCCESS":
            return Phase("succeeded", "pushed")
        return Phase("queued" if status in _QUEUED else "running", "building" if status == "WORKING" else "")

    def _name(self, build_id: str) -> str:
        """Where build ``build_id`` is read: by the name it was made with, or (a build another
        run of launchdeck started) in the region this one builds in."""
        return self._names.get(build_id) or \
            f"projects/{self.gcp.project}/locations/{self.gcp.region}/builds/{build_id}"

    async def log_tail(self, build_id: str, lines: int) -> list[str]:
        data = await self.bucket.read(f"{names.BUILD_LOGS}/log-{build_id}.txt")
        found = [line for line in (data or b"").decode("utf-8", "replace").splitlines() if line.strip()]
        return found[-lines:]


def _failed_step(found: Any) -> str:
    """The step Cloud Build stopped at: the first build step that failed, or else the stage
    its failure info names (fetching the source, pushing)."""
    for index, step in enumerate(found.steps):
        if step.status.name in _FAILED:
            command = step.id or " ".join([step.name.rsplit("/", 1)[-1], *step.args[:1]])
            return f"step {index} ({command})"
    kind = found.failure_info.type_.name if found.failure_info else ""
    return "" if kind in ("", "FAILURE_TYPE_UNSPECIFIED") else _words(kind.removesuffix("_FAILED"))


def _words(name: str) -> str:
    return name.lower().replace("_", " ")


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
