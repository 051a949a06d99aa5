"""What tests and benchmarks need to run the AWS provider against a moto server.

``MotoServer`` starts moto's real HTTP server on 127.0.0.1 in a process of its own, behind
``_World``: by default the account behaves like a new one on its first day (``FRESH``). What
AWS does asynchronously takes time, scaled by ``World.scale`` (``REAL`` names the real
durations and where they come from); what was just made is not yet usable for a while and the
tagging API still lists what was just deleted; new-account quotas apply (ECS places a task only
where the account's Fargate vCPUs allow); ECS tasks go PROVISIONING, PENDING, RUNNING, and a
task whose image is made ``failing`` stops with its reason and fails its ECS deployment.
``LAX`` (everything instant and allowed) exists to compare with and is used by no test. The
hooks below ride on botocore's event system, so the provider's own code path is untouched:
``Calls`` counts API calls (and which of them can change anything), ``Faults`` answers a share
of requests with throttling or 500 errors, ``Latency`` delays every request,
``codebuild_pushes`` does the one thing moto's CodeBuild does not: put the built image in ECR,
as a real build's ``docker push`` would (or fail the build, as a failing Dockerfile does); and
``Strict`` refuses what AWS refuses and moto lets through.

moto has no Amazon DocumentDB: its RDS backend refuses engine ``docdb``. DocumentDB speaks the
RDS query API (its clusters and instances are RDS clusters and instances with ``Engine=docdb``),
so moto's process is taught the engine (``_documentdb_in_moto``) and ``_World`` holds it to
DocumentDB's documented rules (``documentdb_refusal``) and times.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from launchdeck.providers.aws.api import is_mutating

REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_SESSION_TOKEN": "testing", "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION}
MOTO_SETTINGS = {"MOTO_ECS_SERVICE_RUNNING": "1", "MOTO_ACM_VALIDATION_WAIT": "0"}
"""ACM certificates validate at once (``_World`` holds them back); ECS services' counts and
deployments are ``_Fleet``'s."""
SERVICES = ("acm", "application-autoscaling", "codebuild", "ec2", "ecr", "ecs", "elasticache",
            "elbv2", "iam", "logs", "rds", "resourcegroupstaggingapi", "route53", "s3",
            "servicediscovery", "service-quotas", "ssm", "sts")


class MotoServer:
    """moto's server on a free loopback port, in a child process; ``env`` reaches it."""

    def __init__(self, world: World | None = None) -> None:
        self.world = world or FRESH
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
            [sys.executable, "-m", "testkit.aws", str(self.port), json.dumps(self.world.__dict__)],
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

    def configure(self, *, failing: Mapping[str, str] | None = None, **knobs: Any) -> None:
        """Change the account's ``World`` knobs (``codebuild_builds=2`` ...) until the next reset;
        ``failing`` maps an image substring to why its ECS tasks stop (the deployment fails)."""
        data = json.dumps({**knobs, **({"failing": dict(failing)} if failing is not None else {})})
        request = urllib.request.Request(f"{self.url}/launchdeck-world", data=data.encode(), method="POST")
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


def ecs_cluster(boto_session: Any, name: str = "launchdeck") -> None:
    """The ECS cluster ``name``, made as on a new account: the service-linked role first, then
    CreateCluster again while ECS cannot assume the role yet (the fresh account's race)."""
    from botocore.exceptions import ClientError

    iam = session().client("iam")
    if not iam.list_roles(PathPrefix="/aws-service-role/ecs.amazonaws.com/")["Roles"]:
        iam.create_service_linked_role(AWSServiceName="ecs.amazonaws.com")
    for _ in range(200):
        try:
            boto_session.client("ecs").create_cluster(clusterName=name)
            return
        except ClientError as exc:
            if "service linked role" not in str(exc):
                raise
            time.sleep(0.01)
    raise RuntimeError("the ECS service-linked role never became usable")


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


class Chain:
    """The longest chain of AWS calls in which each call waited for the one before, which the
    benchmarks compare with wall time (times a latency added to every call, it is the least
    a deploy could take); ``aws`` gives the provider an ``Aws`` that counts.

    Counted per asyncio task, without the provider's help: a task's chain starts where its
    parent's stood at its first call (its parent's own calls and the tasks the parent started
    that had finished by then: the steps of a ``gather`` before it, the unit a unit waited
    for, a service's build), and each call lengthens it by one. A parent goes on from the
    longest of its children that have finished. A unit that starts after another unit it does
    not wait for has finished is counted after it too: the bound errs long, never short.
    """

    def __init__(self) -> None:
        self.depth = 0
        self._node: ContextVar[_Link | None] = ContextVar("launchdeck_chain", default=None)

    def aws(self, boto_session: Any) -> Any:
        """An ``Aws`` of ``boto_session`` whose calls are counted here."""
        from launchdeck.providers.aws.api import Aws

        chain = self

        class Counted(Aws):
            async def __call__(self, service: str, operation: str, /, **params: Any) -> dict[str, Any]:
                link = chain._link()
                try:
                    return await super().__call__(service, operation, **params)
                finally:
                    chain._step(link)

            async def paginate(self, service: str, operation: str, missing: Any = (), /,
                               **params: Any) -> Any:
                link = chain._link()
                async for page in super().paginate(service, operation, missing, **params):
                    chain._step(link)
                    yield page

        return Counted(boto_session)

    def reset(self) -> None:
        self.depth = 0

    def _link(self) -> _Link:
        import asyncio

        task = asyncio.current_task()
        link = self._node.get()
        if link is None or link.task is not task:
            link = _Link(task, link.level() if link is not None else 0)
            parent = self._node.get()
            if parent is not None:
                parent.children.append(link)
            self._node.set(link)
        return link

    def _step(self, link: _Link) -> None:
        link.depth = link.level() + 1
        self.depth = max(self.depth, link.depth)


@dataclass(eq=False)
class _Link:
    """One task's chain of calls, and the tasks it started."""

    task: Any
    depth: int
    children: list[_Link] = field(default_factory=list)

    def level(self) -> int:
        """Its own chain, or a finished child's when longer."""
        done = [c.level() for c in self.children if c.task is None or c.task.done()]
        return max([self.depth, *done])


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


def _error(status: int, code: str, message: str) -> tuple[Any, dict[str, Any]]:
    """An error as botocore hands it on after parsing AWS's answer (for a ``before-call`` hook)."""
    from botocore.awsrequest import AWSResponse

    return AWSResponse("", status, {}, _Raw(b"")), {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}}}


class StrictViolation(Exception):
    """A request AWS would refuse: the provider has a bug that moto alone would not show."""


_Check = Callable[["Strict", dict[str, Any]], Iterable[str]]
_RULES: dict[tuple[str, str], list[_Check]] = {}


def _rule(service: str, *operations: str) -> Callable[[_Check], _Check]:
    def register(check: _Check) -> _Check:
        for operation in operations:
            _RULES.setdefault((service, operation), []).append(check)
        return check

    return register


def _name(value: Any, what: str, pattern: str, limit: int, rule: str) -> Iterator[str]:
    text = str(value) if value is not None else ""
    if not (1 <= len(text) <= limit and re.fullmatch(pattern, text)):
        yield f"{what} {text!r}: {rule}"


class Strict:
    """Checks every request against AWS's documented rules that moto does not enforce.

    Two kinds of refusal. A request no AWS account would accept (a name, a size, a pair of
    settings outside the documented rules) is a bug in the provider: it raises
    ``StrictViolation`` at once and stays in ``violations``, which the test fixture requires
    to be empty. A request AWS refuses only in the current state of the account (deleting a
    security group a draining task still uses, starting a service that is still draining) is
    answered with the error AWS gives, through a ``before-call`` hook, so that the provider's
    waiting and retrying are exercised as on AWS. The rules are written from the AWS
    documentation, each with the sentence it encodes, and independently of ``names.py``, so
    that a wrong rule there is caught here rather than copied.
    """

    def __init__(self) -> None:
        self.violations: list[str] = []
        self._guard = threading.Lock()
        self._session: Any = None
        self._clients: dict[str, Any] = {}
        self._tokens: dict[str, str] = {}
        """ACM idempotency token -> the domain it was first used for."""
        self._built: dict[str, str] = {}
        """Image URI -> the CodeBuild environment type it was built in."""
        self.users: dict[str, list[tuple[str, str]]] = {}
        """Security group id -> (kind, name) of what was created in it (ECS: ``cluster/service``)."""
        self.subnet_groups: dict[str, list[str]] = {}
        """Cache subnet group -> the replication groups created in it."""
        self._connect: dict[str, set[str]] = {}
        """Cloud Map namespace ARN -> ``cluster/service`` of the ECS services using it."""

    def attach(self, boto_session: Any) -> Strict:
        boto_session.events.register("before-parameter-build", self._check)
        boto_session.events.register("before-call", self._answer)
        return self

    def read(self, service: str) -> Any:
        """A client of a session of its own, unhooked, to read the account's state with."""
        with self._guard:  # hooks run on the provider's worker threads; sessions are not thread-safe
            if service not in self._clients:
                self._session = self._session or session()
                self._clients[service] = self._session.client(service)
            return self._clients[service]

    def problems(self, service: str, operation: str, params: dict[str, Any]) -> list[str]:
        """What the documented rules find wrong with a request, without sending or recording it."""
        found = [problem for check in _RULES.get((service, operation), []) for problem in check(self, params)]
        return [f"{service} {operation}: {problem}" for problem in [*found, *_tags(params)]]

    def _check(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        service = model.service_model.service_name
        found = self.problems(service, model.name, params)
        if found:
            with self._guard:
                self.violations += found
            raise StrictViolation("\n".join(found))
        refusal = _STATE.get((service, model.name))
        answer = refusal(self, params) if refusal else None
        if answer is not None:
            context["launchdeck_refusal"] = answer
        self._remember(service, model.name, params)

    def _answer(self, context: dict[str, Any], **_: Any) -> Any:
        refusal = context.get("launchdeck_refusal")
        return _error(400, *refusal) if refusal else None

    def _remember(self, service: str, operation: str, params: dict[str, Any]) -> None:
        """What later requests are judged by, from what this one asks."""
        with self._guard:
            if (service, operation) == ("ecs", "CreateService"):
                ecs_service = f"{params.get('cluster', 'default')}/{params['serviceName']}"
                vpc = params.get("networkConfiguration", {}).get("awsvpcConfiguration", {})
                for group in vpc.get("securityGroups", []):
                    self.users.setdefault(group, []).append(("ecs", ecs_service))
                namespace = params.get("serviceConnectConfiguration", {}).get("namespace")
                if namespace:
                    self._connect.setdefault(namespace, set()).add(ecs_service)
            elif (service, operation) == ("elasticache", "CreateReplicationGroup"):
                for group in params.get("SecurityGroupIds", []):
                    self.users.setdefault(group, []).append(("elasticache", params["ReplicationGroupId"]))
                self.subnet_groups.setdefault(params.get("CacheSubnetGroupName", ""), []).append(
                    params["ReplicationGroupId"])
            elif (service, operation) == ("docdb", "CreateDBCluster"):
                for group in params.get("VpcSecurityGroupIds", []):
                    self.users.setdefault(group, []).append(("docdb", params["DBClusterIdentifier"]))
            elif (service, operation) == ("rds", "CreateDBInstance"):
                for group in params.get("VpcSecurityGroupIds", []):
                    self.users.setdefault(group, []).append(("rds", params["DBInstanceIdentifier"]))
            elif (service, operation) == ("elbv2", "CreateLoadBalancer"):
                for group in params.get("SecurityGroups", []):
                    self.users.setdefault(group, []).append(("elbv2", params["Name"]))
            elif (service, operation) == ("acm", "RequestCertificate") and params.get("IdempotencyToken"):
                self._tokens.setdefault(params["IdempotencyToken"], params.get("DomainName", ""))
            elif (service, operation) == ("codebuild", "StartBuild"):
                uri = next((v["value"] for v in params.get("environmentVariablesOverride", [])
                            if v["name"] == "IMAGE_URI"), None)
                if uri:
                    self._built[uri] = params.get("environmentTypeOverride", "LINUX_CONTAINER")

    def _alive(self, kind: str, name: str) -> bool:
        """Whether the ECS service, cache, database or load balancer ``name`` still exists."""
        from botocore.exceptions import ClientError

        if kind == "ecs":
            cluster, _, service = name.rpartition("/")
            found = self.read("ecs").describe_services(cluster=cluster, services=[service])
            return any(s["status"] != "INACTIVE" for s in found.get("services", []))
        try:
            if kind == "elasticache":
                self.read("elasticache").describe_replication_groups(ReplicationGroupId=name)
            elif kind == "rds":
                self.read("rds").describe_db_instances(DBInstanceIdentifier=name)
            elif kind == "docdb":
                self.read("docdb").describe_db_clusters(DBClusterIdentifier=name)
            else:
                self.read("elbv2").describe_load_balancers(Names=[name])
        except ClientError:
            return False
        return True


# -- names, sizes and settings no account accepts ---------------------------------------

_FARGATE = {256: [512, 1024, 2048], 512: list(range(1024, 4097, 1024)),
            1024: list(range(2048, 8193, 1024)), 2048: list(range(4096, 16385, 1024)),
            4096: list(range(8192, 30721, 1024)), 8192: list(range(16384, 61441, 4096)),
            16384: list(range(32768, 122881, 8192))}
# RDS PostgreSQL: "Must be 1 to 63 letters or numbers. First character must be a letter. Can't
# be a reserved word for the chosen database engine." ("MasterUsername admin cannot be used as
# it is a reserved word used by the engine"; PostgreSQL's reserved key words.)
_PG_RESERVED = {"admin", "rdsadmin", "user", "all", "select", "table", "order", "group", "default",
                "column", "check", "grant", "union", "where", "from", "to", "end", "do", "limit"}
_REDIS_VERSIONS = {"7.1", "7.0", "6.2", "6.0", "6.x", "5.0.6", "5.0.5", "5.0.4", "5.0.3", "5.0.0",
                   "4.0.10"}
_VALKEY_VERSIONS = {"7.2", "8.0", "8.1"}


@_rule("ecs", "RegisterTaskDefinition")
def _task_definition(strict: Strict, params: dict[str, Any]) -> Iterator[str]:
    # "family ... Up to 255 letters (uppercase and lowercase), numbers, underscores, and
    # hyphens are allowed."
    yield from _name(params.get("family"), "family", r"[A-Za-z0-9_-]+", 255,
                     "up to 255 letters, numbers, underscores and hyphens")
    fargate = "FARGATE" in params.get("requiresCompatibilities", [])
    if fargate:
        # "If you use Fargate, you must use the awsvpc network mode" and "the cpu and memory
        # ... must be one of the supported combinations" (the Fargate task size table)
        if params.get("networkMode") != "awsvpc":
            yield "Fargate tasks must use networkMode awsvpc"
        cpu, memory = int(params.get("cpu", 0)), int(params.get("memory", 0))
        if memory not in _FARGATE.get(cpu, []):
            yield f"cpu {cpu} with memory {memory} is not a Fargate task size"
    arm = params.get("runtimePlatform", {}).get("cpuArchitecture") == "ARM64"
    for container in params.get("containerDefinitions", []):
        # "name ... Up to 255 letters (uppercase and lowercase), numbers, underscores, and
        # hyphens are allowed."
        yield from _name(container.get("name"), "container name", r"[A-Za-z0-9_-]+", 255,
                         "up to 255 letters, numbers, underscores and hyphens")
        for mapping in container.get("portMappings", []):
            # PortMapping name: "The name can include up to 64 characters. The characters can
            # include lowercase letters, numbers, underscores (_), and hyphens (-). The name
            # can't start with a hyphen."
            if "name" in mapping:
                yield from _name(mapping["name"], "port mapping name", r"[a-z0-9_][a-z0-9_-]*", 64,
                                 "up to 64 lowercase letters, numbers, '_' and '-', not starting with '-'")
        health = container.get("healthCheck")
        if health:
            # HealthCheck: interval "5 and 300 seconds", timeout "2 and 60 seconds", retries
            # "1 and 10", startPeriod "0 and 300 seconds"
            for key, low, high in (("interval", 5, 300), ("timeout", 2, 60), ("retries", 1, 10),
                                   ("startPeriod", 0, 300)):
                if key in health and not low <= health[key] <= high:
                    yield f"healthCheck {key} {health[key]} is outside {low}..{high}"
        logs = container.get("logConfiguration", {}).get("logDriver") == "awslogs"
        if fargate and (logs or container.get("secrets")) and not params.get("executionRoleArn"):
            # "The task execution role ... is required ... [for] the awslogs log driver ... [and]
            # sensitive data in Secrets Manager or Parameter Store"
            yield "containers that log to CloudWatch or read secrets need an executionRoleArn"
        built = strict._built.get(container.get("image", ""))
        if arm and built and built != "ARM_CONTAINER":
            # an image built on x86 does not start on ARM64 tasks ("exec format error")
            yield f"image {container['image']} was built in {built}, but the task runs on ARM64"


@_rule("ecs", "CreateService", "UpdateService")
def _ecs_service(strict: Strict, params: dict[str, Any]) -> Iterator[str]:
    if "serviceName" in params:
        # "serviceName ... Up to 255 letters (uppercase and lowercase), numbers, underscores,
        # and hyphens are allowed."
        yield from _name(params["serviceName"], "service name", r"[A-Za-z0-9_-]+", 255,
                         "up to 255 letters, numbers, underscores and hyphens")
    if "healthCheckGracePeriodSeconds" in params and not params.get("loadBalancers"):
        # "If your service's tasks take a while to start and respond to health checks ... This
        # is only used when your service is configured to use a load balancer."
        yield "healthCheckGracePeriodSeconds is only valid with loadBalancers"
    deployment = params.get("deploymentConfiguration", {})
    if not 0 <= deployment.get("minimumHealthyPercent", 100) <= 100 or \
            not 100 <= deployment.get("maximumPercent", 200) <= 200:
        # rolling updates: "minimumHealthyPercent ... 0-100 ... maximumPercent ... 100-200"
        yield "deploymentConfiguration percents are outside their ranges"
    task = None
    if params.get("taskDefinition"):
        task = strict.read("ecs").describe_task_definition(
            taskDefinition=params["taskDefinition"])["taskDefinition"]
    containers = {c["name"]: c for c in (task or {}).get("containerDefinitions", [])}
    ports = {m.get("name") for c in containers.values() for m in c.get("portMappings", [])}
    for balancer in params.get("loadBalancers", []):
        if task and balancer.get("containerName") not in containers:
            yield f"loadBalancers names container {balancer.get('containerName')!r}, not in the task"
    for item in params.get("serviceConnectConfiguration", {}).get("services", []):
        # discoveryName: "The name can contain up to 64 characters. The name can include
        # lowercase letters, numbers, underscores (_), and hyphens (-). The name can't start
        # with a hyphen."
        if "discoveryName" in item:
            yield from _name(item["discoveryName"], "discoveryName", r"[a-z0-9_][a-z0-9_-]*", 64,
                             "up to 64 lowercase letters, numbers, '_' and '-', not starting with '-'")
        # portName: "The portName must match the name of one of the portMappings from all the
        # containers in the task definition of this Amazon ECS service."
        if task and item.get("portName") not in ports:
            yield f"portName {item.get('portName')!r} is not a port mapping name of the task"
        for alias in item.get("clientAliases", []):
            # dnsName: "The name can include up to 127 characters. The name can include
            # lowercase letters, numbers, underscores (_), hyphens (-), and periods (.). The
            # name can't start with a hyphen."
            if "dnsName" in alias:
                yield from _name(alias["dnsName"], "dnsName", r"[a-z0-9_.][a-z0-9_.-]*", 127,
                                 "up to 127 lowercase letters, numbers, '_', '-' and '.'")


@_rule("ecs", "CreateCluster", "CreateService")
def _service_linked_role(strict: Strict, params: dict[str, Any]) -> Iterator[str]:
    # a fresh account has no AWSServiceRoleForECS, and then: "Unable to assume the service
    # linked role. Please verify that the ECS service linked role exists."
    roles = strict.read("iam").list_roles(PathPrefix="/aws-service-role/ecs.amazonaws.com/")
    if not roles["Roles"]:
        yield "the account has no ECS service-linked role (create it with CreateServiceLinkedRole)"


@_rule("codebuild", "StartBuild")
def _start_build(strict: Strict, params: dict[str, Any]) -> Iterator[str]:
    location = params.get("sourceLocationOverride")
    if params.get("sourceTypeOverride") == "S3" and location:
        # "For build input stored in S3 buckets only, you must create a ZIP file that contains
        # only your source code" (or give a folder, ending in /)
        bucket, _, key = location.partition("/")
        if not key.endswith("/"):
            head = strict.read("s3").get_object(Bucket=bucket, Key=key, Range="bytes=0-3")
            if head["Body"].read() != b"PK\x03\x04":
                yield f"S3 source {location} is not a ZIP file"
    kind = params.get("environmentTypeOverride", "LINUX_CONTAINER")
    image = params.get("imageOverride", "aws/codebuild/standard:7.0")
    # ARM_CONTAINER takes the aarch64 curated images, and "ARM_CONTAINER ... supports only
    # BUILD_GENERAL1_SMALL and BUILD_GENERAL1_LARGE"; LINUX_CONTAINER the x86 ones
    if (kind == "ARM_CONTAINER") != ("aarch64" in image):
        yield f"environment type {kind} cannot run image {image}"
    if kind == "ARM_CONTAINER" and params.get("computeTypeOverride", "BUILD_GENERAL1_SMALL") not in (
            "BUILD_GENERAL1_SMALL", "BUILD_GENERAL1_LARGE"):
        yield "ARM_CONTAINER supports only BUILD_GENERAL1_SMALL and BUILD_GENERAL1_LARGE"


# -- Amazon DocumentDB's rules (the DocumentDB API Reference), for moto's process and Strict --

DOCUMENTDB_VERSIONS = ("3.6.0", "4.0.0", "5.0.0", "8.0.0")
"""DescribeDBEngineVersions --engine docdb ("Amazon DocumentDB Features and Configurations")."""
DOCUMENTDB_CLASSES = frozenset({
    "db.t3.medium", "db.t4g.medium",
    *(f"db.r5.{s}" for s in ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge",
                             "24xlarge")),
    *(f"db.{f}.{s}" for f in ("r6g", "r6gd", "r8g") for s in ("large", "xlarge", "2xlarge", "4xlarge",
                                                              "8xlarge", "12xlarge", "16xlarge")),
    "db.serverless"})
