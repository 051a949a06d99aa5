"""A stack's GCP names: two stacks whose ``project-stack`` joins alike (project ``a-b`` stack
``c``, project ``a`` stack ``b-c``) deploy side by side in one GCP project, a stack deployed
before marks keeps its names, and a name another stack holds is refused, not taken."""

from __future__ import annotations

import random
import re
from functools import partial
from pathlib import Path

import anyio
import pytest

from launchdeck.engine import ps
from launchdeck.engine.deploy import deploy, plan, preflight
from launchdeck.engine.destroy import destroy
from launchdeck.engine.events import Recorder, State
from launchdeck.engine.plan import Action
from launchdeck.engine.seams import DeployOptions
from launchdeck.errors import LaunchdeckError
from launchdeck.providers.gcp import inventory, names
from launchdeck.providers.gcp.api import Gcp
from launchdeck.providers.gcp.provider import GcpProvider
from launchdeck.tools.project import ProjectRef
from testkit.gcp import FakeGcp
from tests.providers.gcp.conftest import LOCATION, PROJECT, go, zone

# --- the names themselves --------------------------------------------------------------------


def test_the_two_pairs_of_one_join_get_their_own_marks() -> None:
    """The docstring's marks are the real ones; the names differ in every kind."""
    ab, bc = names.Names.fresh("a-b", "c"), names.Names.fresh("a", "b-c")
    assert (ab.mark, bc.mark) == ("695274", "02654a")
    assert (ab.service("web"), bc.service("web")) == ("a-b-c-695274-web", "a-b-c-02654a-web")
    for kind in (lambda n: n.service("web"), lambda n: n.account_id(), lambda n: n.redis("cache"),
                 lambda n: n.sql("db", "abc123"), lambda n: n.balancer("map"),
                 lambda n: n.certificate(["a.example.com"]), lambda n: n.remote_repository("ghcr.io")):
        assert kind(ab) != kind(bc)


def test_a_plain_stack_keeps_the_names_it_always_had() -> None:
    named = names.Names.fresh("shop", "dev")
    assert names.Names.every("shop", "dev") == [named] and named.mark == ""
    assert (named.service("web"), named.account("p"), named.redis("cache"), named.sql("db", "abc123"),
            named.balancer("map"), named.balancer(), named.remote_repository("ghcr.io")) == (
        "shop-dev-web", "ld-shop-dev@p.iam.gserviceaccount.com", "shop-dev-cache", "shop-dev-db-abc123",
        "ld-shop-dev-map", "ld-shop-dev", "ld-shop-dev-ghcr-io-822196")


def test_a_stack_that_is_not_plain_may_have_either_names() -> None:
    """A dash in either, or a project starting with a digit (which a name that must start with a
    letter puts an ``x`` before: ``1a`` would meet ``x1a``)."""
    for project, stack in (("a-b", "c"), ("a", "b-c"), ("1a", "b")):
        fresh, earlier = names.Names.every(project, stack)
        assert fresh.mark and earlier == names.Names(project, stack)
    assert names.Names.fresh("1a", "b").service("web") != names.Names.fresh("x1a", "b").service("web")
    assert names.Names("1a", "b").service("web") == names.Names("x1a", "b").service("web")  # why


