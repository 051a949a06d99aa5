"""The remote builder of AWS: contexts in the region's S3 bucket, CodeBuild builds and pushes to ECR.

The engine runs the build loop (engine/build.py); this is its driver. CodeBuild's S3 source
must be a ZIP ("For build input stored in S3 buckets only, you must create a ZIP file"), so
contexts go up as the engine's reproducible ZIP. An arm64 service is built on CodeBuild's ARM
environment, so the image runs on the Graviton tasks its task definition asks for.

Docker Hub limits anonymous pulls by address, and CodeBuild's addresses are shared: when the
stack's config holds DOCKERHUB_USERNAME and DOCKERHUB_TOKEN, its builds log in to Docker Hub
first. The values never pass through launchdeck: the build names their SSM parameters as
PARAMETER_STORE variables, which CodeBuild reads with its role ("The parameter value will be
substituted for the name at runtime", CodeBuild API Reference, EnvironmentVariable), and the
role may read exactly those two parameters of each stack that set them.
"""

from __future__ import annotations

import shlex
from typing import Any

import anyio

from launchdeck.compose.model import Build, Service
from launchdeck.engine.build import Phase
from launchdeck.engine.build_context import Archive
from launchdeck.providers.aws import names, wait
from launchdeck.providers.aws.api import Aws, AwsError

_FAILED = ("FAILED", "FAULT", "STOPPED", "TIMED_OUT")
_QUEUED = ("SUBMITTED", "QUEUED", "PROVISIONING")
SLOT_WAIT = 3600.0
"""Seconds a build may wait for the account's build slots (a new account may run one at a time)."""
HUB_CONFIG = ("DOCKERHUB_USERNAME", "DOCKERHUB_TOKEN")
"""Config names that, set together for a stack, make its builds pull from Docker Hub logged in."""
PULL_LIMIT = ("Docker Hub refused to serve a base image (toomanyrequests): it limits anonymous pulls, "
              "and CodeBuild pulls from addresses many accounts share. Set DOCKERHUB_USERNAME and "
              "DOCKERHUB_TOKEN (a Docker Hub access token) in the stack's config so its builds log in "
              "to Docker Hub, use the same image from public.ecr.aws/docker/library/ (e.g. FROM "
              "public.ecr.aws/docker/library/node:20), or mirror Docker Hub through an ECR "
              "pull-through cache rule")
"""What a build failed by Docker Hub's pull limit says instead of the failed command."""
HUB_PROPAGATION = 60.0
"""Seconds a new permission to read the Docker Hub credentials may take to reach CodeBuild."""
QUOTA = "Concurrently running builds for Linux/Small environment"
"""The Service Quotas name of the CodeBuild quota a new account meets first."""

BUILDSPEC = """\
version: 0.2
phases:
  pre_build:
    commands:
      - >-
        aws ecr get-login-password --region $AWS_REGION
        | docker login --username AWS --password-stdin ${IMAGE_URI%%/*}
      - >-
        if [ -n "$DOCKERHUB_USERNAME" ]; then printenv DOCKERHUB_TOKEN
        | docker login --username "$DOCKERHUB_USERNAME" --password-stdin; fi
  build:
    commands:
      - eval "docker build -t $IMAGE_URI $BUILD_FLAGS ."
  post_build:
    commands:
      - test "$CODEBUILD_BUILD_SUCCEEDING" = 1 && docker push $IMAGE_URI
"""


ARM_ENVIRONMENT = {"environmentTypeOverride": "ARM_CONTAINER",
                   "imageOverride": "aws/codebuild/amazonlinux2-aarch64-standard:3.0",
                   "computeTypeOverride": "BUILD_GENERAL1_SMALL"}
"""start_build overrides for arm64 images: the ARM environment takes only aarch64 images and
the SMALL and LARGE compute types."""


def arm64(platform: str | None) -> bool:
    """Whether a compose ``platform`` (``linux/arm64``, ``linux/arm64/v8``) asks for ARM."""
    return bool(platform) and platform.split("/")[1:2] in (["arm64"], ["aarch64"])


