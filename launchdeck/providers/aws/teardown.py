"""Destroying a (project, stack) on AWS: everything it owns, in dependency order, then a check.

What to remove is found by the project and stack tags (the Resource Groups Tagging API,
plus EC2's and ECR's own tag filters, which that API does not cover everywhere) and by the
names the deploy gives, under each of the names a stack may have (``names.Names.every``: a
stack deployed before marks has its own). Config values stay (``config rm`` removes them), and each database
leaves a final snapshot. Afterwards the tagging API must find nothing of the stack but
those; anything else is named in an error, and running destroy again finishes the job.

AWS finishes deletions after it answers, and refuses to delete what something still uses:
a Cloud Map service while draining tasks are registered in it (ResourceInUse), a security
group while a task, load balancer, database or cache still holds a network interface in it
(DependencyViolation). So the deletions nothing depends on start together (services, load
balancer, stores); then the teardown waits, with botocore's waiters, until each is gone
(services_inactive, load_balancers_deleted, db_instance_deleted, replication_group_deleted; a
DocumentDB cluster, which has no such waiter, by reading it until it is gone), reporting what
it waits for; only then go what depended on them, each retried with backoff
while AWS still refuses it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from launchdeck.engine.destroy import tally
from launchdeck.engine.events import Event, Sink
from launchdeck.engine.seams import Teardown
from launchdeck.errors import ProviderError
from launchdeck.identity import new_deployment_id
from launchdeck.providers.aws import ingress, inventory, names, network, region, rollout, stores, wait
from launchdeck.providers.aws.api import Aws, parallel

BALANCER_WAIT = 600.0
DATABASE_WAIT = 2700.0
"""Seconds for an RDS instance to go, final snapshot included."""
CACHE_WAIT = 1800.0
SETTLE = 1200.0
"""Seconds to keep retrying a deletion AWS refuses once what it depends on is gone: network
interfaces of stopped tasks and deleted load balancers are released some minutes later."""


async def teardown(aws: Aws, project: str, stack: str, sink: Sink, poll: float) -> Teardown:
    result, done = tally(sink)
    kept = result.kept

    def say(message: str) -> None:
        sink(Event(None, None, message))

    by_type = await inventory.tagged(aws, project, stack)
    snapshot_id = _snapshot_id()

    # 1. what nothing else must finish first: services, the way in, the stores, all at once
    # a DocumentDB cluster's instance is an RDS DB instance too: it goes with its cluster
    instances = {arn: tags for arn, tags in by_type.get("rds:db", {}).items()
                 if tags.get(names.ROLE) != stores.DOCUMENTDB_ROLE}
    services, balancers, databases, caches, clusters, _ = await parallel(
        lambda: _services(aws, list(by_type.get("ecs:service", {})), done),
        lambda: _balancers(aws, list(by_type.get("elasticloadbalancing:loadbalancer", {})),
                           list(by_type.get("acm:certificate", {})), done),
        lambda: _stores(aws, "postgres", instances, project, snapshot_id, done, kept),
        lambda: _stores(aws, "redis", by_type.get("elasticache:replicationgroup", {}), project,
                        snapshot_id, done, kept),
        lambda: _stores(aws, "mongodb", by_type.get("rds:cluster", {}), project, snapshot_id, done, kept),
        lambda: _validations(aws, list(by_type.get("acm:certificate", {})), done))

    # 2. wait until they are gone: everything below depends on one of them
    waits: list[Callable[[], Awaitable[Any]]] = []
    waits += [lambda a=a, n=n: wait.waiter(aws, "ecs", "services_inactive", what=f"ECS service {n} to drain",
                                           interval=poll, timeout=rollout.DRAIN_WAIT, say=say,
                                           cluster=names.CLUSTER, services=[a])
              for a, n in services.items()]
    waits += [lambda a=a, n=n: wait.waiter(aws, "elbv2", "load_balancers_deleted",
                                           what=f"load balancer {n} to go", interval=poll,
                                           timeout=BALANCER_WAIT, say=say, LoadBalancerArns=[a])
              for a, n in balancers.items()]
    waits += [lambda i=i: wait.waiter(aws, "rds", "db_instance_deleted", what=f"database {i} to go",
                                      interval=poll, timeout=DATABASE_WAIT, say=say, DBInstanceIdentifier=i)
              for i in databases]
    waits += [lambda i=i: wait.waiter(aws, "elasticache", "replication_group_deleted",
                                      what=f"cache {i} to go", interval=poll, timeout=CACHE_WAIT, say=say,
                                      ReplicationGroupId=i)
              for i in caches]
    waits += [lambda i=i: wait.until(lambda i=i: _cluster_gone(aws, i), what=f"DocumentDB cluster {i} to go",
                                     interval=poll, timeout=DATABASE_WAIT, say=say)
              for i in clusters]
    await parallel(*waits)

    # 3. what referred to them, and what the services ran from
    def settle(step: Callable[[], Awaitable[Any]], codes: tuple[str, ...], what: str) -> Awaitable[Any]:
        return wait.retry(step, codes, what=what, interval=poll, timeout=SETTLE, say=say)

    async def target_group(arn: str) -> None:
        await settle(lambda: aws.maybe("elbv2", "delete_target_group", ("TargetGroupNotFound",),
                                       TargetGroupArn=arn), ("ResourceInUse",), "deleting a target group")
        done(f"target group {arn.rsplit('/', 2)[-2]}")

    async def certificate(arn: str) -> None:
        # a deleted load balancer lets go of its certificate some moments later
        await settle(lambda: aws.maybe("acm", "delete_certificate", ("ResourceNotFoundException",),
                                       CertificateArn=arn), ("ResourceInUseException",),
                     "deleting a certificate")
        done(f"certificate {arn.rsplit('/', 1)[-1]}")

    target_groups = by_type.get("elasticloadbalancing:targetgroup", {})
    await parallel(*[lambda a=a: target_group(a) for a in target_groups],
                   *[lambda a=a: certificate(a) for a in by_type.get("acm:certificate", [])],
                   lambda: _task_definitions(aws, by_type, done),
                   lambda: _repositories(aws, project, stack, done),
                   lambda: _namespace(aws, project, stack, done, settle),
                   lambda: _log_group(aws, project, stack, done),
                   lambda: _roles(aws, project, stack, done),
                   lambda: _parameters(aws, project, stack, done))

    # 4. the network: security groups, then a dedicated VPC
    await _network(aws, project, stack, done, settle)

    left = await _left(aws, project, stack)
    if left:
        raise ProviderError(f"destroy left {len(left)} resource(s) of {project} ({stack}): "
                            + ", ".join(sorted(left)[:10]), provider="aws",
                            hint="Run destroy again in a few minutes: AWS may still be draining "
                                 "them. If they stay, remove them in the console.")
    kept.append("config values (they stay until each is deleted)")
    return result


async def _services(aws: Aws, arns: list[str], done: Callable[[str], None]) -> dict[str, str]:
    """Delete the ECS services still running; return those to wait for (ARN -> name)."""
    out: dict[str, str] = {}

    async def one(arn: str) -> None:
        found = await aws("ecs", "describe_services", cluster=names.CLUSTER, services=[arn],
                          include=["TAGS"])
        for service in found.get("services", []):
            if service.get("status") == "INACTIVE":
                continue
            if service.get("status") == "ACTIVE":  # a DRAINING one is on its way already
                if names.SCALING in names.tag_dict(service.get("tags")):  # its scalable target
                    await aws.maybe("application-autoscaling", "deregister_scalable_target",
                                    ("ObjectNotFoundException",), ServiceNamespace="ecs",
                                    ResourceId=f"service/{names.CLUSTER}/{service['serviceName']}",
                                    ScalableDimension="ecs:service:DesiredCount")
                await aws("ecs", "delete_service", cluster=names.CLUSTER, service=arn, force=True)
                done(f"ECS service {service['serviceName']}")
            out[arn] = service["serviceName"]

    await parallel(*[lambda a=a: one(a) for a in arns])
    return out


async def _balancers(aws: Aws, arns: list[str], certificates: list[str],
                     done: Callable[[str], None]) -> dict[str, str]:
    """Delete the load balancer and the DNS records naming it; return ARN -> name."""
    if not arns:
        return {}
    found = await aws.maybe("elbv2", "describe_load_balancers", ("LoadBalancerNotFound",),
                            LoadBalancerArns=arns)
    lbs = found["LoadBalancers"] if found else []
    for arn in certificates:
        described = await aws.maybe("acm", "describe_certificate", ("ResourceNotFoundException",),
                                    CertificateArn=arn)
        if described is None:  # deleted already: the tagging API still lists it for a while
            continue
        domain = described["Certificate"]["DomainName"]
        try:
            zones = await ingress.hosted_zones(aws, [domain])
        except ProviderError:
            continue
        for lb in lbs:
            if await ingress.remove_records(aws, zones[domain], domain, lb["DNSName"]):
                done(f"DNS record {domain}")
    for lb in lbs:
        await aws("elbv2", "delete_load_balancer", LoadBalancerArn=lb["LoadBalancerArn"])
        done(f"load balancer {lb['LoadBalancerName']}")
    return {lb["LoadBalancerArn"]: lb["LoadBalancerName"] for lb in lbs}


async def _validations(aws: Aws, certificates: list[str], done: Callable[[str], None]) -> None:
    """Delete the DNS records that validated the stack's certificates (before the certificates
    go: ACM no longer describes a deleted one's record)."""
    if not certificates:
        return
    listed = await aws.pages("acm", "list_certificates", "CertificateSummaryList")

    async def one(arn: str) -> None:
        described = await aws.maybe("acm", "describe_certificate", ("ResourceNotFoundException",),
                                    CertificateArn=arn)
        if described is None:  # deleted already: the tagging API still lists it for a while
            return
        cert = described["Certificate"]
        others = [c["CertificateArn"] for c in listed
                  if c["DomainName"] == cert["DomainName"] and c["CertificateArn"] not in certificates]
        try:
            zones = await ingress.hosted_zones(aws, [cert["DomainName"]])
        except ProviderError:  # the zone is gone: so are its records
            return
        for name in await ingress.remove_validation(aws, zones[cert["DomainName"]], cert, others):
            done(f"DNS validation record {name}")

    await parallel(*[lambda a=a: one(a) for a in certificates])