_KINDS = {
    # what, name, GCP's rule for it
    "Cloud Run service": (lambda n: n.service("web"), r"[a-z]([-a-z0-9]{0,47}[a-z0-9])?"),
    "service account": (lambda n: n.account_id(), r"[a-z][-a-z0-9]{4,28}[a-z0-9]"),
    "Memorystore instance": (lambda n: n.redis("cache"), r"[a-z][-a-z0-9]{0,38}[a-z0-9]"),
    "Cloud SQL instance": (lambda n: n.sql("db", "abc123"), r"[a-z][-a-z0-9]{0,96}[a-z0-9]"),
    "load balancer part": (lambda n: n.balancer("neg-web"), r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?"),
    "certificate": (lambda n: n.certificate(["x.example.com"]), r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?"),
    "remote repository": (lambda n: n.remote_repository("ghcr.io"), r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?"),
}


_TOKENS = ("x", "y", "z", "9", "x9", "9y", "xy", "x_y", "", "y" * 20, "9" * 30)
_PROJECT = re.compile(r"[a-z0-9][a-z0-9_-]*")
_STACK = re.compile(r"[a-z][a-z0-9-]{0,31}")


def _pairs(count: int, seed: int) -> set[tuple[str, str]]:
    """Valid (project, stack) pairs made by cutting one dashed text at each of its dashes in
    turn (``x-y-9`` is ``x`` + ``y-9`` and ``x-y`` + ``9``), so that their joins meet, of every
    length up to past each name's limit."""
    rng = random.Random(seed)
    out: set[tuple[str, str]] = set()
    while len(out) < count:
        parts = [rng.choice(_TOKENS) for _ in range(rng.randint(2, 6))]
        for cut in range(1, len(parts)):
            project, stack = "-".join(parts[:cut]), "-".join(parts[cut:])
            if _PROJECT.fullmatch(project) and _STACK.fullmatch(stack):
                out.add((project, stack))
    return out


@pytest.mark.parametrize("kind", sorted(_KINDS))
def test_no_two_stacks_first_deployed_now_share_a_name(kind: str) -> None:
    """Over thousands of pairs whose joins meet (``x-y`` + ``9`` and ``x`` + ``y-9``), each
    name of a first deploy is one pair's only, and within its API's limit and rule."""
    make, rule = _KINDS[kind]
    pairs = _pairs(4000, seed=len(kind))
    joins = {f"{p}-{s}" for p, s in pairs}
    assert len(joins) < len(pairs) * 0.9, "the pairs do not meet enough to test anything"
    seen: dict[str, tuple[str, str]] = {}
    for pair in sorted(pairs):
        name = make(names.Names.fresh(*pair))
        assert re.fullmatch(rule, name), (pair, name)
        assert seen.setdefault(name, pair) == pair, f"{pair} and {seen[name]} share {name}"


def test_the_old_names_did_meet() -> None:
    """What the marks are for: the same pairs under the names before marks share some."""
    pairs = _pairs(4000, seed=1)
    made = {names.Names(*pair).service("web") for pair in pairs}
    assert len(made) < len(pairs)


# --- deployed side by side -------------------------------------------------------------------

COMPOSE = """\
name: {project}
services:
  web:
    image: nginx
    domainname: {domain}.example.com
    ports: [{{target: 80, mode: ingress}}]
    environment:
      CACHE: redis://cache:6379
  worker:
    image: ghcr.io/acme/worker:1
    command: ["sh", "-c", "while true; do sleep 5; done"]
  cache:
    image: redis:7
    x-defang-redis: true
"""
PAIRS = {"ab": ("a-b", "c"), "bc": ("a", "b-c"), "plain": ("a", "b"), "be": ("a", "b-be")}
"""Stacks whose joins meet (ab, bc), and a plain stack (a, b) whose names' prefix ``ld-a-b-``
begins the names of (a, b-be) (``ld-a-b-be-<mark>-be-web``, as if (a, b)'s backend of a
service ``<mark>-be-web``)."""


@pytest.fixture
def stacks(tmp_path: Path, old_project: FakeGcp, gcp: Gcp) -> dict[str, ProjectRef]:
    """The two stacks whose joins meet, each its own folder and domain, in one GCP project."""
    old_project.knobs.lro_polls = 0
    go(zone, gcp)
    out = {}
    for key, (project, stack) in PAIRS.items():
        folder = tmp_path / key
        folder.mkdir()
        (folder / "compose.yaml").write_text(COMPOSE.format(project=project, domain=key))
        out[key] = ProjectRef(working_directory=str(folder), provider="gcp", stack=stack)
    return out


def _deploy(provider: GcpProvider, ref: ProjectRef):
    result = anyio.run(partial(deploy, ref.load(), provider, stack=ref.stack, sink=Recorder(),
                               options=DeployOptions()))
    assert result.ok, [(s.name, s.state, s.message) for s in result.services]
    return result


def _plan(provider: GcpProvider, ref: ProjectRef) -> dict[str, Action]:
    result = anyio.run(plan, anyio.run(partial(preflight, ref.load(), provider, stack=ref.stack)))
    return {c.service: c.action for c in result.changes}


def _down(provider: GcpProvider, ref: ProjectRef):
    return anyio.run(partial(destroy, provider, ref.load().project.name, ref.stack, sink=Recorder()))


def _owner(resource) -> tuple[str, str]:
    labels = dict(resource.labels)
    return labels[names.PROJECT], labels[names.STACK]


def _everything(fake: FakeGcp) -> dict[str, str]:
    """Every resource of the kinds a stack names, by ``kind/name`` -> what says whose it is
    (its labels' pair, or its description; "" for the proxies, which have neither)."""
    run, redis, registry = fake.api("run"), fake.api("redis"), fake.api("artifactregistry")
    out = {"/".join(n.rsplit("/", 2)[-2:]): "/".join(_owner(r))
           for n, r in [*run.services.items(), *run.pools.items(), *redis.instances.items()]}
    out |= {"/".join(n.rsplit("/", 2)[-2:]): "/".join(_owner(r)) for n, r in registry.repositories.items()
            if r.mode == 3}
    out |= {f"serviceAccounts/{a.email}": a.description for a in fake.api("iam").accounts.values()
            if a.description.startswith("Runs the Cloud Run")}
    for path, resource in fake.api("compute").resources.items():
        if not path.rsplit("/", 1)[-1].startswith("ld-"):  # the network every stack shares
            continue
        labels = dict(getattr(resource, "labels", {}) or {})
        out["/".join(path.rsplit("/", 2)[-2:])] = "/".join(_owner(resource)) if names.PROJECT in labels \
            else getattr(resource, "description", "")
    return out


def _of(found: dict[str, str], named: names.Names) -> dict[str, str]:
    """What of ``found`` is the stack's, by whose it says it is or by the mark in its name."""
    pair = f"{named.project}/{named.stack}"
    said = f"{named.project} ({named.stack})"
    return {k: v for k, v in found.items() if v == pair or said in v or (named.mark and named.mark in k)}


@pytest.mark.parametrize(("one", "other"), [("ab", "bc"), ("plain", "be")])
def test_two_stacks_whose_names_meet_deploy_side_by_side(provider, stacks, fake: FakeGcp, one: str,
                                                         other: str) -> None:
    """(a-b, c) and (a, b-c) both run, each on its own services, pools, Redis, account, remote
    repository and load balancer; ps of each shows its own; down of one leaves the other whole.
    So do (a, b) and (a, b-be), whose load balancer parts (a, b)'s prefix lists too."""
    first, second = _deploy(provider, stacks[one]), _deploy(provider, stacks[other])
    ab, bc = names.Names.fresh(*PAIRS[one]), names.Names.fresh(*PAIRS[other])
    run = fake.api("run")
    for named, pair in ((ab, "/".join(PAIRS[one])), (bc, "/".join(PAIRS[other]))):
        web = run.services[f"{LOCATION}/services/{named.service('web')}"]
        assert "/".join(_owner(web)) == pair
        assert web.template.service_account == named.account(PROJECT)
        assert "/".join(_owner(run.pools[f"{LOCATION}/workerPools/{named.service('worker')}"])) == pair
        assert f"{named.remote_repository('ghcr.io')}/acme/worker:1" in \
            run.pools[f"{LOCATION}/workerPools/{named.service('worker')}"].template.containers[0].image
    for ref, result, domain in ((stacks[one], first, one), (stacks[other], second, other)):
        statuses = {s.name: s for s in anyio.run(ps.ps, provider, ref.load().project, ref.stack)}
        assert {s.state for s in statuses.values()} == {State.SERVICE_DEPLOYMENT_COMPLETED}
        assert {s.deployment_id for n, s in statuses.items() if n != "cache"} == {result.deployment_id}
        assert statuses["web"].endpoints[-1] == f"https://{domain}.example.com"
    assert set(_plan(provider, stacks[one]).values()) == {Action.NOOP}
    everything = _everything(fake)
    before = _of(everything, bc)
    assert len(before) < len(everything)
    kinds = {k.split("/")[0] for k in before}
    assert kinds >= {"services", "workerPools", "instances", "repositories", "serviceAccounts", "urlMaps",
                     "targetHttpsProxies", "forwardingRules", "addresses", "networkEndpointGroups",
                     "backendServices", "sslCertificates"}, kinds

    _down(provider, stacks[one])
    assert _everything(fake) == before
    assert set(_plan(provider, stacks[other]).values()) == {Action.NOOP}
    statuses = anyio.run(ps.ps, provider, stacks[other].load().project, bc.stack)
    assert {s.state for s in statuses} == {State.SERVICE_DEPLOYMENT_COMPLETED}
    _down(provider, stacks[other])
    assert _everything(fake) == {}


def test_a_stack_deployed_before_marks_keeps_its_names(provider, stacks, fake: FakeGcp,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """(a-b, c) deployed with the names before marks plans all NOOP with this release's, on the
    same names; (a, b-c) deploys beside it on marked ones, and its down leaves the old stack's
    account and load balancer, whose names its own old ones would be, alone."""
    with monkeypatch.context() as patch:
        patch.setattr(names.Names, "fresh", classmethod(lambda cls, project, stack: cls(project, stack)))
        _deploy(provider, stacks["ab"])
    old = names.Names("a-b", "c")
    assert go(inventory.stack_names, provider.gcp, "a-b", "c") == old
    assert set(_plan(provider, stacks["ab"]).values()) == {Action.NOOP}
    _deploy(provider, stacks["ab"])
    assert go(inventory.stack_names, provider.gcp, "a-b", "c") == old
    assert f"{LOCATION}/services/{old.service('web')}" in fake.api("run").services
    kept = _everything(fake)
    assert all(name == old.account(PROJECT) or "695274" not in name for name in kept)

    _deploy(provider, stacks["bc"])
    assert go(inventory.stack_names, provider.gcp, "a", "b-c") == names.Names.fresh("a", "b-c")
    _down(provider, stacks["bc"])
    assert _everything(fake) == kept
    assert set(_plan(provider, stacks["ab"]).values()) == {Action.NOOP}
    _down(provider, stacks["ab"])
    assert _everything(fake) == {}


def test_a_name_another_stack_holds_is_refused_not_taken(provider, stacks, fake: FakeGcp,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Two pairs that drew the same mark (forced here) would meet in every name: the second's
    deploy stops at the first name it finds taken, naming whose it is, and changes nothing
    of the first's."""
    monkeypatch.setattr(names.Names, "fresh",
                        classmethod(lambda cls, project, stack: cls(project, stack, "abcdef")))
    _deploy(provider, stacks["ab"])
    kept = _everything(fake)
    with pytest.raises(LaunchdeckError) as caught:
        anyio.run(partial(deploy, stacks["bc"].load(), provider, stack="b-c", sink=Recorder(),
                          options=DeployOptions()))
    assert "exists but is launchdeck's a-b (c), not a (b-c)" in str(caught.value), str(caught.value)
    assert _everything(fake) == kept
    assert set(_plan(provider, stacks["ab"]).values()) == {Action.NOOP}


def test_a_cloud_run_service_not_made_by_launchdeck_is_refused(provider, project, old_project: FakeGcp
                                                               ) -> None:
    """A deploy writes a Cloud Run service by upsert: one of its name that is not the stack's
    stops it before the write."""
    from google.cloud import run_v2

    old_project.knobs.lro_polls = 0
    root = project({"compose.yaml": "name: tiny\nservices:\n  api:\n    image: nginx\n"
                                    "    ports: [{target: 80, mode: ingress}]\n"})
    ref = ProjectRef(working_directory=str(root), provider="gcp")
    theirs = run_v2.Service(template=run_v2.RevisionTemplate(containers=[run_v2.Container(image="nginx")]),
                            labels={"team": "web"})
    op = go(provider.gcp.call, "run.services", "create_service", parent=LOCATION,
            service_id=names.Names("tiny", "dev").service("api"), service=theirs)
    go(provider.gcp.wait, op, what="make a service", api="run")
    result = anyio.run(partial(deploy, ref.load(), provider, stack="dev", sink=Recorder(),
                               options=DeployOptions()))
    api = next(s for s in result.services if s.name == "api")
    assert not result.ok and api.state is State.SERVICE_DEPLOYMENT_FAILED
    assert "the Cloud Run service tiny-dev-api exists but is not made by launchdeck" in api.message, api
    service = old_project.api("run").services[f"{LOCATION}/services/tiny-dev-api"]
    assert dict(service.labels) == {"team": "web"}


def test_a_first_deploy_that_turned_iam_on_asks_it_for_no_old_account(provider, project, fake: FakeGcp
                                                                        ) -> None:
    """IAM off until this deploy holds no account of the stack: which names it has is not asked
    (a read would wait out the API's propagation), and they are the marked ones."""
    root = project({"compose.yaml": "name: a-b\nservices:\n  api:\n    image: nginx\n"
                                    "    ports: [{target: 80, mode: ingress}]\n"})
    ref = ProjectRef(working_directory=str(root), provider="gcp", stack="c")
    fake.clear_requests()
    _deploy(provider, ref)
    old = names.Names("a-b", "c").account(PROJECT)
    assert not [e["path"] for e in fake.requests() if old in e["path"]]
    assert f"{LOCATION}/services/{names.Names.fresh('a-b', 'c').service('api')}" in fake.api("run").services
