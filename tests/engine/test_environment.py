"""One compose file's environment is classified alike on every cloud: plain, config, derived."""

from __future__ import annotations

from launchdeck.compose.load import load
from launchdeck.engine.environment import Source, classify
from launchdeck.providers.aws import render as aws
from launchdeck.providers.gcp import render as gcp

COMPOSE = """\
name: shop
services:
  web:
    image: nginx
    ports: ["8080:80"]
    environment:
      PLAIN: hello
      API_KEY:
      TOKEN: ${TOKEN}
      DATABASE_URL: postgres://u:${PW}@db:5432/app
      CACHE: redis://cache:6379
      QUOTED: "'db'"
      LIST: db;cache
      NOT_A_HOST: database-and-cache
  db:
    image: postgres:16
    x-defang-postgres: true
    environment: {POSTGRES_PASSWORD: }
  cache:
    image: redis:7
    x-defang-redis: true
"""
CONFIG = {"TOKEN": "t0k", "PW": "pw-db-cache", "API_KEY": "k", "POSTGRES_PASSWORD": "p"}


def _web(project):
    root = project({"compose.yaml": COMPOSE})
    return load(cwd=str(root), os_environ={}).project.services["web"]


def test_classification_is_the_engines(project) -> None:
    """Bare keys and whole references are config; text mixing config is derived; the rest plain."""
    got = {v.key: v.source for v in classify(_web(project), CONFIG)}
    assert got == {"PLAIN": Source.PLAIN, "API_KEY": Source.CONFIG, "TOKEN": Source.CONFIG,
                   "DATABASE_URL": Source.DERIVED, "CACHE": Source.PLAIN, "QUOTED": Source.PLAIN,
                   "LIST": Source.PLAIN, "NOT_A_HOST": Source.PLAIN}


def test_aws_and_gcp_classify_and_rewrite_every_variable_alike(project) -> None:
    """The same file gives the same secrets, the same plain keys and the same store hosts on both."""
    web = _web(project)
    endpoints = {"db": "db.host", "cache": "cache.host"}
    plain, secrets, derived = aws.environment(web, aws.Infra(
        project="shop", stack="dev", region="us-east-1", account="1", cluster="c", log_group="g",
        execution_role="e", task_role="t", subnets=[], public_ip=True, namespace=None,
        endpoints=endpoints), CONFIG)
    env, gderived, _ = gcp.environment(web, gcp.Infra(
        project="shop", stack="dev", gcp_project="p", region="us-central1", account="a",
        stores=frozenset(endpoints), endpoints=endpoints, hosts={}, internal=frozenset()), CONFIG, 80)
    gplain = {e["name"]: e["value"] for e in env if "value" in e}
    gsecret = {e["name"] for e in env if "value_source" in e}
    assert set(plain) == set(gplain)
    assert set(secrets) == gsecret == {"API_KEY", "TOKEN", "DATABASE_URL"}
    assert gplain["CACHE"] == plain["CACHE"] == "redis://cache.host:6379"
    assert gplain["QUOTED"] == plain["QUOTED"] == "'db.host'"
    assert gplain["LIST"] == plain["LIST"] == "db.host;cache.host"
    assert gplain["NOT_A_HOST"] == plain["NOT_A_HOST"] == "database-and-cache"
    assert [v.split("?")[0] for v in derived.values()] == list(gderived.values()) \
        == ["postgres://u:pw-db-cache@db.host:5432/app"]