async def _stores(aws: Aws, kind: str, found: dict[str, dict[str, str]], project: str, snapshot_id: str,
                  done: Callable[[str], None], kept: list[str]) -> list[str]:
    """Delete the stores of ``kind`` (a final snapshot of each database is kept); their ids."""

    async def one(arn: str, tags: dict[str, str]) -> str:
        id_ = arn.rsplit(":", 1)[-1]
        snapshot = await stores.remove(aws, kind, id_, tags.get(names.SERVICE, id_), project, snapshot_id)
        done(f"{kind} store {id_}")
        if snapshot and kind == "mongodb":
            kept.append(f"final snapshot {snapshot} (delete it with `aws docdb "
                        f"delete-db-cluster-snapshot --db-cluster-snapshot-identifier {snapshot}`)")
        elif snapshot:
            kept.append(f"final snapshot {snapshot} (delete it with `aws rds delete-db-snapshot "
                        f"--db-snapshot-identifier {snapshot}`)")
        return id_

    return await parallel(*[lambda a=a, t=t: one(a, t) for a, t in found.items()])


async def _cluster_gone(aws: Aws, id_: str) -> tuple[bool | None, str]:
    """(True once DocumentDB no longer lists cluster ``id_``, else None, and its status)."""
    found = await aws.maybe("docdb", "describe_db_clusters", ("DBClusterNotFoundFault",),
                            DBClusterIdentifier=id_)
    return (True, "") if not found else (None, found["DBClusters"][0]["Status"])


