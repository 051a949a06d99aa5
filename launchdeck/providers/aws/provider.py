"""The AWS provider: a compose project as ECS Fargate services in the user's own account.

A deploy reconciles through the AWS APIs directly: it reads what exists (by tags and by
the names it gives), changes only what differs from the digest kept in each resource's
``launchdeck:hash`` tag, and does independent work at the same time: the load balancer,
the stores and the image builds proceed together, and services start in depends_on order
as soon as what each needs is ready. Everything carries the project and stack tags, so a
deploy cut short is finished by the next one and destroy finds all of it.
"""

from __future__ import annotations

import collections
import json
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any

import anyio

from launchdeck.compose.model import Project, Service
from launchdeck.engine import dag
from launchdeck.engine.events import Event, Sink, State
from launchdeck.engine.plan import Action
from launchdeck.engine.status import ChangeSummary, DeployResult, LogLine, ServiceStatus
from launchdeck.errors import LaunchdeckError, ProviderError
from launchdeck.providers.aws import build as builds
from launchdeck.providers.aws import ingress, inventory, lock, names, network, region, render, stores
from launchdeck.providers.aws.api import Aws, AwsError, chain_depth, continue_chain, fresh_chain, parallel
from launchdeck.providers.aws.config import SsmConfigStore
from launchdeck.providers.base import DeployOptions, LogQuery, Teardown

_MAX_LOG_LINES = 10_000


class AwsProvider:
    """Deploys to the account and region of the standard AWS credential chain."""

    name = "aws"

    def __init__(self, aws: Aws | None = None, *, poll: float = 5.0) -> None:
        self._aws = aws
        self.poll = poll
        """Seconds between reads while waiting for builds, rollouts and stores."""
        self._account: str | None = None

    @property
    def aws(self) -> Aws:
        if self._aws is None:
            self._aws = Aws()
        return self._aws

    def config_store(self, project: str, stack: str) -> SsmConfigStore:
        return SsmConfigStore(self.aws, project, stack)

    async def _account_id(self) -> str:
        self.aws.check()
        if self._account is None:
            self._account = await region.account(self.aws)
        return self._account

    # -- deploy -------------------------------------------------------------------------

    async def deploy(self, project: Project, stack: str, config: Mapping[str, str],
                     deployment_id: str, options: DeployOptions, sink: Sink) -> DeployResult:
        account = await self._account_id()
        with fresh_chain():
            async with lock.held(self.aws, project.name, stack, deployment_id):
                run = _Deploy(self, project, stack, config, deployment_id, options, sink, account)
                return await run.execute()

    # -- ps -----------------------------------------------------------------------------

    async def ps(self, project: Project, stack: str) -> list[ServiceStatus]:
        account = await self._account_id()
        aws = self.aws
        live, record, lb = await parallel(
            lambda: _services(aws, project.name, stack),
            lambda: _read_record(aws, names.bucket(account, aws.region), project.name, stack),
            lambda: aws.maybe("elbv2", "describe_load_balancers", ("LoadBalancerNotFound",),
                              Names=[names.load_balancer(project.name, stack)]))
        recorded = {s.name: s for s in record.services} if record else {}
        found = ingress.Ingress(dns_name=lb["LoadBalancers"][0]["DNSName"] if lb else None)
        wanted = ingress.routes(project)
        out = []
        for name, service in project.services.items():
            earlier = recorded.get(name)
            if service.managed_store:
                status = await _store_status(aws, project.name, stack, service)
            elif name in live:
                status = _status(name, live.pop(name), found.endpoints(wanted, name))
            else:
                status = ServiceStatus(name=name, state=State.NOT_DEPLOYED)
            if status.state is State.NOT_DEPLOYED and earlier and earlier.state.failed:
                status = earlier  # a failed build leaves no ECS service to ask
            out.append(status)
        for name, orphan in sorted(live.items()):
            status = _status(name, orphan, [])
            status.message = "not in the compose file any more; the next deploy removes it"
            out.append(status)
        return out

    # -- logs ---------------------------------------------------------------------------

    async def logs(self, project: str, stack: str, query: LogQuery) -> list[LogLine]:
        await self._account_id()
        lines = await self._read_logs(project, stack, query, query.since)
        lines.sort(key=lambda line: line.at)
        return lines[-query.tail:] if query.tail is not None else lines

    async def follow(self, project: str, stack: str, query: LogQuery) -> AsyncIterator[LogLine]:
        await self._account_id()
        seen: set[str] = set()
        since = query.since
        first = True
        while True:
            batch = await self._read_logs(project, stack, query, since, seen)
            batch.sort(key=lambda line: line.at)
            if first and query.tail is not None:
                batch = batch[-query.tail:]
            first = False
            for line in batch:
                since = max(since, line.at) if since else line.at
                yield line
            await anyio.sleep(2.0)

    async def _read_logs(self, project: str, stack: str, query: LogQuery,
                         since: datetime | None, seen: set[str] | None = None) -> list[LogLine]:
        group = names.log_group(project, stack)
        prefixes = [f"{s}/{query.deployment}/" if query.deployment else f"{s}/"
                    for s in query.services] or [None]
        params: dict[str, Any] = {"logGroupName": group}
        if since:
            params["startTime"] = int(since.timestamp() * 1000)
        if query.until:
            params["endTime"] = int(query.until.timestamp() * 1000)

        async def read(prefix: str | None) -> list[LogLine]:
            kept: collections.deque[LogLine] = collections.deque(maxlen=query.tail or _MAX_LOG_LINES)
            extra = {"logStreamNamePrefix": prefix} if prefix else {}
            token = None
            while True:
                page = await self.aws.maybe("logs", "filter_log_events", ("ResourceNotFoundException",),
                                            **params, **extra, **({"nextToken": token} if token else {}))
                if page is None:
                    return []
                for event in page.get("events", []):
                    if seen is not None:
                        if event["eventId"] in seen:
                            continue
                        seen.add(event["eventId"])
                    if prefix and not event["logStreamName"].startswith(prefix):
                        continue
                    service, _, rest = event["logStreamName"].partition("/")
                    if query.deployment and not rest.startswith(query.deployment + "/"):
                        continue
                    kept.append(LogLine(at=datetime.fromtimestamp(event["timestamp"] / 1000, UTC),
                                        service=service, text=event["message"].rstrip("\n")))
                token = page.get("nextToken")
                if not token:
                    return list(kept)

        found = await parallel(*[lambda p=p: read(p) for p in prefixes])
        return [line for lines in found for line in lines]

    # -- destroy ------------------------------------------------------------------------

    async def destroy(self, project: str, stack: str, *, volumes: bool, sink: Sink) -> Teardown:
        account = await self._account_id()
        from launchdeck.engine.deploy import new_deployment_id
        from launchdeck.providers.aws.teardown import teardown

        async with lock.held(self.aws, project, stack, new_deployment_id(), "destroy"):
            return await teardown(self.aws, account, project, stack, sink, self.poll)


