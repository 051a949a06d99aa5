"""The door to GCP (api.py): configuration, retries, error translation, through the real clients."""

from __future__ import annotations

import subprocess
import sys
from functools import partial

import pytest

from launchdeck.providers.gcp import api
from launchdeck.providers.gcp.api import Gcp, GcpError, create, deleted, if_found
from testkit.gcp import FakeGcp
from tests.providers.gcp.conftest import LOCATION, PROJECT, go

pytestmark = pytest.mark.usefixtures("enabled")  # each test is about one API, not enabling it


def _service() -> object:
    from google.cloud import run_v2

    return run_v2.Service(
        template=run_v2.RevisionTemplate(
            containers=[
                run_v2.Container(
                    image="us-docker.pkg.dev/cloudrun/container/hello",
                    ports=[run_v2.ContainerPort(container_port=8080)],
                )
            ]
        )
    )


def test_no_project_says_how_to_name_one(fake: FakeGcp) -> None:
    """With no project set anywhere, the error says what to export."""
    with pytest.raises(GcpError) as caught:
        Gcp(environ=fake.env).check()
    assert "export GCP_PROJECT_ID=" in caught.value.hint


def test_no_credentials_says_how_to_log_in(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """Without Application Default Credentials, the error names `gcloud auth application-default login`."""
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with pytest.raises(GcpError) as caught:
        Gcp(environ={"GCP_PROJECT_ID": PROJECT}).check()
    assert caught.value.code == 401
    assert "gcloud auth application-default login" in caught.value.hint


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"LAUNCHDECK_GCP_ENDPOINT": "http://127.0.0.1:9/"}, "http://127.0.0.1:9/run"),
        (
            {
                "LAUNCHDECK_GCP_ENDPOINT": "http://127.0.0.1:9",
                "LAUNCHDECK_GCP_ENDPOINT_RUN": "http://127.0.0.1:7/x",
            },
            "http://127.0.0.1:7/x",
        ),
        ({}, None),
    ],
)
def test_endpoint_override(environ: dict[str, str], expected: str | None) -> None:
    """One base URL serves every API under its name; a per-API variable wins; none means Google's own."""
    assert Gcp(environ=environ).endpoint("run") == expected


def test_region_defaults_to_us_central1() -> None:
    """A region given wins over GCP_REGION, which wins over the default, us-central1."""
    regions = (
        Gcp(environ={}).region,
        Gcp(environ={"GCP_REGION": "europe-west1"}).region,
        Gcp(environ={"GCP_REGION": "europe-west1"}, region="asia-east1").region,
    )
    assert regions == ("us-central1", "europe-west1", "asia-east1")


