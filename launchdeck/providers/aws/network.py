"""Where a project's tasks run: the VPC, its subnets, and the security groups between them.

``default`` uses the account's default VPC (no cost). ``dedicated`` makes a VPC for the
(project, stack) with an internet gateway and public subnets in two zones; tasks get
public addresses for outbound traffic instead of a NAT gateway (which costs about $32 a
month per zone), and security groups keep everything but the load balancer unreachable.

Security groups: ``alb`` admits the internet on the listener ports; every task carries
``members`` plus its own group, which admits ``members`` on the service's declared ports
and ``alb`` on its ingress ports; a store's group admits ``members`` on the store's port.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from launchdeck.errors import ProviderError
from launchdeck.providers.aws import names, wait
from launchdeck.providers.aws.api import Aws, AwsError, parallel

T = TypeVar("T")

VISIBLE_WAIT = 120.0
"""Seconds EC2 may take to show what it just made to the calls that name it."""
VISIBLE_STEPS = 2.0
"""The longest wait between two tries, in multiples of the first: EC2 shows what it made
within seconds, and each try costs one cheap call, while a longer wait delays all that
stands on it (a store's creation, on a first deploy)."""
_NOT_VISIBLE = ("InvalidGroup.NotFound", "InvalidVpcID.NotFound", "InvalidSubnetID.NotFound",
                "InvalidInternetGatewayID.NotFound", "InvalidRouteTableID.NotFound")
FARGATE_ZONES = {"us-west-1": frozenset({"usw1-az1", "usw1-az3"}),
                 "ap-northeast-1": frozenset({"apne1-az1", "apne1-az2", "apne1-az4"})}
"""Regions where Fargate runs in some Availability Zones only, by zone id ("us-west-1 (usw1-az1 &
usw1-az3 only)", "ap-northeast-1 (apne1-az1, apne1-az2, & apne1-az4 only)": Supported Regions
for Amazon ECS on AWS Fargate, ECS Developer Guide). Ids, not names: a name (us-west-1a) maps
to another zone in each account."""
_CIDR = "10.42.0.0/16"
_SUBNETS = ("10.42.0.0/20", "10.42.16.0/20")


@dataclass
class Network:
    vpc: str
    subnets: list[str]
    groups: dict[str, str] = field(default_factory=dict)
    """Role key (``alb``, ``members``, ``service:<name>``, ``store:<name>``) -> group id."""


@dataclass(frozen=True)
class Rule:
    """Traffic a group admits: from another group (by role key) or from anywhere."""

    port: int
    source: str
    """A role key, or ``0.0.0.0/0``."""


async def find(aws: Aws, project: str, stack: str, mode: str, *, interval: float = 1.0,
               say: wait.Say = wait._quiet) -> Network:
    """The network to use, made when ``mode`` is dedicated and it does not exist yet."""
    if mode == "dedicated":
        return await _dedicated(aws, project, stack, _Fresh(aws, interval, say))
    return await _default(aws)


async def lookup(aws: Aws, project: str, stack: str, mode: str) -> Network:
    """The network to use as it is now, without making anything: a dedicated one that does
    not exist yet has no VPC (``Network("", [])``)."""
    if mode != "dedicated":
        return await _default(aws)
    mine = filters(project, stack)
    vpcs, subnets = await parallel(lambda: aws("ec2", "describe_vpcs", Filters=mine),
                                   lambda: aws("ec2", "describe_subnets", Filters=mine))
    if not vpcs["Vpcs"]:
        return Network("", [])
    have = {s["CidrBlock"]: s["SubnetId"] for s in subnets["Subnets"]}
    return Network(vpcs["Vpcs"][0]["VpcId"], [have[c] for c in _SUBNETS if c in have])


async def described(aws: Aws, net: Network, project: str, stack: str) -> list[dict[str, Any]]:
    """The stack's security groups in the network, as EC2 describes them (with their rules)."""
    found = await aws("ec2", "describe_security_groups",
                      Filters=[*filters(project, stack), {"Name": "vpc-id", "Values": [net.vpc]}])
    return list(found["SecurityGroups"])


async def observed(aws: Aws, project: str, stack: str, mode: str) -> tuple[Network, list[dict[str, Any]]]:
    """The network as it is now (``lookup``) and the stack's security groups in it, asked at
    once: the groups by the stack's tags alone, those of the network's VPC kept."""
    net, groups = await parallel(
        lambda: lookup(aws, project, stack, mode),
        lambda: aws("ec2", "describe_security_groups", Filters=filters(project, stack)))
    return net, [g for g in groups["SecurityGroups"] if net.vpc and g.get("VpcId") == net.vpc]


def by_role(groups: list[dict[str, Any]]) -> dict[str, str]:
    """Described security groups' ids by role key."""
    return {names.tag_dict(g.get("Tags")).get(names.ROLE, ""): g["GroupId"] for g in groups}


async def _default(aws: Aws) -> Network:
    vpcs = (await aws("ec2", "describe_vpcs", Filters=[{"Name": "isDefault", "Values": ["true"]}]))["Vpcs"]
    if not vpcs:
        raise ProviderError(
            f"the region {aws.region} has no default VPC", provider="aws",
            hint="Deploy with --network dedicated to create a VPC for this project, or create "
                 "a default VPC with `aws ec2 create-default-vpc`.")
    vpc = vpcs[0]["VpcId"]
    subnets = (await aws("ec2", "describe_subnets", Filters=[
        {"Name": "vpc-id", "Values": [vpc]}, {"Name": "default-for-az", "Values": ["true"]}]))["Subnets"]
    return Network(vpc, [s["SubnetId"] for s in sorted(subnets, key=lambda s: s["AvailabilityZone"])])


async def _dedicated(aws: Aws, project: str, stack: str, fresh: _Fresh) -> Network:
    mine = filters(project, stack)
    found = (await aws("ec2", "describe_vpcs", Filters=mine))["Vpcs"]
    spec = {"ResourceType": "vpc", "Tags": names.tag_list(names.tags(project, stack))}
    if found:
        vpc = found[0]["VpcId"]
    else:
        vpc = (await aws("ec2", "create_vpc", CidrBlock=_CIDR, TagSpecifications=[spec]))["Vpc"]["VpcId"]
        await fresh("modify_vpc_attribute", VpcId=vpc, EnableDnsHostnames={"Value": True})
    gateways, subnets, tables = await parallel(
        lambda: aws("ec2", "describe_internet_gateways", Filters=mine),
        lambda: aws("ec2", "describe_subnets", Filters=mine),
        lambda: aws("ec2", "describe_route_tables", Filters=mine))
    tagged = names.tag_list(names.tags(project, stack))
    if gateways["InternetGateways"]:
        gateway = gateways["InternetGateways"][0]["InternetGatewayId"]
    else:
        gateway = (await aws("ec2", "create_internet_gateway", TagSpecifications=[
            {"ResourceType": "internet-gateway", "Tags": tagged}]))["InternetGateway"]["InternetGatewayId"]
        await fresh("attach_internet_gateway", InternetGatewayId=gateway, VpcId=vpc)
    if tables["RouteTables"]:
        table = tables["RouteTables"][0]["RouteTableId"]
    else:
        table = (await fresh("create_route_table", VpcId=vpc, TagSpecifications=[
            {"ResourceType": "route-table", "Tags": tagged}]))["RouteTable"]["RouteTableId"]
        await fresh("create_route", RouteTableId=table, DestinationCidrBlock="0.0.0.0/0",
                     GatewayId=gateway)
    have = {s["CidrBlock"]: s["SubnetId"] for s in subnets["Subnets"]}
    missing = [cidr for cidr in _SUBNETS if cidr not in have]
    if missing:
        zones = fargate_zones(aws.region or "", (await aws("ec2", "describe_availability_zones", Filters=[
            {"Name": "state", "Values": ["available"]}]))["AvailabilityZones"])

        async def subnet(index: int, cidr: str) -> None:
            made = (await fresh("create_subnet", VpcId=vpc, CidrBlock=cidr,
                              AvailabilityZone=zones[index % len(zones)],
                              TagSpecifications=[{"ResourceType": "subnet", "Tags": tagged}]))["Subnet"]
            await fresh("modify_subnet_attribute", SubnetId=made["SubnetId"],
                         MapPublicIpOnLaunch={"Value": True})
            await fresh("associate_route_table", RouteTableId=table,
                         SubnetId=made["SubnetId"])
            have[cidr] = made["SubnetId"]

        await parallel(*[lambda i=i, c=c: subnet(i, c) for i, c in enumerate(_SUBNETS) if c in missing])
    return Network(vpc, [have[c] for c in _SUBNETS])


def fargate_zones(region: str, zones: list[dict[str, Any]]) -> list[str]:
    """The names of the zones a dedicated network's subnets go in, in name order: Availability
    Zones where Fargate runs (DescribeAvailabilityZones lists the Local and Wavelength Zones an
    account opted in to as well; the Fargate Regions page names Availability Zones only)."""
    allowed = FARGATE_ZONES.get(region)
    found = sorted(z["ZoneName"] for z in zones
                   if z.get("ZoneType", "availability-zone") == "availability-zone"
                   and (allowed is None or z.get("ZoneId") in allowed))
    if len(found) < 2:  # a load balancer needs subnets in two zones
        raise ProviderError(f"the region {region} has {len(found)} Availability Zone(s) where Fargate "
                            "runs for this account; a dedicated network needs two", provider="aws",
                            hint="Deploy to another region, or with the default network.")
    return found


@dataclass(frozen=True)
class _Fresh:
    """Calls EC2's ``operation``, which names something made moments ago, again while EC2 says
    it does not exist: "If you successfully run the CreateSecurityGroup command, and then
    immediately run another command using the ID ... it may return an InvalidGroup.NotFound
    error" (EC2 API Reference, Eventual consistency)."""

    aws: Aws
    interval: float
    say: wait.Say

    async def __call__(self, operation: str, /, **params: Any) -> dict[str, Any]:
        return await wait.retry(lambda: self.aws("ec2", operation, **params), _NOT_VISIBLE,
                                what=f"EC2 {operation.replace('_', ' ')}", interval=self.interval,
                                timeout=VISIBLE_WAIT, say=self.say,
                                max_interval=self.interval * VISIBLE_STEPS,
                                why="EC2 does not show what was just made yet")


def _not_seen_elsewhere(exc: AwsError) -> bool:
    """Whether another service refuses subnets or groups because it does not see them yet: RDS
    ("InvalidSubnet"), ElastiCache ("Some input subnets in :[…] are invalid."), ELBv2
    ("SubnetNotFound", "InvalidSecurityGroup")."""
    return exc.code in ("InvalidSubnet", "SubnetNotFound", "InvalidSecurityGroup") or (
        exc.code == "InvalidParameterValue" and "subnets" in exc.message)


async def seen_late(step: Callable[[], Awaitable[T]], *, what: str, interval: float,
                    say: wait.Say = wait._quiet) -> T:
    """``step``, a call of RDS, ElastiCache or ELBv2 naming subnets or groups, run again while
    that service does not see them yet: each service's view of EC2 lags as EC2's own does, and
    "the same call succeeds once state settles" (a subnet group right after its subnets). A
    request wrong for good (subnets of two VPCs) fails once the wait is out, with AWS's words."""
    return await wait.retry(step, _not_seen_elsewhere, what=what, interval=interval,
                            timeout=VISIBLE_WAIT, say=say, max_interval=interval * VISIBLE_STEPS,
                            why="AWS does not show the new network to it yet")


def filters(project: str, stack: str) -> list[dict[str, Any]]:
    """EC2's filters for what the (project, stack) tagged: its VPC, subnets, groups ..."""
    return [{"Name": f"tag:{names.PROJECT}", "Values": [project]},
            {"Name": f"tag:{names.STACK}", "Values": [stack]}]


async def security_groups(aws: Aws, net: Network, named: names.Names,
                          rules: dict[str, list[Rule]], etag: str, *,
                          interval: float = 1.0, say: wait.Say = wait._quiet,
                          seen: list[dict[str, Any]] | None = None) -> dict[str, str]:
    """Make the groups named in ``rules`` and give each exactly those rules (in ``net.groups``);
    return the stack's other groups (role -> id), which nothing in the project uses any more.
    ``seen``: the stack's groups in the network as ``described`` them moments ago (under the
    deploy's lock, so still what there is), saving the call."""
    project, stack = named.project, named.stack
    found = seen if seen is not None else await described(aws, net, project, stack)
    existing = {names.tag_dict(g.get("Tags")).get(names.ROLE): g for g in found}
    fresh = _Fresh(aws, interval, say)

    async def make(role: str) -> None:
        if role in existing:
            net.groups[role] = existing[role]["GroupId"]
            return
        made = await fresh("create_security_group", VpcId=net.vpc,
                         GroupName=named.security_group(role),
                         Description=f"launchdeck {project} ({stack}): {role}",
                         TagSpecifications=[{"ResourceType": "security-group", "Tags": names.tag_list(
                             names.tags(project, stack, role=role, etag=etag))}])
        net.groups[role] = made["GroupId"]

    await parallel(*[lambda r=role: make(r) for role in sorted(rules)])

    async def reconcile(role: str) -> None:
        want = {_permission(rule, net.groups) for rule in rules[role]}
        have = set()
        for perm in existing.get(role, {}).get("IpPermissions", []):
            for pair in perm.get("UserIdGroupPairs", []):
                have.add((perm.get("FromPort"), pair["GroupId"], None))
            for cidr in perm.get("IpRanges", []):
                have.add((perm.get("FromPort"), None, cidr["CidrIp"]))
        group = net.groups[role]
        if want - have:
            await fresh("authorize_security_group_ingress", GroupId=group,
                         IpPermissions=[_ip_permission(p) for p in sorted(want - have, key=str)])
        if have - want:
            try:
                await aws("ec2", "revoke_security_group_ingress", GroupId=group,
                          IpPermissions=[_ip_permission(p) for p in sorted(have - want, key=str)])
            except AwsError as exc:  # a rule naming a group deleted since: AWS dropped it
                if exc.code != "InvalidGroup.NotFound":
                    raise

    await parallel(*[lambda r=role: reconcile(r) for role in sorted(rules)])
    return stale(found, rules)


def stale(found: list[dict[str, Any]], wanted: Iterable[str]) -> dict[str, str]:
    """The groups of ``found`` (the stack's, as ``described``) whose role is not ``wanted``:
    role -> id, what nothing in the project uses any more."""
    keep = set(wanted)
    existing = {names.tag_dict(g.get("Tags")).get(names.ROLE): g for g in found}
    return {role: g["GroupId"] for role, g in existing.items() if role and role not in keep}


def _permission(rule: Rule, groups: dict[str, str]) -> tuple[int, str | None, str | None]:
    if rule.source == "0.0.0.0/0":
        return (rule.port, None, rule.source)
    return (rule.port, groups[rule.source], None)


def _ip_permission(perm: tuple[int, str | None, str | None]) -> dict[str, Any]:
    port, group, cidr = perm
    out: dict[str, Any] = {"IpProtocol": "tcp", "FromPort": port, "ToPort": port}
    if group:
        out["UserIdGroupPairs"] = [{"GroupId": group}]
    else:
        out["IpRanges"] = [{"CidrIp": cidr}]
    return out
