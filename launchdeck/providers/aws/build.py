"""Images for services with ``build:``: the context goes to S3, CodeBuild builds and pushes.

The context is packed the way ``docker build`` sees it (``.dockerignore`` honoured) into a
reproducible archive whose digest, with the Dockerfile, target and build args, names the
image tag. An image whose tag is already in ECR is not built again, and an archive already
in S3 is not uploaded again.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass

import anyio
import anyio.to_thread

from launchdeck.compose.model import Build
from launchdeck.engine import context, poll
from launchdeck.engine.context import MAX_CONTEXT
from launchdeck.engine.events import State
from launchdeck.errors import BuildError
from launchdeck.providers.aws import names
from launchdeck.providers.aws.api import Aws
from launchdeck.providers.base import Progress

BUILD_WAIT = 3600.0
_FAILED = ("FAILED", "FAULT", "STOPPED", "TIMED_OUT")

BUILDSPEC = """\
version: 0.2
phases:
  pre_build:
    commands:
      - >-
        aws ecr get-login-password --region $AWS_REGION
        | docker login --username AWS --password-stdin ${IMAGE_URI%%/*}
  build:
    commands:
      - docker build -t $IMAGE_URI -f "$DOCKERFILE" $BUILD_FLAGS .
  post_build:
    commands:
      - test "$CODEBUILD_BUILD_SUCCEEDING" = 1 && docker push $IMAGE_URI
"""


@dataclass(frozen=True)
class Context:
    digest: str
    data: bytes
    files: int


def pack(build: Build, service: str, limit: int = MAX_CONTEXT) -> Context:
    """The build context as a reproducible .tar.gz (blocking: run it in a worker thread)."""
    scanned = context.scan(build, service, limit)
    root, paths = scanned.root, scanned.paths
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel in paths:
            full = root / rel
            info = tar.gettarinfo(str(full), arcname=rel)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            if info.isfile():
                with full.open("rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
    data = gzip.compress(raw.getvalue(), mtime=0)
    return Context(hashlib.sha256(data).hexdigest(), data, len(paths))


def image_tag(context: Context, build: Build) -> str:
    """The tag an image built from ``context`` with these settings gets."""
    settings = {"context": context.digest, "dockerfile": build.dockerfile, "target": build.target,
                "args": {k: v for k, v in sorted(build.args.items())}}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:24]


def _flags(build: Build) -> str:
    parts = [f"--target {build.target}"] if build.target else []
    parts += [f"--build-arg {k}={v}" for k, v in sorted(build.args.items()) if v is not None]
    return " ".join(parts)


async def image(aws: Aws, build: Build, service: str, repository_uri: str, repository: str,
                bucket: str, log: Progress, interval: float = 5.0) -> str:
    """The image URI for ``build``: built by CodeBuild unless ECR already has it."""
    packed = await anyio.to_thread.run_sync(pack, build, service)
    tag = image_tag(packed, build)
    uri = f"{repository_uri}:{tag}"
    found = await aws.maybe("ecr", "describe_images", ("ImageNotFoundException",),
                            repositoryName=repository, imageIds=[{"imageTag": tag}])
    if found and found.get("imageDetails"):
        log(None, f"image {tag[:12]} is up to date")
        return uri
    key = f"contexts/{packed.digest}.tar.gz"
    if await aws.maybe("s3", "head_object", ("404", "NoSuchKey", "NotFound"), Bucket=bucket, Key=key) is None:
        log(None, f"uploading the build context ({packed.files} files, "
                  f"{len(packed.data) // 1024} KB)")
        await aws("s3", "put_object", Bucket=bucket, Key=key, Body=packed.data,
                  ServerSideEncryption="AES256")
    started = await aws("codebuild", "start_build", projectName=names.CODEBUILD,
                        sourceTypeOverride="S3", sourceLocationOverride=f"{bucket}/{key}",
                        environmentVariablesOverride=[
                            {"name": "IMAGE_URI", "value": uri, "type": "PLAINTEXT"},
                            {"name": "DOCKERFILE", "value": build.dockerfile or "Dockerfile",
                             "type": "PLAINTEXT"},
                            {"name": "BUILD_FLAGS", "value": _flags(build), "type": "PLAINTEXT"}])
    build_id = started["build"]["id"]
    log(State.BUILD_QUEUED, f"CodeBuild {build_id.split(':')[-1][:8]}")
    running: list[bool] = []

    async def check() -> str | None:
        found = (await aws("codebuild", "batch_get_builds", ids=[build_id]))["builds"][0]
        status, phase = found.get("buildStatus"), found.get("currentPhase", "")
        if not running and phase not in ("SUBMITTED", "QUEUED", "PROVISIONING"):
            running.append(True)
            log(State.BUILD_RUNNING, phase.lower().replace("_", " "))
        if status in _FAILED:
            tail = await _log_tail(aws, found.get("logs", {}))
            raise BuildError(f"image build {status.lower().replace('_', ' ')}"
                             + (f"; last log lines:\n{tail}" if tail else ""), service=service,
                             hint="Fix the Dockerfile or the code it builds (`docker build` "
                                  "locally shows the same error), then deploy again.")
        return uri if status == "SUCCEEDED" else None

    built = await poll.until(check, interval=interval, timeout=BUILD_WAIT)
    if built is None:
        raise BuildError("the image build is taking over an hour", service=service,
                         hint="See the build in the CodeBuild console.")
    return built


async def _log_tail(aws: Aws, logs: dict, lines: int = 20) -> str:
    group, stream = logs.get("groupName"), logs.get("streamName")
    if not group or not stream:
        return ""
    found = await aws.maybe("logs", "get_log_events", ("ResourceNotFoundException",),
                            logGroupName=group, logStreamName=stream, limit=lines, startFromHead=False)
    return "\n".join(e["message"].rstrip() for e in (found or {}).get("events", []))


def codebuild_role_policy(bucket: str, region: str, account: str) -> dict:
    """What the shared CodeBuild role may do: read contexts, push to launchdeck's repositories."""
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"],
         "Resource": f"arn:aws:s3:::{bucket}/contexts/*"},
        {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": f"arn:aws:logs:{region}:{account}:log-group:/launchdeck/builds:*"},
        {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {"Effect": "Allow", "Action": [
            "ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
            "ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:BatchGetImage",
            "ecr:GetDownloadUrlForLayer"],
         "Resource": f"arn:aws:ecr:{region}:{account}:repository/launchdeck/*"},
    ]}