"""Instance classes DocumentDB offers: "Amazon DocumentDB supports the R4, R5, R6G, R8G, T3, and
T4G families"; the smallest are db.t3.medium and db.t4g.medium (no micro or small)."""
_DOCUMENTDB_RESERVED = {"admin", "serviceadmin"}
_IDENTIFIER = r"[A-Za-z](?:-?[A-Za-z0-9])*"


def documentdb_refusal(action: str, params: Mapping[str, str]) -> tuple[str, str] | None:
    """The error DocumentDB answers ``action`` with for what ``params`` (query-API form: every
    value a string, booleans ``true``/``false``) ask, whatever the account holds; None if none.
    Passwords are never quoted."""
    def bad_identifier(key: str, limit: int) -> bool:
        value = params.get(key, "")
        return not (1 <= len(value) <= limit and re.fullmatch(_IDENTIFIER, value))

    if action == "CreateDBCluster":
        # DBClusterIdentifier: "Length is [1-63] letters, numbers, or hyphens. First character must
        # be a letter. Cannot end with a hyphen or contain two consecutive hyphens."
        if bad_identifier("DBClusterIdentifier", 63):
            return ("InvalidParameterValue", f"The parameter DBClusterIdentifier is not a valid identifier: "
                    f"{params.get('DBClusterIdentifier', '')!r}")
        version = params.get("EngineVersion", "5.0.0")
        if version not in DOCUMENTDB_VERSIONS:
            return "InvalidParameterCombination", f"Cannot find version {version} for docdb"
        # MasterUsername: "Must be from 1 to 63 letters or numbers. The first character must be a
        # letter. Cannot be a reserved word for the chosen database engine." (required)
        user = params.get("MasterUsername", "")
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,62}", user):
            return ("InvalidParameterValue", "The parameter MasterUsername is not a valid identifier. "
                    "Identifiers must begin with a letter; must contain only ASCII letters and digits.")
        if user.lower() in _DOCUMENTDB_RESERVED:
            return ("InvalidParameterValue", f"MasterUsername {user} cannot be used as it is a reserved "
                    "word used by the engine")
        if "MasterUserPassword" not in params:
            return ("InvalidParameterValue", "The parameter MasterUserPassword must be provided and must "
                    "not be blank.")
    # MasterUserPassword: "Can contain any printable ASCII character except forward slash (/),
    # double quote ("), or the "at" symbol (@). Constraints: Must contain from 8 to 100 characters."
    if action in ("CreateDBCluster", "ModifyDBCluster") and "MasterUserPassword" in params and \
            not re.fullmatch(r"[ !#-.0-?A-~]{8,100}", params["MasterUserPassword"]):
        return ("InvalidParameterValue", "The parameter MasterUserPassword is not a valid password. "
                    "It must be 8 to 100 printable ASCII characters besides '/', '@' and '\"'.")
    if action == "CreateDBInstance":
        if bad_identifier("DBInstanceIdentifier", 63):
            return ("InvalidParameterValue", "The parameter DBInstanceIdentifier is not a valid identifier: "
                    f"{params.get('DBInstanceIdentifier', '')!r}")
        # an instance of DocumentDB belongs to a cluster: "DBClusterIdentifier ... The identifier of
        # the cluster that the instance will belong to." (required)
        if not params.get("DBClusterIdentifier"):
            return "InvalidParameterValue", "The parameter DBClusterIdentifier must be provided for docdb."
        klass = params.get("DBInstanceClass", "")
        if klass not in DOCUMENTDB_CLASSES:
            return ("InvalidParameterCombination", "RDS does not support creating a DB instance with the "
                    f"following combination: DBInstanceClass={klass}, Engine=docdb.")
    if action == "DeleteDBCluster":
        skip = params.get("SkipFinalSnapshot", "false") == "true"
        final = params.get("FinalDBSnapshotIdentifier")
        # "SkipFinalSnapshot ... If true is specified, no cluster snapshot is created. If false is
        # specified, a cluster snapshot is created before the DB cluster is deleted. ... The
        # FinalDBSnapshotIdentifier parameter must be specified if SkipFinalSnapshot is false.
        # Default: false"
        if not skip and not final:
            return ("InvalidParameterValue", "FinalDBSnapshotIdentifier is required unless "
                    "SkipFinalSnapshot is specified.")
        if skip and final:
            return ("InvalidParameterCombination", "FinalDBSnapshotIdentifier can not be specified when "
                    "SkipFinalSnapshot is true.")
        # FinalDBSnapshotIdentifier: "Must be from 1 to 255 letters, numbers, or hyphens. The first
        # character must be a letter. Cannot end with a hyphen or contain two consecutive hyphens."
        if final is not None and bad_identifier("FinalDBSnapshotIdentifier", 255):
            return ("InvalidParameterValue", f"The parameter FinalDBSnapshotIdentifier is not a valid "
                    f"identifier: {final!r}")
    return None


def _query_form(params: Mapping[str, Any]) -> dict[str, str]:
    """botocore's parameters as the query API sends the scalar ones (booleans as true/false)."""
    return {k: ("true" if v else "false") if isinstance(v, bool) else str(v)
            for k, v in params.items() if not isinstance(v, (list, dict))}


def _documentdb_rule(operation: str) -> _Check:
    def check(strict: Strict, params: dict[str, Any]) -> Iterator[str]:
        refused = documentdb_refusal(operation, _query_form(params))
        if refused is not None:
            yield refused[1]

    return check


for _operation in ("CreateDBCluster", "ModifyDBCluster", "CreateDBInstance", "DeleteDBCluster"):
    _rule("docdb", _operation)(_documentdb_rule(_operation))


@_rule("rds", "CreateDBInstance")
def _db_instance(strict: Strict, params: dict[str, Any]) -> Iterator[str]:
    # DBInstanceIdentifier: "Must contain from 1 to 63 letters, numbers, or hyphens. First
    # character must be a letter. Can't end with a hyphen or contain two consecutive hyphens."
    yield from _name(params.get("DBInstanceIdentifier"), "DB instance identifier",
                     r"[A-Za-z](?:-?[A-Za-z0-9])*", 63,
                     "a letter first, letters, numbers and single hyphens, not ending with one")
    if params.get("Engine") == "postgres":
        user = params.get("MasterUsername", "")
        yield from _name(user, "MasterUsername", r"[A-Za-z][A-Za-z0-9]*", 63,
                         "1 to 63 letters or numbers, a letter first")
        if user.lower() in _PG_RESERVED:
            yield f"MasterUsername {user} cannot be used as it is a reserved word used by the engine"
        if "DBName" in params:
            # DBName: "Must contain 1 to 63 letters, numbers, or underscores. Must begin with a
            # letter. ... Can't be a word reserved by the database engine."
            yield from _name(params["DBName"], "DBName", r"[A-Za-z][A-Za-z0-9_]*", 63,
                             "1 to 63 letters, numbers or underscores, a letter first")
            if params["DBName"].lower() in _PG_RESERVED | {"postgres", "template0", "template1"}:
                yield f"DBName {params['DBName']} is reserved"
        # EngineVersion: the versions DescribeDBEngineVersions lists ("Cannot find version 15.4
        # for postgres" once a minor is retired); majors 11 to 17 are offered
        if not re.fullmatch(r"1[1-7](\.\d+)?", str(params.get("EngineVersion", "17"))):
            yield f"RDS offers no PostgreSQL {params.get('EngineVersion')}"
        # gp3 for PostgreSQL: "20-65,536 GiB"
        if not 20 <= params.get("AllocatedStorage", 20) <= 65536:
            yield "AllocatedStorage must be 20 to 65536 GiB"
    yield from _password(params.get("MasterUserPassword"))


@_rule("rds", "ModifyDBInstance")
def _db_modify(strict: Strict, params: dict[str, Any]) -> Iterator[str]:
    if "MasterUserPassword" in params:
        yield from _password(params["MasterUserPassword"])


def _password(password: Any) -> Iterator[str]:
    # MasterUserPassword: "Must contain from 8 to 128 characters" and "Can include any printable
    # ASCII character except "/", """, or "@". Can't contain spaces." (never quoted here)
    if password is not None and not re.fullmatch(r"[!#-.0-?A-~]{8,128}", str(password)):
        yield "MasterUserPassword must be 8 to 128 printable ASCII characters without / \" @ or spaces"


@_rule("rds", "DeleteDBInstance")
def _db_delete(strict: Strict, params: dict[str, Any]) -> Iterator[str]:
    if not params.get("SkipFinalSnapshot"):
        # FinalDBSnapshotIdentifier: "Must be 1 to 255 letters, numbers, or hyphens. First
        # character must be a letter. Can't end with a hyphen or contain two consecutive hyphens."
        yield from _name(params.get("FinalDBSnapshotIdentifier"), "FinalDBSnapshotIdentifier",
                         r"[A-Za-z](?:-?[A-Za-z0-9])*", 255,
                         "a letter first, letters, numbers and single hyphens, not ending with one")


@_rule("rds", "CreateDBSubnetGroup")
def _db_subnet_group(strict: Strict, params: dict[str, Any]) -> Iterator[str]:
    # DBSubnetGroupName: "Must contain no more than 255 letters, numbers, periods, underscores,
    # spaces, or hyphens. Must not be default."
    yield from _name(params.get("DBSubnetGroupName"), "DBSubnetGroupName", r"(?!default$)[\w. -]+", 255,
                     "up to 255 letters, numbers, periods, underscores, spaces or hyphens")
    # "The DB subnet group doesn't meet Availability Zone (AZ) coverage requirement ... Add
    # subnets to cover at least 2 AZs."
    subnets = strict.read("ec2").describe_subnets(SubnetIds=params.get("SubnetIds", []))
    if len({s["AvailabilityZone"] for s in subnets["Subnets"]}) < 2:
        yield "a DB subnet group must cover at least 2 Availability Zones"


@_rule("elasticache", "CreateReplicationGroup")
def _replication_group(strict: Strict, params: dict[str, Any]) -> Iterator[str]:
    # ReplicationGroupId: "A name must contain from 1 to 40 alphanumeric characters or hyphens.
    # The first character must be a letter. A name cannot end with a hyphen or contain two
    # consecutive hyphens."
    yield from _name(params.get("ReplicationGroupId"), "ReplicationGroupId", r"[A-Za-z](?:-?[A-Za-z0-9])*",
                     40, "1 to 40 letters, numbers and single hyphens, a letter first")
    if not params.get("ReplicationGroupDescription"):
        yield "ReplicationGroupDescription is required and may not be empty"
    engine, version = params.get("Engine", "redis"), str(params.get("EngineVersion", ""))
    # "Supported engine versions": Redis OSS 7.1, 7.0, 6.2, 6.0, 5.0.6 ...; Valkey 7.2, 8.0, 8.1
    offered = {"redis": _REDIS_VERSIONS, "valkey": _VALKEY_VERSIONS}.get(engine)
    if offered is None:
        yield f"engine {engine} is not redis or valkey"
    elif version and version not in offered:
        yield f"ElastiCache offers no {engine} {version}"
    if not 1 <= params.get("NumCacheClusters", 1) <= 6:
        yield "NumCacheClusters must be 1 to 6"
    # AutomaticFailoverEnabled: "If true, Multi-AZ is enabled for this replication group ...
    # AutomaticFailoverEnabled must be enabled for Redis OSS (cluster mode enabled)
    # replication groups", and NumCacheClusters: "If AutomaticFailoverEnabled is true, the
    # value of this parameter must be at least 2"; MultiAZEnabled needs automatic failover
    if params.get("AutomaticFailoverEnabled") and params.get("NumCacheClusters", 1) < 2:
        yield "AutomaticFailoverEnabled needs NumCacheClusters of at least 2"
    if params.get("MultiAZEnabled") and not params.get("AutomaticFailoverEnabled"):
        yield "MultiAZEnabled needs AutomaticFailoverEnabled"


