"""One deploy to AWS: the engine's seams for ECS services, managed stores and the load balancer.

observe reads what exists (by tags and by the names it gives) without changing anything, so
a plan can render every unit: ECS services, RDS / ElastiCache stores, and the load balancer
as a unit of its own. prepare makes what every unit stands on (the region's bucket, cluster
and builder, the network, roles, namespace, image repositories, security groups, the log
group); each unit is then applied and waited for in dependency order by the engine, a store
and the load balancer as soon as the network and its security groups are there
(``prepared_for``), a service once all of it is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from launchdeck.compose.model import Project, Service
from launchdeck.engine import build as remote
from launchdeck.engine import kinds, model_service, modes, poll
from launchdeck.engine.build_context import Source
from launchdeck.engine.events import Event, Sink, State
from launchdeck.engine.gather import Once
from launchdeck.engine.kinds import LOAD_BALANCER
from launchdeck.engine.plan import Action
from launchdeck.engine.results import ServiceStatus
from launchdeck.engine.seams import (
    Balancer,
    DeployOptions,
    Found,
    Kind,
    Progress,
    Rendered,
    Resolution,
    Session,
    Unit,
)
from launchdeck.errors import ProviderError
from launchdeck.providers.aws import build as builds
from launchdeck.providers.aws import (
    ingress,
    inventory,
    names,
    network,
    region,
    render,
    rollout,
    stores,
    wait,
)
from launchdeck.providers.aws.api import Aws, AwsError, parallel

PRUNABLE = ["ecs:service", "elasticloadbalancing:targetgroup", "elasticloadbalancing:loadbalancer"]
"""The kinds a deploy looks up by tag: what it may remove when the project no longer has it."""
KEEP_IMAGES = {"rules": [{"rulePriority": 1, "description": "keep the last 10 images",
                          "selection": {"tagStatus": "any", "countType": "imageCountMoreThan",
                                        "countNumber": 10},
                          "action": {"type": "expire"}}]}
"""Every build pushes a new image; older ones than the last ten are expired."""
ECS_DESCRIBED = 10
"""Services one DescribeServices call may name."""
POLL = 5.0
"""Seconds between reads while waiting, unless the provider is told otherwise."""
STUCK_LOOKS = 5
"""Looks without headway, besides ``rollout.PLACEMENT_WAIT``, before a rollout short of vCPUs fails."""
NAMESPACE_WAIT = 300.0
"""Seconds for Cloud Map to make a namespace (it usually takes under a minute)."""


class AwsSession(Session):
    resolution = Resolution.AT_START  # Service Connect resolves a name only if it existed when a
    # task started: "Existing tasks can't resolve and connect to the new endpoint" (ECS Developer
    # Guide, Service Connect components): a client started before it is restarted

    def __init__(self, aws: Aws, account: str, project: Project, stack: str,
                 config: Mapping[str, str], etag: str, options: DeployOptions, sink: Sink,
                 poll_interval: float, named: names.Names) -> None:
        self.aws, self.account, self.project, self.stack = aws, account, project, stack
        self.named = named
        """The names the stack's things have (``inventory.stack_names``)."""
        self.config, self.etag, self.options, self.sink = config, etag, options, sink
        self.poll = self.interval = poll_interval
        self.settle = poll_interval * region.CONSISTENCY_INTERVAL / POLL
        """The first wait before calling again what AWS refused as not consistent yet: as much
        shorter than a poll as AWS's consistency windows (seconds) are than what is polled for
        (minutes), so a step that waits for one starts soon after it has passed."""
        self.routes = ingress.routes(project)
        self.services, self.stores, self.ingress = _Services(self), _Stores(self), _Balancer(self)
        self.gateway = {"REGION": aws.region or ""}
        self.region = region.Region(aws.region, account, names.bucket(account, aws.region))
        self.net = network.Network("", [])
        self.namespace: str | None = None
        self.balancer = ingress.Ingress(target_groups={})
        self.endpoints: dict[str, str] = {}
        """Managed store service -> its endpoint's host name."""
        self.live: dict[str, dict[str, Any]] = {}
        self.stale_groups: dict[str, str] = {}
        self.prepared = False
        """Whether prepare ran (the engine does not ask for it when every unit is NOOP)."""
        self.groups: tuple[str, list[dict[str, Any]]] = ("", [])
        """The VPC observe looked in, and the stack's security groups it found there."""
        self.zones: dict[str, str] = {}
        self.registered: dict[str, str] = {}
        """Service -> the task definition this deploy registered for it."""
        self.pulled: dict[str, str] = {}
        """Service -> the image digest its container runs in a task of that task definition, as
        its rollout's looks saw it (ECS resolves a tag once per deployment): what ``pinned``
        would ask for again once every unit has settled."""
        self.refusal: ProviderError | None = None
        self.hub: tuple[str, str] | None = None
        """The SSM parameters of the stack's Docker Hub credentials, when both are set."""
        self.hub_fresh = False
        """Whether the builds were allowed to read them just now (IAM may not show it yet)."""
        self.vcpu_quota: float | None = None
        """The account's Fargate vCPU quota in this region, when Service Quotas said."""
        self.placement_wait = poll_interval * rollout.PLACEMENT_WAIT / POLL
        """How long a rollout may place no task for want of Fargate vCPUs (scaled like a poll)."""
        self._shared = Once(self._make_shared, lambda: ProviderError(
            "making what the builds stand on was interrupted", provider="aws", hint="Deploy again."))
        self._grounded = Once(self._ground, lambda: ProviderError(
            "making the network's security groups was interrupted", provider="aws", hint="Deploy again."))
        self._prepared = Once(self._prepare, lambda: ProviderError(
            "making what the services stand on was interrupted", provider="aws", hint="Deploy again."))
        self.described = wait.Together(self._described, ECS_DESCRIBED)
        """Looks at the services rolling out, made together."""

    async def _described(self, services: list[str]) -> dict[str, dict[str, Any]]:
        found = await self.aws("ecs", "describe_services", cluster=names.CLUSTER, services=services,
                               include=["TAGS"])
        return {s["serviceName"]: s for s in found["services"]}

    @property
    def name(self) -> str:
        return self.project.name

    def say(self, service: str | None, message: str) -> None:
        self.sink(Event(service, None, message))

    # -- reading ---------------------------------------------------------------------------

    async def observe(self) -> dict[str, Found]:
        aws = self.aws
        stored = [s for s in self.project.services.values() if s.managed_store]

        async def net() -> network.Network:
            found, groups = await network.observed(aws, self.name, self.stack, self.options.network)
            if found.vpc:
                self.groups = (found.vpc, groups)
                found.groups.update(network.by_role(groups))
            return found

        async def services() -> tuple[inventory.Inventory, dict[str, dict[str, Any]]]:
            found = await inventory.tagged(aws, self.name, self.stack, PRUNABLE)
            return found, await _services(aws, self.name, self.stack, found)

        _, self.zones, self.net, (self.inventory, self.live), balancer, namespace, *store_found = \
            await parallel(
                self._fargate_quota,
                self._zones,
                net, services,
                lambda: ingress.find(aws, self.named, self.routes),
                lambda: inventory.find_namespace(aws, self.named, refuse=True),
                *[lambda s=s: stores.find(aws, s, self.named) for s in stored])
        self.namespace = namespace["Arn"] if namespace else None
        self.balancer = balancer.ingress
        out: dict[str, Found] = {}
        for name, service in self.live.items():
            status = status_of(name, service, self.balancer.endpoints(self.routes, name))
            out[name] = Found(names.tag_dict(service.get("tags")).get(names.HASH, ""),
                              replicas=service.get("desiredCount", 0),
                              ready=not status.state.failed and status.state is not State.STOPPED,
                              status=status)
        for service, store in zip(stored, store_found, strict=True):
            if store is not None:
                if store.endpoint:
                    self.endpoints[service.name] = store.endpoint
                status = stores.status(service.name, store)
                out[service.name] = Found(store.digest, kind=Kind.STORE,
                                          ready=not status.state.failed, status=status)
        if balancer.balancer is not None:
            out[LOAD_BALANCER] = Found(balancer.digest, kind=Kind.INGRESS,
                                       status=ServiceStatus(name=LOAD_BALANCER,
                                                            state=State.SERVICE_DEPLOYMENT_COMPLETED))
        return out

    async def _fargate_quota(self) -> None:
        """The project's Fargate vCPUs against the account's quota ("Fargate On-Demand vCPU
        resource count", L-3032A538, which a new account may have at 6): more is refused before
        anything is made, since ECS would only fail to place the tasks. Unknown (no Service
        Quotas access) is no refusal.

        What else runs in the account is not counted here: the quota covers every cluster's
        tasks (and EKS pods) of the region, which only a listing of every cluster's tasks could
        add up on each deploy; what runs now may be gone in a minute (another stack's rolling
        update, a service draining), and ECS places a task as soon as there is room. So a
        refusal on that count could refuse a deploy that succeeds; the rollout instead watches
        ECS's placement events and stops, naming the quota, when no task can be placed
        (``_Services.look``)."""
        needed = sum(render.fargate_size(s)[0] / 1024 * s.replica_count
                     for s in self.project.services.values() if not s.managed_store)
        try:
            found = await self.aws("service-quotas", "get_service_quota", ServiceCode="fargate",
                                   QuotaCode=rollout.QUOTA_CODE)
        except ProviderError:
            return
        allowed = float(found.get("Quota", {}).get("Value", 0) or 0)
        self.vcpu_quota = allowed or None
        if allowed and needed > allowed:
            self.refusal = ProviderError(
                f"the project's services need {needed:g} Fargate vCPUs at once, and the account's "
                f"quota \"Fargate On-Demand vCPU resource count\" is {allowed:g}", provider="aws",
                hint="Ask for more in the Service Quotas console (AWS Fargate, quota L-3032A538), or "
                     "lower deploy.resources or deploy.replicas.")

    async def _zones(self) -> dict[str, str]:
        """The Route 53 zone of each domain; a domain without one is the deploy's refusal."""
        try:
            return await ingress.hosted_zones(self.aws, [r.domain for r in self.routes if r.domain])
        except ProviderError as exc:
            self.refusal = exc
            return {}

    async def image(self, service: Service, source: Source | None, *, build: bool,
                    progress: Progress) -> str:
        """The image URI: for a built service, named by its context's digest (built by
        CodeBuild when ``build`` and ECR does not have it)."""
        if service.model_provider is not None:
            return model_service.gateway_image(service)
        if source is None or service.build is None:
            return service.image or ""
        repo = names.repository(self.name, self.stack, service.name)
        uri = f"{self.account}.dkr.ecr.{self.aws.region}.amazonaws.com/{repo}"
        if not build:
            return f"{uri}:{source.digest}"
        builder = builds.CodeBuild(self.aws, self.region.bucket, interval=self.poll,
                                   say=lambda message: progress(None, message))

        async def ready() -> None:
            # the builder project, its role and the repository the build pushes to, and the
            # Docker Hub login the builds use; the context goes up meanwhile, to the region's
            # bucket, which the deploy's lock has made
            await self.prepare_builds()
            builder.hub, builder.hub_fresh = self.hub, self.hub_fresh

        return await remote.image(builder, service, source, f"{uri}:{source.digest}", progress,
                                  interval=self.poll, ready=ready)

    async def has_image(self, image: str) -> bool:
        """Whether ECR still has ``image`` (a rollback refuses one that is gone)."""
        from launchdeck.providers.aws import images

        return await images.kept(self.aws, self.account, image)

    async def pinned(self, service: str, image: str) -> str | None:
        """``image`` by the digest the service's running tasks pulled (or ECR's for its tag),
        for the history: a rollback runs it even after the tag moved."""
        from launchdeck.providers.aws import images

        definition = self.registered.get(service) or (self.live.get(service) or {}).get(
            "taskDefinition")
        if definition is None:  # not an ECS service (a managed store), or not made
            return None
        if service in self.pulled and "@sha256:" not in image:  # seen as it rolled out
            return images.by_digest(image, self.pulled[service])
        return await images.pinned(self.aws, self.account, self.named.service(service), definition,
                                   names.container(service), image)

    def infra(self, service: Service, image: str) -> render.Infra:
        name, r = service.name, self.aws.region
        groups = [self.net.groups.get("members", ""), self.net.groups.get(f"service:{name}", "")]
        return render.Infra(
            project=self.name, stack=self.stack, region=r, account=self.account,
            cluster=names.CLUSTER, log_group=names.log_group(self.name, self.stack),
            mark=self.named.mark,
            execution_role=f"arn:aws:iam::{self.account}:role/{self.named.role('exec')}",
            task_role=f"arn:aws:iam::{self.account}:role/{self.named.role('task')}",
            subnets=self.net.subnets, public_ip=True, namespace=self.namespace,
            security_groups={name: groups}, target_groups=self.balancer.target_groups or {},
            images={name: image}, endpoints=dict(self.endpoints), mode=self.options.mode,
            documentdb=self._stores("mongodb"), postgres=self._stores("postgres"))

    def _stores(self, kind: str) -> frozenset[str]:
        """The project's managed stores of ``kind`` (``managed_store``)."""
        return frozenset(n for n, s in self.project.services.items() if s.managed_store == kind)

    # -- changing --------------------------------------------------------------------------

    async def prepare(self) -> None:
        """What every unit stands on, made where missing and reconciled where it differs; made
        once, whether the engine or a service (``prepared_for``) asks first.

        Each chain runs beside the others, and each step in it as soon as what it names exists
        (the security groups right after the network, Fargate Spot right after the cluster)."""
        await self._prepared()

    async def prepared_for(self, unit: Unit) -> None:
        """What ``unit`` stands on, made (the engine asks before it applies each unit): a
        managed store and the load balancer stand on the network and its security groups alone,
        so a store's creation, the longest wait of a first deploy, starts as soon as they are
        in place, without waiting for the cluster, the roles or the builder; a service stands on
        all of ``prepare``."""
        if unit.kind is Kind.SERVICE:
            await self.prepare()
        else:
            await self._grounded()

    async def _prepare(self) -> None:
        aws, project, stack = self.aws, self.name, self.stack
        tags = names.tag_list(names.tags(project, stack, etag=self.etag))
        self.prepared = True

        async def cluster() -> None:
            await region.cluster(aws, self.settle, lambda m: self.say(None, m))
            if modes.of(self.options.mode).spot_beyond_first:
                await self._spot()

        async def namespace() -> None:
            self.namespace = await self._namespace()

        await parallel(
            self.prepare_builds, cluster, self._grounded, self._roles, namespace,
            lambda: region.log_group(aws, names.log_group(project, stack), tags,
                                     modes.of(self.options.mode).log_days))

    async def _ground(self) -> None:
        """The network, the stack's security groups in it with their rules, and the subnet
        groups of its managed stores."""
        aws, project, stack = self.aws, self.name, self.stack
        if self.options.network == "dedicated" or not self.net.vpc:
            found = await network.find(aws, project, stack, self.options.network,
                                       interval=self.settle, say=lambda m: self.say(None, m))
        else:
            found = self.net  # the default VPC, as observe found it
        vpc, seen = self.groups
        self.stale_groups, _ = await parallel(
            lambda: network.security_groups(aws, found, self.named, self._rules(), self.etag,
                                            interval=self.settle, say=lambda m: self.say(None, m),
                                            seen=seen if vpc == found.vpc else None),
            lambda: stores.subnet_groups(aws, [s.managed_store for s in self.project.services.values()
                                               if s.managed_store], found.vpc, found.subnets,
                                         interval=self.settle, say=lambda m: self.say(None, m)))
        self.net = found

    async def prepare_builds(self) -> None:
        """What the builds stand on (the region's bucket and builder, an image repository for
        each service built from source, the Docker Hub login): made once, whether the engine or
        ``prepare`` asks first; the cluster is not part of it."""
        await self._shared()

    async def _make_shared(self) -> None:
        built = [s for s in self.project.services.values() if s.build and not s.managed_store]

        async def builder() -> None:
            ensure = lambda: region.ensure_builder(self.aws, self.account, builds=bool(built),  # noqa: E731
                                                   interval=self.settle)
            if not built:
                await ensure()
                return
            _, hub = await parallel(ensure, self._hub_config)
            await self._hub_access(hub)

        await parallel(builder, lambda: self._repositories(built))

    async def _hub_config(self) -> tuple[str, str] | None:
        """The SSM parameters of the stack's Docker Hub credentials, if both are set (read
        without their values)."""
        user, token = (names.parameter(self.name, self.stack, n) for n in builds.HUB_CONFIG)
        found = await self.aws("ssm", "describe_parameters", ParameterFilters=[
            {"Key": "Name", "Option": "Equals", "Values": [user, token]}])
        return (user, token) if {p["Name"] for p in found.get("Parameters", [])} >= {user, token} else None

    async def _hub_access(self, hub: tuple[str, str] | None) -> None:
        """Let the builds read exactly the stack's Docker Hub credentials, or nothing of them."""
        self.hub = hub
        self.hub_fresh = await region.role_policy(
            self.aws, region.codebuild_role(self.aws.region), names.hub_policy(self.name, self.stack),
            builds.hub_policy(self.aws.region, self.account, hub) if hub else None)

    async def _spot(self) -> None:
        """Let the cluster run tasks on Fargate Spot: "The specified capacity provider strategy
        cannot contain a capacity provider that is not associated with the cluster" (ECS
        CreateService). Only the FARGATE providers are named, and no default strategy is set,
        so the services of other stacks on the shared cluster keep their launch type."""
        found = await self.aws("ecs", "describe_clusters", clusters=[names.CLUSTER])
        have = set((found.get("clusters") or [{}])[0].get("capacityProviders") or [])
        if {"FARGATE", "FARGATE_SPOT"} <= have:
            return
        await self.aws("ecs", "put_cluster_capacity_providers", cluster=names.CLUSTER,
                       capacityProviders=sorted(have | {"FARGATE", "FARGATE_SPOT"}),
                       defaultCapacityProviderStrategy=[])

    async def _roles(self) -> tuple[str, str]:
        name, stack, r = self.name, self.stack, self.aws.region
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
        if any(s.llm is not None for s in self.project.services.values()) or \
                model_service.uses_models(self.project):
            task_policies["bedrock"] = {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Resource": "*",
                "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]}]}
        owner = (name, stack)
        return tuple(await parallel(
            lambda: region.ensure_role(self.aws, self.named.role("exec"), "ecs-tasks.amazonaws.com",
                                       {"start": start}, tags, owner=owner),
            lambda: region.ensure_role(self.aws, self.named.role("task"), "ecs-tasks.amazonaws.com",
                                       task_policies, tags, owner=owner)))

    async def _namespace(self) -> str:
        """The Cloud Map namespace Service Connect resolves service names in."""
        if self.namespace:
            return self.namespace
        op = await self.aws("servicediscovery", "create_http_namespace",
                            Name=self.named.namespace(),
                            Description=f"launchdeck {self.name} ({self.stack})",
                            Tags=names.tag_list(names.tags(self.name, self.stack)))

        async def created() -> tuple[str | None, str]:
            status = (await self.aws("servicediscovery", "get_operation",
                                     OperationId=op["OperationId"]))["Operation"]
            if status["Status"] == "FAIL":
                raise ProviderError(f"could not create the service namespace: "
                                    f"{status.get('ErrorMessage', '')}", provider="aws")
            if status["Status"] == "SUCCESS":
                return status["Targets"]["NAMESPACE"], ""
            return None, status["Status"].lower()

        namespace_id = await wait.until(created, what="the service namespace", interval=self.poll,
                                        timeout=NAMESPACE_WAIT, say=lambda m: self.say(None, m),
                                        hint="Deploy again to keep waiting.")
        return (await self.aws("servicediscovery", "get_namespace", Id=namespace_id))["Namespace"]["Arn"]

    async def _repositories(self, built: list[Service]) -> None:
        """An image repository for every service built from source."""

        async def one(service: Service) -> None:
            repo = names.repository(self.name, self.stack, service.name)
            found = await self.aws.maybe("ecr", "describe_repositories", ("RepositoryNotFoundException",),
                                         repositoryNames=[repo])
            if found:
                tags = await self.aws("ecr", "list_tags_for_resource",
                                      resourceArn=found["repositories"][0]["repositoryArn"])
                names.refuse_foreign("image repository", repo, names.tag_dict(tags.get("tags")),
                                     self.name, self.stack)
                return
            await self.aws("ecr", "create_repository", repositoryName=repo,
                           imageTagMutability="IMMUTABLE",
                           imageScanningConfiguration={"scanOnPush": True},
                           tags=names.tag_list(names.tags(self.name, self.stack, service=service.name)))
            await self.aws("ecr", "put_lifecycle_policy", repositoryName=repo,
                           lifecyclePolicyText=json.dumps(KEEP_IMAGES))

        await parallel(*[lambda s=s: one(s) for s in built])

    def _rules(self) -> dict[str, list[network.Rule]]:
        served = [kinds.running(self, self.project, name)
                  for name in self.project.services]
        return _rules(served, self.routes)

    async def tidy(self) -> None:
        """Remove the target groups and security groups nothing uses any more. A store's data
        is never removed here (`compose down` does, with a final snapshot)."""
        aws = self.aws
        if not self.prepared:  # an unchanged project: the stale groups are among those observed
            self.stale_groups = network.stale(self.groups[1], self._rules())
        wanted = set((self.balancer.target_groups or {}).values())
        if self.routes and not wanted:
            return  # the way in is not settled: keep what it may still use
        for arn in sorted(set(self.inventory["elasticloadbalancing:targetgroup"]) - wanted):
            await aws.maybe("elbv2", "delete_target_group", ("TargetGroupNotFound", "ResourceInUse"),
                            TargetGroupArn=arn)
        # a service's group names alb and members in its rules: it goes first, or AWS refuses
        for role, group in sorted(self.stale_groups.items(),
                                  key=lambda item: (item[0] in ("alb", "members"), item[0])):
            if role.startswith("store:"):
                continue  # the store it guards is still there until `compose down`
            try:
                await aws("ec2", "delete_security_group", GroupId=group)
            except AwsError as exc:  # tasks still draining: a later deploy removes it
                if exc.code != "DependencyViolation":
                    raise


# -- the drivers of each kind -------------------------------------------------------------


class _Services:
    """Compose services as ECS services on Fargate."""

    def __init__(self, session: AwsSession) -> None:
        self.s = session
        self.said: dict[str, str] = {}
        """Service -> how far its tasks were, as last said."""
        self.stuck: dict[str, tuple[Any, float, int]] = {}
        """Service -> (how far its deployments and tasks were, since when, looks since) while ECS
        cannot place its tasks for want of Fargate vCPUs."""

    def render(self, service: Service, image: str) -> Rendered:
        unit = render.render(service, self.s.infra(service, image), self.s.config, self.s.etag)
        mode = self.s.options.mode
        moved = unit.service["desiredCount"] != render.replicas(service, modes.DEFAULT) or \
            "capacityProviderStrategy" in unit.service
        return Rendered(spec=unit, hash=unit.hash, replicas=unit.service["desiredCount"],
                        scales=unit.scaling is not None, mode=mode.value if moved else None)

    async def apply(self, unit: Unit, action: Action, progress: Progress) -> None:
        await self._apply(unit, progress)

    async def _apply(self, unit: Unit, progress: Progress) -> None:
        s = self.s
        aws, name, rendered = s.aws, unit.name, unit.spec
        tags = names.tags(s.name, s.stack, service=name, etag=s.etag, hash=unit.digest)
        if rendered.scaling is not None:
            tags[names.SCALING] = rendered.scaling.tag
        roles = f"the roles of {name}"  # a role made moments ago may not be usable yet
        current = s.live.get(name)

        async def register() -> str:
            registered = await region.first_use(
                lambda: aws("ecs", "register_task_definition", **rendered.task_definition,
                            tags=names.tag_list(tags, "key", "value")), what=roles, interval=s.settle)
            return registered["taskDefinition"]["taskDefinitionArn"]

        # none needs another (a task definition names its parameters; ECS reads them when a
        # task starts): the tasks start once all three are done
        steps = [lambda: self._parameters(rendered), register]
        if current is None:
            steps.append(lambda: rollout.drained(aws, names.CLUSTER, rendered.service["serviceName"],
                                                 interval=s.poll, say=lambda m: progress(None, m)))
        arn = (await parallel(*steps))[1]
        s.registered[name] = arn
        tags[names.REVISION] = arn.rsplit("/", 1)[-1]  # the service's tags, not the definition's
        if current is None:
            progress(None, "creating the ECS service")
            await region.first_use(
                lambda: aws("ecs", "create_service", **rendered.service, taskDefinition=arn,
                            tags=names.tag_list(tags, "key", "value")), what=roles,
                interval=s.settle)
            await self._scaling(rendered, None, progress)
            return
        progress(None, "rolling out a new task definition")
        # the autoscaler owns the count of a service that follows the load: a rollout keeps it
        leave = {"serviceName", "launchType", "propagateTags", "enableECSManagedTags"}
        if rendered.scaling is not None:
            leave.add("desiredCount")
        params = {k: v for k, v in rendered.service.items() if k not in leave}
        if "capacityProviderStrategy" not in params and current.get("capacityProviderStrategy"):
            # back from Fargate Spot: UpdateService takes no launch type, only a strategy
            params["capacityProviderStrategy"] = [{"capacityProvider": "FARGATE", "weight": 1}]
        await aws("ecs", "update_service", **params, service=current["serviceArn"], taskDefinition=arn,
                  forceNewDeployment=True)
        await aws("ecs", "tag_resource", resourceArn=current["serviceArn"],
                  tags=names.tag_list(tags, "key", "value"))
        await self._scaling(rendered, current, progress)

    async def _scaling(self, rendered: render.Unit, current: dict[str, Any] | None,
                       progress: Progress) -> None:
        """Register the service's scalable target and its CPU policy once the ECS service
        exists ("you must register the ECS service as a scalable target" first, Application
        Auto Scaling User Guide); or deregister the target of a service that stopped
        following the load (its policies go with it)."""
        aws, service = self.s.aws, rendered.service["serviceName"]
        target = {"ServiceNamespace": "ecs", "ResourceId": f"service/{names.CLUSTER}/{service}",
                  "ScalableDimension": "ecs:service:DesiredCount"}
        bounds = rendered.scaling
        if bounds is None:
            if current is not None and names.SCALING in names.tag_dict(current.get("tags")):
                progress(None, "the replica count is fixed again: removing its autoscaling")
                await aws.maybe("application-autoscaling", "deregister_scalable_target",
                                ("ObjectNotFoundException",), **target)
                await aws("ecs", "untag_resource", resourceArn=current["serviceArn"],
                          tagKeys=[names.SCALING])
            return
        progress(None, f"scaling between {bounds.low} and {bounds.high} replicas near "
                       f"{bounds.cpu}% CPU")
        await aws("application-autoscaling", "register_scalable_target", **target,
                  MinCapacity=bounds.low, MaxCapacity=bounds.high)
        await aws("application-autoscaling", "put_scaling_policy", **target,
                  PolicyName=f"{service}-cpu", PolicyType="TargetTrackingScaling",
                  TargetTrackingScalingPolicyConfiguration={
                      "TargetValue": float(bounds.cpu),
                      "PredefinedMetricSpecification": {
                          "PredefinedMetricType": "ECSServiceAverageCPUUtilization"}})

    async def restart(self, unit: Unit, progress: Progress) -> None:
        """A new deployment of what the service runs now: new tasks, which resolve every name
        the namespace has now."""
        s = self.s
        s.pulled.pop(unit.name, None)  # the new deployment resolves the tag again
        await s.aws("ecs", "update_service", cluster=names.CLUSTER,
                    service=s.named.service(unit.name), forceNewDeployment=True)

    async def _parameters(self, unit: render.Unit) -> None:
        """Write the derived SecureStrings whose value differs (values are never shown)."""
        s = self.s
        if not unit.parameters:
            return
        wanted = sorted(unit.parameters)
        have: dict[str, str] = {}
        for start in range(0, len(wanted), 10):
            found = await s.aws("ssm", "get_parameters", Names=wanted[start:start + 10],
                                WithDecryption=True)
            have.update({p["Name"]: p["Value"] for p in found["Parameters"]})
        tags = names.tag_list(names.tags(s.name, s.stack, service=unit.name))

        async def put(parameter: str) -> None:
            if parameter in have:
                await s.aws("ssm", "put_parameter", Name=parameter, Value=unit.parameters[parameter],
                            Type="SecureString", Overwrite=True)
            else:
                await s.aws("ssm", "put_parameter", Name=parameter, Value=unit.parameters[parameter],
                            Type="SecureString", Tags=tags)

        await parallel(*[lambda p=p: put(p) for p in wanted if have.get(p) != unit.parameters[p]])

    async def look(self, unit: Unit, progress: Progress) -> ServiceStatus:
        """The rollout of the task definition this deploy registered (a rollback is a failure),
        with how far its tasks are, said as it changes."""
        s, name = self.s, unit.name
        found = await s.described(s.named.service(name))
        if found is None:
            return ServiceStatus(name=name, state=State.SERVICE_DEPLOYMENT_PENDING)
        definition = s.registered.get(name)
        status = status_of(name, found, s.balancer.endpoints(s.routes, name), definition)
        mine = rollout.deployment(found, definition)
        if status.state is not State.SERVICE_DEPLOYMENT_PENDING or mine is None:
            self.stuck.pop(name, None)
            return status
        said, tasks = status.message, []
        if mine.get("pendingCount"):  # tasks on their way: which state each is in, as they are now
            tasks = [t for t in await self._tasks(found["serviceName"])
                     if t.get("taskDefinitionArn") == definition]
            self._pulled(name, tasks)
            running = sum(t.get("lastStatus") == "RUNNING" for t in tasks)
            said = ", ".join(filter(None, [rollout.tasks_said(tasks),
                                           f"{running}/{mine.get('desiredCount', 0)} running"]))
        refused = self._out_of_vcpus(unit, found, mine, tasks, progress)
        if refused is not None:
            return status.model_copy(update={"state": State.SERVICE_DEPLOYMENT_FAILED, "message": refused[0],
                                             "start_error": refused[1]})
        if name in self.stuck:
            said = f"{said}; {rollout.unplaced(mine)} not placed: the Fargate vCPU quota is used up"
        if said and self.said.get(name) != said:
            self.said[name] = said
            progress(None, f"tasks: {said}")
        return status.model_copy(update={"message": said})

    def _pulled(self, name: str, tasks: list[dict[str, Any]]) -> None:
        """Keep the digest a task of this deployment pulled for the service's container."""
        for task in tasks:
            for container in task.get("containers", []):
                if container.get("name") == names.container(name) and container.get("imageDigest"):
                    self.s.pulled[name] = container["imageDigest"]

    def _out_of_vcpus(self, unit: Unit, found: dict[str, Any], mine: Mapping[str, Any],
                      tasks: list[dict[str, Any]], progress: Progress) -> tuple[str, str] | None:
        """Why the rollout fails, and ECS's event, once ECS says it cannot place the rollout's
        tasks for want of Fargate vCPUs and no task of the service has been placed, started or
        stopped for ``placement_wait`` (and a few looks, so that slow answers are not taken for
        time without headway); said at once when ECS first says so. ECS keeps trying meanwhile,
        and the deployment stays IN_PROGRESS."""
        s, name = self.s, unit.name
        refused = rollout.placement(found, mine)
        left = rollout.unplaced(mine)
        if refused is None or left == 0 or not rollout.out_of_vcpus(refused):
            self.stuck.pop(name, None)
            return None
        # a task placed, on its way or stopped (an old one, for a new one healthy) is headway
        headway = (tuple((d.get("runningCount", 0), d.get("pendingCount", 0))
                         for d in found.get("deployments", [])),
                   tuple(sorted((t.get("taskArn", ""), t.get("lastStatus", "")) for t in tasks)))
        seen = self.stuck.get(name)
        if seen is None:
            progress(None, f"ECS cannot place {left} task(s): the account's Fargate vCPU quota "
                           f"({rollout.QUOTA_CODE}) is used up; waiting for vCPUs to free up")
        if seen is None or seen[0] != headway:
            self.stuck[name] = (headway, poll.clock(), 1)
            return None
        self.stuck[name] = (headway, seen[1], seen[2] + 1)
        if poll.clock() - seen[1] < s.placement_wait or seen[2] < STUCK_LOOKS:
            return None
        vcpus = int(unit.spec.task_definition.get("cpu", 1024)) / 1024
        return rollout.quota_refusal(left, mine.get("desiredCount", 0), vcpus, s.vcpu_quota,
                                     s.aws.region), refused

    async def _tasks(self, service: str) -> list[dict[str, Any]]:
        """The service's tasks that are to run (being started, or running), as DescribeTasks
        shows them."""
        listed = await self.s.aws.maybe("ecs", "list_tasks", ("ClusterNotFoundException",
                                                              "ServiceNotFoundException"),
                                        cluster=names.CLUSTER, serviceName=service,
                                        desiredStatus="RUNNING")
        arns = (listed or {}).get("taskArns", [])[:100]  # DescribeTasks takes at most 100
        if not arns:
            return []
        return (await self.s.aws("ecs", "describe_tasks", cluster=names.CLUSTER, tasks=arns))["tasks"]

    async def remove(self, name: str, found: Found, progress: Progress) -> None:
        """Remove a service the project no longer has, with its image repository."""
        aws, s = self.s.aws, self.s
        if names.SCALING in names.tag_dict(s.live[name].get("tags")):
            await aws.maybe("application-autoscaling", "deregister_scalable_target",
                            ("ObjectNotFoundException",), ServiceNamespace="ecs",
                            ResourceId=f"service/{names.CLUSTER}/{s.live[name]['serviceName']}",
                            ScalableDimension="ecs:service:DesiredCount")
        await aws("ecs", "delete_service", cluster=names.CLUSTER,
                  service=s.live[name]["serviceArn"], force=True)
        await aws.maybe("ecr", "delete_repository", ("RepositoryNotFoundException",),
                        repositoryName=names.repository(s.name, s.stack, name), force=True)


class _Stores:
    """Managed stores as RDS PostgreSQL instances, ElastiCache Redis replication groups and
    DocumentDB clusters."""

    def __init__(self, session: AwsSession) -> None:
        self.s = session
        self.said: dict[str, str] = {}

    def render(self, service: Service) -> stores.Store:
        return stores.store(service, self.s.named, self.s.config, self.s.options.mode)

    async def apply(self, unit: Unit, action: Action, progress: Progress) -> None:
        s = self.s
        await stores.ensure(s.aws, unit.spec, unit.digest, s.name, s.stack, s.net.vpc,
                            s.net.subnets, s.net.groups[f"store:{unit.name}"], s.etag,
                            lambda message: progress(None, message))

    async def look(self, unit: Unit, progress: Progress) -> ServiceStatus:
        s, spec = self.s, unit.spec
        host, doing = await stores.look(s.aws, spec)
        if host is None:
            if self.said.get(unit.name) != doing:
                self.said[unit.name] = doing
                progress(None, f"waiting for the {spec.kind} store: {doing}")
            return ServiceStatus(name=unit.name, state=State.SERVICE_DEPLOYMENT_PENDING, message=doing)
        s.endpoints[unit.name] = host
        return ServiceStatus(name=unit.name, state=State.SERVICE_DEPLOYMENT_COMPLETED,
                             replicas_running=1, replicas_desired=1, message=host,
                             endpoints=[f"{host}:{stores.PORTS[spec.kind]}"])

    async def remove(self, name: str, found: Found, progress: Progress) -> None:
        """A store the project no longer has stays, with its data, until `compose down`."""
        progress(None, "kept: a removed store keeps its data until `compose down`")


class _Balancer:
    """The Application Load Balancer in front of the ingress ports, with its certificates."""

    def __init__(self, session: AwsSession) -> None:
        self.s = session

    def render(self) -> Balancer:
        return Balancer(routes=self.s.routes, zones=self.s.zones)

    async def apply(self, unit: Unit, action: Action, progress: Progress) -> None:
        s = self.s
        s.balancer = await ingress.apply(
            s.aws, s.named, s.net.vpc, s.net.subnets, s.net.groups.get("alb", ""),
            s.routes, s.zones, s.etag, unit.digest, lambda message: progress(None, message), s.poll)

    async def look(self, unit: Unit, progress: Progress) -> ServiceStatus:
        return ServiceStatus(name=unit.name, state=State.SERVICE_DEPLOYMENT_COMPLETED)

    async def remove(self, name: str, found: Found, progress: Progress) -> None:
        progress(None, "removing the load balancer: no ingress port is left")
        for arn in self.s.inventory["elasticloadbalancing:loadbalancer"]:
            await self.s.aws("elbv2", "delete_load_balancer", LoadBalancerArn=arn)


# -- reading ------------------------------------------------------------------------------


async def _services(aws: Aws, project: str, stack: str,
                    found: inventory.Inventory | None = None) -> dict[str, dict[str, Any]]:
    """The project's live ECS services by compose service name, found by their tags."""
    found = found or await inventory.tagged(aws, project, stack, PRUNABLE)
    arns = sorted(found["ecs:service"])
    live: dict[str, dict[str, Any]] = {}
    # DescribeServices takes ten services a call: more than ten are asked at once, not in turn
    described = await parallel(*[
        lambda part=arns[start:start + ECS_DESCRIBED]: aws.maybe(
            "ecs", "describe_services", ("ClusterNotFoundException",), cluster=names.CLUSTER,
            services=part, include=["TAGS"])
        for start in range(0, len(arns), ECS_DESCRIBED)])
    for answer in described:
        for service in (answer or {}).get("services", []):
            tags = names.tag_dict(service.get("tags"))
            if service.get("status") == "ACTIVE" and names.owned(tags, project, stack):
                live[tags.get(names.SERVICE, service["serviceName"])] = service
    return live


def status_of(name: str, service: dict[str, Any], endpoints: list[str],
              task_definition: str | None = None) -> ServiceStatus:
    """An ECS service's state in the shared vocabulary: the rollout of ``task_definition``
    (a rollback is a failure), else of the one the service's tags say was deployed last, else
    the newest deployment."""
    tags = names.tag_dict(service.get("tags"))
    if task_definition is None and names.REVISION in tags:
        # what was deployed last: a deployment the circuit breaker rolled back counts as failed
        # even once the rollback has completed and the failed deployment left the list
        revision = tags[names.REVISION]
        task_definition = next((d["taskDefinition"] for d in service.get("deployments", [])
                                if d.get("taskDefinition", "").rsplit("/", 1)[-1] == revision), revision)
    state, reason = rollout.judge(service, task_definition)
    message = reason if state in (State.SERVICE_DEPLOYMENT_FAILED,
                                  State.SERVICE_DEPLOYMENT_PENDING) else ""
    scaling = tags.get(names.SCALING)
    return ServiceStatus(name=name, state=state, replicas_running=service.get("runningCount", 0),
                         replicas_desired=service.get("desiredCount", 0),
                         replicas_range=scaling.split("@")[0] if scaling else None,
                         endpoints=endpoints,
                         deployment_id=tags.get(names.ETAG), message=message)


def _rules(services: list[Service], wanted: list[ingress.Route]) -> dict[str, list[network.Rule]]:
    """Security group rules: the internet to the load balancer, it to ingress ports, members
    to each service's declared ports and to the stores."""
    rules: dict[str, list[network.Rule]] = {"members": []}
    if wanted:
        listen = {r.listen for r in wanted if not r.domain}
        if any(r.domain for r in wanted):
            listen |= {80, 443}
        rules["alb"] = [network.Rule(port, "0.0.0.0/0") for port in sorted(listen)]
    for service in services:
        if service.managed_store:
            rules[f"store:{service.name}"] = [network.Rule(stores.PORTS[service.managed_store], "members")] \
                if service.managed_store in stores.PORTS else []
            continue
        own = [network.Rule(p, "members") for p in render.container_ports(service)]
        own += [network.Rule(r.port, "alb") for r in wanted if r.service == service.name]
        rules[f"service:{service.name}"] = own
    return rules
