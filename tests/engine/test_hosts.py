"""Start order by the names services call each other by, and who must roll for a new service."""

from __future__ import annotations

import pytest

from launchdeck.compose.load import load
from launchdeck.engine import dag
from launchdeck.engine import hosts as order

SHOP = """\
name: shop
services:
  web:
    image: nginx
    environment:
      BACKEND_URL: http://backend:9000/api
      NOT_A_HOST: the-backend-team
  backend:
    image: nginx
    environment:
      DATABASE_URL: postgres://u:${PW}@db:5432/app
      QUEUE: worker
  worker:
    image: nginx
    depends_on: [db]
  db:
    image: postgres:16
    x-defang-postgres: true
    environment: {POSTGRES_PASSWORD: }
"""

LOOP = """\
name: loop
services:
  ping:
    image: nginx
    environment: {PEER: "http://pong:80"}
  pong:
    image: nginx
    environment: {PEER: "http://ping:80"}
"""


def _project(project, text: str):
    return load(cwd=str(project({"compose.yaml": text})), os_environ={}).project


def test_references_are_hosts_in_the_environment_not_substrings(project) -> None:
    """``http://backend:9000`` and ``QUEUE: worker`` name services; ``the-backend-team`` does not."""
    found = order.references(_project(project, SHOP))
    assert found == {"web": {"backend"}, "backend": {"db", "worker"}, "worker": set(), "db": set()}


def test_a_service_starts_after_those_it_names_and_its_depends_on(project) -> None:
    graph = order.graph(_project(project, SHOP))
    assert graph == {"web": {"backend": "service_started"},
                     "backend": {"db": "service_started", "worker": "service_started"},
                     "worker": {"db": "service_started"}, "db": {}}
    assert dag.order(graph) == ["db", "worker", "backend", "web"]


def test_two_services_that_call_each_other_still_have_an_order(project) -> None:
    """The edge that would close the loop is left out, the same one every time."""
    graph = order.graph(_project(project, LOOP))
    assert graph == {"ping": {"pong": "service_started"}, "pong": {}}
    assert dag.order(graph) == ["pong", "ping"]


@pytest.mark.parametrize(("text", "created", "restarted", "roll"), [
    (SHOP, ["worker"], ["worker"], ["backend"]),            # backend kept its tasks: roll it
    (SHOP, ["worker"], ["worker", "backend"], []),          # backend restarts after worker anyway
    (SHOP, ["db"], ["db"], []),                             # stores are reached by endpoint
    (SHOP, [], ["backend"], []),                            # nothing new: nothing to roll
    (LOOP, ["ping", "pong"], ["ping", "pong"], ["pong"]),   # pong started before ping existed
])
def test_clients_of_a_new_service_roll_unless_they_started_after_it(project, text, created, restarted,
                                                                    roll) -> None:
    """Service Connect gives a task the names that exist when it starts."""
    assert order.to_roll(_project(project, text), created, restarted) == roll


@pytest.mark.parametrize(("domain", "zones", "serving"), [
    ("www.Example.com.", ["example.com."], "example.com."),
    ("a.b.example.com", ["example.com", "b.example.com."], "b.example.com."),
    ("example.com", ["example.com"], "example.com"),
    ("www.example.com", ["other.com", "ample.com"], None),
    ("www.example.com", ["com"], None),
])
def test_the_longest_parent_zone_serves_a_domain_on_every_cloud(domain, zones, serving) -> None:
    """Route 53 and Cloud DNS zones are matched alike: the longest zone that is the domain or
    a parent of it, any case, with or without the root's dot; never a bare TLD."""
    assert order.zone_for(domain, zones) == serving


def test_a_domain_without_a_zone_is_told_to_create_its_parent() -> None:
    """The zone to create is the domain's parent, or the domain itself under its TLD."""
    assert (order.parent("www.Example.com."), order.parent("example.com")) == ("example.com", "example.com")
