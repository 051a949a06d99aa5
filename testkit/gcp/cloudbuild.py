"""Cloud Build v1 as the fake serves it: builds from a .tar.gz in Cloud Storage, pushed to Artifact Registry.

A build is QUEUED when created, WORKING after a poll, then SUCCESS (its images pushed to
Artifact Registry under the tags asked for) or FAILURE (the ``failing_builds`` knob, a
source archive that is not a gzip tarball, a push to a repository that does not exist).
Its log is written where the build asked: ``gs://<logsBucket>/log-<id>.txt`` and/or Cloud
Logging (``projects/<p>/logs/cloudbuild``, resource type ``build``).

A build belongs to the location it was created in (``projects/P/locations/R/builds``, or
``global`` by the legacy ``projects/P/builds``) and is found only there: "This method only gets
builds in the "global" region when using the legacy resource path projects/{projectId}/builds/{id}.
For all regions, use the regional resource path" (projects.locations.builds.get, Cloud Build
REST reference); a read of a regional build by the global path is NOT_FOUND.

The fake runs no step. It knows one script: a step whose ``bash -c`` script is
``until docker push IMAGE; do ...; sleep N; done`` (what a build does while its account's
push right may still be propagating) pushes IMAGE every N seconds until the push is allowed,
and the build ends then; a step that outlasts its ``timeout`` is TIMEOUT, and so is the build
(Build.Status: "Build or step took longer than was allowed"). A step's timeout may not exceed
the build's ("invalid value for 'build.steps[1].timeout': value must be less than or equal to
build timeout value", sourcegraph/sourcegraph-public-snapshot#25471).
"""

from __future__ import annotations

import base64
import gzip
import io
import re
import tarfile
import uuid
from typing import Any

from google.cloud.devtools import cloudbuild_v1 as cb
from google.cloud.devtools.cloudbuild_v1.services.cloud_build.transports.rest_base import (
    _BaseCloudBuildRestTransport as _Rest,
)
from google.longrunning import operations_pb2

from testkit.gcp import project as new_project
from testkit.gcp.core import ApiError, Rule, invalid, not_found, project_number
from testkit.gcp.server import Api, Route, routes_of
from testkit.gcp.shared import Operations, Work

_S = cb.Build.Status
_LOGGING = cb.BuildOptions.LoggingMode
_SA_NEEDS_LOGS = (
    "if 'build.service_account' is specified, the build must either (a) specify "
    "'build.logs_bucket', (b) use the REGIONAL_USER_OWNED_BUCKET "
    "build.options.default_logs_bucket_behavior option, or (c) use either CLOUD_LOGGING_ONLY / "
    "NONE logging options"
)


_PUSHERS = {
    "roles/artifactregistry.writer",
    "roles/artifactregistry.repoAdmin",
    "roles/artifactregistry.admin",
    "roles/editor",
    "roles/owner",
}
"""Roles that grant artifactregistry.repositories.uploadArtifacts."""
_RETRIED_PUSH = re.compile(r"^until docker push (\S+); do .*; sleep (\d+); done$", re.S)
"""The one step script the fake models (see the module)."""