@_rule("elasticache", "DecreaseReplicaCount")
def _fewer_replicas(strict: Strict, params: dict[str, Any]) -> Iterator[str]:
    # "you can't decrease the number of replicas to zero while Multi-AZ with automatic failover
    # is enabled" (ElastiCache User Guide, "Decreasing the number of replicas")
    group = strict.read("elasticache").describe_replication_groups(
        ReplicationGroupId=params.get("ReplicationGroupId", ""))["ReplicationGroups"][0]
    if params.get("NewReplicaCount") == 0 and group.get("AutomaticFailover") == "enabled":
        yield "a group with automatic failover keeps at least one replica"


@_rule("ecs", "CreateService", "UpdateService")
def _capacity_providers(strict: Strict, params: dict[str, Any]) -> Iterator[str]:
    strategy = params.get("capacityProviderStrategy")
    if not strategy:
        return
    # "If a capacityProviderStrategy is specified, the launchType parameter must be omitted."
    if params.get("launchType"):
        yield "launchType and capacityProviderStrategy cannot both be given"
    # "The specified capacity provider strategy cannot contain a capacity provider that is not
    # associated with the cluster."
    cluster = strict.read("ecs").describe_clusters(clusters=[params.get("cluster", "default")])
    have = set((cluster["clusters"] or [{}])[0].get("capacityProviders") or [])
    for item in strategy:
        if item.get("capacityProvider") not in have:
            yield f"capacity provider {item.get('capacityProvider')} is not associated with the cluster"


@_rule("elasticache", "CreateCacheSubnetGroup")
def _cache_subnet_group(strict: Strict, params: dict[str, Any]) -> Iterator[str]:
    # CacheSubnetGroupName: "Must contain no more than 255 alphanumeric characters or hyphens."
    yield from _name(params.get("CacheSubnetGroupName"), "CacheSubnetGroupName", r"[A-Za-z0-9-]+", 255,
                     "up to 255 letters, numbers or hyphens")


@_rule("iam", "CreateRole")
def _iam_role(strict: Strict, params: dict[str, Any]) -> Iterator[str]:
    # RoleName: "Length Constraints: Minimum length of 1. Maximum length of 64. Pattern: [\w+=,.@-]+"
    yield from _name(params.get("RoleName"), "RoleName", r"[\w+=,.@-]+", 64, "up to 64 of [\\w+=,.@-]")
    if len(params.get("Description", "")) > 1000:
        yield "Description is longer than 1000 characters"


@_rule("iam", "PutRolePolicy")
def _iam_policy(strict: Strict, params: dict[str, Any]) -> Iterator[str]:
    yield from _name(params.get("PolicyName"), "PolicyName", r"[\w+=,.@-]+", 128, "up to 128 of [\\w+=,.@-]")
    # "Role policy size cannot exceed 10,240 characters" (all inline policies of the role)
    iam = strict.read("iam")
    others = [p for p in iam.list_role_policies(RoleName=params["RoleName"])["PolicyNames"]
              if p != params.get("PolicyName")]
    size = len(re.sub(r"\s", "", params.get("PolicyDocument", "")))
    for name in others:
        document = iam.get_role_policy(RoleName=params["RoleName"], PolicyName=name)["PolicyDocument"]
        size += len(re.sub(r"\s", "", document if isinstance(document, str) else json.dumps(document)))
    if size > 10240:
        yield f"the role's inline policies add up to {size} characters, over 10,240"


@_rule("elbv2", "CreateLoadBalancer", "CreateTargetGroup")
def _elb_name(strict: Strict, params: dict[str, Any]) -> Iterator[str]:
    # Name: "This name must be unique per region per account, can have a maximum of 32
    # characters, must contain only alphanumeric characters or hyphens, and must not begin or
    # end with a hyphen." (and a load balancer's "must not begin with "internal-"")
    yield from _name(params.get("Name"), "name", r"(?!internal-)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?", 32,
                     "up to 32 letters, numbers and hyphens, not beginning or ending with a hyphen")
    if "HealthCheckPath" in params and not re.fullmatch(r"/\S{0,1023}", params["HealthCheckPath"]):
        yield "HealthCheckPath must start with / and be at most 1024 characters"
    if "Subnets" in params and params.get("Type", "application") == "application":
        # "You must specify subnets from at least two Availability Zones."
        subnets = strict.read("ec2").describe_subnets(SubnetIds=params["Subnets"])
        if len({s["AvailabilityZone"] for s in subnets["Subnets"]}) < 2:
            yield "an Application Load Balancer needs subnets in at least two Availability Zones"


@_rule("elbv2", "CreateListener", "ModifyListener")
def _listener(strict: Strict, params: dict[str, Any]) -> Iterator[str]:
    # Certificates: "[HTTPS and TLS listeners] The default certificate for the listener. You
    # must provide exactly one certificate."
    if params.get("Protocol") == "HTTPS" and len(params.get("Certificates", [])) != 1:
        yield "an HTTPS listener needs exactly one default certificate"


@_rule("elbv2", "CreateRule")
def _listener_rule(strict: Strict, params: dict[str, Any]) -> Iterator[str]:
    # Priority: "Valid Range: Minimum value of 1. Maximum value of 50000."
    if not 1 <= params.get("Priority", 0) <= 50000:
        yield "Priority must be 1 to 50000"


@_rule("acm", "RequestCertificate")
def _certificate(strict: Strict, params: dict[str, Any]) -> Iterator[str]:
    token, domain = params.get("IdempotencyToken"), params.get("DomainName", "")
    if token is None:
        return
    # IdempotencyToken: "Length Constraints: Minimum length of 1. Maximum length of 32.
    # Pattern: \w+"
    yield from _name(token, "IdempotencyToken", r"\w+", 32, "1 to 32 word characters")
    # "If you call RequestCertificate multiple times with the same idempotency token within one
    # hour, ACM recognizes that you are requesting only one certificate and will issue only
    # one": another domain under the same token would get the first domain's certificate
    first = strict._tokens.get(token, domain)
    if first != domain:
        yield f"IdempotencyToken {token} was used for {first} already; {domain} would get its certificate"


@_rule("ec2", "CreateSecurityGroup")
def _security_group(strict: Strict, params: dict[str, Any]) -> Iterator[str]:
    # GroupName / Description: "Constraints: Up to 255 characters in length ... a-z, A-Z, 0-9,
    # spaces, and ._-:/()#,@[]+=&;{}!$*"; "You can't start the group name with sg-."
    allowed = r"[A-Za-z0-9 ._\-:/()#,@\[\]+=&;{}!$*]+"
    yield from _name(params.get("GroupName"), "GroupName", rf"(?!sg-){allowed}", 255,
                     "up to 255 of a-z A-Z 0-9 spaces ._-:/()#,@[]+=&;{}!$*, not starting with sg-")
    yield from _name(params.get("Description"), "Description", allowed, 255,
                     "up to 255 of a-z A-Z 0-9 spaces ._-:/()#,@[]+=&;{}!$*")


@_rule("servicediscovery", "CreateHttpNamespace")
def _namespace(strict: Strict, params: dict[str, Any]) -> Iterator[str]:
    # Name: "Length Constraints: Maximum length of 1024. Pattern: ^[!-~]{1,1024}$"
    yield from _name(params.get("Name"), "namespace name", r"[!-~]+", 1024, "1 to 1024 of [!-~]")


@_rule("logs", "CreateLogGroup")
def _log_group(strict: Strict, params: dict[str, Any]) -> Iterator[str]:
    # logGroupName: "Length Constraints: Minimum length of 1. Maximum length of 512. Pattern:
    # [\.\-_/#A-Za-z0-9]+"
    yield from _name(params.get("logGroupName"), "log group", r"[.\-_/#A-Za-z0-9]+", 512,
                     "up to 512 of [.-_/#A-Za-z0-9]")


@_rule("logs", "PutRetentionPolicy")
def _retention(strict: Strict, params: dict[str, Any]) -> Iterator[str]:
    # retentionInDays: "Possible values are: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365,
    # 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, and 3653."
    if params.get("retentionInDays") not in (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400,
                                             545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653):
        yield f"retentionInDays {params.get('retentionInDays')} is not one CloudWatch offers"


@_rule("ssm", "PutParameter")
def _parameter(strict: Strict, params: dict[str, Any]) -> Iterator[str]:
    # Name: "Parameter names can consist of these symbols and letters only: a-zA-Z0-9_.-" (and
    # / for hierarchies); "can't be prefixed with "aws" or "ssm""; "A parameter name can't
    # include more than 15 hierarchy levels"; "The maximum length ... is 1011 characters"
    name = str(params.get("Name", ""))
    yield from _name(name, "parameter name", r"(?!/?(?:aws|ssm))[A-Za-z0-9_.\-/]+", 1011,
                     "up to 1011 of a-zA-Z0-9_.-/, not beginning with aws or ssm")
    if name.count("/") > 15:
        yield f"parameter {name} has more than 15 hierarchy levels"
    # Value: "Standard parameters have a value limit of 4 KB."
    if len(str(params.get("Value", "")).encode()) > 4096 and params.get("Tier", "Standard") == "Standard":
        yield "a Standard parameter's value is limited to 4 KB"
    # "Tags ... You can't use tags with the Overwrite parameter" (ValidationException: "Invalid
    # request: tags and overwrite can't be used together.")
    if params.get("Tags") and params.get("Overwrite"):
        yield "Tags and Overwrite cannot be used together"


@_rule("ecr", "CreateRepository")
def _repository(strict: Strict, params: dict[str, Any]) -> Iterator[str]:
    # repositoryName: "Length Constraints: Minimum length of 2. Maximum length of 256. Pattern:
    # (?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*"
    yield from _name(params.get("repositoryName"), "repository name",
                     r"(?=.{2})(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*", 256,
                     "lowercase words joined by . _ - and /")


def _tags(params: dict[str, Any]) -> Iterator[str]:
    """Tag limits, wherever a request carries tags: "Maximum number of tags per resource – 50",
    "Maximum key length – 128 Unicode characters", "Maximum value length – 256 Unicode
    characters", and "Do not use aws:, AWS:, or any upper or lowercase combination of such as
    a prefix for either keys or values"."""
    lists = [params.get("Tags"), params.get("tags"), (params.get("Tagging") or {}).get("TagSet")]
    lists += [spec.get("Tags") for spec in params.get("TagSpecifications", [])]
    for tags in lists:
        if isinstance(tags, dict):  # CloudWatch Logs takes a map
            tags = [{"Key": k, "Value": v} for k, v in tags.items()]
        if not tags:
            continue
        if len(tags) > 50:
            yield f"{len(tags)} tags, over the 50 a resource may carry"
        for tag in tags:
            key, value = str(tag.get("Key", tag.get("key", ""))), str(tag.get("Value", tag.get("value", "")))
            if not 1 <= len(key) <= 128 or len(value) > 256 or key.lower().startswith("aws:"):
                yield f"tag {key!r} breaks the tag limits"


# -- what AWS refuses in the account's current state ------------------------------------

_Refusal = Callable[[Strict, dict[str, Any]], "tuple[str, str] | None"]


def _draining(strict: Strict, params: dict[str, Any]) -> tuple[str, str] | None:
    """CreateService of a name whose service was deleted a moment ago and still drains."""
    found = strict.read("ecs").describe_services(cluster=params.get("cluster", "default"),
                                                           services=[params["serviceName"]])
    if any(s["status"] == "DRAINING" for s in found.get("services", [])):
        return "InvalidParameterException", "Unable to Start a service that is still Draining."
    return None


def _group_in_use(strict: Strict, params: dict[str, Any]) -> tuple[str, str] | None:
    """DeleteSecurityGroup while a task, cache, database or load balancer is still in it, or
    while another group's rule names it ("you can't delete a security group that is
    referenced by a rule in another security group in the same VPC")."""
    group = params.get("GroupId", "")
    for kind, name in strict.users.get(group, []):
        if strict._alive(kind, name):
            return "DependencyViolation", f"resource {group} has a dependent object"
    found = strict.read("ec2").describe_security_groups(
        Filters=[{"Name": "ip-permission.group-id", "Values": [group]}])["SecurityGroups"]
    if any(g["GroupId"] != group for g in found):
        return "DependencyViolation", f"resource {group} has a dependent object"
    return None


def _namespace_in_use(strict: Strict, params: dict[str, Any]) -> tuple[str, str] | None:
    """DeleteNamespace while ECS services still use it through Service Connect."""
    for namespace, users in strict._connect.items():
        if namespace.endswith("/" + params.get("Id", "")) and \
                any(strict._alive("ecs", name) for name in users):
            return "ResourceInUse", "The namespace has services registered: Service Connect still uses it"
    return None


def _subnet_group_in_use(strict: Strict, params: dict[str, Any]) -> tuple[str, str] | None:
    """DeleteCacheSubnetGroup while a replication group (deleting ones too) is in it."""
    name = params.get("CacheSubnetGroupName", "")
    if any(strict._alive("elasticache", group) for group in strict.subnet_groups.get(name, [])):
        return "CacheSubnetGroupInUse", f"Cache subnet group {name} is currently in use by a cache cluster."
    return None


_STATE: dict[tuple[str, str], _Refusal] = {
    ("ecs", "CreateService"): _draining,
    ("ec2", "DeleteSecurityGroup"): _group_in_use,
    ("servicediscovery", "DeleteNamespace"): _namespace_in_use,
    ("elasticache", "DeleteCacheSubnetGroup"): _subnet_group_in_use,
}