# -- the deploy itself ------------------------------------------------------------------


class _Deploy:
    def __init__(self, provider: AwsProvider, project: Project, stack: str,
                 config: Mapping[str, str], etag: str, options: DeployOptions, sink: Sink,
                 account: str) -> None:
        self.aws = provider.aws
        self.poll = provider.poll
        self.project, self.stack, self.config = project, stack, config
        self.etag, self.options, self.sink = etag, options, sink
        self.account = account
        self.changes: dict[str, ChangeSummary] = {}
        self.statuses: dict[str, ServiceStatus] = {}
        self.ready = {name: anyio.Event() for name in project.services}
        self.depths: dict[str, int] = {}

    def say(self, service: str | None, message: str = "", state: State | None = None) -> None:
        self.sink(Event(service, state, message))

    async def execute(self) -> DeployResult:
        aws, project, stack = self.aws, self.project, self.stack
        name = project.name
        wanted = ingress.routes(project)
        # Everything that can refuse does so before anything changes.
        zones = await ingress.hosted_zones(aws, [r.domain for r in wanted if r.domain])
        store_specs = {s.name: stores.store(s, name, stack, self.config)
                       for s in project.services.values() if s.managed_store}
        for service in project.services:
            self.say(service, "", State.UPDATE_QUEUED)
        built = [s for s in project.services.values() if s.build and not s.managed_store]
        tags = names.tag_list(names.tags(name, stack, etag=self.etag))
        shared, net, roles, namespace, repos, found, _ = await parallel(
            lambda: region.ensure(aws, self.account, builds=bool(built)),
            lambda: network.find(aws, name, stack, self.options.network),
            lambda: self._roles(),
            lambda: self._namespace(),
            lambda: self._repositories(built),
            lambda: inventory.tagged(aws, name, stack, _PRUNABLE),
            lambda: region.log_group(aws, names.log_group(name, stack), tags, 30))
        self.region, self.net, self.roles, self.namespace, self.repos, self.inventory = \
            shared, net, roles, namespace, repos, found
        self.stale_groups, self.earlier, live = await parallel(
            lambda: network.security_groups(aws, net, name, stack, _rules(project, wanted), self.etag),
            lambda: _read_record(aws, shared.bucket, name, stack),
            lambda: _services(aws, name, stack, found))
        self.live = live
        self.routes = wanted
        self.ingress_done = anyio.Event()
        self.ingress = ingress.Ingress(target_groups={})  # until _ingress has made it
        self.ingress_error: LaunchdeckError | None = None
        self.ingress_depth = 0
        self.endpoints: dict[str, str] = {}
        graph = {n: {d: dep.condition for d, dep in s.depends_on.items()}
                 for n, s in project.services.items()}
        async with anyio.create_task_group() as group:
            group.start_soon(self._ingress, zones)

            async def work(service: str, milestones: dag.Milestones) -> None:
                await self._service(project.services[service], store_specs, milestones)

            try:
                milestones = await dag.run(graph, work)
            finally:
                group.cancel_scope.cancel()
        continue_chain(max(self.depths.values(), default=0))
        for service, mark in milestones.items():
            if mark.failure and service not in self.statuses:
                self.statuses[service] = ServiceStatus(name=service, state=State.SERVICE_DEPLOYMENT_FAILED,
                                                       message=mark.failure)
                self.say(service, mark.failure, State.SERVICE_DEPLOYMENT_FAILED)
        await self._prune(live)
        result = DeployResult(project=name, stack=stack, provider="aws", deployment_id=self.etag,
                              services=[self.statuses[s] for s in project.services],
                              changes=[self.changes[s] for s in sorted(self.changes)])
        await self._record(result)
        return result

    # - shared per project -

    async def _roles(self) -> tuple[str, str]:
        name, stack, r = self.project.name, self.stack, self.aws.region
        tags = names.tag_list(names.tags(name, stack))
        prefix = f"arn:aws:ssm:{r}:{self.account}:parameter{names.parameter(name, stack, '')}"
        logs = f"arn:aws:logs:{r}:{self.account}:log-group:{names.log_group(name, stack)}:*"
        start = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability",
                                           "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
             "Resource": "*"},
            {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": logs},
            {"Effect": "Allow", "Action": ["ssm:GetParameters", "ssm:GetParameter"],
             "Resource": f"{prefix}*"},
            {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*",
             "Condition": {"StringEquals": {"kms:ViaService": f"ssm.{r}.amazonaws.com"}}}]}
        task_policies: dict[str, dict] = {}
        if any(s.llm is not None for s in self.project.services.values()):
            task_policies["bedrock"] = {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Resource": "*",
                "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]}]}
        return tuple(await parallel(
            lambda: region.ensure_role(self.aws, names.role(name, stack, "exec"),
                                       "ecs-tasks.amazonaws.com", {"start": start}, tags),
            lambda: region.ensure_role(self.aws, names.role(name, stack, "task"),
                                       "ecs-tasks.amazonaws.com", task_policies, tags)))

    async def _namespace(self) -> str:
        """The Cloud Map namespace Service Connect resolves service names in."""
        wanted = names.namespace(self.project.name, self.stack)
        found = await self.aws.pages("servicediscovery", "list_namespaces", "Namespaces",
                                     Filters=[{"Name": "TYPE", "Values": ["HTTP"]}])
        for namespace in found:
            if namespace["Name"] == wanted:
                return namespace["Arn"]
        op = await self.aws("servicediscovery", "create_http_namespace", Name=wanted,
                            Description=f"launchdeck {self.project.name} ({self.stack})",
                            Tags=names.tag_list(names.tags(self.project.name, self.stack)))
        while True:
            status = (await self.aws("servicediscovery", "get_operation",
                                     OperationId=op["OperationId"]))["Operation"]
            if status["Status"] == "SUCCESS":
                namespace_id = status["Targets"]["NAMESPACE"]
                return (await self.aws("servicediscovery", "get_namespace",
                                       Id=namespace_id))["Namespace"]["Arn"]
            if status["Status"] == "FAIL":
                raise ProviderError(f"could not create the service namespace: "
                                    f"{status.get('ErrorMessage', '')}", provider="aws")
            await anyio.sleep(self.poll)

    async def _repositories(self, built: list[Service]) -> dict[str, tuple[str, str]]:
        """service -> (repository name, URI) for every service built from source."""

        async def one(service: Service) -> tuple[str, tuple[str, str]]:
            repo = names.repository(self.project.name, self.stack, service.name)
            found = await self.aws.maybe("ecr", "describe_repositories", ("RepositoryNotFoundException",),
                                         repositoryNames=[repo])
            if found:
                uri = found["repositories"][0]["repositoryUri"]
            else:
                uri = (await self.aws("ecr", "create_repository", repositoryName=repo,
                                      imageTagMutability="IMMUTABLE",
                                      imageScanningConfiguration={"scanOnPush": True},
                                      tags=names.tag_list(names.tags(self.project.name, self.stack,
                                                                     service=service.name))))["repository"]["repositoryUri"]
            return service.name, (repo, uri)

        return dict(await parallel(*[lambda s=s: one(s) for s in built]))

    async def _ingress(self, zones: dict[str, str]) -> None:
        try:
            self.ingress = await ingress.apply(
                self.aws, self.project.name, self.stack, self.net.vpc, self.net.subnets,
                self.net.groups.get("alb", ""), self.routes, zones, self.etag,
                lambda message: self.say(None, message))
        except LaunchdeckError as exc:
            self.ingress_error = exc
        self.ingress_depth = chain_depth()
        self.ingress_done.set()

    # - one service -

    async def _service(self, service: Service, store_specs: dict[str, stores.Store],
                       milestones: dag.Milestones) -> None:
        name = service.name
        try:
            for dep in service.depends_on:
                if dep in self.depths:
                    continue_chain(self.depths[dep])
            if service.managed_store:
                await self._store(store_specs[name])
            else:
                await self._container_service(service, milestones)
        finally:
            self.depths[name] = chain_depth()
            self.ready[name].set()

    async def _store(self, spec: stores.Store) -> None:
        name = spec.service
        self.say(name, "", State.SERVICE_DEPLOYMENT_PENDING)
        try:
            endpoint = await stores.ensure(self.aws, spec, self.project.name, self.stack,
                                           self.net.vpc, self.net.subnets, self.net.groups[f"store:{name}"],
                                           self.etag, lambda message: self.say(name, message))
        except LaunchdeckError as exc:
            self._finish(name, State.SERVICE_DEPLOYMENT_FAILED, str(exc))
            raise
        self.endpoints[name] = endpoint
        self._finish(name, State.SERVICE_DEPLOYMENT_COMPLETED, endpoint,
                     endpoints=[f"{endpoint}:{stores.PORTS[spec.kind]}"])

    async def _container_service(self, service: Service, milestones: dag.Milestones) -> None:
        name = service.name
        image = service.image or ""
        if service.build:
            repo, uri = self.repos[name]

            def log(state: State | None, message: str) -> None:
                self.say(name, message, state)

            try:
                image = await builds.image(self.aws, service.build, uri, repo, self.region.bucket,
                                           log, self.poll)
            except LaunchdeckError as exc:
                self._finish(name, State.BUILD_FAILED, str(exc))
                raise
        # the environment may name any store: wait for those it mentions
        for store, event in self.ready.items():
            other = self.project.services[store]
            if other.managed_store and store != name and _mentions(service, store):
                await event.wait()
                continue_chain(self.depths.get(store, 0))
        if service.ingress_ports:
            await self.ingress_done.wait()
            continue_chain(self.ingress_depth)
            if self.ingress_error:
                self._finish(name, State.SERVICE_DEPLOYMENT_FAILED, str(self.ingress_error))
                raise self.ingress_error
        infra = render.Infra(
            project=self.project.name, stack=self.stack, region=self.aws.region, account=self.account,
            cluster=names.CLUSTER, log_group=names.log_group(self.project.name, self.stack),
            execution_role=self.roles[0], task_role=self.roles[1], subnets=self.net.subnets,
            public_ip=True, namespace=self.namespace,
            security_groups={name: [self.net.groups["members"], self.net.groups[f"service:{name}"]]},
            target_groups=self.ingress.target_groups or {}, images={name: image},
            endpoints=dict(self.endpoints))
        unit = render.render(service, infra, self.config, self.etag)
        current = self.live.get(name)
        action = self._action(unit, current)
        endpoints = self.ingress.endpoints(self.routes, name)
        if action is Action.NOOP:
            status = _status(name, current, endpoints)
            self.changes[name] = ChangeSummary(service=name, action=Action.NOOP)
            if status.state is State.SERVICE_DEPLOYMENT_COMPLETED:
                self._finish(name, status.state, "unchanged", endpoints=endpoints, base=status)
                return
            action = Action.UPDATE  # not running as it should: roll it again
        self.changes[name] = ChangeSummary(service=name, action=action,
                                           reason="new service" if action is Action.CREATE
                                           else "configuration changed")
        await self._apply(unit, current, action)
        milestones.started.set()
        await self._rollout(service, endpoints)

    def _action(self, unit: render.Unit, current: dict[str, Any] | None) -> Action:
        if current is None:
            return Action.CREATE
        if self.options.force or names.tag_dict(current.get("tags")).get(names.HASH) != unit.hash:
            return Action.UPDATE
        return Action.NOOP

    async def _apply(self, unit: render.Unit, current: dict[str, Any] | None, action: Action) -> None:
        aws, name = self.aws, unit.name
        tags = names.tags(self.project.name, self.stack, service=name, etag=self.etag, hash=unit.hash)
        await self._parameters(unit)
        registered = await aws("ecs", "register_task_definition", **unit.task_definition,
                               tags=names.tag_list(tags, "key", "value"))
        arn = registered["taskDefinition"]["taskDefinitionArn"]
        if action is Action.CREATE:
            self.say(name, "creating the ECS service", State.SERVICE_DEPLOYMENT_PENDING)
            await aws("ecs", "create_service", **unit.service, taskDefinition=arn,
                      tags=names.tag_list(tags, "key", "value"))
            return
        self.say(name, "rolling out a new task definition", State.SERVICE_DEPLOYMENT_PENDING)
        params = {k: v for k, v in unit.service.items()
                  if k not in ("serviceName", "launchType", "propagateTags", "enableECSManagedTags")}
        await aws("ecs", "update_service", **params, service=current["serviceArn"], taskDefinition=arn,
                  forceNewDeployment=True)
        await aws("ecs", "tag_resource", resourceArn=current["serviceArn"],
                  tags=names.tag_list(tags, "key", "value"))

    async def _parameters(self, unit: render.Unit) -> None:
        """Write the derived SecureStrings whose value differs (values are never shown)."""
        if not unit.parameters:
            return
        wanted = sorted(unit.parameters)
        have: dict[str, str] = {}
        for start in range(0, len(wanted), 10):
            found = await self.aws("ssm", "get_parameters", Names=wanted[start:start + 10],
                                   WithDecryption=True)
            have.update({p["Name"]: p["Value"] for p in found["Parameters"]})
        tags = names.tag_list(names.tags(self.project.name, self.stack, service=unit.name))

        async def put(parameter: str) -> None:
            if parameter in have:
                await self.aws("ssm", "put_parameter", Name=parameter, Value=unit.parameters[parameter],
                               Type="SecureString", Overwrite=True)
            else:
                await self.aws("ssm", "put_parameter", Name=parameter, Value=unit.parameters[parameter],
                               Type="SecureString", Tags=tags)

        await parallel(*[lambda p=p: put(p) for p in wanted if have.get(p) != unit.parameters[p]])

    async def _rollout(self, service: Service, endpoints: list[str]) -> None:
        """Wait until ECS reports the new deployment complete or failed."""
        name = service.name
        deadline = anyio.current_time() + self.options.wait_timeout
        service_name = names.service_name(self.project.name, self.stack, name)
        while True:
            found = (await self.aws("ecs", "describe_services", cluster=names.CLUSTER,
                                    services=[service_name], include=["TAGS"]))["services"]
            status = _status(name, found[0], endpoints) if found else \
                ServiceStatus(name=name, state=State.SERVICE_DEPLOYMENT_PENDING)
            if status.state is State.SERVICE_DEPLOYMENT_COMPLETED:
                self._finish(name, status.state, "", endpoints=endpoints, base=status)
                return
            if status.state is State.SERVICE_DEPLOYMENT_FAILED:
                self._finish(name, status.state, status.message, base=status)
                raise ProviderError(f"{name}: {status.message}", provider="aws", service=name)
            if anyio.current_time() > deadline:
                status.message = (f"still rolling out after {self.options.wait_timeout:g}s: "
                                  f"{status.replicas_running}/{status.replicas_desired} running")
                self._finish(name, State.SERVICE_DEPLOYMENT_PENDING, status.message, base=status)
                return
            await anyio.sleep(self.poll)

    def _finish(self, name: str, state: State, message: str, *, endpoints: list[str] | None = None,
                base: ServiceStatus | None = None) -> None:
        status = base or ServiceStatus(name=name, state=state)
        status.state = state
        status.message = message if state.failed or state is State.SERVICE_DEPLOYMENT_PENDING else ""
        status.endpoints = endpoints or status.endpoints
        if status.deployment_id is None:
            status.deployment_id = self.etag
        self.statuses[name] = status
        self.say(name, message, state)

    # - after -

    async def _prune(self, live: dict[str, dict[str, Any]]) -> None:
        """Remove what the project no longer has: ECS services, then the target groups, load
        balancer, image repositories and security groups only they used. A store's data is
        never removed here (`compose down` does, with a final snapshot)."""
        aws, project, stack = self.aws, self.project.name, self.stack
        gone = [n for n in sorted(live) if n not in self.project.services]
        for name in gone:
            self.say(name, "removing: no longer in the project")
            await aws("ecs", "delete_service", cluster=names.CLUSTER,
                      service=live[name]["serviceArn"], force=True)
            self.changes[name] = ChangeSummary(service=name, action=Action.DELETE,
                                               reason="no longer in the project")
            repo = names.repository(project, stack, name)
            await aws.maybe("ecr", "delete_repository", ("RepositoryNotFoundException",),
                            repositoryName=repo, force=True)
        if self.ingress_error is not None or (self.routes and not self.ingress_done.is_set()):
            return  # the way in is not settled: keep what it may still use
        if not self.routes:
            for arn in self.inventory["elasticloadbalancing:loadbalancer"]:
                self.say(None, "removing the load balancer: no ingress port is left")
                await aws("elbv2", "delete_load_balancer", LoadBalancerArn=arn)
        wanted = set((self.ingress.target_groups or {}).values())
        for arn in sorted(set(self.inventory["elasticloadbalancing:targetgroup"]) - wanted):
            await aws.maybe("elbv2", "delete_target_group", ("TargetGroupNotFound", "ResourceInUse"),
                            TargetGroupArn=arn)
        for role, group in sorted(self.stale_groups.items()):
            if role.startswith("store:"):
                continue  # the store it guards is still there until `compose down`
            try:
                await aws("ec2", "delete_security_group", GroupId=group)
            except AwsError as exc:  # tasks still draining: a later deploy removes it
                if exc.code != "DependencyViolation":
                    raise

    async def _record(self, result: DeployResult) -> None:
        """Keep the outcome in S3 (ps shows a failed build from it) when it differs."""
        bucket, earlier = self.region.bucket, self.earlier
        if earlier and all(c.action is Action.NOOP for c in result.changes) and \
                [s.state for s in earlier.services] == [s.state for s in result.services]:
            return
        await self.aws("s3", "put_object", Bucket=bucket,
                       Key=names.record_key(result.project, result.stack),
                       Body=result.model_dump_json().encode(), ServerSideEncryption="AES256",
                       ContentType="application/json")


# -- reading ----------------------------------------------------------------------------


async def _read_record(aws: Aws, bucket: str, project: str, stack: str) -> DeployResult | None:
    found = await aws.maybe("s3", "get_object", ("NoSuchKey", "NoSuchBucket", "404"),
                            Bucket=bucket, Key=names.record_key(project, stack))
    if found is None:
        return None
    body = await anyio.to_thread.run_sync(found["Body"].read)
    try:
        return DeployResult.model_validate_json(body)
    except ValueError:
        return None


_PRUNABLE = ["ecs:service", "elasticloadbalancing:targetgroup", "elasticloadbalancing:loadbalancer"]
"""The kinds a deploy looks up by tag: what it may remove when the project no longer has it."""


async def _services(aws: Aws, project: str, stack: str,
                    found: inventory.Inventory | None = None) -> dict[str, dict[str, Any]]:
    """The project's live ECS services by compose service name, found by their tags."""
    found = found or await inventory.tagged(aws, project, stack, _PRUNABLE)
    arns = sorted(found["ecs:service"])
    live: dict[str, dict[str, Any]] = {}
    for start in range(0, len(arns), 10):
        described = await aws.maybe("ecs", "describe_services", ("ClusterNotFoundException",),
                                    cluster=names.CLUSTER, services=arns[start:start + 10],
                                    include=["TAGS"])
        for service in (described or {}).get("services", []):
            tags = names.tag_dict(service.get("tags"))
            if service.get("status") == "ACTIVE" and names.owned(tags, project, stack):
                live[tags.get(names.SERVICE, service["serviceName"])] = service
    return live


def _status(name: str, service: dict[str, Any], endpoints: list[str]) -> ServiceStatus:
    """An ECS service's state in the shared vocabulary."""
    desired, running = service.get("desiredCount", 0), service.get("runningCount", 0)
    primary = next((d for d in service.get("deployments", []) if d.get("status") == "PRIMARY"), {})
    rollout = primary.get("rolloutState")
    tags = names.tag_dict(service.get("tags"))
    message = ""
    if desired == 0:
        state = State.STOPPED
    elif rollout == "FAILED":
        state = State.SERVICE_DEPLOYMENT_FAILED
        message = primary.get("rolloutStateReason", "the deployment failed")
        events = [e["message"] for e in service.get("events", [])[:3]]
        if events:
            message += "; recent events: " + " | ".join(events)
    elif rollout == "COMPLETED" and running >= desired:
        state = State.SERVICE_DEPLOYMENT_COMPLETED
    else:
        state = State.SERVICE_DEPLOYMENT_PENDING
    return ServiceStatus(name=name, state=state, replicas_running=running, replicas_desired=desired,
                         endpoints=endpoints, deployment_id=tags.get(names.ETAG),
                         message=message)


async def _store_status(aws: Aws, project: str, stack: str, service: Service) -> ServiceStatus:
    id_ = names.resource_id(project, stack, service.name)
    if service.managed_store == "postgres":
        found = await aws.maybe("rds", "describe_db_instances",
                                ("DBInstanceNotFound", "DBInstanceNotFoundFault"), DBInstanceIdentifier=id_)
        item = found["DBInstances"][0] if found else None
        status = item["DBInstanceStatus"] if item else None
        endpoint = f"{item['Endpoint']['Address']}:5432" if item and item.get("Endpoint") else None
        tags = names.tag_dict(item.get("TagList")) if item else {}
    else:
        found = await aws.maybe("elasticache", "describe_replication_groups",
                                ("ReplicationGroupNotFoundFault",), ReplicationGroupId=id_)
        item = found["ReplicationGroups"][0] if found else None
        status = item["Status"] if item else None
        groups = item.get("NodeGroups") if item else None
        endpoint = f"{groups[0]['PrimaryEndpoint']['Address']}:6379" if groups else None
        tags = {}
    if status is None:
        return ServiceStatus(name=service.name, state=State.NOT_DEPLOYED)
    state = State.SERVICE_DEPLOYMENT_COMPLETED if status == "available" else \
        State.SERVICE_DEPLOYMENT_FAILED if "fail" in status else \
        State.STOPPED if status == "deleting" else State.SERVICE_DEPLOYMENT_PENDING
    return ServiceStatus(name=service.name, state=state, replicas_running=int(status == "available"),
                         replicas_desired=1, endpoints=[endpoint] if endpoint else [],
                         deployment_id=tags.get(names.ETAG), message="" if state.final else status)


def _mentions(service: Service, store: str) -> bool:
    """Whether ``service`` depends on or names the store ``store`` in its environment."""
    if store in service.depends_on:
        return True
    text = json.dumps({k: str(v) for k, v in service.environment.items()})
    return store in text


def _rules(project: Project, wanted: list[ingress.Route]) -> dict[str, list[network.Rule]]:
    """Security group rules: the internet to the load balancer, it to ingress ports, members
    to each service's declared ports and to the stores."""
    rules: dict[str, list[network.Rule]] = {"members": []}
    if wanted:
        listen = {r.listen for r in wanted if not r.domain}
        if any(r.domain for r in wanted):
            listen |= {80, 443}
        rules["alb"] = [network.Rule(port, "0.0.0.0/0") for port in sorted(listen)]
    for service in project.services.values():
        if service.managed_store:
            rules[f"store:{service.name}"] = [network.Rule(stores.PORTS[service.managed_store], "members")] \
                if service.managed_store in stores.PORTS else []
            continue
        own = [network.Rule(p, "members") for p in render.container_ports(service)]
        own += [network.Rule(r.port, "alb") for r in wanted if r.service == service.name]
        rules[f"service:{service.name}"] = own
    return rules