def flags(build: Build) -> str:
    """docker build's flags as one shell-quoted string (the buildspec ``eval``s it, so a build
    arg with a space or a quote arrives whole)."""
    parts = ["-f", shlex.quote(build.dockerfile or "Dockerfile")]
    parts += ["--target", shlex.quote(build.target)] if build.target else []
    for key, value in sorted(build.args.items()):
        if value is not None:
            parts += ["--build-arg", shlex.quote(f"{key}={value}")]
    return " ".join(parts)


class CodeBuild:
    """The engine's RemoteBuilder on AWS: ECR, the region's bucket, the shared CodeBuild project."""

    name = "CodeBuild"
    archive: Archive = "zip"

    def __init__(self, aws: Aws, bucket: str, *, interval: float = 5.0, say: wait.Say = wait._quiet,
                 slot_wait: float = SLOT_WAIT, hub: tuple[str, str] | None = None,
                 hub_fresh: bool = False) -> None:
        self.aws, self.bucket, self.interval, self.say = aws, bucket, interval, say
        self.slot_wait = slot_wait
        self.hub = hub
        """The SSM parameters of the Docker Hub user name and token the builds log in with."""
        self.hub_fresh = hub_fresh
        """Whether the role was given their reading moments ago (IAM may not show it yet)."""

    async def has(self, image: str) -> bool:
        # an ECR image URI is <registry host>/<repository>:<tag>
        repository, tag = image.split("/", 1)[1].rsplit(":", 1)
        # a first deploy asks before its repository is made
        found = await self.aws.maybe("ecr", "describe_images",
                                     ("ImageNotFoundException", "RepositoryNotFoundException"),
                                     repositoryName=repository, imageIds=[{"imageTag": tag}])
        return bool(found and found.get("imageDetails"))

    async def upload(self, key: str, data: bytes) -> None:
        if await self.aws.maybe("s3", "head_object", ("404", "NoSuchKey", "NotFound"),
                                Bucket=self.bucket, Key=key) is None:
            await self.aws("s3", "put_object", Bucket=self.bucket, Key=key, Body=data,
                           ServerSideEncryption="AES256")

    async def start(self, key: str, image: str, service: Service) -> str:
        """Start the build, waiting for a build slot while the account runs as many as it may
        ("Cannot have more than 1 builds in queue for the account": a new account's quota).
        When the role was just allowed to read the Docker Hub credentials, a build refused
        them while IAM propagates that is started again, for a bounded time."""
        build_id = await self._queued(key, image, service)
        started = anyio.current_time()
        while self.hub_fresh and await self._refused_credentials(build_id) and \
                anyio.current_time() - started < HUB_PROPAGATION:
            self.say("CodeBuild may not read the Docker Hub credentials yet (IAM has not propagated "
                     "the new permission): starting the build again")
            await anyio.sleep(self.interval)
            build_id = await self._queued(key, image, service)
        return build_id

    async def _refused_credentials(self, build_id: str) -> bool:
        """Whether the build failed to read its PARAMETER_STORE variables (PROVISIONING fails
        with "Decrypted Variables Error"); watched until it is past PROVISIONING."""

        async def read() -> tuple[bool | None, str]:
            found = await self._build(build_id)
            for phase in found.get("phases", []):
                if phase.get("phaseType") == "PROVISIONING" and phase.get("phaseStatus") in _FAILED:
                    return any(c.get("statusCode") == "Decrypted Variables Error" or
                               "ssm:GetParameters" in (c.get("message") or "")
                               for c in phase.get("contexts", [])), ""
            if found.get("buildStatus") != "IN_PROGRESS" or found.get("currentPhase") not in _QUEUED:
                return False, ""
            return None, "provisioning"

        return await wait.until(read, what="the build to start", interval=self.interval,
                                timeout=SLOT_WAIT, say=wait._quiet)

    async def _queued(self, key: str, image: str, service: Service) -> str:
        assert service.build is not None
        def full(exc: AwsError) -> bool:
            return exc.code == "AccountLimitExceededException"

        return await wait.retry(
            lambda: self._start(key, image, service), full, what="a CodeBuild build slot",
            interval=self.interval, timeout=self.slot_wait, say=self.say,
            why="waiting for a build slot: the account runs as many builds as its quota allows",
            hint=f"The account's CodeBuild quota \"{QUOTA}\" limits how many builds run at once (a "
                 "new account may run one): ask for more in the Service Quotas console (AWS "
                 "CodeBuild), or deploy again once the running builds have finished.")

    async def _start(self, key: str, image: str, service: Service) -> str:
        assert service.build is not None
        started = await self.aws(
            "codebuild", "start_build", projectName=names.CODEBUILD,
            sourceTypeOverride="S3", sourceLocationOverride=f"{self.bucket}/{key}",
            environmentVariablesOverride=[
                {"name": "IMAGE_URI", "value": image, "type": "PLAINTEXT"},
                {"name": "DOCKERFILE", "value": service.build.dockerfile or "Dockerfile",
                 "type": "PLAINTEXT"},
                {"name": "BUILD_FLAGS", "value": flags(service.build), "type": "PLAINTEXT"},
                *[{"name": name, "value": parameter, "type": "PARAMETER_STORE"}
                  for name, parameter in zip(HUB_CONFIG, self.hub or (), strict=False)]],
            buildspecOverride=BUILDSPEC,  # a project made by an older launchdeck builds as this one
            **(ARM_ENVIRONMENT if arm64(service.platform) else {}))
        return started["build"]["id"]

    async def poll(self, build_id: str) -> Phase:
        found = await self._build(build_id)
        status, current = found.get("buildStatus"), found.get("currentPhase", "")
        if status in _FAILED:
            # the first phase that failed (post_build fails after a failed build too), with
            # CodeBuild's words for why: PhaseContext {statusCode, message}
            failed = next((p for p in found.get("phases", []) if p.get("phaseStatus") in _FAILED), {})
            contexts = [c.get("message") or c.get("statusCode", "") for c in failed.get("contexts", [])]
            reason = "; ".join(c for c in contexts if c) or _words(status)
            if any("toomanyrequests" in line for line in await self.log_tail(build_id, 50)):
                reason = PULL_LIMIT
            return Phase("failed", _words(failed.get("phaseType", "")), reason)
        state = "succeeded" if status == "SUCCEEDED" else "queued" if current in _QUEUED else "running"
        return Phase(state, _words(current))

    async def log_tail(self, build_id: str, lines: int) -> list[str]:
        logs = (await self._build(build_id)).get("logs", {})
        group, stream = logs.get("groupName"), logs.get("streamName")
        if not group or not stream:
            return []
        found = await self.aws.maybe("logs", "get_log_events", ("ResourceNotFoundException",),
                                     logGroupName=group, logStreamName=stream, limit=lines,
                                     startFromHead=False)
        return [e["message"] for e in (found or {}).get("events", [])]

    async def _build(self, build_id: str) -> dict[str, Any]:
        return (await self.aws("codebuild", "batch_get_builds", ids=[build_id]))["builds"][0]