class Latency:
    """Delays every request by ``seconds``, as a far-away API would."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def attach(self, boto_session: Any) -> Latency:
        boto_session.events.register("before-send", self._wait)
        return self

    def _wait(self, **_: Any) -> None:
        time.sleep(self.seconds)


def codebuild_pushes(boto_session: Any, failing: Mapping[str, str] | None = None) -> None:
    """Make each CodeBuild build put its image in ECR, as a real build's push does.

    moto's builds succeed at once but push nothing; without this, every deploy would find
    the image missing and build again. The push goes through a session of its own, so fault
    injection and call counting on ``boto_session`` do not see it.

    A build whose image URI contains a key of ``failing`` fails instead, as a real one whose
    ``docker build`` prints that key's value and exits 1: nothing is pushed, BatchGetBuilds
    shows it FAILED with the build phase FAILED and its PhaseContext (``statusCode``
    COMMAND_EXECUTION_ERROR, ``message`` "Error while executing command: <command>. Reason:
    exit status 1"), and its log is in CloudWatch Logs where the project's ``logsConfig``
    sends it (the stream is the build id's UUID), the error among its last lines.
    """
    pusher = session()
    ecr = pusher.client("ecr")  # made once: making a client takes longer than a build's start
    failing = dict(failing or {})
    failed: dict[str, str] = {}
    """Build id -> the line its docker build failed with."""
    logged: set[str] = set()

    def push(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        variables = {v["name"]: v["value"] for v in params.get("environmentVariablesOverride", [])}
        uri = variables.get("IMAGE_URI")
        if not uri:
            return
        error = next((text for needle, text in failing.items() if needle in uri), None)
        if error is not None:
            context["launchdeck_build_fails"] = error
            return
        repository, tag = uri.split("/", 1)[1].rsplit(":", 1)
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                    "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                               "size": 2, "digest": "sha256:" + "0" * 64},
                    # another build's image is another image: moto's digest is made of the layers'
                    "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                                "size": 2, "digest": "sha256:" + hashlib.sha256(uri.encode()).hexdigest()}]}
        # the same build started again after a failed start_build
        with contextlib.suppress(ecr.exceptions.ImageAlreadyExistsException):
            ecr.put_image(repositoryName=repository, imageTag=tag, imageManifest=json.dumps(manifest))

    def started(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if "launchdeck_build_fails" in context and "build" in parsed:
            failed[parsed["build"]["id"]] = context["launchdeck_build_fails"]

    def fail(parsed: dict[str, Any], **_: Any) -> None:
        for build in parsed.get("builds", []):
            if build.get("id") in failed:
                _failed_build(pusher, build, failed[build["id"]], log=build["id"] not in logged)
                logged.add(build["id"])

    boto_session.events.register("before-parameter-build.codebuild.StartBuild", push)
    boto_session.events.register("after-call.codebuild.StartBuild", started)
    boto_session.events.register("after-call.codebuild.BatchGetBuilds", fail)


def _failed_build(pusher: Any, build: dict[str, Any], error: str, *, log: bool) -> None:
    """Turn moto's answer for ``build`` into a failed build's, and write its log if ``log``."""
    import yaml

    project = pusher.client("codebuild").batch_get_projects(names=[build["projectName"]])["projects"][0]
    spec = yaml.safe_load(project["source"].get("buildspec") or "{}") or {}
    commands = {phase: (spec.get("phases", {}).get(phase) or {}).get("commands", [])
                for phase in ("build", "post_build")}
    command = " ".join(str(commands["build"][0]).split()) if commands["build"] else "docker build ."
    reasons = {phase.upper(): f"Error while executing command: {' '.join(str(c[0]).split())}. "
                              "Reason: exit status 1" for phase, c in commands.items() if c}
    reasons.setdefault("BUILD", f"Error while executing command: {command}. Reason: exit status 1")
    # a failed build phase fails post_build too: the buildspec's push runs only on success
    reached = {p.get("phaseType") for p in build.get("phases", [])}
    build["phases"] = [*build.get("phases", []), *[{"phaseType": p} for p in ("BUILD", "POST_BUILD")
                                                   if p not in reached]]
    for phase in build.get("phases", []):
        if phase["phaseType"] in reasons:
            phase["phaseStatus"] = "FAILED"
            phase["contexts"] = [{"statusCode": "COMMAND_EXECUTION_ERROR",
                                  "message": reasons[phase["phaseType"]]}]
    build.update(buildStatus="FAILED", currentPhase="COMPLETED", buildComplete=True)
    group = project.get("logsConfig", {}).get("cloudWatchLogs", {}).get("groupName") \
        or f"/aws/codebuild/{build['projectName']}"
    stream = build["id"].rsplit(":", 1)[-1]
    build["logs"] = {**build.get("logs", {}), "groupName": group, "streamName": stream}
    if not log:
        return
    logs = pusher.client("logs")
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    now = int(time.time() * 1000)
    stamp = time.strftime("%Y/%m/%d %H:%M:%S", time.gmtime())
    lines = [f"[Container] {stamp} Entering phase BUILD", f"[Container] {stamp} Running command {command}",
             error,
             f"[Container] {stamp} Command did not exit successfully {command} exit status 1",
             f"[Container] {stamp} Phase complete: BUILD State: FAILED",
             f"[Container] {stamp} Phase context status code: COMMAND_EXECUTION_ERROR "
             f"Message: {reasons['BUILD']}"]
    logs.put_log_events(logGroupName=group, logStreamName=stream,
                        logEvents=[{"timestamp": now, "message": line} for line in lines])


# -- moto as a new account on its first day -----------------------------------------------

TIME_SCALE = 0.001
"""Seconds here for each second AWS takes (one real minute is 60 ms): the default knob."""

REAL: dict[str, float] = {
    # RDS: "It can take several minutes for the new DB instance to become available" (CreateDBInstance,
    # RDS User Guide); a db.t4g.micro PostgreSQL instance is commonly 5-10 minutes.
    "rds.create": 600.0,
    # ElastiCache: the replication group is "creating" for several minutes before "available"
    # (Creating a Redis OSS replication group, ElastiCache User Guide); ~6-10 minutes.
    "elasticache.create": 480.0,
    # ACM DNS validation: "it can take up to 30 minutes" after the CNAME is in the zone (ACM User
    # Guide, DNS validation); with Route 53 it is usually a couple of minutes.
    "acm.validate": 120.0,
    # CodeBuild: QUEUED + PROVISIONING (about 30-60 s on a small on-demand fleet), DOWNLOAD_SOURCE,
    # PRE_BUILD (ECR login), BUILD (docker build), POST_BUILD (docker push).
    "codebuild.queued": 5.0, "codebuild.provisioning": 45.0, "codebuild.build": 120.0,
    "codebuild.post_build": 20.0,
    # ECS tasks on Fargate go PROVISIONING (capacity found, the task's network interface made and
    # attached) -> PENDING (the image pulled, the containers started) -> RUNNING ("Task lifecycle",
    # ECS Developer Guide, https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-lifecycle-explanation.html);
    # together about a minute for a small image. A new task then counts as healthy once its targets
    # pass the load balancer's health check (a few 10-30 s intervals), and a rolling deployment
    # stops an old task for each healthy new one.
    "ecs.provisioning": 20.0, "ecs.pending": 30.0, "ecs.healthy": 40.0,
    # An old or deleted service's task stops after its target's deregistration delay (launchdeck
    # sets 30 s) and the container's stop timeout ("stopTimeout ... 30 seconds" by default).
    "ecs.stopping": 30.0,
    # A task that cannot be placed (the account's Fargate vCPU quota is used up) is tried again in a
    # later cycle of the service scheduler; the interval is not documented (aws/containers-roadmap#1583
    # asks for it), a minute is taken.
    "ecs.placement_retry": 60.0,
    # ECS drains a deleted service until its tasks stop (the target group's deregistration delay,
    # 300 s by default), then it is INACTIVE.
    "ecs.drain": 300.0,
    "elasticache.delete": 300.0,
    # DocumentDB: a new cluster is "creating" for some minutes, then its instance for more ("It can
    # take up to 10 minutes for the instance to be available", Creating an Amazon DocumentDB
    # cluster); the instance uses rds.create. A deleted cluster is "deleting" while its final
    # snapshot is taken; a new master password puts it in "resetting-master-credentials".
    "docdb.create": 180.0,
    "docdb.delete": 240.0,
    "docdb.modify": 60.0,
    # IAM: "changes ... take time to become visible ... a few seconds" (IAM User Guide, "Changes
    # that I make are not always immediately visible"); a new role is refused by the services
    # that assume it meanwhile.
    "iam.role": 10.0,
    # ECS makes AWSServiceRoleForECS and assumes it at once; the first CreateCluster of an account
    # fails ("Unable to assume the service linked role", aws-cloudformation/cloudformation-
    # coverage-roadmap#818, awslabs/fargatecli#35, 1Password/scim-examples#356).
    "iam.service_linked_role": 10.0,
    # EC2: "If you successfully run the CreateSecurityGroup command, and then immediately run
    # another command using the ID ... it may return an InvalidGroup.NotFound error" (EC2 API
    # Reference, Eventual consistency; aws/aws-sdk-js#318, boto/boto3#620).
    "ec2.visible": 5.0,
    # Tagging API: GetResources returns "tagged or previously tagged resources" and lists deleted
    # ones for minutes to hours (boto/boto3#3341, aws/aws-cli#8197, aws/aws-sdk#302).
    "tagging.ghost": 600.0,
}
"""What AWS takes, in its own seconds, with where each figure comes from."""


@dataclass(frozen=True)
class World:
    """How the moto account behaves. ``FRESH`` (the default everywhere) is a new account on its
    first day; ``LAX`` (everything instant and allowed) is there to compare with, used by no test.

    Every window also waits until it has been met once: on any machine, however slow, the call
    right after the creation meets the refusal, and the state right after it is still going."""

    scale: float = TIME_SCALE
    consistency: bool = True
    """Just-made EC2 things and IAM roles not yet usable, nor a role's new inline policy (for the
    parameters a build reads); the ECS service-linked role race; the tagging API listing what
    was just deleted."""
    codebuild_builds: int = 1
    """Concurrent builds the account may run ("Cannot have more than 1 builds in queue for the
    account" on new accounts: aws-samples/aws-gateway-load-balancer-suricata-ids-ips-nsm#12,
    awslabs/landing-zone-accelerator-on-aws#249); 0 is no limit."""
    fargate_vcpu: float = 6.0
    """The account's "Fargate On-Demand vCPU resource count" (L-3032A538) in Service Quotas, which
    ECS holds every task of the account to as it places it (``_Fleet``)."""
    local_zones: tuple[str, ...] = ()
    """Local Zones the account has opted in to (``us-east-1-bos-1a``): DescribeAvailabilityZones
    lists them beside the Region's Availability Zones, in name order, with ZoneType local-zone
    ("Describes the Availability Zones, Local Zones, and Wavelength Zones that are available to
    you", EC2 API Reference). Fargate does not run in them."""
    codebuild_role_checked: bool = True
    """Whether a build is held to what its project's role allows (``_build_failure``)."""
    dockerhub_anonymous: bool = True
    """Whether Docker Hub serves the builds' anonymous pulls. CodeBuild pulls from addresses many
    accounts share, which meet Docker Hub's per-address limit for anonymous pulls; ``False``: the
    limit is reached, and a build whose Dockerfile pulls from Docker Hub without ``docker login``
    fails with Docker Hub's words (``DOCKERHUB_REFUSAL``)."""

    def seconds(self, what: str) -> float:
        return REAL[what] * self.scale


FRESH = World()
LAX = World(scale=0.0, consistency=False, codebuild_builds=0, fargate_vcpu=4000.0,
            codebuild_role_checked=False)

_PHASES = ("SUBMITTED", "QUEUED", "PROVISIONING", "DOWNLOAD_SOURCE", "INSTALL", "PRE_BUILD", "BUILD",
           "POST_BUILD", "UPLOAD_ARTIFACTS", "FINALIZING")
_ELSEWHERE = {
    # RDS CreateDBSubnetGroup: "InvalidSubnet: The requested subnet is invalid, or multiple subnets
    # were requested that are not all in a common VPC" (RDS API Reference, Errors); right after
    # the subnets were made (aws-cloudformation/aws-cloudformation-resource-providers-rds#221,
    # floci-io/floci#2937: "the same call succeeds once state settles").
    ("rds", "CreateDBSubnetGroup"): {
        "subnet": ("InvalidSubnet", "The requested subnet is invalid, or multiple subnets were "
                                    "requested that are not all in a common VPC.")},
    # ElastiCache CreateCacheSubnetGroup naming a subnet it does not know: "InvalidParameterValue
    # — Some input subnets in :[…] are invalid." (as AWS answers it, floci-io/floci#2401).
    ("elasticache", "CreateCacheSubnetGroup"): {
        "subnet": ("InvalidParameterValue", "Some input subnets in :[{}] are invalid.")},
    # ELBv2 CreateLoadBalancer: "SubnetNotFound: The specified subnet does not exist.",
    # "InvalidSecurityGroup: The specified security group does not exist." (ELBv2 API Reference).
    ("elasticloadbalancing", "CreateLoadBalancer"): {  # ELBv2 signs as elasticloadbalancing
        "subnet": ("SubnetNotFound", "The specified subnet does not exist."),
        "sg": ("InvalidSecurityGroup", "The specified security group does not exist.")},
}
"""Calls of other services that name EC2 subnets or groups, and how each refuses one EC2 made a
moment ago (``ec2.visible``, a window of each service's own: each meets the lag once), by the
kind of ID."""
_EC2_IDS = {"sg-": ("InvalidGroup.NotFound", "The security group '{}' does not exist"),
            "vpc-": ("InvalidVpcID.NotFound", "The vpc ID '{}' does not exist"),
            "subnet-": ("InvalidSubnetID.NotFound", "The subnet ID '{}' does not exist"),
            "igw-": ("InvalidInternetGatewayID.NotFound", "The internetGateway ID '{}' does not exist"),
            "rtb-": ("InvalidRouteTableID.NotFound", "The routeTable ID '{}' does not exist")}
_MADE_IDS = re.compile(r"<(?:groupId|vpcId|subnetId|internetGatewayId|routeTableId)>"
                       r"((?:sg|vpc|subnet|igw|rtb)-[0-9a-f]+)<")


class _Window:
    """Something that lasts ``seconds`` and until it has been met once."""

    def __init__(self, seconds: float) -> None:
        self.until = time.monotonic() + seconds
        self.met = False

    def holds(self) -> bool:
        if self.met and time.monotonic() >= self.until:
            return False
        self.met = True
        return True


@dataclass
class _Request:
    service: str
    action: str
    params: dict[str, Any]
    json: bool
    path: str
    method: str

    @classmethod
    def read(cls, environ: dict[str, Any], body: bytes) -> _Request:
        scope = re.search(r"Credential=[^/]+/\d+/[^/]+/([^/]+)/", environ.get("HTTP_AUTHORIZATION", ""))
        service = scope.group(1) if scope else ""
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if target:
            try:
                params = json.loads(body or b"{}")
            except ValueError:
                params = {}
            return cls(service, target.rsplit(".", 1)[-1], params, True, path, method)
        form = urllib.parse.parse_qs(body.decode(errors="replace")) if method == "POST" else {}
        params = {k: v[0] for k, v in form.items()}
        return cls(service, params.get("Action", ""), params, False, path, method)


def _refusal(request: _Request, code: str, message: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """AWS's error answer in the request's protocol."""
    if request.json:
        body = json.dumps({"__type": code, "message": message}).encode()
        return "400 Bad Request", [("Content-Type", "application/x-amz-json-1.1"),
                                   ("x-amzn-ErrorType", code)], body
    text = message.replace("&", "&amp;").replace("<", "&lt;")
    if request.service == "ec2":
        body = (f"<Response><Errors><Error><Code>{code}</Code><Message>{text}</Message></Error>"
                f"</Errors><RequestID>launchdeck</RequestID></Response>").encode()
    else:
        body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{text}</Message>"
                f"</Error><RequestId>launchdeck</RequestId></ErrorResponse>").encode()
    return "400 Bad Request", [("Content-Type", "text/xml")], body


class _World:
    """WSGI middleware in moto's process: moto behaves as the ``World`` says.

    What AWS finishes later finishes later here: a new RDS instance or ElastiCache group is
    ``creating``, an ECS rollout IN_PROGRESS while its tasks start (``_Fleet``), a CodeBuild build goes
    through its phases, an ACM certificate waits for its validation record in the zone; a
    deleted ECS service is DRAINING, then INACTIVE ("the service status moves from ACTIVE to
    DRAINING ... After the tasks have stopped, the service status moves from DRAINING to
    INACTIVE"); a deleted ElastiCache group is ``deleting``, then gone. A change comes at a
    request once its time has passed and a describe has shown the state before it, so whoever
    looks right after sees it still going, however slow the machine.

    What AWS refuses on a new account it refuses here (see ``World``). S3 requests with a
    precondition (``If-None-Match``, ``If-Match``) are answered one at a time, as S3 decides
    them atomically ("the first write operation to finish succeeds", Conditional writes, S3
    User Guide); moto checks, then writes, in each request's own thread.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], world: World) -> None:
        self.app, self.base = app, world
        self._guard = threading.Lock()
        self._conditional = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self.world = self.base
        self.failing: dict[str, str] = {}
        """Image substring -> why its tasks stop (ECS fails the deployment: circuit breaker)."""
        self._pending: dict[tuple[str, str], list[Any]] = {}
        """(kind, key) -> [deadline, seen since, what finishes it]."""
        self._young: dict[str, _Window] = {}
        """EC2 id or IAM role ARN -> the window it is not yet usable in."""
        self._slr: _Window | None = None
        self._policies: dict[str, _Window] = {}
        """IAM role name -> the window its new inline policy reading parameters is not yet in
        effect in."""
        self._builds: dict[str, float] = {}
        """CodeBuild build id -> when it started."""
        self._shown: set[str] = set()
        """Builds and certificates shown still going at least once."""
        self._records: dict[str, float] = {}
        """Route 53 record name -> when it was written."""
        self._tagged: dict[str, dict[str, Any]] = {}
        """ARN -> its mapping, as the tagging API last listed it."""
        self._ghosts: dict[str, _Window] = {}
        self._deleted: dict[str, Any] = {}
        """DocumentDB cluster id -> the cluster a DeleteDBCluster under way removes from moto."""
        self._doomed: dict[str, _BuildFailure] = {}
        """CodeBuild build id -> how it fails (see ``_build_failure``)."""
        self.fleet = _Fleet()
        """The ECS services' deployments and tasks."""

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        path = environ.get("PATH_INFO", "")
        if path == "/launchdeck-world":
            with self._guard:
                knobs = json.loads(body or b"{}")
                self.failing = dict(knobs.pop("failing", self.failing))
                self.world = World(**{**self.world.__dict__, **knobs})
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b"{}"]
        if path.startswith("/moto-api/reset"):
            with self._guard:
                self._reset()
        self._settle()
        request = _Request.read(environ, body)
        if request.service == "servicequotas" and request.action == "GetServiceQuota" and \
                request.params.get("QuotaCode") == "L-3032A538":
            data = json.dumps({"Quota": {"ServiceCode": "fargate", "QuotaCode": "L-3032A538",
                                         "QuotaName": "Fargate On-Demand vCPU resource count",
                                         "Value": self.world.fargate_vcpu}}).encode()
            start_response("200 OK", [("Content-Type", "application/x-amz-json-1.1"),
                                      ("Content-Length", str(len(data)))])
            return [data]
        tasks = self.fleet.answer(request)
        if tasks is not None:
            start_response("200 OK", [("Content-Type", "application/x-amz-json-1.1"),
                                      ("Content-Length", str(len(tasks)))])
            return [tasks]
        refused = self._refuse(request)
        if refused is not None:
            status, headers, data = _refusal(request, *refused)
            start_response(status, [*headers, ("Content-Length", str(len(data)))])
            return [data]
        answered: list[Any] = []

        def start(status: str, headers: list[Any], exc_info: Any = None) -> Any:
            answered[:] = [status, headers]
            return lambda data: None

        if request.service == "rds" and request.action == "DeleteDBCluster":
            self._keep_deleted(str(request.params.get("DBClusterIdentifier", "")).lower())
        conditional = "HTTP_IF_NONE_MATCH" in environ or "HTTP_IF_MATCH" in environ
        with self._conditional if conditional else contextlib.nullcontext():
            answer = self.app(environ, start)
            try:
                data = b"".join(answer)  # the backend has changed once the answer is made
            finally:
                getattr(answer, "close", lambda: None)()
        status, headers = answered
        if status.startswith("200"):
            data = self._after(request, body, data)
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(data))))
        start_response(status, headers)
        return [data]

    # -- time ------------------------------------------------------------------------------

    def _settle(self) -> None:
        now = time.monotonic()
        with self._guard:
            due = [k for k, (deadline, seen, _) in self._pending.items() if seen and now >= deadline]
            finish = [self._pending.pop(key)[2] for key in due]
        for step in finish:
            step()
        self.fleet.tick(self.world)

    def _later(self, key: tuple[str, str], seconds: float, finish: Callable[[], Any]) -> None:
        with self._guard:
            self._pending[key] = [time.monotonic() + seconds, False, finish]

    def _seen(self, keys: Iterable[tuple[str, str]]) -> None:
        with self._guard:
            for key in keys:
                if key in self._pending:
                    self._pending[key][1] = True

    # -- refusals --------------------------------------------------------------------------

    def _refuse(self, request: _Request) -> tuple[str, str] | None:
        world, service, action, params = self.world, request.service, request.action, request.params
        if service == "rds":
            refused = self._documentdb(action, params)
            if refused is not None:
                return refused
        with self._guard:
            if world.consistency:
                if service == "ecs" and action == "CreateCluster" and self._slr and self._slr.holds():
                    return ("InvalidParameterException", "Unable to assume the service linked role. "
                            "Please verify that the ECS service linked role exists.")
                # (deletions are left out: nothing deletes what it made a moment ago)
                if service == "ec2" and not action.startswith(("Describe", "Delete")):
                    for value in params.values():
                        window = self._young.get(str(value))
                        if window is not None and window.holds():
                            code, message = next(v for k, v in _EC2_IDS.items() if str(value).startswith(k))
                            return code, message.format(value)
                refusal = _ELSEWHERE.get((service, action))
                if refusal is not None:  # another service's view of EC2 lags the same way
                    young = [str(v) for v in params.values() if str(v).startswith(("subnet-", "sg-"))
                             and self._young.get(f"{service}:{v}") and self._young[f"{service}:{v}"].holds()]
                    if young:
                        code, message = refusal[young[0].split("-", 1)[0]]
                        return code, message.format(", ".join(young))
                if service == "codebuild" and action in ("CreateProject", "UpdateProject"):
                    role = str(params.get("serviceRole", ""))
                    if self._young.get(role) and self._young[role].holds():
                        return ("InvalidInputException",
                                f"CodeBuild is not authorized to perform: sts:AssumeRole on {role}")
                if service == "ecs" and action == "RegisterTaskDefinition":
                    for key in ("executionRoleArn", "taskRoleArn"):
                        role = str(params.get(key, ""))
                        if self._young.get(role) and self._young[role].holds():
                            return ("ClientException", f"ECS was unable to assume the role '{role}' that "
                                    "was provided for this task. Please verify that the role being passed "
                                    "has the proper trust relationship and permissions and that your IAM "
                                    "user has permissions to pass this role.")
            if service == "codebuild" and action == "StartBuild" and world.codebuild_builds:
                now = time.monotonic()
                running = sum(1 for build, started in self._builds.items()
                              if now - started < self._build_end(build))
                if running >= world.codebuild_builds:
                    return ("AccountLimitExceededException",
                            f"Cannot have more than {world.codebuild_builds} builds in queue for the account")
        return None

    def _documentdb(self, action: str, params: dict[str, Any]) -> tuple[str, str] | None:
        """What DocumentDB refuses of an RDS API request about a ``docdb`` cluster or instance."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.rds.models import rds_backends

        rds = rds_backends[DEFAULT_ACCOUNT_ID][REGION]
        if action in ("CreateDBCluster", "CreateDBInstance") and params.get("Engine") == "docdb":
            refused = documentdb_refusal(action, params)
            if refused is not None:
                return refused
            if action == "CreateDBCluster":
                group = rds.subnet_groups.get(params.get("DBSubnetGroupName", "default"))
                zones = {s.availability_zone for s in group._subnets} if group is not None else set()
                if group is not None and len(zones) < 2:
                    # "The DB subnet group doesn't meet Availability Zone (AZ) coverage requirement."
                    return ("DBSubnetGroupDoesNotCoverEnoughAZs", "The DB subnet group doesn't meet "
                            "Availability Zone (AZ) coverage requirement. Please add subnets to cover at "
                            f"least 2 AZs. Current AZ coverage: {', '.join(sorted(zones))}.")
                return None
            cluster = rds.clusters.get(params.get("DBClusterIdentifier", ""))
            if cluster is None:
                return "DBClusterNotFoundFault", f"DBCluster {params.get('DBClusterIdentifier')} not found."
            if cluster.engine != "docdb":
                return "InvalidParameterCombination", "The engine of the instance must be its cluster's."
            return None
        if action in ("DeleteDBCluster", "ModifyDBCluster"):
            cluster = rds.clusters.get(params.get("DBClusterIdentifier", ""))
            if cluster is None or cluster.engine != "docdb":
                return None
            if cluster._status != "available":
                return ("InvalidDBClusterStateFault", f"DB cluster {cluster.db_cluster_identifier} is not "
                        f"available: it is {cluster._status}.")
            refused = documentdb_refusal(action, params)
            if refused is not None:
                return refused
            final = params.get("FinalDBSnapshotIdentifier")
            if action == "DeleteDBCluster" and final and final in rds.cluster_snapshots:
                return ("DBClusterSnapshotAlreadyExistsFault", f"Cannot create the cluster snapshot because "
                        f"one with the identifier {final} already exists.")
        if action == "DeleteDBSubnetGroup":
            # a subnet group is in use while a cluster (a deleting one too) is in it
            name = str(params.get("DBSubnetGroupName", "")).lower()
            users = sorted(c.db_cluster_identifier for c in rds.clusters.values()
                           if c.engine == "docdb" and str(c.db_subnet_group_name).lower() == name)
            if users:
                return ("InvalidDBSubnetGroupStateFault", f"Cannot delete the subnet group '{name}' because "
                        f"at least one database cluster: {users[0]} is still using it.")
        if action == "DeleteDBInstance":
            db = rds.databases.get(params.get("DBInstanceIdentifier", "").lower())
            if db is not None and db.engine == "docdb" and params.get("FinalDBSnapshotIdentifier"):
                return ("InvalidParameterCombination", "FinalDBSnapshotIdentifier can not be specified when "
                        "deleting a cluster instance.")
        return None

    def _build_time(self) -> float:
        return sum(self.world.seconds(f"codebuild.{p}") for p in ("queued", "provisioning", "build",
                                                                   "post_build"))

    # -- after an answer -------------------------------------------------------------------

    def _after(self, request: _Request, body: bytes, data: bytes) -> bytes:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.ecs.models import ecs_backends
        from moto.elasticache.models import elasticache_backends
        from moto.rds.models import rds_backends

        world, service, action, params = self.world, request.service, request.action, request.params
        account, region = DEFAULT_ACCOUNT_ID, REGION
        if service == "ecs":
            ecs = ecs_backends[account][region]
            cluster = str(params.get("cluster", "default")).rsplit("/", 1)[-1]
            if action == "DeleteService":
                key = f"{cluster}:{str(params['service']).rsplit('/', 1)[-1]}"
                found = ecs.services.get(key)
                self.fleet.delete(key, world)
                if found is not None:
                    found.status = "DRAINING"
                    self._later(("ecs", key), world.seconds("ecs.drain"),
                                lambda: setattr(found, "status", "INACTIVE"))
            elif action in ("CreateService", "UpdateService"):
                name = str(params.get("serviceName") or params.get("service", "")).rsplit("/", 1)[-1]
                found = ecs.services.get(f"{cluster}:{name}")
                if found is not None:
                    breaker = params.get("deploymentConfiguration", {}).get("deploymentCircuitBreaker")
                    self._rollout(ecs, f"{cluster}:{name}", found,
                                  None if breaker is None else bool(breaker.get("rollback")))
            elif action == "DescribeServices":
                names = [str(s).rsplit("/", 1)[-1] for s in params.get("services", [])]
                self._seen([("ecs", f"{cluster}:{name}") for name in names])
                self.fleet.shown([f"{cluster}:{name}" for name in names])
            elif action == "ListTasks":
                return self.fleet.listed(params, data)
            return data
        if service == "rds" and action == "CreateDBInstance":
            db = rds_backends[account][region].databases.get(params["DBInstanceIdentifier"])
            if db is not None:
                db.status = "creating"
                self._later(("rds", db.db_instance_identifier), world.seconds("rds.create"),
                            lambda: setattr(db, "status", "available"))
        elif service == "rds" and action == "DescribeDBInstances":
            self._seen([("rds", str(params.get("DBInstanceIdentifier", "")))])
        elif service == "rds" and action in ("CreateDBCluster", "ModifyDBCluster", "DeleteDBCluster",
                                             "DescribeDBClusters"):
            self._documentdb_later(action, params, rds_backends[account][region])
        elif service == "elasticache" and action == "CreateReplicationGroup":
            group = elasticache_backends[account][region].replication_groups.get(params["ReplicationGroupId"])
            if group is not None:
                group.status = "creating"
                self._later(("cache", group.replication_group_id), world.seconds("elasticache.create"),
                            lambda: setattr(group, "status", "available"))
        elif service == "elasticache" and action == "DeleteReplicationGroup":
            groups = elasticache_backends[account][region].replication_groups
            key = params["ReplicationGroupId"]
            group = groups.get(key)
            with self._guard:
                self._pending.pop(("cache", key), None)
            self._later(("elasticache", key), world.seconds("elasticache.delete"),
                        lambda: groups.pop(key) if groups.get(key) is group else None)
        elif service == "elasticache" and action == "DescribeReplicationGroups":
            asked = params.get("ReplicationGroupId")
            with self._guard:
                keys = [k for k in self._pending if k[0] in ("elasticache", "cache") and
                        (not asked or k[1] == asked)]
            self._seen(keys)
        elif service == "iam" and action == "CreateServiceLinkedRole" and \
                params.get("AWSServiceName") == "ecs.amazonaws.com" and world.consistency:
            with self._guard:
                self._slr = _Window(world.seconds("iam.service_linked_role"))
        elif service == "iam" and action == "PutRolePolicy" and world.consistency and \
                "ssm:GetParameters" in urllib.parse.unquote(str(params.get("PolicyDocument", ""))):
            with self._guard:
                self._policies[str(params.get("RoleName", ""))] = _Window(world.seconds("iam.role"))
        elif service == "iam" and action == "CreateRole" and world.consistency:
            arn = re.search(rb"<Arn>([^<]+)</Arn>", data)
            if arn:
                with self._guard:
                    self._young[arn.group(1).decode()] = _Window(world.seconds("iam.role"))
        elif service == "ec2" and action == "DescribeAvailabilityZones" and world.local_zones:
            return _with_local_zones(data, world.local_zones)
        elif service == "ec2" and action.startswith("Create") and world.consistency:
            made = _MADE_IDS.search(data.decode(errors="replace"))
            if made:
                with self._guard:
                    self._young[made.group(1)] = _Window(world.seconds("ec2.visible"))
                    for other in {name for name, _ in _ELSEWHERE}:  # each meets it once
                        self._young[f"{other}:{made.group(1)}"] = _Window(world.seconds("ec2.visible"))
        elif service == "codebuild" and action == "StartBuild":
            build_id = json.loads(data)["build"]["id"]
            with self._guard:
                self._builds[build_id] = time.monotonic()
            doomed = _build_failure(self.world, params, self._policy_pending)
            if doomed is not None:
                with self._guard:
                    self._doomed[build_id] = doomed
                _take_back_push(params)
        elif service == "codebuild" and action == "BatchGetBuilds":
            return self._build_phases(data)
        elif service == "route53" and request.method == "POST" and \
                request.path.rstrip("/").endswith("/rrset"):
            with self._guard:
                for name in re.findall(rb"<Name>([^<]+)</Name>", body):
                    self._records[name.decode().rstrip(".").lower()] = time.monotonic()
        elif service == "acm" and action == "DescribeCertificate":
            return self._validation(data)
        elif service == "tagging" and action == "GetResources":
            return self._tagging(params, data)
        return data

    def _keep_deleted(self, key: str) -> None:
        """Hold on to a DocumentDB cluster moto is about to forget (see ``_documentdb_later``)."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.rds.models import rds_backends

        cluster = rds_backends[DEFAULT_ACCOUNT_ID][REGION].clusters.get(key)
        if cluster is not None and cluster.engine == "docdb":
            self._deleted[key] = cluster

    def _documentdb_later(self, action: str, params: dict[str, Any], rds: Any) -> None:
        """A DocumentDB cluster is "creating", then "available"; a new password is being reset
        for a while; a deleted one is "deleting" while its final snapshot is taken, then gone."""
        key = str(params.get("DBClusterIdentifier", "")).lower()
        world = self.world
        if action == "DescribeDBClusters":
            with self._guard:
                keys = [k for k in self._pending if k[0] == "docdb" and (not key or k[1] == key)]
            self._seen(keys)
            return
        if action == "DeleteDBCluster":
            gone = self._deleted.pop(key, None)
            if gone is None:
                return
            gone.status = "deleting"
            rds.clusters[key] = gone  # still listed until it is gone
            with self._guard:
                self._pending.pop(("docdb", key), None)

            def finish() -> None:
                # "When you delete a cluster, all automated backups for that cluster are deleted"
                if rds.clusters.get(key) is gone:
                    rds.clusters.pop(key)
                for name, snapshot in list(rds.cluster_snapshots.items()):
                    if snapshot.db_cluster_identifier == key and snapshot.snapshot_type == "automated":
                        rds.cluster_snapshots.pop(name)

            self._later(("docdb", key), world.seconds("docdb.delete"), finish)
            return
        cluster = rds.clusters.get(key)
        if cluster is None or cluster.engine != "docdb":
            return
        if action == "CreateDBCluster":
            cluster.status = "creating"
            # "default.docdb5.0": the family's default parameter group (TLS on)
            cluster.parameter_group = f"default.docdb{cluster.engine_version.rsplit('.', 1)[0]}"
            self._later(("docdb", key), world.seconds("docdb.create"),
                        lambda: setattr(cluster, "status", "available"))
        elif action == "ModifyDBCluster" and "MasterUserPassword" in params:
            cluster.status = "resetting-master-credentials"
            self._later(("docdb", key), world.seconds("docdb.modify"),
                        lambda: setattr(cluster, "status", "available"))

    def _rollout(self, ecs: Any, key: str, found: Any, rollback: bool | None) -> None:
        """A new deployment of the service's task definition, whose tasks ``_Fleet`` places and
        starts; a task whose image is ``failing``, or whose execution role cannot do what the ECS
        agent does with it, stops (and the circuit breaker fails the deployment, and rolls it
        back when the request's circuit breaker says ``rollback``: None keeps what the service had)."""
        images = " ".join(c.get("image", "") for c in _containers(ecs, found.task_definition))
        why = next((reason for needle, reason in self.failing.items() if needle in images), None)
        self.fleet.deploy(ecs, key, found, why or execution_refusal(ecs, found.task_definition), rollback)

    def _build_phases(self, data: bytes) -> bytes:
        """A build goes through its phases in the time they take."""
        answer = json.loads(data)
        total, now = self._build_time(), time.monotonic()
        for build in answer.get("builds", []):
            started = self._builds.get(build.get("id", ""))
            if started is None:
                continue
            elapsed = now - started
            doomed = self._doomed.get(build["id"])
            if doomed is not None and elapsed >= self._phase_end(doomed.phase):
                doomed.show(build)
                continue
            if elapsed >= total and build["id"] in self._shown:
                continue
            self._shown.add(build["id"])
            steps = [("QUEUED", "queued"), ("PROVISIONING", "provisioning"), ("BUILD", "build"),
                     ("POST_BUILD", "post_build")]
            current, mark = "POST_BUILD", 0.0
            for phase, what in steps:
                mark += self.world.seconds(f"codebuild.{what}")
                if elapsed < mark:
                    current = phase
                    break
            reached = _PHASES.index(current)
            build.update(buildStatus="IN_PROGRESS", currentPhase=current, buildComplete=False)
            build["phases"] = [p for p in build.get("phases", [])
                               if p.get("phaseType") in _PHASES[:reached]]
            build.pop("endTime", None)
        return json.dumps(answer).encode()

    def _build_end(self, build: str) -> float:
        """Seconds from ``build``'s start until it ends (a failing one ends with its phase)."""
        doomed = self._doomed.get(build)
        return self._phase_end(doomed.phase) if doomed is not None else self._build_time()

    def _policy_pending(self, role: str) -> bool:
        """Whether ``role``'s newest inline policy is not in effect yet (see ``World.consistency``)."""
        with self._guard:
            window = self._policies.get(role)
            return window is not None and window.holds()

    def _phase_end(self, phase: str) -> float:
        """Seconds from a build's start to the end of its ``phase``."""
        steps = {"BUILD": ("queued", "provisioning", "build"),
                 "POST_BUILD": ("queued", "provisioning", "build", "post_build")}.get(
                     phase, ("queued", "provisioning"))
        return sum(self.world.seconds(f"codebuild.{p}") for p in steps)

    def _validation(self, data: bytes) -> bytes:
        """PENDING_VALIDATION until the validation record has been in the zone for a while."""
        answer = json.loads(data)
        cert = answer.get("Certificate", {})
        if cert.get("Status") != "ISSUED" or cert.get("Type") != "AMAZON_ISSUED" or \
                cert.get("CertificateArn") in self._shown:
            return data
        records = [o.get("ResourceRecord", {}).get("Name", "")
                   for o in cert.get("DomainValidationOptions", [])]
        written = [self._records.get(r.rstrip(".").lower()) for r in records if r]
        now = time.monotonic()
        ready = written and all(w is not None and now - w >= self.world.seconds("acm.validate")
                                for w in written)
        key = "acm:" + cert["CertificateArn"]
        if ready and key in self._shown:
            self._shown.add(cert["CertificateArn"])
            return data
        if ready:
            self._shown.add(key)
        cert["Status"] = "PENDING_VALIDATION"
        for option in cert.get("DomainValidationOptions", []):
            option["ValidationStatus"] = "PENDING_VALIDATION"
        return json.dumps(answer).encode()

    def _tagging(self, params: dict[str, Any], data: bytes) -> bytes:
        """What was just deleted is still listed, "tagged or previously tagged", for a while."""
        answer = json.loads(data)
        listed = answer.get("ResourceTagMappingList", [])
        with self._guard:
            for mapping in listed:
                self._tagged[mapping["ResourceARN"]] = mapping
                self._ghosts.pop(mapping["ResourceARN"], None)
            if not self.world.consistency or answer.get("PaginationToken"):
                return json.dumps(answer).encode() if listed else data
            have = {m["ResourceARN"] for m in listed}
            for arn, mapping in list(self._tagged.items()):
                if arn in have or not _matches(mapping, params):
                    continue
                window = self._ghosts.setdefault(arn, _Window(self.world.seconds("tagging.ghost")))
                if window.holds():
                    listed.append(mapping)
                else:
                    self._tagged.pop(arn)
                    self._ghosts.pop(arn)
        answer["ResourceTagMappingList"] = listed
        return json.dumps(answer).encode()


