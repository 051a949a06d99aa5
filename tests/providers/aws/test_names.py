"""Every compose name becomes AWS names that AWS accepts, the same each time, never shared."""

from __future__ import annotations

import re

import pytest

from launchdeck.providers.aws import names
from testkit import aws as T

AWKWARD = ["web", "api.v1", "Web", "my_service", "_private", "9lives", "a" * 90, "x" * 300, "b.-_c"]
"""Service names compose accepts ([a-zA-Z0-9._-]+) that AWS names do not all allow."""
PROJECTS = ["shop", "2048-game", "my_app", "p" * 70]


def _requests(project: str, service: str) -> list[tuple[str, str, dict]]:
    """Requests naming what one service becomes, in the shape the provider sends them."""
    port = 8080
    store_id = names.resource_id(project, "dev", service)
    group = names.security_group(project, "dev", f"service:{service}")
    return [
        ("ecs", "RegisterTaskDefinition", {"family": names.service_name(project, "dev", service),
                                           "containerDefinitions": [{
                                               "name": names.container(service),
                                               "portMappings": [{"name": names.port_name(port)}]}]}),
        ("ecs", "UpdateService", {"serviceName": names.service_name(project, "dev", service),
                                  "serviceConnectConfiguration": {"services": [{
                                      "discoveryName": names.discovery(service, port),
                                      "clientAliases": [{"dnsName": "alias"}]}]}}),
        ("rds", "CreateDBInstance", {"DBInstanceIdentifier": store_id}),
        ("rds", "DeleteDBInstance", {"FinalDBSnapshotIdentifier": names.snapshot(project, service, "1a2b")}),
        ("elasticache", "CreateReplicationGroup", {"ReplicationGroupId": store_id,
                                                   "ReplicationGroupDescription": "d"}),
        ("elbv2", "CreateTargetGroup", {"Name": names.target_group(project, "dev", service, port)}),
        ("ecr", "CreateRepository", {"repositoryName": names.repository(project, "dev", service)}),
        ("ec2", "CreateSecurityGroup", {"GroupName": group, "Description": "d"}),
    ]


@pytest.mark.parametrize("project", PROJECTS)
@pytest.mark.parametrize("service", AWKWARD)
def test_every_name_a_service_becomes_follows_aws_rules(project, service) -> None:
    """ECS, Service Connect, RDS, ElastiCache, ELB, ECR and EC2 accept each generated name."""
    strict = T.Strict()
    found = [p for request in _requests(project, service) for p in strict.problems(*request)]
    assert found == []


@pytest.mark.parametrize("project", PROJECTS)
def test_every_name_a_project_becomes_follows_aws_rules(project) -> None:
    """Load balancer, roles, namespace and log group of any compose project name are valid."""
    strict = T.Strict()
    requests = [("elbv2", "CreateLoadBalancer", {"Name": names.load_balancer(project, "dev")}),
                ("iam", "CreateRole", {"RoleName": names.role(project, "dev", "exec")}),
                ("servicediscovery", "CreateHttpNamespace", {"Name": names.namespace(project, "dev")}),
                ("logs", "CreateLogGroup", {"logGroupName": names.log_group(project, "dev")})]
    assert [p for request in requests for p in strict.problems(*request)] == []


@pytest.mark.parametrize(("make", "expected"), [
    (lambda: names.service_name("shop", "dev", "web"), "shop-dev-web"),
    (lambda: names.resource_id("shop", "dev", "db"), "shop-dev-db"),
    (lambda: names.repository("shop", "dev", "web"), "launchdeck/shop/dev/web"),
    (lambda: names.load_balancer("shop", "dev"), "ld-shop-dev"),
    (lambda: names.target_group("shop", "dev", "web", 8080), "ld-shop-dev-web-8080"),
    (lambda: names.role("shop", "dev", "exec"), "ld-shop-dev-exec"),
    (lambda: names.container("api_v1"), "api_v1"),
    (lambda: names.discovery("web", 80), "web-80"),
    (lambda: names.snapshot("shop", "db", "1a2b"), "shop-db-postgres-1a2b-final-snapshot"),
])
def test_a_name_aws_accepts_as_it_is_stays_as_it_is(make, expected) -> None:
    """Names that were valid keep their form, so existing deployments keep their resources."""
    assert make() == expected


@pytest.mark.parametrize(("one", "other"), [
    ("api.v1", "api-v1"), ("Web", "web"), ("a" * 90 + "1", "a" * 90 + "2"), ("db_1", "db-1"),
])
@pytest.mark.parametrize("make", [
    lambda s: names.service_name("shop", "dev", s), lambda s: names.resource_id("shop", "dev", s),
    lambda s: names.repository("shop", "dev", s), lambda s: names.discovery(s, 80),
    lambda s: names.target_group("shop", "dev", s, 80), lambda s: names.container(s),
])
def test_two_compose_names_never_become_one_aws_name(one, other, make) -> None:
    """Cleaning and cutting add a digest of the full name, so different names stay apart."""
    assert make(one) != make(other)


def test_a_project_starting_with_a_digit_gets_a_valid_snapshot_and_store_id() -> None:
    """``2048-game``: identifiers that must start with a letter get one."""
    assert names.snapshot("2048-game", "db", "1a2b") == "x2048-game-db-postgres-1a2b-final-snapshot"
    assert names.resource_id("2048-game", "dev", "db")[0].isalpha()


def test_certificates_of_two_domains_or_two_deploys_get_two_idempotency_tokens() -> None:
    """ACM answers a token it saw within the hour with that request's certificate."""
    one = names.idempotency_token("shop", "dev", "a.example.com", "etag1")
    other_domain = names.idempotency_token("shop", "dev", "b.example.com", "etag1")
    next_deploy = names.idempotency_token("shop", "dev", "a.example.com", "etag2")
    assert len({one, other_domain, next_deploy}) == 3
    assert all(re.fullmatch(r"\w{1,32}", t) for t in (one, other_domain, next_deploy))
    assert names.idempotency_token("shop", "dev", "a.example.com", "etag1") == one


@pytest.mark.parametrize(("services", "ports", "expected"), [
    (["Web", "web"], {"Web": [80], "web": [80]},
     "services 'Web' and 'web' would share the service address 'web'"),
    (["-edge"], {"-edge": [80]}, "'-edge' cannot be a Service Connect DNS name"),
])
def test_problems_name_the_clash_and_the_services(services, ports, expected) -> None:
    """Names that cannot work are found before anything is made, each with a fix."""
    found = names.problems("shop", "dev", services, ports)
    assert [p.message[:len(expected)] for p in found] == [expected]
    assert found[0].fix


def test_problems_finds_nothing_in_a_project_of_ordinary_names() -> None:
    found = names.problems("shop", "dev", ["web", "api.v1", "worker"], {"web": [80], "api.v1": [9000]})
    assert found == []