class CloudBuildApi(Api):
    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.builds: dict[str, Any] = {}
        self.work: dict[str, Work] = {}
        self.operations = Operations()
        self.op_builds: dict[str, str] = {}
        self.pushing: dict[str, tuple[float, list[str]]] = {}
        """Build id -> when its retried push step began, and the refusals it has met."""

    def routes(self) -> list[Route]:
        table = [
            ("CreateBuild", cb.CreateBuildRequest, self.create_build, "cloudbuild.builds.create"),
            ("GetBuild", cb.GetBuildRequest, self.get_build, "cloudbuild.builds.get"),
            ("CancelBuild", cb.CancelBuildRequest, self.cancel_build, "cloudbuild.builds.update"),
        ]
        routes = routes_of(_Rest, table)
        # google.longrunning for Cloud Build: regional names, and the global operations/build/... ones
        for template in ("/v1/{name=operations/**}", "/v1/{name=projects/*/locations/*/operations/*}"):
            routes.append(
                Route(
                    Rule("GET", template),
                    self.get_operation,
                    operations_pb2.GetOperationRequest,
                    "cloudbuild.builds.get",
                )
            )
        return routes

    def _key(self, request: Any) -> tuple[str, str]:
        """(project, build id) from either the global or the regional form of a request; a
        build of another location than the request's is not found (see the module)."""
        if getattr(request, "name", ""):
            parts = request.name.split("/")
            project, build_id = parts[1], parts[-1]
            location = parts[3] if len(parts) > 3 and parts[2] == "locations" else "global"
        else:
            project, build_id, location = request.project_id, request.id, "global"
        build = self.builds.get(build_id)
        if build is not None and build.name.split("/")[3] != location:
            raise not_found(f"Build {build_id} not found.")
        return project, build_id

    def create_build(self, request: Any) -> Any:
        project = request.project_id or request.parent.split("/")[1]
        region = request.parent.split("/")[3] if request.parent else "global"
        build = request.build
        if not build.steps:
            raise invalid("invalid build: no build steps specified", "build.steps")
        limit = build.timeout.seconds if build.HasField("timeout") else 600
        for index, step in enumerate(build.steps):
            if not step.name:
                raise invalid(f"invalid build: build step {index} must specify name", f"build.steps[{index}]")
            if step.HasField("timeout") and step.timeout.seconds > limit:
                raise invalid(f"invalid value for 'build.steps[{index}].timeout': value must be less "
                              f"than or equal to build timeout value of \"{limit}s\"",
                              f"build.steps[{index}].timeout")
        logging_mode = build.options.logging
        if (
            build.service_account
            and not build.logs_bucket
            and logging_mode not in (_LOGGING.CLOUD_LOGGING_ONLY, _LOGGING.NONE)
            and build.options.default_logs_bucket_behavior != 1
        ):
            raise invalid(_SA_NEEDS_LOGS, "build.service_account")
        if build.logs_bucket and logging_mode == _LOGGING.CLOUD_LOGGING_ONLY:
            raise invalid(
                "invalid build: logs_bucket cannot be set with CLOUD_LOGGING_ONLY logging.",
                "build.logs_bucket",
            )
        storage = self.ctx.api("storage")
        source = build.source.storage_source
        if build.source.HasField("storage_source"):
            if source.bucket not in storage.buckets:
                raise invalid(
                    "could not resolve source: googleapi: Error 404: The specified bucket does not "
                    "exist., notFound",
                    "build.source",
                )
            if storage.read(source.bucket, source.object_) is None:
                raise invalid(
                    f"could not resolve source: googleapi: Error 404: No such object: "
                    f"{source.bucket}/{source.object_}, notFound",
                    "build.source",
                )
        logs_bucket = build.logs_bucket.removeprefix("gs://").split("/")[0]
        if logs_bucket and logs_bucket not in storage.buckets:
            raise invalid(
                f'invalid bucket "{logs_bucket}"; the build\'s logs bucket does not exist',
                "build.logs_bucket",
            )
        build_id = str(uuid.uuid4())
        stored = cb.Build.pb()()
        stored.CopyFrom(build)
        stored.id = build_id
        stored.project_id = project
        stored.name = f"projects/{project}/locations/{region}/builds/{build_id}"
        stored.status = _S.QUEUED
        stored.create_time.GetCurrentTime()
        if not stored.HasField("timeout"):
            stored.timeout.seconds = 600
        stored.log_url = (
            f"https://console.cloud.google.com/cloud-build/builds;region={region}/{build_id}"
            f"?project={project}"
        )
        if not stored.logs_bucket and logging_mode not in (_LOGGING.CLOUD_LOGGING_ONLY, _LOGGING.NONE):
            stored.logs_bucket = f"gs://{project}_cloudbuild"  # the default bucket; not a real one here
        self.builds[build_id] = stored
        work = Work(self.ctx.progress(new_project.BUILD), lambda: self._finish(build_id))
        # one extra step: QUEUED -> WORKING on the first poll, the outcome after the rest
        work.progress.left += 1
        self.work[build_id] = work
        if request.parent:
            op_name = f"{request.parent}/operations/{uuid.uuid4()}"
        else:
            op_name = f"operations/build/{project}/{base64.b64encode(build_id.encode()).decode()}"
        self.op_builds[op_name] = build_id
        return self.operations.start(op_name, work, lambda: cb.BuildOperationMetadata.pb()(build=stored))

    def _advance(self, build_id: str) -> None:
        build = self.builds[build_id]
        work = self.work[build_id]
        if work.finished:
            return
        if work.progress.observe() and not self._still_pushing(build, work):
            work.finish()
        if not work.finished and build.status == _S.QUEUED:
            build.status = _S.WORKING
            build.start_time.GetCurrentTime()
            for step in build.steps:
                step.status = _S.QUEUED

    def get_build(self, request: Any) -> Any:
        project, build_id = self._key(request)
        if build_id not in self.builds or self.builds[build_id].project_id != project:
            raise not_found(f"Build {build_id} not found.")
        self._advance(build_id)
        return self.builds[build_id]

    def get_operation(self, request: Any) -> Any:
        build_id = self.op_builds.get(request.name)
        if build_id is None:
            raise not_found(f"Operation {request.name} not found.")
        self._advance(build_id)
        return self.operations.view(request.name)

    def cancel_build(self, request: Any) -> Any:
        project, build_id = self._key(request)
        build = self.builds.get(build_id)
        if build is None or build.project_id != project:
            raise not_found(f"Build {build_id} not found.")
        if build.status in (_S.QUEUED, _S.WORKING, _S.PENDING):
            build.status = _S.CANCELLED
            build.finish_time.GetCurrentTime()
            work = self.work[build_id]
            work.finished = True
            work.result = build
        return build

    def _finish(self, build_id: str) -> Any:
        build = self.builds[build_id]
        if build.status == _S.CANCELLED:
            return build
        if not build.HasField("start_time"):
            build.start_time.GetCurrentTime()
        lines = [f'starting build "{build_id}"', "", "FETCHSOURCE"]
        failure = self._failure(build) or self._pushed_in_step(build) or self._push_denied(build)
        if failure is None:
            for image in build.images:
                try:
                    digest = self.ctx.api("artifactregistry").push(image, f"{build_id}/{image.split(':')[0]}")
                except ApiError as exc:
                    failure = (f"failed to push {image}: {exc.message}", "PUSH_FAILED")
                    break
                built = build.results.images.add()
                built.name = image
                built.digest = digest
        # a source that cannot be fetched runs no step; a failed push comes after steps that
        # succeeded; a failing build step is the one step marked FAILURE
        kind = failure[1] if failure else ""
        retried = self._retried_push(build)
        for index, step in enumerate(build.steps):
            if kind == "FETCH_SOURCE_FAILED":
                continue
            step.status = _S.FAILURE if kind == "USER_BUILD_STEP" and index == 0 else _S.SUCCESS
            lines.append(f"Step #{index}: Running: {step.name} {' '.join(step.args)}".rstrip())
            if retried is not None and index == retried[0]:
                lines += [f"Step #{index}: {line}" for line in self.pushing.get(build_id, (0, []))[1]]
                if kind == "TIMEOUT":
                    step.status = _S.TIMEOUT
        if kind == "TIMEOUT":
            build.status = _S.TIMEOUT
            build.status_detail = failure[0]
            build.finish_time.GetCurrentTime()
            self._write_log(build, [*lines, f"ERROR: {failure[0]}"])
            raise ApiError("DEADLINE_EXCEEDED", "Build timed out; check build logs for details")
        if failure is None:
            build.status = _S.SUCCESS
            lines += ["PUSH"] + [f"Pushing {image}" for image in build.images] + ["DONE"]
        else:
            detail, kind = failure
            build.status = _S.FAILURE
            build.status_detail = detail
            build.failure_info.type_ = getattr(cb.Build.FailureInfo.FailureType, kind)
            build.failure_info.detail = detail
            if kind == "USER_BUILD_STEP":
                lines += [
                    f"Step #0: {detail}",
                    f'ERROR: build step 0 "{build.steps[0].name}" failed: '
                    "step exited with non-zero status: 1",
                ]
            else:
                lines.append(f"ERROR: {detail}")
        build.finish_time.GetCurrentTime()
        self._write_log(build, lines)
        if build.status == _S.FAILURE:
            # the operation of a failed build ends in error, with the words the real one uses
            raise ApiError("UNKNOWN", "Build failed; check build logs for details")
        return build

    def _retried_push(self, build: Any) -> tuple[int, str, float, float] | None:
        """The build's retried push step (see the module): its index, image, seconds between
        attempts and timeout (None: none)."""
        for index, step in enumerate(build.steps):
            script = step.args[1] if step.entrypoint == "bash" and list(step.args[:1]) == ["-c"] \
                and len(step.args) > 1 else ""
            matched = _RETRIED_PUSH.match(script)
            if matched:
                limit = step.timeout.seconds if step.HasField("timeout") else build.timeout.seconds
                return index, matched[1], float(matched[2]), float(limit)
        return None

    def _still_pushing(self, build: Any, work: Work) -> bool:
        """Whether the build's other steps are done and its retried push step, refused, tries
        again after its sleep; the step's refusals are kept for its log."""
        retried = self._retried_push(build)
        if retried is None or self._failure(build) is not None:
            return False
        _, image, pause, limit = retried
        denied = self._denied(build, image)
        if denied is None:
            return False
        began, refusals = self.pushing.setdefault(build.id, (self.ctx.now(), []))
        if self.ctx.now() >= began + self.ctx.scaled(limit):
            return False  # the step has timed out (_pushed_in_step)
        refusals.append(f"{denied}; retrying in {pause:g}s")
        work.progress = self.ctx.progress(pause)
        return True

    def _pushed_in_step(self, build: Any) -> tuple[str, str] | None:
        """A retried push step still refused when its time ran out: the step, and the build, time out."""
        retried = self._retried_push(build)
        if retried is None or self._denied(build, retried[1]) is None:
            return None
        return f'build step {retried[0]} "{build.steps[retried[0]].name}" timed out', "TIMEOUT"

    def _push_denied(self, build: Any) -> tuple[str, str] | None:
        """A build whose identity may not write to the repository fails its push."""
        denied = self._denied(build, build.images[0]) if build.images else None
        return (denied, "PUSH_FAILED") if denied else None

    def _denied(self, build: Any, image: str) -> str | None:
        """Why the build's identity may not push ``image`` (None: it may). The identity is
        the build's service account, else the default compute account (which, in a new
        project, holds no role)."""
        if not self.ctx.knobs.new_project:
            return None
        project = build.project_id
        email = build.service_account.rsplit("/", 1)[-1] or (
            f"{project_number(project)}-compute@developer.gserviceaccount.com")
        member = f"serviceAccount:{email}"
        if member in self.ctx.api("cloudresourcemanager").members_with(project, _PUSHERS, effective=True):
            return None
        host, _, path = image.partition("/")
        parts = path.split("/")
        if len(parts) >= 2:
            region = host.removesuffix("-docker.pkg.dev")
            repository = f"projects/{parts[0]}/locations/{region}/repositories/{parts[1]}"
            if member in self.ctx.api("artifactregistry").policies.members_with(repository, _PUSHERS,
                                                                                 effective=True):
                return None
        return (f"failed to push {image}: denied: Permission "
                f"\"artifactregistry.repositories.uploadArtifacts\" denied on resource (or it may not "
                f"exist) for {email}")

    def _failure(self, build: Any) -> tuple[str, str] | None:
        for needle, text in self.ctx.knobs.failing_builds.items():
            if any(needle in image for image in build.images) or any(needle in tag for tag in build.tags):
                return text or "error building image: exit status 1", "USER_BUILD_STEP"
        source = build.source.storage_source
        if build.source.HasField("storage_source"):
            data = self.ctx.api("storage").read(source.bucket, source.object_) or b""
            try:
                with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data)), mode="r:"):
                    pass
            except (OSError, tarfile.TarError, EOFError):
                return (
                    f"failed to unpack gs://{source.bucket}/{source.object_}: not a gzipped tar archive",
                    "FETCH_SOURCE_FAILED",
                )
        return None

    def _write_log(self, build: Any, lines: list[str]) -> None:
        mode = build.options.logging
        text = "\n".join(lines) + "\n"
        bucket = build.logs_bucket.removeprefix("gs://").split("/")[0]
        storage = self.ctx.api("storage")
        if bucket and mode not in (_LOGGING.CLOUD_LOGGING_ONLY, _LOGGING.NONE) and bucket in storage.buckets:
            prefix = build.logs_bucket.removeprefix("gs://")[len(bucket) :].strip("/")
            storage.write(bucket, f"{prefix + '/' if prefix else ''}log-{build.id}.txt", text.encode())
        if mode in (
            _LOGGING.LOGGING_UNSPECIFIED,
            _LOGGING.LEGACY,
            _LOGGING.STACKDRIVER_ONLY,
            _LOGGING.CLOUD_LOGGING_ONLY,
        ):
            self.ctx.api("logging").append(
                project=build.project_id,
                log_id="cloudbuild",
                resource_type="build",
                resource_labels={"build_id": build.id, "project_id": build.project_id},
                lines=lines,
                labels={"build_step": "0"},
            )