def _with_local_zones(data: bytes, zones: Iterable[str]) -> bytes:
    """A DescribeAvailabilityZones answer with ``zones`` (Local Zones) among its zones, in name order."""
    text = data.decode()
    head, found, rest = text.partition("<availabilityZoneInfo>")
    if not found:
        return data
    listed, end, tail = rest.partition("</availabilityZoneInfo>")
    items = re.findall(r"<item>.*?</item>", listed, re.S)
    for zone in zones:  # us-east-1-bos-1a: group us-east-1-bos-1, id use1-bos1-az1
        parts = re.fullmatch(r"([a-z]+)-([a-z]+)-(\d+)-([a-z]+)-(\d+)[a-z]", zone)
        if parts is None:
            continue
        area, direction, number, place, local = parts.groups()
        items.append(f"<item><messageSet/><regionName>{REGION}</regionName><zoneName>{zone}</zoneName>"
                     f"<zoneId>{area}{direction[0]}{number}-{place}{local}-az1</zoneId>"
                     f"<zoneType>local-zone</zoneType>"
                     f"<groupName>{zone[:-1]}</groupName><optInStatus>opted-in</optInStatus>"
                     f"<zoneState>available</zoneState></item>")
    items.sort(key=lambda item: re.search(r"<zoneName>([^<]+)<", item).group(1))  # type: ignore[union-attr]
    return (head + found + "".join(items) + end + tail).encode()


