"""Every compose name becomes AWS names that AWS accepts, the same each time, never shared."""

from __future__ import annotations

import re

import pytest

from launchdeck.providers.aws import names
from testkit import aws as T

AWKWARD = ["web", "api.v1", "Web", "my_service", "_private", "9lives", "a" * 90, "x" * 300, "b.-_c"]
"""Service names compose accepts ([a-zA-Z0-9._-]+) that AWS names do not all allow."""
PROJECTS = ["shop", "2048-game", "my_app", "p" * 70, "a-", "x-y-z"]
SHOP = names.Names.fresh("shop", "dev")


def _requests(project: str, service: str) -> list[tuple[str, str, dict]]:
    """Requests naming what one service becomes, in the shape the provider sends them."""
    port = 8080
    stack = names.Names.fresh(project, "dev")
    store_id = stack.store(service)
    group = stack.security_group(f"service:{service}")
    return [
        ("ecs", "RegisterTaskDefinition", {"family": stack.service(service),
                                           "containerDefinitions": [{
                                               "name": names.container(service),
                                               "portMappings": [{"name": names.port_name(port)}]}]}),
        ("ecs", "UpdateService", {"serviceName": stack.service(service),
                                  "serviceConnectConfiguration": {"services": [{
                                      "discoveryName": names.discovery(service, port),
                                      "clientAliases": [{"dnsName": "alias"}]}]}}),
        ("rds", "CreateDBInstance", {"DBInstanceIdentifier": store_id}),
        ("rds", "DeleteDBInstance", {"FinalDBSnapshotIdentifier": names.snapshot(project, service, "1a2b")}),
        ("elasticache", "CreateReplicationGroup", {"ReplicationGroupId": store_id,
                                                   "ReplicationGroupDescription": "d"}),
        ("elbv2", "CreateTargetGroup", {"Name": stack.target_group(service, port)}),
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
    stack = names.Names.fresh(project, "dev")
    requests = [("elbv2", "CreateLoadBalancer", {"Name": stack.load_balancer()}),
                ("iam", "CreateRole", {"RoleName": stack.role("exec")}),
                ("servicediscovery", "CreateHttpNamespace", {"Name": stack.namespace()}),
                ("logs", "CreateLogGroup", {"logGroupName": names.log_group(project, "dev")})]
    assert [p for request in requests for p in strict.problems(*request)] == []


@pytest.mark.parametrize(("make", "expected"), [
    (lambda: SHOP.service("web"), "shop-dev-web"),
    (lambda: SHOP.store("db"), "shop-dev-db"),
    (lambda: names.repository("shop", "dev", "web"), "launchdeck/shop/dev/web"),
    (lambda: SHOP.load_balancer(), "ld-shop-dev"),
    (lambda: SHOP.target_group("web", 8080), "ld-shop-dev-web-8080"),
    (lambda: SHOP.role("exec"), "ld-shop-dev-exec"),
    (lambda: SHOP.namespace(), "launchdeck-shop-dev"),
    (lambda: SHOP.security_group("alb"), "ld-shop-dev-alb"),
    (lambda: names.Names("my-shop", "dev").load_balancer(), "ld-my-shop-dev"),
    (lambda: names.container("api_v1"), "api_v1"),
    (lambda: names.discovery("web", 80), "web-80"),
    (lambda: names.snapshot("shop", "db", "1a2b"), "shop-db-postgres-1a2b-final-snapshot"),
])
def test_a_name_aws_accepts_as_it_is_stays_as_it_is(make, expected) -> None:
    """Names that were valid keep their form, so existing deployments keep their resources (a
    stack with a dash, deployed before marks, keeps its names unmarked)."""
    assert make() == expected


@pytest.mark.parametrize(("one", "other"), [
    ("api.v1", "api-v1"), ("Web", "web"), ("a" * 90 + "1", "a" * 90 + "2"), ("db_1", "db-1"),
])
@pytest.mark.parametrize("make", [
    lambda s: SHOP.service(s), lambda s: SHOP.store(s),
    lambda s: names.repository("shop", "dev", s), lambda s: names.discovery(s, 80),
    lambda s: SHOP.target_group(s, 80), lambda s: names.container(s),
])
def test_two_compose_names_never_become_one_aws_name(one, other, make) -> None:
    """Cleaning and cutting add a digest of the full name, so different names stay apart."""
    assert make(one) != make(other)


def test_a_project_starting_with_a_digit_gets_a_valid_snapshot_and_store_id() -> None:
    """``2048-game``: identifiers that must start with a letter get one."""
    assert names.snapshot("2048-game", "db", "1a2b") == "x2048-game-db-postgres-1a2b-final-snapshot"
    assert names.Names.fresh("2048-game", "dev").store("db")[0].isalpha()


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
    found = names.problems(SHOP, services, ports)
    assert [p.message[:len(expected)] for p in found] == [expected]
    assert found[0].fix


def test_problems_finds_nothing_in_a_project_of_ordinary_names() -> None:
    found = names.problems(SHOP, ["web", "api.v1", "worker"], {"web": [80], "api.v1": [9000]})
    assert found == []


def _pairs() -> list[tuple[str, str]]:
    """(project, stack) pairs whose dashed joins meet: every split of every join of a few
    words (a stack starts with a letter), long ones that ELB's 32 characters and the stores'
    40 cut, and a project ending in a dash (``a--b`` after joining, which stores refuse)."""
    import itertools

    from launchdeck.identity import _STACK

    words = ["a", "b", "c", "ab", "my", "app", "dev", "x1", "2048", "q" * 14]
    joins = {"-".join(w) for n in (2, 3, 4) for w in itertools.product(words, repeat=n)}
    joins |= {"a--b", "a--b-c", "a-" + "z" * 30}
    pairs = set()
    for join in joins:
        for at in [i for i, ch in enumerate(join) if ch == "-"]:
            project, stack = join[:at], join[at + 1:]
            if project and re.fullmatch(r"[a-z0-9][a-z0-9_-]*", project) and _STACK.fullmatch(stack):
                pairs.add((project, stack))
    return sorted(pairs)


PAIRS = _pairs()
KINDS = {
    "load balancer": (names.ELB, lambda n: [n.load_balancer()]),
    "target group": (names.ELB, lambda n: [n.target_group(s, p) for s in ("web", "api-v1")
                                           for p in (80, 8080)]),
    "IAM role": (names.IAM, lambda n: [n.role("exec"), n.role("task")]),
    "namespace": (names.NAMESPACE, lambda n: [n.namespace()]),
    "security group": (names.SECURITY_GROUP, lambda n: [n.security_group(r) for r in ("alb", "members",
                                                                                      "service:web")]),
    "ECS service": (names.ECS, lambda n: [n.service(s) for s in ("web", "api-v1")]),
    "store": (names.STORE, lambda n: [n.store(s) for s in ("db", "cache")]),
}


def test_the_generated_pairs_do_meet_when_joined_as_before() -> None:
    """The set below is worth testing: unmarked, many of its pairs share names."""
    seen: dict[str, tuple[str, str]] = {}
    shared = 0
    for pair in PAIRS:
        name = names.Names(*pair).load_balancer()
        shared += seen.setdefault(name, pair) != pair
    assert len(PAIRS) > 2000 and shared > 500


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_no_stack_deployed_now_shares_a_name_with_another_stack(kind) -> None:
    """Each pair's names now, against every other pair's names now and those it had before
    marks (an existing stack keeps them): no two pairs meet."""
    _, make = KINDS[kind]
    now: dict[str, tuple[str, str]] = {}
    for pair in PAIRS:
        for name in make(names.Names.fresh(*pair)):
            assert now.setdefault(name, pair) == pair, f"{pair} and {now[name]} share {name}"
    for pair in PAIRS:
        for name in make(names.Names(*pair)):
            assert now.get(name, pair) == pair, f"{pair} (as before) and {now[name]} share {name}"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_marked_name_follows_its_rule(kind) -> None:
    """Marks and cutting keep every name within AWS's rule for it (ELB's 32, the stores' 40,
    letter first and no double dash ...)."""
    rule, make = KINDS[kind]
    bad = [(pair, name) for pair in PAIRS for name in make(names.Names.fresh(*pair)) if not rule.valid(name)]
    assert bad == []


def test_a_plain_pair_keeps_its_names_and_a_dashed_one_gets_a_mark() -> None:
    """No dash in project or stack: the names it always had. A dash in either: a mark of the
    pair after them, different for the two pairs whose join is the same."""
    assert names.Names.fresh("shop", "dev") == names.Names("shop", "dev")
    assert names.Names.fresh("my_app", "prod").mark == ""
    one, other = names.Names.fresh("a-b", "c"), names.Names.fresh("a", "b-c")
    assert re.fullmatch(r"[0-9a-f]{6}", one.mark) and re.fullmatch(r"[0-9a-f]{6}", other.mark)
    assert one.load_balancer() == f"ld-a-b-c-{one.mark}" != other.load_balancer() == f"ld-a-b-c-{other.mark}"
    assert names.Names.fresh("a-b", "c") == one  # the same each time
    assert names.Names.every("a-b", "c") == [one, names.Names("a-b", "c")]
    assert names.Names.every("shop", "dev") == [names.Names("shop", "dev")]


@pytest.mark.parametrize(("made", "expected"), [
    ([], "marked"),
    ([("earlier", "exec", "my-app")], "earlier"),
    ([("earlier", "namespace", "my-app")], "earlier"),
    ([("earlier", "exec", "other")], "marked"),
    ([("earlier", "exec", "my-app"), ("marked", "namespace", "my-app")], "marked"),
])
def test_a_stack_has_the_names_its_roles_or_namespace_have(boto, made, expected) -> None:
    """A dashed stack whose start role or namespace exists (with its tags) under the names
    it had before marks keeps those; one with marked ones, or neither, or only another
    stack's, has the marked names."""
    import anyio

    from launchdeck.providers.aws.api import Aws
    from launchdeck.providers.aws.inventory import stack_names

    by = {"earlier": names.Names("my-app", "dev"), "marked": names.Names.fresh("my-app", "dev")}
    trust = '{"Version": "2012-10-17", "Statement": []}'
    for which, what, owner in made:
        tags = names.tags(owner, "dev")
        if what == "exec":
            boto.client("iam").create_role(RoleName=by[which].role("exec"), AssumeRolePolicyDocument=trust,
                                           Tags=names.tag_list(tags))
        else:
            boto.client("servicediscovery").create_http_namespace(Name=by[which].namespace(),
                                                                  Tags=names.tag_list(tags))
    assert anyio.run(lambda: stack_names(Aws(boto), "my-app", "dev")) == by[expected]
