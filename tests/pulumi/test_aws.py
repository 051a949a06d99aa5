"""The dynamic provider on AWS through a moto server: Pulumi's create, diff, update and delete
called as Pulumi's dynamic provider host calls them, the provider made by launchdeck's
registry from the environment (AWS_ENDPOINT_URL points it at moto)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio
import pytest

from launchdeck.pulumi import Postgres, Project, Service
from testkit import BUSYBOX
from tests.providers.aws.conftest import aws_env, moto_server  # noqa: F401
from tests.pulumi.conftest import run_program

SECRETS = {"TOKEN": "tok-aws-pulumi-3e8a1f", "POSTGRES_PASSWORD": "pw-aws-pulumi-90b7c2"}


def shop(greeting: str = "hello") -> Callable[[], Any]:
    """A web service with a config value, on a managed Postgres (RDS)."""

    def program() -> Any:
        db = Postgres("db", user="shop", database="shop")
        web = Service("web", image=BUSYBOX, command=["httpd", "-f", "-p", "8080"],
                      ports=[{"target": 8080, "published": 80, "mode": "ingress"}],
                      environment={"GREETING": greeting, "TOKEN": None,
                                   "DATABASE_URL": "postgres://shop:${POSTGRES_PASSWORD}@db:5432/shop"},
                      healthcheck={"test": ["CMD", "wget", "-q", "--spider", "http://localhost:8080/"]},
                      depends_on=[db], deploy={"resources": {"reservations": {"memory": "512M"}}})
        return Project("shop", services=[web, db], provider="aws").endpoints

    return program


@pytest.fixture
def created(aws_env) -> dict[str, Any]:  # noqa: F811
    ran = run_program(shop(), config=SECRETS)
    provider = ran.provider()
    news = provider.check({}, ran.inputs).inputs
    made = provider.create(news)
    return {"provider": provider, "news": news, "outs": made.outs, "id": made.id}


def _session() -> Any:
    from testkit import aws as T

    return T.session()


def _tagged() -> list[str]:
    """What the tagging API still finds of the project (deleted ECS services stay INACTIVE)."""
    boto = _session()
    found = boto.client("resourcegroupstaggingapi").get_resources(TagFilters=[
        {"Key": "launchdeck:project", "Values": ["shop"]}, {"Key": "launchdeck:stack", "Values": ["dev"]}])
    arns = [r["ResourceARN"] for r in found["ResourceTagMappingList"]]
    from launchdeck.providers.aws.api import Aws
    from launchdeck.providers.aws.inventory import kind
    from launchdeck.providers.aws.teardown import exists

    # the tagging API lists what was deleted a moment ago: its own service says what is left
    return [a for a in arns if anyio.run(exists, Aws(boto), kind(a), a)]


def test_create_deploys_the_service_and_its_database(created: dict[str, Any]) -> None:
    """create runs the engine's deploy on AWS: the ECS service and RDS both complete."""
    assert created["id"] == "aws/shop/dev"
    assert {n: s["state"] for n, s in created["outs"]["services"].items()} == {
        "web": "SERVICE_DEPLOYMENT_COMPLETED", "db": "SERVICE_DEPLOYMENT_COMPLETED"}
    assert created["outs"]["endpoints"]["web"]


def test_create_puts_the_secrets_in_ssm_and_none_in_pulumis_state(created: dict[str, Any]) -> None:
    """Each value is an SSM SecureString; the inputs and outputs Pulumi keeps hold neither."""
    ssm = _session().client("ssm")
    for name, value in SECRETS.items():
        parameter = ssm.get_parameter(Name=f"/launchdeck/shop/dev/{name}", WithDecryption=True)["Parameter"]
        assert (parameter["Type"], parameter["Value"]) == ("SecureString", value)
    kept = json.dumps(created["news"]) + json.dumps(created["outs"])
    assert not [v for v in SECRETS.values() if v in kept]


def test_an_unchanged_project_diffs_to_no_change(created: dict[str, Any]) -> None:
    """The same program again: the engine's plan on AWS is all NOOP."""
    ran = run_program(shop(), config=SECRETS)
    news = created["provider"].check(created["outs"], ran.inputs).inputs
    assert created["provider"].diff(created["id"], created["outs"], news).changes is False


def test_a_change_updates_only_its_service(created: dict[str, Any]) -> None:
    """A new environment value diffs to an update and changes the web service alone."""
    ran = run_program(shop(greeting="bonjour"), config=SECRETS)
    provider = ran.provider()
    news = provider.check(created["outs"], ran.inputs).inputs
    assert provider.diff(created["id"], created["outs"], news).changes is True
    outs = provider.update(created["id"], created["outs"], news).outs
    assert {c["service"]: c["action"] for c in outs["changes"] if c["kind"] in ("service", "store")} == {
        "web": "UPDATE", "db": "NOOP"}


def test_delete_leaves_nothing_tagged_not_even_the_config(created: dict[str, Any]) -> None:
    """delete is the engine's destroy, and the values Pulumi put in SSM go with it."""
    created["provider"].delete(created["id"], created["outs"])
    assert _tagged() == []
    names = [p["Name"] for p in _session().client("ssm").describe_parameters()["Parameters"]]
    assert not [n for n in names if n.startswith("/launchdeck/shop/")]
