"""What tests and benchmarks need to run the AWS provider against a moto server.

``MotoServer`` starts moto's real HTTP server on 127.0.0.1 in a process of its own. The
hooks below ride on botocore's event system, so the provider's own code path is untouched:
``Calls`` counts API calls (and which of them can change anything), ``Faults`` answers a
share of requests with throttling or 500 errors, ``Latency`` delays every request, and
``codebuild_pushes`` does the one thing moto's CodeBuild does not: put the built image in
ECR, as a real build's ``docker push`` would.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from launchdeck.providers.aws.api import is_mutating

REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_SESSION_TOKEN": "testing", "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION}
MOTO_SETTINGS = {"MOTO_ECS_SERVICE_RUNNING": "1", "MOTO_ACM_VALIDATION_WAIT": "0"}
"""ECS services report one running task; ACM certificates validate at once."""
SERVICES = ("acm", "codebuild", "ec2", "ecr", "ecs", "elasticache", "elbv2", "iam", "logs", "rds",
            "resourcegroupstaggingapi", "route53", "s3", "servicediscovery", "ssm", "sts")


class MotoServer:
    """moto's server on a free loopback port, in a child process; ``env`` reaches it."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        """Variables that point boto3 (and a launchdeck child process) at this server."""
        return {**CREDENTIALS, "AWS_ENDPOINT_URL": self.url}

    def start(self) -> MotoServer:
        env = {**os.environ, **MOTO_SETTINGS}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1).close()
                return self
            except OSError:
                if self._process.poll() is not None:
                    raise RuntimeError("the moto server exited at start") from None
                time.sleep(0.1)
        raise RuntimeError("the moto server did not answer within 30 s")

    def reset(self) -> None:
        """Forget every resource (between tests)."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=10).close()

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def session() -> Any:
    """A boto3 session with the test credentials (the endpoint comes from AWS_ENDPOINT_URL)."""
    import boto3

    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                         aws_session_token="testing", region_name=REGION)


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    params: dict[str, Any]

    @property
    def mutating(self) -> bool:
        return is_mutating(self.operation)


@dataclass
class Calls:
    """Records API calls as botocore makes them (one per call, however many retries)."""

    made: list[Call] = field(default_factory=list)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def attach(self, boto_session: Any) -> Calls:
        boto_session.events.register("provide-client-params", self._seen)
        return self

    def _seen(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        with self._guard:
            self.made.append(Call(model.service_model.service_name, model.name, dict(params)))

    def mutating(self) -> list[Call]:
        return [c for c in self.made if c.mutating]

    def clear(self) -> None:
        with self._guard:
            self.made.clear()

    def by_operation(self) -> Counter[str]:
        return Counter(f"{c.service}.{c.operation}" for c in self.made)


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


class Faults:
    """Answers ``rate`` of all requests with throttling (400) or an internal error (500)."""

    def __init__(self, rate: float, seed: int = 7) -> None:
        self.rate = rate
        self.injected = 0
        self._random = random.Random(seed)
        self._guard = threading.Lock()
        self._protocols: dict[str, str] = {}

    def attach(self, boto_session: Any) -> Faults:
        core = boto_session._session
        for name in SERVICES:
            model = core.get_service_model(name)
            self._protocols[model.service_id.hyphenize()] = model.protocol
        boto_session.events.register("before-send", self._maybe_fail)
        return self

    def _maybe_fail(self, request: Any, event_name: str, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        with self._guard:
            if self._random.random() >= self.rate:
                return None
            self.injected += 1
            throttle = self._random.random() < 0.5
        protocol = self._protocols.get(event_name.split(".")[1], "json")
        if not throttle or protocol.startswith("smithy"):  # CBOR bodies: a plain 503 instead
            return AWSResponse(request.url, 500 if not throttle else 503, {}, _Raw(b""))
        if protocol in ("json", "rest-json"):
            body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
            headers = {"x-amzn-ErrorType": "ThrottlingException", "Content-Type": "application/json"}
        elif protocol == "ec2":
            body = (b"<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Rate "
                    b"exceeded</Message></Error></Errors></Response>")
            headers = {}
        elif protocol == "rest-xml" and "s3" in event_name.split(".")[1]:
            body = b"<Error><Code>SlowDown</Code><Message>Rate exceeded</Message></Error>"
            headers = {}
        else:
            body = (b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>"
                    b"Rate exceeded</Message></Error></ErrorResponse>")
            headers = {}
        return AWSResponse(request.url, 503 if b"SlowDown" in body else 400, headers, _Raw(body))


class Latency:
    """Delays every request by ``seconds``, as a far-away API would."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def attach(self, boto_session: Any) -> Latency:
        boto_session.events.register("before-send", self._wait)
        return self

    def _wait(self, **_: Any) -> None:
        time.sleep(self.seconds)


def codebuild_pushes(boto_session: Any) -> None:
    """Make each CodeBuild build put its image in ECR, as a real build's push does.

    moto's builds succeed at once but push nothing; without this, every deploy would find
    the image missing and build again. The push goes through a session of its own, so fault
    injection and call counting on ``boto_session`` do not see it.
    """
    pusher = session()

    def push(params: dict[str, Any], **_: Any) -> None:
        variables = {v["name"]: v["value"] for v in params.get("environmentVariablesOverride", [])}
        uri = variables.get("IMAGE_URI")
        if not uri:
            return
        repository, tag = uri.split("/", 1)[1].rsplit(":", 1)
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                    "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                               "size": 2, "digest": "sha256:" + "0" * 64}, "layers": []}
        try:
            pusher.client("ecr").put_image(repositoryName=repository, imageTag=tag,
                                           imageManifest=json.dumps(manifest))
        except pusher.client("ecr").exceptions.ImageAlreadyExistsException:
            pass  # the same build started again after a failed start_build

    boto_session.events.register("before-parameter-build.codebuild.StartBuild", push)