async def _task_definitions(aws: Aws, by_type: inventory.Inventory,
                            done: Callable[[str], None]) -> None:
    """Deregister and delete every revision of the stack's task definition families: those the
    tagging API lists, and all the others of their families and of its services' (one made
    without tags, by hand or by an older launchdeck, too). ListTaskDefinitions' familyPrefix is
    "The full family name" (ECS API Reference), so each family is listed by its own name."""
    tagged = list(by_type.get("ecs:task-definition", []))
    families = {arn.rsplit("/", 1)[-1].rsplit(":", 1)[0] for arn in tagged}
    families |= {arn.rsplit("/", 1)[-1] for arn in by_type.get("ecs:service", [])}  # a service's family
    listed = await parallel(*[lambda f=f: aws.pages("ecs", "list_task_definitions", "taskDefinitionArns",
                                                    familyPrefix=f, status="ACTIVE")
                              for f in sorted(families)])
    revisions = sorted({a for arns in listed for a in arns} | set(tagged))
    for start in range(0, len(revisions), 10):
        batch = revisions[start:start + 10]
        await parallel(*[lambda a=a: aws.maybe("ecs", "deregister_task_definition", ("ClientException",),
                                               taskDefinition=a) for a in batch])
        await aws.maybe("ecs", "delete_task_definitions", ("ClientException",), taskDefinitions=batch)
    if revisions:
        done(f"{len(revisions)} task definition revision(s)")