def _matches(mapping: dict[str, Any], params: dict[str, Any]) -> bool:
    """Whether a tagging API mapping answers GetResources with ``params``' filters."""
    tags = {t["Key"]: t["Value"] for t in mapping.get("Tags", [])}
    for wanted in params.get("TagFilters", []):
        key, values = wanted["Key"], wanted.get("Values")
        if key not in tags or (values and tags[key] not in values):
            return False
    types = params.get("ResourceTypeFilters")
    if not types:
        return True
    parts = mapping["ResourceARN"].split(":", 5)
    kind = f"{parts[2]}:{re.split(r'[/:]', parts[5])[0]}" if len(parts) > 5 else parts[2]
    return any(kind == t or kind.split(":")[0] == t for t in types)


# -- ECS services' deployments and tasks, on the scaled clock -------------------------------

PLACEMENT_REFUSED = ("(service {}) was unable to place a task. Reason: You've reached the limit on the "
                     "number of vCPUs you can run concurrently. For more information, see the "
                     "Troubleshooting section of the Amazon ECS Developer Guide.")
"""The service event ECS writes when the account's Fargate vCPU quota leaves no room for a task
(as users quote it: flightcontrol.dev "ECS Concurrent vCPU Limit"; with "tasks" for the older
task-count quota, wellcomecollection/platform#3875)."""
_STARTING = ("PROVISIONING", "PENDING")
"""The states a deployment's ``pendingCount`` counts (placed, not yet RUNNING)."""
_UNSHOWN = 0.25
"""Seconds a task's state lasts at least when no DescribeTasks has shown it."""


@dataclass(eq=False)
class _Task:
    """One task of a service, as DescribeTasks shows it (``view``)."""

    arn: str
    cluster: str
    group: str
    deployment: _Deployment
    status: str = "PROVISIONING"
    desired: str = "RUNNING"
    since: float = field(default_factory=time.monotonic)
    """When it entered ``status``."""
    shown: bool = False
    """Whether DescribeTasks has shown it in ``status``."""
    created: float = field(default_factory=time.time)
    started: float | None = None
    stopping: float | None = None
    """When ECS was told to stop it (time.time()); it stops ``ecs.stopping`` later."""
    stopped: float | None = None
    reason: str = ""
    code: str = ""

    def view(self) -> dict[str, Any]:
        d = self.deployment
        containers = []
        for name, image, digest in d.containers:
            container: dict[str, Any] = {
                "containerArn": f"{self.arn.replace(':task/', ':container/')}/{name}", "taskArn": self.arn,
                "name": name, "image": image,
                "lastStatus": {"PROVISIONING": "PENDING"}.get(self.status, self.status)}
            if self.started is not None:  # pulled: the digest ECS resolved as the deployment started
                container["imageDigest"] = digest
            if self.status == "STOPPED" and self.code == "EssentialContainerExited":
                container["exitCode"] = 1
            elif self.status == "STOPPED" and self.code == "TaskFailedToStart":
                container["reason"] = self.reason
            containers.append(container)
        view: dict[str, Any] = {
            "taskArn": self.arn, "clusterArn": self.cluster, "taskDefinitionArn": d.definition,
            "group": self.group, "startedBy": d.id, "launchType": "FARGATE", "cpu": str(d.cpu),
            "memory": d.memory, "lastStatus": self.status, "desiredStatus": self.desired,
            "createdAt": self.created, "containers": containers}
        for key, value in (("startedAt", self.started), ("stoppingAt", self.stopping),
                           ("stoppedAt", self.stopped)):
            if value is not None:
                view[key] = value
        if self.reason:
            view["stoppedReason"] = self.reason
        if self.code:
            view["stopCode"] = self.code
        return view


@dataclass(eq=False)
class _Deployment:
    """A deployment of one task definition (DescribeServices' ``deployments``)."""

    id: str
    definition: str
    desired: int
    cpu: int
    memory: str
    containers: list[tuple[str, str, str]]
    """(name, image, the digest ECS resolved the image to as the deployment started)."""
    why: str | None
    """Why each of its tasks stops before it runs, or None."""
    base: dict[str, Any]
    status: str = "PRIMARY"
    state: str = "IN_PROGRESS"
    failed: int = 0
    shown: bool = False
    """Whether DescribeServices has shown it IN_PROGRESS."""
    retry: float = 0.0
    """When ECS next tries to place its tasks after a refusal (time.monotonic())."""
    created: Any = None

    def entry(self, tasks: list[_Task]) -> dict[str, Any]:
        mine = [t for t in tasks if t.deployment is self and t.desired == "RUNNING"]
        reason = {"IN_PROGRESS": f"ECS deployment {self.id} in progress.",
                  "COMPLETED": f"ECS deployment {self.id} completed.",
                  "FAILED": "ECS deployment circuit breaker: tasks failed to start."}[self.state]
        return {**self.base, "id": self.id, "status": self.status, "taskDefinition": self.definition,
                "desiredCount": self.desired, "failedTasks": self.failed,
                "runningCount": sum(t.status == "RUNNING" for t in mine),
                "pendingCount": sum(t.status in _STARTING for t in mine),
                "rolloutState": self.state, "rolloutStateReason": reason,
                "createdAt": self.created, "updatedAt": self.created}


@dataclass(eq=False)
class _Service:
    """One ECS service's deployments (the PRIMARY first) and tasks."""

    found: Any
    """moto's service, whose deployments, counts and events are set from here."""
    deployments: list[_Deployment] = field(default_factory=list)
    tasks: list[_Task] = field(default_factory=list)
    deleted: bool = False
    rollback: bool = False
    """Whether its circuit breaker rolls a failed deployment back."""
    completed: _Deployment | None = None
    """Its last deployment that completed, which a rollback deploys again."""


class _Fleet:
    """ECS services' deployments and tasks, which moto does not model (its services start no task:
    "We can't filter on `service_name` until the backend actually launches tasks", moto's
    ecs/models.py).

    A deployment places its tasks as the account's Fargate vCPU quota allows: every task not
    STOPPED, of every service, holds its vCPUs ("Fargate On-Demand vCPU resource count", AWS
    Fargate service quotas). A task that does not fit is not started: ECS writes
    ``PLACEMENT_REFUSED`` among the service's events and tries again ``ecs.placement_retry``
    later, the deployment staying IN_PROGRESS (whether the circuit breaker counts refused
    placements, and when, is not documented: aws/containers-roadmap#1583, #1273; here it does
    not). A placed task is PROVISIONING, then PENDING, then RUNNING (``ecs.provisioning``,
    ``ecs.pending``), and healthy ``ecs.healthy`` after; a task whose deployment's ``why`` is set
    stops from PENDING with that reason, ECS starts another, and the circuit breaker fails the
    deployment once the failure threshold is met ("minimum threshold <= 0.5 * desired task count
    => maximum threshold", 3 and 200: "How the Amazon ECS deployment circuit breaker detects
    failures", ECS Developer Guide). With the breaker's ``rollback`` on, "the service is rolled back
    to the last deployment that completed successfully" (DeploymentCircuitBreaker, ECS API
    Reference): a new PRIMARY deployment of that one's task definition (its images as they were
    resolved then), which becomes the service's ``taskDefinition``, and which places and completes
    like any other; the failed deployment leaves the list once its tasks have stopped, so once the
    rollback has completed nothing in DescribeServices says a deployment failed ("the service
    becomes stable again on the previous task definition", aws-actions/amazon-ecs-deploy-task-
    definition#860). A first deployment that fails has nothing to go back to. A rolling deployment
    runs old and new tasks together (minimumHealthyPercent 100, maximumPercent 200: "the
    scheduler ... can start new tasks before stopping old ones", Rolling update) and stops an old
    task for each new one that is healthy, with "Scaling activity initiated by (deployment ...)".
    A deleted service's tasks stop ``ecs.stopping`` after DeleteService.

    Each task state lasts its time and until DescribeTasks has shown it (or, unshown, four times
    its time and at least ``_UNSHOWN`` seconds, for whoever does not follow tasks): whoever
    follows them sees each state once, however slow the machine. A deployment completes only
    once DescribeServices has shown it IN_PROGRESS.
    """

    def __init__(self) -> None:
        self.services: dict[str, _Service] = {}
        """"cluster:service" -> its deployments and tasks."""
        self._guard = threading.RLock()

    # -- what the API changes ----------------------------------------------------------------

    def deploy(self, ecs: Any, key: str, found: Any, why: str | None, rollback: bool | None = None) -> None:
        """A new PRIMARY deployment of ``found``'s task definition; the one before goes on as
        ACTIVE while its tasks run. ``rollback``: whether the circuit breaker rolls it back if it
        fails (None: as the service's last deployment said)."""
        import datetime
        import uuid

        definition = found.task_definition
        try:
            described = ecs.describe_task_definition(definition)
            cpu, memory = int(described.cpu or 0), str(described.memory or "")
        except Exception:  # noqa: BLE001 - a task definition moto does not know: no size
            cpu, memory = 0, ""
        # ECS resolves each image tag to a digest once, as the deployment starts, and every task
        # of that deployment runs that digest even when the tag moves later (Container image
        # resolution, https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-type-ecs.html#deployment-container-image-stability)
        containers = [(c.get("name", ""), c.get("image", ""), _digest(c.get("image", "")))
                      for c in _containers(ecs, definition)]
        base = {k: v for k, v in (found.deployments[:1] or [{}])[0].items()
                if k in ("launchType", "platformVersion", "platformFamily", "networkConfiguration")}
        made = _Deployment(id=f"ecs-svc/{uuid.uuid4().int % 10 ** 19}", definition=definition,
                           desired=found.desired_count, cpu=cpu, memory=memory, containers=containers,
                           why=why, base=base, created=datetime.datetime.now(datetime.UTC))
        with self._guard:
            service = self.services.setdefault(key, _Service(found))
            service.found, service.deleted = found, False
            if rollback is not None:
                service.rollback = rollback
            self._start(service, made)

    def _start(self, service: _Service, made: _Deployment) -> None:
        for old in service.deployments:
            old.status = "ACTIVE"
        service.deployments = [made, *[d for d in service.deployments if self._live(service, d)]]
        self._show(service)

    def delete(self, key: str, world: World) -> None:
        with self._guard:
            service = self.services.get(key)
            if service is None:
                return
            service.deleted = True
            for task in service.tasks:
                self._stop(task, "Service deleted")

    def shown(self, keys: Iterable[str]) -> None:
        """DescribeServices has just shown these services' deployments."""
        with self._guard:
            for key in keys:
                for deployment in getattr(self.services.get(key), "deployments", []):
                    deployment.shown = True

    # -- the clock ----------------------------------------------------------------------------

    def tick(self, world: World) -> None:
        """Move every task and deployment on as far as the time passed allows."""
        with self._guard:
            now = time.monotonic()
            moved = {key: any([self._advance(s, task, world, now) for task in s.tasks])
                     for key, s in self.services.items()}
            used = sum(t.deployment.cpu for s in self.services.values() for t in s.tasks
                       if t.status != "STOPPED")
            for key, service in self.services.items():
                rolled = False
                if not service.deleted and service.deployments:
                    placed, rolled = self._roll(key, service, world, now, world.fargate_vcpu * 1024 - used)
                    used += placed
                if moved[key] or rolled:
                    self._show(service)

    def _advance(self, service: _Service, task: _Task, world: World, now: float) -> bool:
        """Move ``task`` to its next state if its time has come; whether it moved."""
        if task.status == "STOPPED":
            return False
        if task.desired == "STOPPED":
            if time.time() - (task.stopping or 0) < world.seconds("ecs.stopping"):
                return False
            task.status, task.stopped = "STOPPED", time.time()
            return True
        phase = {"PROVISIONING": "ecs.provisioning", "PENDING": "ecs.pending"}.get(task.status)
        if phase is None:
            return False
        duration = world.seconds(phase)
        if now - task.since < (duration if task.shown else max(_UNSHOWN, 4 * duration)):
            return False
        task.since, task.shown = now, False
        if task.status == "PROVISIONING":
            task.status = "PENDING"
            return True
        why = task.deployment.why
        if why is None:
            task.status, task.started = "RUNNING", time.time()
            return True
        exited = "Essential container" in why
        task.code = "EssentialContainerExited" if exited else "TaskFailedToStart"
        task.status = task.desired = "STOPPED"
        task.reason, task.stopping = why, time.time()
        task.stopped = task.stopping
        if exited:
            task.started = task.stopping
        task.deployment.failed += 1
        self._event(service, f"(service {service.found.name}) has stopped 1 running tasks: "
                             f"(task {task.arn.rsplit('/', 1)[-1]}). Stopped reason: {why}")
        return True

    def _roll(self, key: str, service: _Service, world: World, now: float,
              room: float) -> tuple[int, bool]:
        """Place, replace and judge the service's PRIMARY deployment; the vCPU units it placed
        and whether anything changed."""
        import math
        import uuid

        from moto.core import DEFAULT_ACCOUNT_ID

        deployment = service.deployments[0]
        before = [d.status for d in service.deployments]
        service.deployments = [deployment, *[d for d in service.deployments[1:] if self._live(service, d)]]
        changed = [d.status for d in service.deployments] != before
        if deployment.state != "IN_PROGRESS":
            return 0, changed
        threshold = min(200, max(3, math.ceil(deployment.desired / 2)))
        mine = [t for t in service.tasks if t.deployment is deployment and t.desired == "RUNNING"]
        old = [t for t in service.tasks if t.deployment is not deployment and t.desired == "RUNNING"]
        if deployment.failed >= threshold:
            deployment.state = "FAILED"
            for task in mine:
                self._stop(task, "Deployment failed: tasks failed to start")
            self._event(service, f"(service {service.found.name}) (deployment {deployment.id}) "
                                 "deployment failed: tasks failed to start.")
            last = service.completed
            if service.rollback and last is not None:
                import dataclasses
                import datetime

                back = dataclasses.replace(
                    last, id=f"ecs-svc/{uuid.uuid4().int % 10 ** 19}", desired=deployment.desired,
                    status="PRIMARY", state="IN_PROGRESS", failed=0, shown=False, retry=0.0,
                    created=datetime.datetime.now(datetime.UTC))
                self._event(service, f"(service {service.found.name}) rolling back to deployment {last.id}.")
                service.found.task_definition = last.definition
                self._start(service, back)
            return 0, True
        placed = 0
        wanted = min(deployment.desired - len(mine), 2 * deployment.desired - len(mine) - len(old))
        if wanted > 0 and now >= deployment.retry:
            cluster = key.split(":", 1)[0]
            for _ in range(wanted):
                if deployment.cpu > room - placed:
                    self._event(service, PLACEMENT_REFUSED.format(service.found.name))
                    deployment.retry = now + world.seconds("ecs.placement_retry")
                    break
                arn = f"arn:aws:ecs:{REGION}:{DEFAULT_ACCOUNT_ID}:task/{cluster}/{uuid.uuid4().hex}"
                service.tasks.append(_Task(arn=arn, cluster=service.found.cluster_arn,
                                           group=f"service:{service.found.name}", deployment=deployment))
                placed += deployment.cpu
                changed = True
        healthy = [t for t in mine if t.status == "RUNNING" and now - t.since >= world.seconds("ecs.healthy")]
        for task in old[:max(0, len(old) + len(healthy) - deployment.desired)]:
            self._stop(task, f"Scaling activity initiated by (deployment {deployment.id})")
            changed = True
        if len(healthy) >= deployment.desired and not any(t.desired == "RUNNING" for t in old) \
                and deployment.shown:
            deployment.state = "COMPLETED"
            service.completed = deployment
            changed = True
        return placed, changed

    def _live(self, service: _Service, deployment: _Deployment) -> bool:
        """Whether an older deployment still has a task that has not stopped."""
        return any(t.deployment is deployment and t.status != "STOPPED" for t in service.tasks)

    def _stop(self, task: _Task, reason: str) -> None:
        if task.desired != "STOPPED":
            task.desired, task.stopping, task.reason = "STOPPED", time.time(), reason
            task.code = task.code or "ServiceSchedulerInitiated"

    def _event(self, service: _Service, message: str) -> None:
        import datetime
        import uuid

        service.found.events.insert(0, {"id": str(uuid.uuid4()), "message": message,
                                         "createdAt": datetime.datetime.now(datetime.UTC)})
        del service.found.events[100:]  # "the 100 most recent events" (DescribeServices)

    def _show(self, service: _Service) -> None:
        """Set moto's service from the deployments and tasks."""
        found, tasks = service.found, service.tasks
        found.deployments = [d.entry(tasks) for d in service.deployments]
        running = [t for t in tasks if t.desired == "RUNNING"]
        found.running_count = sum(t.status == "RUNNING" for t in running)
        found.pending_count = sum(t.status in _STARTING for t in running)

    # -- what the API reads --------------------------------------------------------------------

    def answer(self, request: _Request) -> bytes | None:
        """DescribeTasks naming tasks of services here, and ListTasks of a service here (moto
        has no task of it); anything else is moto's to answer."""
        if request.service == "ecs" and request.action == "ListTasks":
            cluster = str(request.params.get("cluster", "default")).rsplit("/", 1)[-1]
            service = str(request.params.get("serviceName") or "").rsplit("/", 1)[-1]
            with self._guard:
                known = f"{cluster}:{service}" in self.services
            return self.listed(request.params, b"{}") if service and known else None
        if request.service != "ecs" or request.action != "DescribeTasks":
            return None
        asked = [str(a).rsplit("/", 1)[-1] for a in request.params.get("tasks", [])]
        with self._guard:
            ours = {t.arn.rsplit("/", 1)[-1]: t for s in self.services.values() for t in s.tasks}
            if not any(a in ours for a in asked):
                return None
            found, failures = [], []
            for name in asked:
                if name not in ours:
                    failures.append({"arn": name, "reason": "MISSING"})
                    continue
                task = ours[name]
                task.shown = True
                found.append(task.view())
        return json.dumps({"tasks": found, "failures": failures}).encode()

    def listed(self, params: dict[str, Any], data: bytes) -> bytes:
        """moto's ListTasks answer with the tasks here that match its filters (serviceName,
        family, startedBy, desiredStatus: RUNNING unless asked otherwise)."""
        answer = json.loads(data)
        answer.setdefault("taskArns", [])
        cluster = str(params.get("cluster", "default")).rsplit("/", 1)[-1]
        service = str(params.get("serviceName") or "").rsplit("/", 1)[-1]
        desired = params.get("desiredStatus", "RUNNING")
        family, by = params.get("family"), params.get("startedBy")
        with self._guard:
            for key, found in self.services.items():
                if not key.startswith(f"{cluster}:") or (service and key != f"{cluster}:{service}"):
                    continue
                for task in found.tasks:
                    definition = task.deployment.definition.rsplit("/", 1)[-1].split(":")[0]
                    if task.desired == desired and (not family or definition == family) and \
                            (not by or task.deployment.id == by):
                        answer["taskArns"].append(task.arn)
        return json.dumps(answer).encode()

