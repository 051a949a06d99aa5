"""Managed stores: what RDS and ElastiCache offer and refuse, found before anything is made."""

from __future__ import annotations

import anyio
import pytest

from launchdeck.compose.load import load
from launchdeck.errors import ProviderError
from launchdeck.providers.aws import names, stores
from launchdeck.providers.aws.api import Aws
from launchdeck.tools.config import random_value

GOOD_PASSWORD = "Sup3r-Secret_pass"


def _store(project, image: str, environment: str = "", kind: str = "postgres"):
    body = f"name: demo\nservices:\n  db:\n    image: {image}\n    x-defang-{kind}: true\n"
    if environment:
        body += "    environment:\n" + "".join(f"      {line}\n" for line in environment.splitlines())
    return load(cwd=str(project({"compose.yaml": body})), os_environ={}).project.services["db"]


@pytest.mark.parametrize(("image", "kind", "expected"), [
    ("postgres:16", "postgres", ("postgres", "16")),
    ("postgres:15.4-alpine", "postgres", ("postgres", "15")),      # RDS retires minors; the major stays
    ("docker.io/library/postgres:14", "postgres", ("postgres", "14")),
    ("postgres", "postgres", ("postgres", "17")),
    ("postgres:9.6", "postgres", ("postgres", None)),
    ("redis:7", "redis", ("redis", "7.1")),
    ("redis:7.0.15", "redis", ("redis", "7.0")),
    ("redis:6-alpine", "redis", ("redis", "6.2")),
    ("redis", "redis", ("redis", "7.1")),
    ("redis:7.2", "redis", ("valkey", "7.2")),                      # only Valkey goes past 7.1 there
    ("redis:7.4", "redis", ("valkey", "8.1")),
    ("redis:8", "redis", ("valkey", "8.1")),
    ("redis:4", "redis", ("redis", None)),
    ("valkey/valkey:8", "redis", ("valkey", "8.1")),
    ("valkey/valkey:7.2-alpine", "redis", ("valkey", "7.2")),
    ("bitnami/valkey", "redis", ("valkey", "8.1")),
])
def test_the_image_tag_picks_an_engine_version_aws_offers(project, image, kind, expected) -> None:
    assert stores.engine(_store(project, image, kind=kind)) == expected


@pytest.mark.parametrize(("environment", "field", "message"), [
    ("POSTGRES_USER: admin\nPOSTGRES_PASSWORD:", "environment.POSTGRES_USER",
     "RDS reserves the master user name 'admin'"),
    ("POSTGRES_USER: user\nPOSTGRES_PASSWORD:", "environment.POSTGRES_USER",
     "RDS reserves the master user name 'user'"),
    ("POSTGRES_USER: app_user\nPOSTGRES_PASSWORD:", "environment.POSTGRES_USER",
     "RDS needs a master user of 1 to 63 letters or digits"),
    ("POSTGRES_USER: 1app\nPOSTGRES_PASSWORD:", "environment.POSTGRES_USER",
     "RDS needs a master user of 1 to 63 letters or digits"),
    ("POSTGRES_DB: my-db\nPOSTGRES_PASSWORD:", "environment.POSTGRES_DB",
     "RDS needs a database name of 1 to 63 letters, digits or '_'"),
    ("POSTGRES_DB: catalog\nPOSTGRES_PASSWORD:", "environment.POSTGRES_DB",
     "RDS reserves the database name 'catalog'"),
    ("POSTGRES_DB: template1\nPOSTGRES_PASSWORD:", "environment.POSTGRES_DB",
     "RDS reserves the database name 'template1'"),
    ("POSTGRES_USER: app", "environment", "x-defang-postgres needs a password on aws"),
])
def test_postgres_settings_rds_refuses_are_found_with_their_fix(project, environment, field, message) -> None:
    service = _store(project, "postgres:16", environment)
    found = stores.problems(service, {"POSTGRES_PASSWORD": GOOD_PASSWORD})
    assert [(p.field, p.message[:len(message)]) for p in found] == [(field, message)]
    assert found[0].fix


@pytest.mark.parametrize("password", ["short1!", "has/slash-1234", 'has"quote-1234', "has@at-12345",
                                      "has space 1234", "é-not-ascii-123", "x" * 129])
