"""The fake as a server: the front end's refusals, knobs over HTTP, the request log, running on its own."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
import requests

from testkit.gcp import FakeGcp
from tests.providers.gcp.conftest import LOCATION, PROJECT

pytestmark = pytest.mark.usefixtures("enabled")  # each test is about one API, not enabling it

UNKNOWN_FIELD = [
    (
        "run",
        "POST",
        f"/v2/{LOCATION}/services?serviceId=web",
        {"template": {"containers": [{"image": "x"}]}, "bogus": 1},
    ),
    (
        "secretmanager",
        "POST",
        f"/v1/projects/{PROJECT}/secrets?secretId=s",
        {"replication": {"automatic": {}}, "bogus": 1},
    ),
    (
        "artifactregistry",
        "POST",
        f"/v1/{LOCATION}/repositories?repositoryId=r",
        {"format": "DOCKER", "bogus": 1},
    ),
    ("cloudbuild", "POST", f"/v1/projects/{PROJECT}/builds", {"steps": [{"name": "x", "bogus": 1}]}),
    ("redis", "POST", f"/v1/{LOCATION}/instances?instanceId=r", {"tier": "BASIC", "bogus": 1}),
    ("iam", "POST", f"/v1/projects/{PROJECT}/serviceAccounts", {"accountId": "runner-sa", "bogus": 1}),
    ("logging", "POST", "/v2/entries:list", {"resourceNames": [f"projects/{PROJECT}"], "bogus": 1}),
    ("sqladmin", "POST", f"/v1/projects/{PROJECT}/instances", {"name": "db", "bogus": 1}),
    ("compute", "POST", f"/compute/v1/projects/{PROJECT}/global/addresses", {"name": "ip", "bogus": 1}),
    ("storage", "POST", f"/storage/v1/b?project={PROJECT}", {"name": "a-bucket", "bogus": 1}),
    ("dns", "POST", f"/dns/v1/projects/{PROJECT}/managedZones", {"name": "z", "dnsName": "a.", "bogus": 1}),
]


@pytest.mark.parametrize(("api", "verb", "path", "body"), UNKNOWN_FIELD, ids=[u[0] for u in UNKNOWN_FIELD])
def test_unknown_field_is_invalid_argument(fake: FakeGcp, api: str, verb: str, path: str, body: dict) -> None:
    """A body naming a field the API's message type lacks is refused 400 INVALID_ARGUMENT, naming it."""
    answer = requests.request(verb, fake.endpoint(api) + path, json=body, timeout=10)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT" and 'Unknown name "bogus"' in error["message"]


def test_unknown_query_parameter_is_refused(fake: FakeGcp) -> None:
    """A query parameter the request message lacks cannot be bound, as the real front end says."""
    answer = requests.get(fake.endpoint("run") + f"/v2/{LOCATION}/services?colour=red", timeout=10)
    assert answer.status_code == 400 and "Cannot bind query parameter" in answer.json()["error"]["message"]


def test_enum_value_outside_the_enum_is_refused(fake: FakeGcp) -> None:
    """An enum value the type does not have is refused with the field's path and the enum's type."""
    body = {"ingress": "INGRESS_TRAFFIC_SOMETIMES", "template": {"containers": [{"image": "x"}]}}
    answer = requests.post(
        fake.endpoint("run") + f"/v2/{LOCATION}/services?serviceId=web", json=body, timeout=10
    )
    assert answer.status_code == 400
    assert "service.ingress" in answer.json()["error"]["message"]


def test_request_log_over_http_lists_and_clears(fake: FakeGcp) -> None:
    """GET /_fake/requests lists method, path, query and body in order; DELETE clears it."""
    requests.get(fake.endpoint("secretmanager") + f"/v1/projects/{PROJECT}/secrets?pageSize=5", timeout=10)
    logged = requests.get(fake.url + "/_fake/requests", timeout=10).json()
    assert [(e["method"], e["query"]["pageSize"]) for e in logged] == [("GET", "5")]
    requests.delete(fake.url + "/_fake/requests", timeout=10)
    assert requests.get(fake.url + "/_fake/requests", timeout=10).json() == []


def test_knobs_over_http(fake: FakeGcp) -> None:
    """POST /_fake/knobs sets knobs by name (here: an API disabled) and refuses names it does not know."""
    assert requests.post(fake.url + "/_fake/knobs", json={"colour": 1}, timeout=10).status_code == 400
    requests.post(
        fake.url + "/_fake/knobs", json={"disabled_apis": ["secretmanager.googleapis.com"]}, timeout=10
    )
    answer = requests.get(fake.endpoint("secretmanager") + f"/v1/projects/{PROJECT}/secrets", timeout=10)
    details = answer.json()["error"]["details"]
    assert answer.status_code == 403 and details[0]["reason"] == "SERVICE_DISABLED"


def test_secret_payloads_stay_out_of_the_request_log(fake: FakeGcp) -> None:
    """The value of a secret version is the one body the log does not keep."""
    requests.post(
        fake.endpoint("secretmanager") + f"/v1/projects/{PROJECT}/secrets?secretId=k",
        json={"replication": {"automatic": {}}},
        timeout=10,
    )
    requests.post(
        fake.endpoint("secretmanager") + f"/v1/projects/{PROJECT}/secrets/k:addVersion",
        json={"payload": {"data": "c2stc2VjcmV0LXZhbHVl"}},
        timeout=10,
    )
    assert "c2stc2VjcmV0LXZhbHVl" not in json.dumps(fake.requests())


def test_routing_by_host_reaches_the_same_api(fake: FakeGcp) -> None:
    """A request whose Host is the real API's host name is routed by it, without the path prefix."""
    answer = requests.get(
        fake.url + f"/v1/projects/{PROJECT}/secrets",
        headers={"Host": "secretmanager.googleapis.com"},
        timeout=10,
    )
    assert answer.status_code == 200 and fake.requests()[0]["api"] == "secretmanager"


def test_runs_on_its_own() -> None:
    """`python -m testkit.gcp --port P` serves until stopped; it answers within seconds."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "testkit.gcp", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_fake/requests", timeout=1) as answer:
                    assert json.load(answer) == []
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("the fake did not answer")
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_step_timeout_beyond_the_builds_is_refused(fake: FakeGcp) -> None:
    """A build step may not be given longer than its build, as Cloud Build answers."""
    body = {"steps": [{"name": "x", "timeout": "900s"}], "timeout": "600s"}
    path = f"/v1/projects/{PROJECT}/builds"
    answer = requests.post(fake.endpoint("cloudbuild") + path, json=body, timeout=10)
    assert answer.status_code == 400
    assert "build.steps[0].timeout" in answer.json()["error"]["message"]


def test_a_burst_of_new_connections_is_heard_at_once(fake: FakeGcp) -> None:
    """Fifty clients connecting at the same moment are all accepted well within TCP's one-second
    SYN retransmission, which a full listen backlog would make them wait out."""
    from concurrent.futures import ThreadPoolExecutor

    host, port = fake.url.removeprefix("http://").split(":")
    start = threading.Barrier(50)

    def connect() -> float:
        start.wait()
        began = time.monotonic()
        with socket.create_connection((host, int(port)), timeout=5):
            return time.monotonic() - began

    with ThreadPoolExecutor(50) as pool:
        waits = list(pool.map(lambda _: connect(), range(50)))
    assert max(waits) < 0.9, sorted(waits)[-5:]
