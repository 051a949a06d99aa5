"""Destroying a (project, stack) on AWS: everything it owns, in reverse order, then a check.

What to remove is found by the project and stack tags (the Resource Groups Tagging API,
plus EC2's and ECR's own tag filters, which that API does not cover everywhere) and by the
names the deploy gives. Config values stay (``config rm`` removes them), and each database
leaves a final snapshot. Afterwards the tagging API must find nothing of the stack but
those; anything else is named in an error, and running destroy again finishes the job.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio

from launchdeck.engine.events import Event, Sink
from launchdeck.errors import ProviderError
from launchdeck.identity import new_deployment_id
from launchdeck.providers.aws import ingress, inventory, names, stores
from launchdeck.providers.aws.api import Aws, AwsError, parallel
from launchdeck.providers.base import Teardown

_SETTLE = 300.0
"""Seconds to keep retrying a deletion AWS refuses while dependents drain (ENIs, listeners)."""


async def teardown(aws: Aws, account: str, project: str, stack: str, sink: Sink,
                   poll: float) -> Teardown:
    removed: list[str] = []
    kept: list[str] = []

    def done(what: str) -> None:
        removed.append(what)
        sink(Event(None, None, f"removed {what}"))

    by_type = await inventory.tagged(aws, project, stack)

    # 1. services first: nothing may keep sending traffic or holding network interfaces
    async def service(arn: str) -> None:
        found = await aws("ecs", "describe_services", cluster=names.CLUSTER, services=[arn])
        live = [s for s in found.get("services", []) if s.get("status") != "INACTIVE"]
        if not live:
            return
        await aws("ecs", "delete_service", cluster=names.CLUSTER, service=arn, force=True)
        done(f"ECS service {arn.rsplit('/', 1)[-1]}")

    await parallel(*[lambda a=a: service(a) for a in by_type.get("ecs:service", [])])

    # 2. the way in: records, load balancer, target groups, certificates
    balancers = list(by_type.get("elasticloadbalancing:loadbalancer", {}))
    lbs = []
    if balancers:
        lbs = (await aws("elbv2", "describe_load_balancers", LoadBalancerArns=balancers))["LoadBalancers"]
    certificates = list(by_type.get("acm:certificate", {}))
    for arn in certificates:
        domain = (await aws("acm", "describe_certificate", CertificateArn=arn))["Certificate"]["DomainName"]
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
    await parallel(*[lambda a=a: _retry(lambda: aws("elbv2", "delete_target_group", TargetGroupArn=a),
                                        ("ResourceInUse",), poll)
                     for a in by_type.get("elasticloadbalancing:targetgroup", [])])
    for arn in by_type.get("elasticloadbalancing:targetgroup", []):
        done(f"target group {arn.rsplit('/', 2)[-2]}")
    await parallel(*[lambda a=a: _retry(lambda: aws("acm", "delete_certificate", CertificateArn=a),
                                        ("ResourceInUseException",), poll) for a in certificates])
    removed.extend(f"certificate {a.rsplit('/', 1)[-1]}" for a in certificates)

    # 3. stores (a final snapshot of each database is kept)
    snapshot_id = _snapshot_id()

    async def store(arn: str, kind: str, tags: dict[str, str]) -> None:
        id_ = arn.rsplit(":", 1)[-1]
        snapshot = await stores.remove(aws, kind, id_, tags.get(names.SERVICE, id_), project, snapshot_id)
        done(f"{kind} store {id_}")
        if snapshot:
            kept.append(f"final snapshot {snapshot} (delete it with `aws rds delete-db-snapshot "
                        f"--db-snapshot-identifier {snapshot}`)")

    await parallel(*[lambda a=a, t=t: store(a, "postgres", t) for a, t in by_type.get("rds:db", {}).items()],
                   *[lambda a=a, t=t: store(a, "redis", t)
                     for a, t in by_type.get("elasticache:replicationgroup", {}).items()])

    # 4. what the services ran from: task definitions, repositories, namespace, logs, roles
    families = await aws.pages("ecs", "list_task_definitions", "taskDefinitionArns",
                               familyPrefix=names.service_name(project, stack, ""))
    families += [a for a in by_type.get("ecs:task-definition", []) if a not in families]
    for start in range(0, len(families), 10):
        batch = families[start:start + 10]
        await parallel(*[lambda a=a: aws.maybe("ecs", "deregister_task_definition", ("ClientException",),
                                               taskDefinition=a) for a in batch])
        await aws.maybe("ecs", "delete_task_definitions", ("ClientException",), taskDefinitions=batch)
    if families:
        done(f"{len(families)} task definition revision(s)")
    await parallel(lambda: _repositories(aws, project, stack, done),
                   lambda: _namespace(aws, project, stack, done),
                   lambda: _log_group(aws, project, stack, done),
                   lambda: _roles(aws, project, stack, done),
                   lambda: _parameters(aws, project, stack, done))

    # 5. the network: security groups, then a dedicated VPC
    await _network(aws, project, stack, done, poll)
    await aws.maybe("s3", "delete_object", ("NoSuchBucket",),
                    Bucket=names.bucket(account, aws.region), Key=names.record_key(project, stack))

    left = await _left(aws, project, stack)
    if left:
        raise ProviderError(f"destroy left {len(left)} resource(s) of {project} ({stack}): "
                            + ", ".join(sorted(left)[:10]), provider="aws",
                            hint="Run destroy again in a few minutes: AWS may still be draining "
                                 "them. If they stay, remove them in the console.")
    kept.append("config values (remove them with `launchdeck config rm NAME --provider aws`)")
    return Teardown(removed=removed, kept=kept)


def _snapshot_id() -> str:
    return new_deployment_id()


async def _left(aws: Aws, project: str, stack: str) -> list[str]:
    """What the tagging API (and EC2) still show of the stack, but for kept config values."""
    left = []
    found = await inventory.tagged(aws, project, stack)
    for kind, arn in [(k, a) for k, arns in found.items() for a in arns]:
        if kind == "ssm:parameter" and "/.derived/" not in arn:
            continue  # config values: kept on purpose
        if kind == "ecs:service":
            found = await aws("ecs", "describe_services", cluster=names.CLUSTER, services=[arn])
            if all(s.get("status") == "INACTIVE" for s in found.get("services", [])):
                continue
        if kind == "rds:db":
            found = await aws.maybe("rds", "describe_db_instances",
                                    ("DBInstanceNotFound", "DBInstanceNotFoundFault"),
                                    DBInstanceIdentifier=arn.rsplit(":", 1)[-1])
            if found is None or found["DBInstances"][0]["DBInstanceStatus"] == "deleting":
                continue
        if kind == "elasticache:replicationgroup":
            found = await aws.maybe("elasticache", "describe_replication_groups",
                                    ("ReplicationGroupNotFoundFault",),
                                    ReplicationGroupId=arn.rsplit(":", 1)[-1])
            if found is None or found["ReplicationGroups"][0]["Status"] == "deleting":
                continue  # on its way out; nothing refers to it any more
        if kind == "ecs:task-definition":
            found = await aws.maybe("ecs", "describe_task_definition", ("ClientException",),
                                    taskDefinition=arn)
            if found is None or found["taskDefinition"].get("status") != "ACTIVE":
                continue
        left.append(arn)
    groups = await aws("ec2", "describe_security_groups", Filters=_ec2_filters(project, stack))
    left += [g["GroupId"] for g in groups["SecurityGroups"]]
    vpcs = await aws("ec2", "describe_vpcs", Filters=_ec2_filters(project, stack))
    left += [v["VpcId"] for v in vpcs["Vpcs"]]
    return left


def _ec2_filters(project: str, stack: str) -> list[dict[str, Any]]:
    return [{"Name": f"tag:{names.PROJECT}", "Values": [project]},
            {"Name": f"tag:{names.STACK}", "Values": [stack]}]


async def _retry(step: Callable[[], Any], codes: tuple[str, ...], poll: float) -> None:
    """Run ``step`` until AWS stops refusing it with one of ``codes`` (dependents draining)."""
    deadline = anyio.current_time() + _SETTLE
    while True:
        try:
            await step()
            return
        except AwsError as exc:
            if exc.code not in codes or anyio.current_time() > deadline:
                raise
        await anyio.sleep(poll)


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


async def _namespace(aws: Aws, project: str, stack: str, done: Callable[[str], None]) -> None:
    wanted = names.namespace(project, stack)
    for namespace in await aws.pages("servicediscovery", "list_namespaces", "Namespaces",
                                     Filters=[{"Name": "TYPE", "Values": ["HTTP"]}]):
        if namespace["Name"] != wanted:
            continue
        services = await aws.pages("servicediscovery", "list_services", "Services", Filters=[
            {"Name": "NAMESPACE_ID", "Values": [namespace["Id"]], "Condition": "EQ"}])
        for service in services:
            await aws.maybe("servicediscovery", "delete_service", ("ServiceNotFound",), Id=service["Id"])
        await aws.maybe("servicediscovery", "delete_namespace", ("NamespaceNotFound",), Id=namespace["Id"])
        done(f"service namespace {wanted}")


async def _log_group(aws: Aws, project: str, stack: str, done: Callable[[str], None]) -> None:
    group = names.log_group(project, stack)
    if await aws.maybe("logs", "delete_log_group", ("ResourceNotFoundException",), logGroupName=group):
        done(f"log group {group}")


async def _roles(aws: Aws, project: str, stack: str, done: Callable[[str], None]) -> None:
    for suffix in ("exec", "task"):
        role = names.role(project, stack, suffix)
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


async def _network(aws: Aws, project: str, stack: str, done: Callable[[str], None], poll: float) -> None:
    filters = _ec2_filters(project, stack)
    groups = (await aws("ec2", "describe_security_groups", Filters=filters))["SecurityGroups"]
    # groups refer to each other: drop the rules first, or none can be deleted
    for group in groups:
        if group.get("IpPermissions"):
            await aws("ec2", "revoke_security_group_ingress", GroupId=group["GroupId"],
                      IpPermissions=group["IpPermissions"])
    for group in groups:
        await _retry(lambda g=group: aws("ec2", "delete_security_group", GroupId=g["GroupId"]),
                     ("DependencyViolation",), poll)
        done(f"security group {group['GroupName']}")
    vpcs = (await aws("ec2", "describe_vpcs", Filters=filters))["Vpcs"]
    for vpc in vpcs:
        vpc_id = vpc["VpcId"]
        # the stores' subnet groups of a VPC made for this stack go with it, once its stores have
        await _retry(lambda v=vpc_id: aws.maybe("rds", "delete_db_subnet_group",
                                                ("DBSubnetGroupNotFoundFault",),
                                                DBSubnetGroupName=stores.subnet_group(v)),
                     ("InvalidDBSubnetGroupStateFault",), poll)
        if await aws.maybe("elasticache", "describe_cache_subnet_groups", ("CacheSubnetGroupNotFoundFault",),
                           CacheSubnetGroupName=stores.subnet_group(vpc_id)):
            await _retry(lambda v=vpc_id: aws.maybe("elasticache", "delete_cache_subnet_group",
                                                    ("CacheSubnetGroupNotFoundFault",),
                                                    CacheSubnetGroupName=stores.subnet_group(v)),
                         ("CacheSubnetGroupInUse",), poll)
        for subnet in (await aws("ec2", "describe_subnets", Filters=filters))["Subnets"]:
            await _retry(lambda s=subnet: aws("ec2", "delete_subnet", SubnetId=s["SubnetId"]),
                         ("DependencyViolation",), poll)
        for table in (await aws("ec2", "describe_route_tables", Filters=filters))["RouteTables"]:
            for association in table.get("Associations", []):
                if not association.get("Main"):
                    await aws.maybe("ec2", "disassociate_route_table", ("InvalidAssociationID.NotFound",),
                                    AssociationId=association["RouteTableAssociationId"])
            await aws("ec2", "delete_route_table", RouteTableId=table["RouteTableId"])
        for gateway in (await aws("ec2", "describe_internet_gateways", Filters=filters))["InternetGateways"]:
            await aws("ec2", "detach_internet_gateway", InternetGatewayId=gateway["InternetGatewayId"],
                      VpcId=vpc_id)
            await aws("ec2", "delete_internet_gateway", InternetGatewayId=gateway["InternetGatewayId"])
        await aws("ec2", "delete_vpc", VpcId=vpc_id)
        done(f"VPC {vpc_id}")