def test_passwords_rds_refuses_are_found_without_being_quoted(project, password) -> None:
    service = _store(project, "postgres:16", "POSTGRES_PASSWORD:")
    found = stores.problems(service, {"POSTGRES_PASSWORD": password})
    assert [p.field for p in found] == ["environment.POSTGRES_PASSWORD"]
    assert password not in found[0].message + found[0].fix
    assert "random" in found[0].fix  # a generated one is one RDS accepts


def test_a_random_config_value_is_a_password_rds_accepts(project) -> None:
    """`config set --random` makes values RDS takes as a master password."""
    service = _store(project, "postgres:16", "POSTGRES_PASSWORD:")
    for _ in range(200):
        assert stores.problems(service, {"POSTGRES_PASSWORD": random_value()}) == []


@pytest.mark.parametrize(("image", "kind", "message"), [
    ("postgres:10", "postgres", "RDS does not offer PostgreSQL 10"),
    ("redis:4", "redis", "ElastiCache does not offer Redis OSS 4"),
    ("valkey/valkey:9", "redis", "ElastiCache does not offer Valkey 9"),
])
def test_versions_and_stores_aws_does_not_offer_are_found(project, image, kind, message) -> None:
    environment = "POSTGRES_PASSWORD:" if kind == "postgres" else ""
    found = stores.problems(_store(project, image, environment, kind), {"POSTGRES_PASSWORD": GOOD_PASSWORD})
    assert [p.message[:len(message)] for p in found] == [message]


def test_store_raises_with_every_problem_and_every_fix(project) -> None:
    """The provider builds store specs before any change: one error lists all there is to fix."""
    service = _store(project, "postgres:10", "POSTGRES_USER: admin\nPOSTGRES_PASSWORD:")
    with pytest.raises(ProviderError, match="PostgreSQL 10; RDS reserves the master user name 'admin'") \
            as caught:
        stores.store(service, names.Names("demo", "dev"), {"POSTGRES_PASSWORD": GOOD_PASSWORD})
    assert "postgres:16" in caught.value.hint and "POSTGRES_USER" in caught.value.hint


def test_a_default_database_is_not_named_again(project) -> None:
    """The postgres image's defaults (user and database postgres) need no DBName on RDS."""
    spec = stores.store(_store(project, "postgres:16", "POSTGRES_PASSWORD:"), names.Names("demo", "dev"),
                        {"POSTGRES_PASSWORD": GOOD_PASSWORD})
    assert (spec.settings["user"], spec.settings["database"]) == ("postgres", "postgres")


def test_stores_racing_for_the_shared_subnet_group_both_get_it(boto, aws_env) -> None:
    """Two stores of a VPC make its subnet group at once: the loser finds it made."""
    aws = Aws(boto)
    ec2 = boto.client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    found = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    subnets = [s["SubnetId"] for s in found]

    async def race() -> None:
        async with anyio.create_task_group() as group:
            for _ in range(4):
                group.start_soon(stores.ensure_subnet_group, aws, "rds", vpc, subnets)
                group.start_soon(stores.ensure_subnet_group, aws, "elasticache", vpc, subnets)

    anyio.run(race)
    assert len(boto.client("rds").describe_db_subnet_groups()["DBSubnetGroups"]) == 1
    assert len(boto.client("elasticache").describe_cache_subnet_groups()["CacheSubnetGroups"]) == 1


@pytest.mark.parametrize(("db", "doing"), [
    ({"DBInstanceStatus": "available"}, ""),
    ({"DBInstanceStatus": "available", "PendingModifiedValues": {"MasterUserPassword": "****"}},
     "available, applying MasterUserPassword"),
    ({"DBInstanceStatus": "modifying", "PendingModifiedValues": {}}, "modifying"),
    ({"DBInstanceStatus": "creating"}, "creating"),
])
def test_a_database_serves_the_new_password_only_once_nothing_is_pending(db, doing) -> None:
    """After ModifyDBInstance the instance reads available while the password is still pending."""
    assert stores.busy(db) == doing


@pytest.mark.parametrize("image", ["redis:7.2", "redis:7.4-alpine", "redis:8"])
def test_redis_past_7_1_deploys_on_valkey_with_a_warning(project, image) -> None:
    """Redis versions ElastiCache's Redis OSS lacks run on Valkey, said by a warning, not refused."""
    service = _store(project, image, "", "redis")
    found = stores.problems(service, {})
    assert [(p.warning, "Valkey" in p.message) for p in found] == [(True, True)]
    assert stores.store(service, names.Names("demo", "dev"), {}).settings["engine"] == "valkey"
