"""Images for services with ``build:``: the context goes to S3, CodeBuild builds and pushes.

The context is packed the way ``docker build`` sees it (``.dockerignore`` honoured) into a
reproducible ZIP (CodeBuild's S3 source must be one: "For build input stored in S3 buckets
only, you must create a ZIP file") whose digest, with the Dockerfile, target, build args and
architecture, names the image tag. An image whose tag is already in ECR is not built again,
and an archive already in S3 is not uploaded again. An arm64 service is built on CodeBuild's
ARM environment, so the image runs on the Graviton tasks its task definition asks for.
"""

from __future__ import annotations

import hashlib
import io
import stat
import zipfile
from dataclasses import dataclass

import anyio
import anyio.to_thread

from launchdeck.compose.model import Build
from launchdeck.engine import context
from launchdeck.engine.events import State
from launchdeck.errors import BuildError
from launchdeck.providers.aws import names, wait
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


ARM_ENVIRONMENT = {"environmentTypeOverride": "ARM_CONTAINER",
                   "imageOverride": "aws/codebuild/amazonlinux2-aarch64-standard:3.0",
                   "computeTypeOverride": "BUILD_GENERAL1_SMALL"}
"""start_build overrides for arm64 images: the ARM environment takes only aarch64 images and
the SMALL and LARGE compute types."""
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
"""The earliest time a ZIP entry can carry: every entry gets it, so the digest is the content's."""


@dataclass(frozen=True)
class Packed:
    digest: str
    """Of the archive: its key in the bucket."""
    data: bytes
    files: int


def arm64(platform: str | None) -> bool:
    """Whether a compose ``platform`` (``linux/arm64``, ``linux/arm64/v8``) asks for ARM."""
    return bool(platform) and platform.split("/")[1:2] in (["arm64"], ["aarch64"])


def pack(scanned: context.Context) -> Packed:
    """A scanned build context as a reproducible ZIP (blocking: run it in a worker thread)."""
    root, paths = scanned.root, scanned.paths
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for rel in paths:
            full = root / rel
            mode = full.lstat().st_mode
            if stat.S_ISLNK(mode):
                # a link is kept as one, as docker build sees it: its target as content
                entry = _entry(rel, stat.S_IFLNK | 0o777)
                archive.writestr(entry, str(full.readlink()))
            elif stat.S_ISDIR(mode):
                archive.writestr(_entry(rel.rstrip("/") + "/", stat.S_IFDIR | 0o755), b"")
            elif stat.S_ISREG(mode):
                # only the executable bit survives, as git keeps it: a umask must not change digests
                entry = _entry(rel, stat.S_IFREG | (0o755 if mode & 0o111 else 0o644))
                entry.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(entry, full.read_bytes())
    data = raw.getvalue()
    return Packed(hashlib.sha256(data).hexdigest(), data, len(paths))


def _entry(name: str, mode: int) -> zipfile.ZipInfo:
    entry = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
    entry.create_system = 3  # unix, so that unzip applies the mode below
    entry.external_attr = (mode & 0xFFFF) << 16
    return entry


def _flags(build: Build) -> str:
    parts = [f"--target {build.target}"] if build.target else []
    parts += [f"--build-arg {k}={v}" for k, v in sorted(build.args.items()) if v is not None]
    return " ".join(parts)


async def image(aws: Aws, source: context.Source, build: Build, service: str, repository_uri: str,
                repository: str, bucket: str, log: Progress, poll: float = 5.0, *,
                platform: str | None = None) -> str:
    """The image URI for ``build`` on ``platform`` (the service's), tagged with its source's
    digest: built by CodeBuild unless ECR already has it."""
    tag = source.digest
    uri = f"{repository_uri}:{tag}"
    found = await aws.maybe("ecr", "describe_images", ("ImageNotFoundException",),
                            repositoryName=repository, imageIds=[{"imageTag": tag}])
    if found and found.get("imageDetails"):
        log(None, f"image {tag[:12]} is up to date")
        return uri
    packed = await anyio.to_thread.run_sync(pack, source.context)
    key = f"contexts/{packed.digest}.zip"
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
                            {"name": "BUILD_FLAGS", "value": _flags(build), "type": "PLAINTEXT"}],
                        **(ARM_ENVIRONMENT if arm64(platform) else {}))
    build_id = started["build"]["id"]
    log(State.BUILD_QUEUED, f"CodeBuild {build_id.split(':')[-1][:8]}")
    running = False

    async def read() -> tuple[str | None, str]:
        nonlocal running
        found = (await aws("codebuild", "batch_get_builds", ids=[build_id]))["builds"][0]
        status, phase = found.get("buildStatus"), found.get("currentPhase", "")
        if not running and phase not in ("SUBMITTED", "QUEUED", "PROVISIONING"):
            running = True
            log(State.BUILD_RUNNING, phase.lower().replace("_", " "))
        if status == "SUCCEEDED":
            return uri, ""
        if status in _FAILED:
            tail = await _log_tail(aws, found.get("logs", {}))
            raise BuildError(f"image build {status.lower().replace('_', ' ')}"
                             + (f"; last log lines:\n{tail}" if tail else ""), service=service,
                             hint="Fix the Dockerfile or the code it builds (`docker build` "
                                  "locally shows the same error), then deploy again.")
        return None, phase.lower().replace("_", " ")

    return await wait.until(read, what="the image build", interval=poll, max_interval=poll,
                            timeout=BUILD_WAIT, hint="See the build in the CodeBuild console.")


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