def _digest(image: str) -> str:
    """The digest a task pulling ``image`` runs: the one it names (``…@sha256:…``); for a tag
    of this account's ECR, the digest of the image the tag names now; else the harness's own
    for the reference."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ecr.models import ecr_backends

    if "@" in image:
        return image.split("@", 1)[1]
    host = f"{DEFAULT_ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/"
    if image.startswith(host):
        name, _, tag = image[len(host):].partition(":")
        repository = ecr_backends[DEFAULT_ACCOUNT_ID][REGION].repositories.get(name)
        for found in getattr(repository, "images", []):
            if (tag or "latest") in found.image_tags:
                return str(found.get_image_digest())
    return "sha256:" + hashlib.sha256(image.encode()).hexdigest()


def _containers(ecs: Any, arn: str) -> list[dict[str, Any]]:
    try:
        found = ecs.describe_task_definition(arn).container_definitions
        return [c if isinstance(c, dict) else {} for c in found]
    except Exception:  # noqa: BLE001 - a task definition moto no longer knows fails nothing here
        return []


# -- what a task's execution role must allow for the task to start ------------------------------


def execution_refusal(ecs: Any, arn: str) -> str | None:
    """Why a task of task definition ``arn`` cannot start, as ECS gives it in the stopped reason,
    when its execution role does not allow what the ECS agent does with it before the
    container starts (Amazon ECS task execution IAM role, ECS Developer Guide): pull a private
    ECR image (ecr:GetAuthorizationToken, ecr:BatchGetImage, ecr:GetDownloadUrlForLayer),
    create its awslogs stream (logs:CreateLogStream, logs:PutLogEvents), read its secrets
    (ssm:GetParameters; secretsmanager:GetSecretValue; kms:Decrypt only for a customer managed
    key: "Required only if your secret uses a customer managed key and not the default key").
    The words are ECS's (aws/copilot-cli#4504: "ResourceInitializationError: unable to pull
    secrets or registry auth: execution resource retrieval failed: unable to retrieve secrets
    from ssm: ... AccessDeniedException: User: ... is not authorized to perform:
    ssm:GetParameters on resource: ... because no identity-based policy allows the
    ssm:GetParameters action"). Conditions are taken as met (the calls come as ECS makes them)."""
    from moto.core import DEFAULT_ACCOUNT_ID

    try:
        definition = ecs.describe_task_definition(arn)
    except Exception:  # noqa: BLE001 - a task definition moto no longer knows starts nothing here
        return None
    account = DEFAULT_ACCOUNT_ID
    role_arn = getattr(definition, "execution_role_arn", None) or ""
    statements = _role_statements(account, role_arn.rsplit("/", 1)[-1]) if role_arn else []
    who = f"arn:aws:sts::{account}:assumed-role/{role_arn.rsplit('/', 1)[-1] or 'none'}/0123456789abcdef"
    for action, resource, words in _execution_needs(account, definition.container_definitions):
        if not _allowed(statements, action, resource):
            denied = (f"AccessDeniedException: User: {who} is not authorized to perform: {action} on "
                      f"resource: {resource} because no identity-based policy allows the {action} action")
            if words == "logs":
                return ("ResourceInitializationError: failed to validate logger args: create stream has "
                        f"been retried 1 times: failed to create Cloudwatch log stream: {denied}")
            return ("ResourceInitializationError: unable to pull secrets or registry auth: execution "
                    f"resource retrieval failed: {words}: service call has been retried 1 time(s): "
                    f"{denied} status code: 400")
    return None


def _execution_needs(account: str, containers: list[dict[str, Any]]) -> Iterator[tuple[str, str, str]]:
    """(action, resource, ECS's words for the step) the ECS agent calls with the execution role."""
    for container in containers:
        image = str(container.get("image", ""))
        if ".dkr.ecr." in image:
            repository = image.split("/", 1)[1].split("@")[0].split(":")[0]
            region = image.split(".dkr.ecr.")[1].split(".")[0]
            words = "unable to retrieve ecr registry auth"
            yield "ecr:GetAuthorizationToken", "*", words
            for action in ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"):
                yield action, f"arn:aws:ecr:{region}:{account}:repository/{repository}", words
        logs = container.get("logConfiguration") or {}
        if logs.get("logDriver") == "awslogs":
            options = logs.get("options") or {}
            group, region = options.get("awslogs-group", ""), options.get("awslogs-region", REGION)
            stream = f"arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:x"
            yield "logs:CreateLogStream", stream, "logs"
            yield "logs:PutLogEvents", stream, "logs"
        for secret in container.get("secrets") or []:
            source = str(secret.get("valueFrom", ""))
            if ":secretsmanager:" in source:
                yield ("secretsmanager:GetSecretValue", source,
                       f"unable to retrieve secret from asm: failed to fetch secret {source}")
                continue
            parameter = source if source.startswith("arn:") else \
                f"arn:aws:ssm:{REGION}:{account}:parameter/{source.lstrip('/')}"
            yield "ssm:GetParameters", parameter, "unable to retrieve secrets from ssm"
            key = _parameter_key(account, parameter)
            if key is not None:
                yield "kms:Decrypt", key, "unable to retrieve secrets from ssm"


def _parameter_key(account: str, parameter: str) -> str | None:
    """The customer managed KMS key a SecureString parameter is encrypted with, or None (the
    default key, aws/ssm, or not a SecureString)."""
    from moto.ssm.models import ssm_backends

    name = "/" + parameter.split(":parameter/", 1)[-1].lstrip("/")
    found = ssm_backends[account][REGION]._parameters.get(name) or \
        ssm_backends[account][REGION]._parameters.get(name.lstrip("/"))
    latest = found[-1] if found else None
    secure = latest is not None and latest.parameter_type == "SecureString"
    key = getattr(latest, "keyid", None) if secure else None
    return None if not key or key in ("alias/aws/ssm",) else str(key)


def _role_statements(account: str, name: str) -> list[dict[str, Any]]:
    """The Allow statements of role ``name``'s inline and attached policies."""
    from moto.iam.models import iam_backends

    try:
        role = iam_backends[account]["global"].get_role(name)
    except Exception:  # noqa: BLE001 - no such role: it allows nothing
        return []
    documents = list(role.policies.values())
    for policy in role.managed_policies.values():
        version = next((v for v in policy.versions if v.is_default), None)
        if version is not None:
            documents.append(version.document)
    out: list[dict[str, Any]] = []
    for document in documents:
        parsed = json.loads(urllib.parse.unquote(document)) if isinstance(document, str) else document
        statements = parsed.get("Statement", [])
        out += [st for st in ([statements] if isinstance(statements, dict) else statements)
                if st.get("Effect") == "Allow"]
    return out


def _allowed(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    import fnmatch

    def listed(value: Any) -> list[str]:
        return [value] if isinstance(value, str) else list(value or [])

    return any(any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in listed(st.get("Action")))
               and any(fnmatch.fnmatchcase(resource, r) for r in listed(st.get("Resource")))
               for st in statements)


DOCKERHUB_REFUSAL = ("toomanyrequests: You have reached your unauthenticated pull rate limit. "
                     "https://www.docker.com/increase-rate-limit")
"""Docker Hub's answer to an anonymous pull past its limit (docker/hub-feedback#2464)."""
_HUB = ("", "docker.io", "index.docker.io", "registry-1.docker.io", "https://index.docker.io/v1/")
"""What ``docker login`` is given to log in to Docker Hub (nothing: Docker Hub)."""
_SHELL_STUBS = r"""
docker() {
  [ "$1" = login ] || return 0
  shift; registry=; user=; password=; stdin=
  while [ $# -gt 0 ]; do
    case "$1" in
      -u|--username) user=$2; shift 2;;
      --username=*) user=${1#*=}; shift;;
      -p|--password) password=$2; shift 2;;
      --password=*) password=${1#*=}; shift;;
      --password-stdin) stdin=1; shift;;
      *) registry=$1; shift;;
    esac
  done
  if [ -n "$stdin" ]; then password=$(cat); fi
  printf '%s\t%s\t%s\n' "$registry" "$user" "$password" >> "$LOGINS"
}
aws() { echo ecr-password; }
"""
"""``docker`` and ``aws`` for running a buildspec's first phases: ``docker login`` notes where it
logs in, with which user name and password."""


@dataclass
class _BuildFailure:
    """How a CodeBuild build fails: the phase, its PhaseContext, and its log's last lines."""

    phase: str
    status_code: str
    message: str
    log: list[str]
    logged: bool = False

    def show(self, build: dict[str, Any]) -> None:
        """Turn moto's answer for ``build`` into the failed build's, and write its log once."""
        from moto.codebuild.models import codebuild_backends
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.logs.models import logs_backends

        reached = _PHASES[:_PHASES.index(self.phase)]
        build["phases"] = [*[{"phaseType": p, "phaseStatus": "SUCCEEDED"} for p in reached],
                           {"phaseType": self.phase, "phaseStatus": "FAILED",
                            "contexts": [{"statusCode": self.status_code, "message": self.message}]}]
        build.update(buildStatus="FAILED", currentPhase="COMPLETED", buildComplete=True)
        project = codebuild_backends[DEFAULT_ACCOUNT_ID][REGION].codebuild_projects.get(build["projectName"])
        config = (project.project_metadata.get("logsConfig") or {}) if project is not None else {}
        group = config.get("cloudWatchLogs", {}).get("groupName") or f"/aws/codebuild/{build['projectName']}"
        stream = build["id"].rsplit(":", 1)[-1]
        build["logs"] = {**build.get("logs", {}), "groupName": group, "streamName": stream}
        if self.logged:
            return
        self.logged = True
        logs = logs_backends[DEFAULT_ACCOUNT_ID][REGION]
        with contextlib.suppress(Exception):  # made by an earlier build
            logs.create_log_group(group, {})
        with contextlib.suppress(Exception):
            logs.create_log_stream(group, stream)
        now = int(time.time() * 1000)
        logs.put_log_events(group, stream, [{"timestamp": now, "message": line} for line in self.log])