def _snapshot_id() -> str:
    return new_deployment_id()


async def _left(aws: Aws, project: str, stack: str) -> list[str]:
    """What is still there of the stack, but for kept config values.

    The tagging API lists "tagged or previously tagged" resources, and what was deleted a
    moment ago for minutes after: each ARN it lists counts only once its own service's
    describe call confirms it exists (NotFound means gone)."""
    found = await inventory.tagged(aws, project, stack)
    listed = [(k, a) for k, arns in found.items() for a in arns
              if not (k == "ssm:parameter" and "/.derived/" not in a)]  # config values: kept on purpose
    alive = await parallel(*[lambda k=k, a=a: exists(aws, k, a) for k, a in listed])
    left = [arn for (_, arn), there in zip(listed, alive, strict=True) if there]
    groups = await aws("ec2", "describe_security_groups", Filters=network.filters(project, stack))
    left += [g["GroupId"] for g in groups["SecurityGroups"]]
    vpcs = await aws("ec2", "describe_vpcs", Filters=network.filters(project, stack))
    left += [v["VpcId"] for v in vpcs["Vpcs"]]
    return sorted(set(left))


async def exists(aws: Aws, kind: str, arn: str) -> bool:
    """Whether the resource ``arn`` the tagging API lists still exists, as its service says."""
    name = arn.rsplit(":", 1)[-1]
    if kind == "ecs:service":  # ECS lists deleted services as INACTIVE for a while
        described = await aws("ecs", "describe_services", cluster=names.CLUSTER, services=[arn])
        return any(s.get("status") != "INACTIVE" for s in described.get("services", []))
    if kind == "ecs:task-definition":
        described = await aws.maybe("ecs", "describe_task_definition", ("ClientException",),
                                    taskDefinition=arn)
        return described is not None and described["taskDefinition"].get("status") == "ACTIVE"
    checks: dict[str, tuple[str, str, tuple[str, ...], dict[str, Any]]] = {
        "rds:db": ("rds", "describe_db_instances", ("DBInstanceNotFound", "DBInstanceNotFoundFault"),
                   {"DBInstanceIdentifier": name}),
        "rds:cluster": ("rds", "describe_db_clusters", ("DBClusterNotFoundFault",),
                        {"DBClusterIdentifier": name}),
        "elasticache:replicationgroup": ("elasticache", "describe_replication_groups",
                                         ("ReplicationGroupNotFoundFault",), {"ReplicationGroupId": name}),
        "elasticloadbalancing:loadbalancer": ("elbv2", "describe_load_balancers", ("LoadBalancerNotFound",),
                                              {"LoadBalancerArns": [arn]}),
        "elasticloadbalancing:targetgroup": ("elbv2", "describe_target_groups", ("TargetGroupNotFound",),
                                             {"TargetGroupArns": [arn]}),
        "acm:certificate": ("acm", "describe_certificate", ("ResourceNotFoundException",),
                            {"CertificateArn": arn}),
        "ecr:repository": ("ecr", "describe_repositories", ("RepositoryNotFoundException",),
                           {"repositoryNames": [arn.split(":repository/", 1)[-1]]}),
        "ssm:parameter": ("ssm", "get_parameter", ("ParameterNotFound",),
                          {"Name": "/" + arn.split(":parameter/", 1)[-1]}),
        "servicediscovery:namespace": ("servicediscovery", "get_namespace", ("NamespaceNotFound",),
                                       {"Id": arn.rsplit("/", 1)[-1]}),
        "servicediscovery:service": ("servicediscovery", "get_service", ("ServiceNotFound",),
                                     {"Id": arn.rsplit("/", 1)[-1]}),
        "iam:role": ("iam", "get_role", ("NoSuchEntity",), {"RoleName": arn.rsplit("/", 1)[-1]}),
        "ec2:security-group": ("ec2", "describe_security_groups", ("InvalidGroup.NotFound",),
                               {"GroupIds": [arn.rsplit("/", 1)[-1]]}),
        "ec2:vpc": ("ec2", "describe_vpcs", ("InvalidVpcID.NotFound",), {"VpcIds": [arn.rsplit("/", 1)[-1]]}),
        "ec2:subnet": ("ec2", "describe_subnets", ("InvalidSubnetID.NotFound",),
                       {"SubnetIds": [arn.rsplit("/", 1)[-1]]}),
        "ec2:internet-gateway": ("ec2", "describe_internet_gateways", ("InvalidInternetGatewayID.NotFound",),
                                 {"InternetGatewayIds": [arn.rsplit("/", 1)[-1]]}),
        "ec2:route-table": ("ec2", "describe_route_tables", ("InvalidRouteTableID.NotFound",),
                            {"RouteTableIds": [arn.rsplit("/", 1)[-1]]}),
    }
    if kind == "logs:log-group":
        group = arn.split(":log-group:", 1)[-1].removesuffix(":*")
        described = await aws("logs", "describe_log_groups", logGroupNamePrefix=group)
        return any(g["logGroupName"] == group for g in described.get("logGroups", []))
    if kind not in checks:
        return True  # a kind the teardown cannot ask about: named, for the user to look at
    service, operation, missing, params = checks[kind]
    return await aws.maybe(service, operation, missing, **params) is not None