def _words(name: str) -> str:
    return name.lower().replace("_", " ")


def codebuild_role_policy(bucket: str, region: str, account: str) -> dict:
    """What the shared CodeBuild role may do: read contexts, push to launchdeck's repositories."""
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"],
         "Resource": f"arn:aws:s3:::{bucket}/contexts/*"},
        # CodeBuild checks the source bucket before it downloads ("CLIENT_ERROR: AccessDenied"
        # for a role without them)
        {"Effect": "Allow", "Action": ["s3:GetBucketAcl", "s3:GetBucketLocation"],
         "Resource": f"arn:aws:s3:::{bucket}"},
        {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": f"arn:aws:logs:{region}:{account}:log-group:/launchdeck/builds:*"},
        {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {"Effect": "Allow", "Action": [
            "ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
            "ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:BatchGetImage",
            "ecr:GetDownloadUrlForLayer"],
         "Resource": f"arn:aws:ecr:{region}:{account}:repository/launchdeck/*"},
    ]}



def hub_policy(region: str, account: str, parameters: tuple[str, str]) -> dict:
    """What the CodeBuild role needs to log a stack's builds in to Docker Hub: read exactly its
    two parameters (SecureStrings under the account's default key, decrypted through SSM)."""
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ssm:GetParameters",
         "Resource": [f"arn:aws:ssm:{region}:{account}:parameter{p}" for p in parameters]},
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*",
         "Condition": {"StringEquals": {"kms:ViaService": f"ssm.{region}.amazonaws.com"}}}]}