def _build_failure(world: World, params: dict[str, Any],
                   pending: Callable[[str], bool] = lambda role: False) -> _BuildFailure | None:
    """How the build StartBuild ``params`` asked for fails, if it does.

    Its PARAMETER_STORE variables (from the project, the request, or the buildspec's
    ``env: parameter-store``) are read with the project's service role before anything runs:
    a role that may not ``ssm:GetParameters`` one fails the build in PROVISIONING (CodeBuild's
    "Decrypted Variables Error"), as it does while the role's newest inline policy is not in
    effect yet (``pending``: IAM's changes "take time to become visible"). The role downloads
    the S3 source (s3:GetBucketAcl and s3:GetBucketLocation on the bucket, s3:GetObject on the
    key, or DOWNLOAD_SOURCE fails with CLIENT_ERROR AccessDenied), and logs in to ECR and
    pushes (``_push_failure``). While Docker Hub refuses anonymous pulls
    (``World.dockerhub_anonymous``), a build whose Dockerfile pulls from Docker Hub fails in its
    BUILD phase unless its buildspec's install and pre_build commands, run here with the
    resolved variables and a ``docker`` that notes each login, log in to Docker Hub."""
    import yaml
    from moto.codebuild.models import codebuild_backends
    from moto.core import DEFAULT_ACCOUNT_ID

    account = DEFAULT_ACCOUNT_ID
    project = codebuild_backends[account][REGION].codebuild_projects.get(str(params.get("projectName", "")))
    if project is None:
        return None
    meta = project.project_metadata
    spec = yaml.safe_load(params.get("buildspecOverride") or meta.get("source", {}).get("buildspec")
                          or "{}") or {}
    variables = [*(meta.get("environment") or {}).get("environmentVariables", []),
                 *params.get("environmentVariablesOverride", [])]
    variables += [{"name": k, "value": v, "type": "PARAMETER_STORE"}
                  for k, v in ((spec.get("env") or {}).get("parameter-store") or {}).items()]
    role = str(meta.get("serviceRole", "")).rsplit("/", 1)[-1]
    statements = _role_statements(account, role) if world.codebuild_role_checked else \
        [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
    env: dict[str, str] = {}
    for variable in variables:
        name, value = str(variable.get("name")), str(variable.get("value", ""))
        if variable.get("type") != "PARAMETER_STORE":
            env[name] = value
            continue
        arn = f"arn:aws:ssm:{REGION}:{account}:parameter/{value.lstrip('/')}"
        who = f"arn:aws:sts::{account}:assumed-role/{role}/AWSCodeBuild-0123456789abcdef"
        if not _allowed(statements, "ssm:GetParameters", arn) or pending(role):
            return _BuildFailure("PROVISIONING", "Decrypted Variables Error", (
                f"AccessDeniedException: User: {who} is not authorized to perform: ssm:GetParameters on "
                f"resource: {arn} because no identity-based policy allows the ssm:GetParameters action"), [])
        found = _parameter_value(account, value)
        if found is None:
            return _BuildFailure("PROVISIONING", "Decrypted Variables Error",
                                 f"parameter does not exist: {value}", [])
        env[name] = found
    location = str(params.get("sourceLocationOverride") or meta.get("source", {}).get("location", ""))
    bucket, _, key = location.partition("/")
    for action, resource in (("s3:GetBucketAcl", f"arn:aws:s3:::{bucket}"),
                             ("s3:GetBucketLocation", f"arn:aws:s3:::{bucket}"),
                             ("s3:GetObject", f"arn:aws:s3:::{bucket}/{key}")):
        if not _allowed(statements, action, resource):
            return _BuildFailure("DOWNLOAD_SOURCE", "CLIENT_ERROR", (
                "AccessDenied: Access Denied status code: 403, request id: 0123456789ABCDEF, host id: "
                f"launchdeck for primary source and source version arn:aws:s3:::{bucket}/{key}"), [])
    failed = [f for f in (_pull_failure(world, spec, params, meta, env),
                          _push_failure(spec, statements, env, role)) if f is not None]
    return min(failed, key=lambda f: _PHASES.index(f.phase), default=None)  # the first phase to fail


def _pull_failure(world: World, spec: dict[str, Any], params: dict[str, Any], meta: dict[str, Any],
                  env: dict[str, str]) -> _BuildFailure | None:
    """The BUILD phase failed by Docker Hub's anonymous limit (see ``_build_failure``)."""
    if world.dockerhub_anonymous:
        return None
    pulls = _dockerhub_images(_dockerfile(params, meta, env.get("DOCKERFILE") or "Dockerfile"))
    if not pulls or _logs_in_to_docker_hub(spec, env):
        return None
    commands = (spec.get("phases", {}).get("build") or {}).get("commands") or ["docker build ."]
    command = " ".join(str(commands[0]).split())
    image = pulls[0]
    path, tag = image.rsplit(":", 1) if ":" in image.rsplit("/", 1)[-1] else (image, "latest")
    path = path if "/" in path else f"library/{path}"
    stamp = time.strftime("%Y/%m/%d %H:%M:%S", time.gmtime())
    reason = f"Error while executing command: {command}. Reason: exit status 1"
    return _BuildFailure("BUILD", "COMMAND_EXECUTION_ERROR", reason, [
        f"[Container] {stamp} Entering phase BUILD",
        f"[Container] {stamp} Running command {command}",
        f"#2 [internal] load metadata for docker.io/{path}:{tag}",
        f"#2 ERROR: failed to copy: httpReadSeeker: failed open: unexpected status code "
        f"https://registry-1.docker.io/v2/{path}/manifests/{tag}: 429 Too Many Requests - Server "
        f"message: {DOCKERHUB_REFUSAL}",
        f"ERROR: failed to solve: {image}: failed to resolve source metadata for docker.io/{path}:{tag}: "
        f"429 Too Many Requests - Server message: {DOCKERHUB_REFUSAL}",
        f"[Container] {stamp} Command did not exit successfully {command} exit status 1",
        f"[Container] {stamp} Phase complete: BUILD State: FAILED",
        f"[Container] {stamp} Phase context status code: COMMAND_EXECUTION_ERROR Message: {reason}"])



def _push_failure(spec: dict[str, Any], statements: list[dict[str, Any]], env: dict[str, str],
                  role: str) -> _BuildFailure | None:
    """A build whose role may not log in to ECR fails in PRE_BUILD, one that may not push to the
    image's repository in POST_BUILD (CodeBuild's ECR sample lists what the role needs:
    ecr:GetAuthorizationToken, then ecr:BatchCheckLayerAvailability, ecr:InitiateLayerUpload,
    ecr:UploadLayerPart, ecr:CompleteLayerUpload and ecr:PutImage on the repository)."""
    from moto.core import DEFAULT_ACCOUNT_ID

    uri = env.get("IMAGE_URI", "")
    if ".dkr.ecr." not in uri:
        return None
    phases = spec.get("phases") or {}
    who = f"arn:aws:sts::{DEFAULT_ACCOUNT_ID}:assumed-role/{role}/AWSCodeBuild-0123456789abcdef"
    needs = [("PRE_BUILD", "ecr:GetAuthorizationToken", "*")]
    name = uri.split("/", 1)[1].rsplit(":", 1)[0]
    repository = f"arn:aws:ecr:{REGION}:{DEFAULT_ACCOUNT_ID}:repository/{name}"
    needs += [("POST_BUILD", a, repository) for a in (
        "ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
        "ecr:CompleteLayerUpload", "ecr:PutImage")]
    for phase, action, resource in needs:
        if _allowed(statements, action, resource):
            continue
        commands = (phases.get(phase.lower()) or {}).get("commands") or ["docker push"]
        command = " ".join(str(commands[0]).split())
        reason = f"Error while executing command: {command}. Reason: exit status 1"
        return _BuildFailure(phase, "COMMAND_EXECUTION_ERROR", reason, [
            f"[Container] Running command {command}",
            f"An error occurred (AccessDeniedException) when calling the {action.split(':')[1]} operation: "
            f"User: {who} is not authorized to perform: {action} on resource: {resource} because no "
            f"identity-based policy allows the {action} action",
            f"[Container] Phase complete: {phase} State: FAILED"])
    return None


def _parameter_value(account: str, name: str) -> str | None:
    from moto.ssm.models import ssm_backends

    found = ssm_backends[account][REGION].get_parameter(name)
    return None if found is None else str(found.value)


def _dockerfile(params: dict[str, Any], meta: dict[str, Any], path: str) -> str:
    """The Dockerfile at ``path`` in the build's source: a ZIP in S3 (``bucket/key``)."""
    import zipfile

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    location = str(params.get("sourceLocationOverride") or meta.get("source", {}).get("location", ""))
    bucket, _, key = location.partition("/")
    try:
        found = s3_backends[DEFAULT_ACCOUNT_ID]["global"].get_object(bucket, key)
        with zipfile.ZipFile(io.BytesIO(found.value)) as archive:
            return archive.read(path).decode(errors="replace")
    except Exception:  # noqa: BLE001 - no context or no such file: nothing is pulled
        return ""


def _dockerhub_images(dockerfile: str) -> list[str]:
    """The images a Dockerfile's FROM lines pull from Docker Hub (no registry host, or Docker
    Hub's): not ``scratch``, an earlier stage, or one named through an ARG."""
    stages: set[str] = set()
    out: list[str] = []
    for line in dockerfile.splitlines():
        words = [w for w in line.split() if not w.startswith("--")]
        if not words or words[0].upper() != "FROM" or len(words) < 2:
            continue
        image = words[1]
        if len(words) >= 4 and words[2].upper() == "AS":
            stages.add(words[3].lower())
        if image.lower() in stages or image == "scratch" or "$" in image:
            continue
        first = image.split("/", 1)[0]
        host = first if "/" in image and ("." in first or ":" in first or first == "localhost") else ""
        if host in _HUB:
            out.append(image.removeprefix(f"{host}/") if host else image)
    return out


def _logs_in_to_docker_hub(spec: dict[str, Any], env: dict[str, str]) -> bool:
    """Whether the buildspec's install and pre_build commands, run by ``sh`` (as CodeBuild runs
    them) with ``env``, log in to Docker Hub with a user name and a password."""
    import tempfile

    phases = spec.get("phases") or {}
    commands = [str(c) for phase in ("install", "pre_build")
                for c in (phases.get(phase) or {}).get("commands") or []]
    with tempfile.TemporaryDirectory() as folder:
        logins = os.path.join(folder, "logins")
        subprocess.run(["sh", "-c", _SHELL_STUBS + "\n".join(commands)], cwd=folder, input=b"",
                       capture_output=True, timeout=20, check=False,
                       env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LOGINS": logins,
                            "AWS_REGION": REGION, **env})
        lines = Path(logins).read_text().splitlines() if os.path.exists(logins) else []
    for line in lines:
        registry, user, password = (line.split("\t") + ["", "", ""])[:3]
        if registry in _HUB and user and password:
            return True
    return False


def _take_back_push(params: dict[str, Any]) -> None:
    """Remove the image ``codebuild_pushes`` put in ECR for a build that fails: it pushes nothing."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ecr.models import ecr_backends

    variables = {v.get("name"): v.get("value") for v in params.get("environmentVariablesOverride", [])}
    uri = str(variables.get("IMAGE_URI") or "")
    if "/" not in uri or ":" not in uri:
        return
    repository, tag = uri.split("/", 1)[1].rsplit(":", 1)
    with contextlib.suppress(Exception):
        ecr_backends[DEFAULT_ACCOUNT_ID][REGION].batch_delete_image(repository, None, [{"imageTag": tag}])


def _elasticache_replicas() -> None:
    """Where moto's ElastiCache differs from AWS's contract, made as AWS documents it: a
    replication group made with NumCacheClusters has that many clusters ("The number of
    clusters this replication group initially has", CreateReplicationGroup; moto reads only
    ReplicasPerNodeGroup), and IncreaseReplicaCount / DecreaseReplicaCount change the number
    of replicas of a group (cluster mode disabled: "NewReplicaCount ... the number of replicas
    you want in this node group"), which moto does not implement."""
    from moto.core.responses import ActionResult
    from moto.elasticache import models, responses

    made = models.ReplicationGroup._set_node_members_clusters_disabled

    def members(self: Any, **kwargs: Any) -> None:
        if not kwargs.get("replicas_per_node_group"):
            kwargs["replicas_per_node_group"] = max((kwargs.get("num_cache_clusters") or 1) - 1, 0)
        made(self, **kwargs)

    def count(self: Any) -> Any:
        group_id = self._get_param("ReplicationGroupId")
        groups = self.elasticache_backend.replication_groups
        if group_id not in groups:
            raise models.ReplicationGroupNotFound(group_id)
        group = groups[group_id]
        wanted = self._get_int_param("NewReplicaCount")
        node_group = group.node_groups[0]
        members_ = node_group["node_group_members"]
        while len(members_) - 1 < wanted:
            replica = dict(members_[0], current_role="replica",
                           cache_cluster_id=f"{group_id}-{len(members_) + 1:0>3}")
            members_.append(replica)
            group.member_clusters.append(replica["cache_cluster_id"])
        while len(members_) - 1 > wanted:
            group.member_clusters.remove(members_.pop()["cache_cluster_id"])
        return ActionResult({"ReplicationGroup": group})

    models.ReplicationGroup._set_node_members_clusters_disabled = members
    responses.ElastiCacheResponse.increase_replica_count = count
    responses.ElastiCacheResponse.decrease_replica_count = count


def _ecr_keeps_untagged() -> None:
    """An image whose tag a push moves to another image stays in the repository, untagged
    (its tag "is removed from the original image, leaving it untagged", ECR User Guide,
    Image tag mutability, https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-tag-mutability.html;
    it goes when a lifecycle rule or BatchDeleteImage removes it); moto deletes it."""
    from moto.ecr import models

    pushed = models.ECRBackend.put_image

    def put_image(self: Any, repository_name: str, image_manifest: str, image_tag: str,
                  *args: Any, **kwargs: Any) -> Any:
        repository = self.repositories.get(repository_name)
        before = list(getattr(repository, "images", []))
        image = pushed(self, repository_name, image_manifest, image_tag, *args, **kwargs)
        for old in before:
            if old is not image and all(old is not kept for kept in repository.images):
                old.image_tags, old.image_tag = [], None
                repository.images.append(old)
        return image

    models.ECRBackend.put_image = put_image


def _documentdb_in_moto() -> None:
    """Teach moto's RDS backend the engine ``docdb``, as DocumentDB is served by the RDS API:
    clusters and their instances listen on 27017 and keep the status ``_World`` gives them (moto
    turns a "creating" cluster "available" on the first look)."""
    from moto.rds import models, utils

    clusters = utils.ClusterEngine.list_cluster_engines.__func__  # type: ignore[attr-defined]
    instances = utils.DbInstanceEngine.valid_db_instance_engine.__func__  # type: ignore[attr-defined]
    utils.ClusterEngine.list_cluster_engines = classmethod(  # type: ignore[method-assign,assignment]
        lambda cls: sorted([*clusters(cls), "docdb"]))
    utils.DbInstanceEngine.valid_db_instance_engine = classmethod(  # type: ignore[method-assign,assignment]
        lambda cls: sorted([*instances(cls), "docdb"]))
    for model in (models.DBCluster, models.DBInstance):
        port = model.default_port
        model.default_port = staticmethod(  # type: ignore[method-assign]
            lambda engine, port=port: 27017 if engine == "docdb" else port(engine))
    version = models.DBCluster.default_engine_version
    models.DBCluster.default_engine_version = staticmethod(  # type: ignore[method-assign]
        lambda engine: "5.0.0" if engine == "docdb" else version(engine))
    storage = models.DBCluster.default_allocated_storage
    models.DBCluster.default_allocated_storage = staticmethod(  # type: ignore[method-assign]
        lambda engine, storage_type: 1 if engine == "docdb" else storage(engine=engine,
                                                                         storage_type=storage_type))
    status = models.DBCluster.status

    def read(cluster: Any) -> str:
        return cluster._status if cluster.engine == "docdb" else status.fget(cluster)

    models.DBCluster.status = property(read, status.fset)  # type: ignore[method-assign,assignment]


def _dispatch_without_a_global_wait() -> None:
    """AWS answers each service's requests apart; moto's server makes every request wait in one
    line twice. Its dispatcher finds a request's backend under one lock, listing moto's package
    folder (some 200 ``isdir`` calls) for each request, and werkzeug writes a log line for each
    under the logging lock (to nowhere: ``MotoServer`` discards the output). With a burst of
    calls at once, that line grows to tens of milliseconds, which at a bench's scale is seconds
    of AWS time no AWS API spends. The folder is listed once (it does not change while the
    server runs) and the request log is off; moto's own work for each call is untouched."""
    import logging

    from moto import backends

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules  # type: ignore[assignment]
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


def _serve(port: int, world: World) -> None:
    """Run moto's server, as ``python -m moto.server`` does, behind ``_World``."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import run_simple

    _elasticache_replicas()
    _documentdb_in_moto()
    _ecr_keeps_untagged()
    _dispatch_without_a_global_wait()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple("127.0.0.1", port, _World(app, world), threaded=True,
               request_handler=MotoRequestHandler)


if __name__ == "__main__":
    _serve(int(sys.argv[1]), World(**json.loads(sys.argv[2])))