async def _repositories(aws: Aws, project: str, stack: str, done: Callable[[str], None]) -> None:
    prefix = f"launchdeck/{project}/{stack}/"
    repos = await aws.pages("ecr", "describe_repositories", "repositories")
    for repo in repos:
        if not repo["repositoryName"].startswith(prefix):
            continue
        tags = await aws("ecr", "list_tags_for_resource", resourceArn=repo["repositoryArn"])
        if names.owned(names.tag_dict(tags.get("tags")), project, stack):
            await aws("ecr", "delete_repository", repositoryName=repo["repositoryName"], force=True)
            done(f"image repository {repo['repositoryName']}")


Settle = Callable[[Callable[[], Awaitable[Any]], tuple[str, ...], str], Awaitable[Any]]
"""Runs a deletion again while AWS refuses it with the given codes (see ``teardown``)."""


async def _namespace(aws: Aws, project: str, stack: str, done: Callable[[str], None],
                     settle: Settle) -> None:
    """The stack's namespace under each name it may have (``names.Names.every``)."""
    found = await parallel(*[lambda n=n: inventory.find_namespace(aws, n)
                             for n in names.Names.every(project, stack)])
    await parallel(*[lambda n=n: _one_namespace(aws, n, done, settle) for n in found if n is not None])


async def _one_namespace(aws: Aws, namespace: dict[str, Any], done: Callable[[str], None],
                         settle: Settle) -> None:
    services = await aws.pages("servicediscovery", "list_services", "Services", Filters=[
        {"Name": "NAMESPACE_ID", "Values": [namespace["Id"]], "Condition": "EQ"}])
    # ECS made these for Service Connect; they are in use until the tasks are gone
    await parallel(*[lambda s=s: settle(lambda: aws.maybe("servicediscovery", "delete_service",
                                                          ("ServiceNotFound",), Id=s["Id"]),
                                        ("ResourceInUse",), f"deleting Cloud Map service {s['Name']}")
                     for s in services])
    await settle(lambda: aws.maybe("servicediscovery", "delete_namespace", ("NamespaceNotFound",),
                                   Id=namespace["Id"]),
                 ("ResourceInUse",), "deleting the namespace")
    done(f"service namespace {namespace['Name']}")


async def _log_group(aws: Aws, project: str, stack: str, done: Callable[[str], None]) -> None:
    group = names.log_group(project, stack)
    if await aws.maybe("logs", "delete_log_group", ("ResourceNotFoundException",), logGroupName=group):
        done(f"log group {group}")


async def _roles(aws: Aws, project: str, stack: str, done: Callable[[str], None]) -> None:
    # the shared CodeBuild role's reading of the stack's Docker Hub credentials
    if await aws.maybe("iam", "delete_role_policy", ("NoSuchEntity",),
                       RoleName=region.codebuild_role(aws.region),
                       PolicyName=names.hub_policy(project, stack)) is not None:
        done("the builds' access to its Docker Hub credentials")
    for role in [n.role(kind) for n in names.Names.every(project, stack) for kind in ("exec", "task")]:
        found = await aws.maybe("iam", "get_role", ("NoSuchEntity",), RoleName=role)
        if not found or not names.owned(names.tag_dict(found["Role"].get("Tags")), project, stack):
            continue
        for policy in await aws.pages("iam", "list_role_policies", "PolicyNames", RoleName=role):
            await aws("iam", "delete_role_policy", RoleName=role, PolicyName=policy)
        for policy in await aws.pages("iam", "list_attached_role_policies", "AttachedPolicies",
                                      RoleName=role):
            await aws("iam", "detach_role_policy", RoleName=role, PolicyArn=policy["PolicyArn"])
        await aws("iam", "delete_role", RoleName=role)
        done(f"IAM role {role}")