def test_importing_the_door_imports_no_google_library() -> None:
    """Importing api.py (as the MCP server's start would) loads no google module."""
    code = (
        "import sys, launchdeck, launchdeck.providers.gcp.api; "
        "print(sorted(m for m in sys.modules if m.startswith('google')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_service_disabled_names_the_enable_command(fake: FakeGcp, gcp: Gcp) -> None:
    """An API that is not enabled gives the exact `gcloud services enable` to run."""
    fake.knobs.disabled_apis = ["run.googleapis.com"]
    with pytest.raises(GcpError) as caught:
        go(gcp.call, "run.services", "get_service", name=f"{LOCATION}/services/web")
    assert (caught.value.code, caught.value.reason) == (403, "SERVICE_DISABLED")
    assert f"gcloud services enable run.googleapis.com --project {PROJECT}" in caught.value.hint


def test_permission_denied_names_the_role(fake: FakeGcp, gcp: Gcp) -> None:
    """A 403 for a missing permission says which role grants it."""
    fake.knobs.denied_permissions = ["run.services.create"]
    with pytest.raises(GcpError) as caught:
        go(gcp.call, "run.services", "create_service", parent=LOCATION, service=_service(), service_id="web")
    assert caught.value.status == "PERMISSION_DENIED"
    assert "roles/run.admin" in caught.value.hint and "run.services.create" in caught.value.hint


def test_injected_503s_are_retried_to_success(fake: FakeGcp, gcp: Gcp) -> None:
    """Half the requests answered 503: each call is retried until it succeeds."""
    fake.knobs.fault_rate = 0.5
    for _ in range(4):
        go(gcp.call, "secretmanager", "list_secrets", parent=f"projects/{PROJECT}")
    statuses = [r["status"] for r in fake.requests()]
    assert 503 in statuses and statuses.count(200) == 4


def test_throttling_that_lasts_becomes_a_quota_error(fake: FakeGcp) -> None:
    """429s past the bounded attempts end in a GcpError about quotas, after exactly that many tries."""
    fake.knobs.fault_rate, fake.knobs.fault_code = 1.0, 429
    gcp = Gcp(environ={**fake.env, "GCP_PROJECT_ID": PROJECT}, attempts=3, backoff=0.001)
    with pytest.raises(GcpError) as caught:
        go(gcp.call, "secretmanager", "list_secrets", parent=f"projects/{PROJECT}")
    assert caught.value.code == 429 and "quota" in caught.value.hint
    assert len(fake.requests()) == 3


def test_retry_after_is_honoured_when_sent(fake: FakeGcp, gcp: Gcp) -> None:
    """A Retry-After header on a 503 is what the door waits, not its own backoff."""
    fake.knobs.fault_rate, fake.knobs.retry_after = 1.0, 0
    gcp.attempts = 2
    with pytest.raises(GcpError):
        go(gcp.call, "secretmanager", "list_secrets", parent=f"projects/{PROJECT}")
    assert [r["status"] for r in fake.requests()] == [503, 503]


def test_not_found_is_none_through_maybe(gcp: Gcp) -> None:
    """`maybe` turns a 404 into None, so callers can ask whether something exists."""
    assert go(gcp.maybe, "run.services", "get_service", name=f"{LOCATION}/services/nothing") is None


def test_a_delete_says_whether_it_deleted_and_other_refusals_still_raise(gcp: Gcp) -> None:
    """`deleted` is True for what was there, False for what was not; `if_found` lets any refusal
    other than 404 through."""
    from google.cloud import secretmanager_v1 as sm

    secret = f"projects/{PROJECT}/secrets/gone-soon"

    async def delete() -> object:
        return await gcp.call("secretmanager", "delete_secret", name=secret)

    async def refused() -> None:
        raise GcpError("no", code=403)

    async def scenario() -> tuple[bool, bool]:
        await gcp.call(
            "secretmanager",
            "create_secret",
            parent=f"projects/{PROJECT}",
            secret_id="gone-soon",
            secret=sm.Secret(replication=sm.Replication(automatic={})),
        )
        return await deleted(delete), await deleted(delete)

    assert go(scenario) == (True, False)
    with pytest.raises(GcpError) as caught:
        go(if_found, refused)
    assert caught.value.code == 403


def test_what_another_deploy_asked_for_is_waited_for_not_refused(
    gcp: Gcp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`create` answered 409 waits until the resource is found; one that never shows up ends in
    a clear error."""
    reads: list[int] = []

    async def taken() -> None:
        raise GcpError("exists", code=409)

    async def found_third_time() -> object | None:
        reads.append(1)
        return "it" if len(reads) >= 3 else None

    async def never() -> None:
        return None

    go(partial(create, gcp, taken, found_third_time, what="the thing", api="compute"))
    assert len(reads) == 3
    monkeypatch.setattr(api, "MADE_WAIT", 0.05)
    with pytest.raises(GcpError) as caught:
        go(partial(create, gcp, taken, never, what="the thing", api="compute"))
    assert (caught.value.message, caught.value.code) == ("the thing is still being made", 409)


def test_long_running_operation_reports_progress(fake: FakeGcp, gcp: Gcp) -> None:
    """`wait` polls until done, calling back with the metadata of every poll that found it running."""
    fake.knobs.lro_polls = 4
    seen: list[object] = []

    async def scenario() -> object:
        op = await gcp.call(
            "run.services", "create_service", parent=LOCATION, service=_service(), service_id="web"
        )
        return await gcp.wait(op, what="create web", api="run", on_progress=seen.append)

    service = go(scenario)
    assert service.uri.startswith("https://web-") and len(seen) == 3


def test_an_operation_past_its_deadline_is_a_clear_error(fake: FakeGcp, gcp: Gcp) -> None:
    """An operation that does not finish in time ends the wait with DEADLINE_EXCEEDED."""
    fake.knobs.lro_polls, fake.knobs.lro_seconds = 1000, None

    async def scenario() -> None:
        op = await gcp.call(
            "run.services", "create_service", parent=LOCATION, service=_service(), service_id="web"
        )
        await gcp.wait(op, what="create web", api="run", interval=0.01, timeout=0.05)

    with pytest.raises(GcpError) as caught:
        go(scenario)
    assert caught.value.status == "DEADLINE_EXCEEDED"


def test_unreachable_endpoint_is_engine_unavailable() -> None:
    """Nothing listening where the endpoint points: a clear 'cannot reach' error, not a traceback."""
    from launchdeck.errors import EngineUnavailable

    gcp = Gcp(environ={"LAUNCHDECK_GCP_ENDPOINT": "http://127.0.0.1:9", "GCP_PROJECT_ID": PROJECT})
    with pytest.raises(EngineUnavailable):
        go(gcp.call, "secretmanager", "list_secrets", parent=f"projects/{PROJECT}")


def test_a_refusal_without_a_better_hint_offers_ps_as_an_action(gcp: Gcp) -> None:
    """The generic hint is plain words; the next step is an action (ps), not a command line."""
    with pytest.raises(GcpError) as caught:
        go(
            gcp.call,
            "run.services",
            "create_service",
            parent=LOCATION,
            service=_service(),
            service_id="Bad_Id",
        )
    assert [(a.operation, dict(a.args)) for a in caught.value.actions] == [("ps", {"provider": "gcp"})]
    assert "launchdeck" not in caught.value.hint and "--provider" not in caught.value.hint