async def _parameters(aws: Aws, project: str, stack: str, done: Callable[[str], None]) -> None:
    path = names.derived_parameter(project, stack, "", "").rstrip("/")
    found = await aws.pages("ssm", "get_parameters_by_path", "Parameters", Path=path, Recursive=True)
    for start in range(0, len(found), 10):
        batch = [p["Name"] for p in found[start:start + 10]]
        await aws("ssm", "delete_parameters", Names=batch)
    if found:
        done(f"{len(found)} derived parameter(s)")


async def _network(aws: Aws, project: str, stack: str, done: Callable[[str], None], settle: Settle) -> None:
    filters = network.filters(project, stack)
    groups = (await aws("ec2", "describe_security_groups", Filters=filters))["SecurityGroups"]
    # groups refer to each other: drop the rules first, or none can be deleted
    await parallel(*[lambda g=g: aws("ec2", "revoke_security_group_ingress", GroupId=g["GroupId"],
                                     IpPermissions=g["IpPermissions"])
                     for g in groups if g.get("IpPermissions")])

    async def group(found: dict[str, Any]) -> None:
        await settle(lambda: aws.maybe("ec2", "delete_security_group", ("InvalidGroup.NotFound",),
                                       GroupId=found["GroupId"]),
                     ("DependencyViolation",), f"deleting security group {found['GroupName']}")
        done(f"security group {found['GroupName']}")

    await parallel(*[lambda g=g: group(g) for g in groups])
    vpcs = (await aws("ec2", "describe_vpcs", Filters=filters))["Vpcs"]
    for vpc in vpcs:
        vpc_id = vpc["VpcId"]
        # the stores' subnet groups of a VPC made for this stack go with it, once its stores have
        await settle(lambda v=vpc_id: aws.maybe("rds", "delete_db_subnet_group",
                                                ("DBSubnetGroupNotFoundFault",),
                                                DBSubnetGroupName=stores.subnet_group(v)),
                     ("InvalidDBSubnetGroupStateFault",), "deleting the database subnet group")
        if await aws.maybe("elasticache", "describe_cache_subnet_groups", ("CacheSubnetGroupNotFoundFault",),
                           CacheSubnetGroupName=stores.subnet_group(vpc_id)):  # moto fails deleting none
            await settle(lambda v=vpc_id: aws.maybe("elasticache", "delete_cache_subnet_group",
                                                    ("CacheSubnetGroupNotFoundFault",),
                                                    CacheSubnetGroupName=stores.subnet_group(v)),
                         ("CacheSubnetGroupInUse",), "deleting the cache subnet group")
        for subnet in (await aws("ec2", "describe_subnets", Filters=filters))["Subnets"]:
            await settle(lambda s=subnet: aws("ec2", "delete_subnet", SubnetId=s["SubnetId"]),
                         ("DependencyViolation",), f"deleting subnet {subnet['SubnetId']}")
        for table in (await aws("ec2", "describe_route_tables", Filters=filters))["RouteTables"]:
            for association in table.get("Associations", []):
                if not association.get("Main"):
                    await aws.maybe("ec2", "disassociate_route_table", ("InvalidAssociationID.NotFound",),
                                    AssociationId=association["RouteTableAssociationId"])
            await aws("ec2", "delete_route_table", RouteTableId=table["RouteTableId"])
        for gateway in (await aws("ec2", "describe_internet_gateways", Filters=filters))["InternetGateways"]:
            # refused while public addresses of stopped tasks are still mapped in the VPC
            await settle(lambda g=gateway, v=vpc_id: aws("ec2", "detach_internet_gateway",
                                                         InternetGatewayId=g["InternetGatewayId"], VpcId=v),
                         ("DependencyViolation",), "detaching the internet gateway")
            await aws("ec2", "delete_internet_gateway", InternetGatewayId=gateway["InternetGatewayId"])
        await settle(lambda v=vpc_id: aws("ec2", "delete_vpc", VpcId=v), ("DependencyViolation",),
                     f"deleting VPC {vpc_id}")
        done(f"VPC {vpc_id}")
