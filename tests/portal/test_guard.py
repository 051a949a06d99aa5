"""The portal's token, Host and Origin checks: as a table, over HTTP against `launchdeck portal`,
and in a real browser (a DNS-rebinding name, another local site)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import httpx2
import pytest

from launchdeck.portal.guard import refusal
from tests.portal.conftest import Deployed, Running

TOKEN = "k" * 32


@pytest.mark.parametrize(("host", "origin", "token", "refused"), [
    ("127.0.0.1:8000", None, TOKEN, None),
    ("localhost:8000", "http://localhost:8000", TOKEN, None),
    ("127.0.0.1:8000", "http://127.0.0.1:8000", TOKEN, None),
    ("127.0.0.1:8000", None, None, "token"),
    ("127.0.0.1:8000", None, "", "token"),
    ("127.0.0.1:8000", None, "k" * 31, "token"),
    ("rebind.test:8000", None, TOKEN, "answers only"),
    ("127.0.0.1:8001", None, TOKEN, "answers only"),
    ("127.0.0.1", None, TOKEN, "answers only"),
    (None, None, TOKEN, "answers only"),
    ("127.0.0.1:8000", "http://evil.example", TOKEN, "other sites"),
    ("127.0.0.1:8000", "null", TOKEN, "other sites"),
    ("127.0.0.1:8000", "http://127.0.0.1:8001", TOKEN, "other sites"),
    ("127.0.0.1:8000", "https://127.0.0.1:8000", TOKEN, "other sites"),
])
def test_refusal_table(host: str | None, origin: str | None, token: str | None,
                       refused: str | None) -> None:
    """Each check refuses what it must, and the portal's own requests pass all three."""
    found = refusal(host=host, origin=origin, token=token, expected=TOKEN, port=8000)
    assert (found is None) if refused is None else (found is not None and refused in found)


def _request(portal: Running, path: str, *, method: str = "GET", token: str | None = None,
             bearer: str | None = None, host: str | None = None, origin: str | None = None,
             json: object = None) -> httpx2.Response:
    headers = {}
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    if host:
        headers["Host"] = host
    if origin:
        headers["Origin"] = origin
    params = {"token": token} if token else None
    return httpx2.request(method, portal.base + path, params=params, headers=headers, json=json,
                         timeout=30)


@pytest.mark.parametrize("case", ["no token", "wrong token", "token of another length",
                                  "rebinding host", "foreign origin", "null origin"])
def test_requests_failing_a_check_get_nothing(case: str, portal: Running,
                                              deployed: Deployed) -> None:
    """A request failing any check is answered 403 with no deployment data in it."""
    kwargs: dict[str, object] = {"token": portal.token}
    if case == "no token":
        kwargs = {}
    elif case == "wrong token":
        kwargs = {"token": portal.token[:-1] + ("A" if portal.token[-1] != "A" else "B")}
    elif case == "token of another length":
        kwargs = {"bearer": portal.token + "x"}
    elif case == "rebinding host":
        kwargs["host"] = f"rebind.test:{portal.port}"
    elif case == "foreign origin":
        kwargs["origin"] = "http://evil.example"
    elif case == "null origin":
        kwargs["origin"] = "null"
    for path in ("/", "/static/portal.js", "/api/targets",
                 f"/api/targets/local/{deployed.name}/dev"):
        answer = _request(portal, path, **kwargs)  # type: ignore[arg-type]
        assert answer.status_code == 403, (path, answer.text)
        assert deployed.name not in answer.text
        assert answer.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize("how", ["query", "bearer"])
def test_token_in_query_or_header_is_let_through(how: str, portal: Running,
                                                 deployed: Deployed) -> None:
    """The session token works in the address (the page, its event streams) or as a bearer."""
    kwargs = {"token": portal.token} if how == "query" else {"bearer": portal.token}
    answer = _request(portal, "/api/targets", origin=portal.base, **kwargs)  # type: ignore[arg-type]
    assert answer.status_code == 200
    assert deployed.name in {t["project"] for t in answer.json()["targets"]}
    assert answer.headers["referrer-policy"] == "no-referrer"


def test_foreign_origin_cannot_destroy(portal: Running, deployed: Deployed) -> None:
    """A destroy from another site, even with the token and the project name, changes nothing."""
    path = f"/api/targets/local/{deployed.name}/dev/destroy"
    answer = _request(portal, path, method="POST", bearer=portal.token,
                      origin="http://evil.example", json={"confirm": deployed.name})
    assert answer.status_code == 403
    view = _request(portal, f"/api/targets/local/{deployed.name}/dev", token=portal.token).json()
    assert {s["name"]: s["state"] for s in view["services"]}["web"] == "SERVICE_DEPLOYMENT_COMPLETED"


@pytest.mark.parametrize(("body", "content_type"), [
    ({"confirm": "someone-else"}, None),
    ({}, None),
    ({"confirm": None}, None),
    (None, "text/plain"),
])
def test_action_without_typed_confirmation_is_refused(body: object, content_type: str | None,
                                                      portal: Running, deployed: Deployed) -> None:
    """redeploy and destroy act only when the body names the project exactly, as JSON."""
    for action in ("redeploy", "destroy"):
        url = f"{portal.base}/api/targets/local/{deployed.name}/dev/{action}"
        headers = {"Authorization": f"Bearer {portal.token}"}
        if content_type:
            answer = httpx2.post(url, content=f'{{"confirm": "{deployed.name}"}}',
                                headers={**headers, "Content-Type": content_type}, timeout=30)
        else:
            answer = httpx2.post(url, json=body, headers=headers, timeout=30)
        assert answer.status_code == 409, answer.text
        assert "Nothing was changed" in answer.json()["hint"] or "JSON" in answer.json()["error"]
    view = _request(portal, f"/api/targets/local/{deployed.name}/dev", token=portal.token).json()
    assert view["deploying"] is None and view["timeline"] == []


def test_unknown_deployment_is_not_found(portal: Running) -> None:
    """The API acts only on deployments the portal listed."""
    answer = _request(portal, "/api/targets/local/not-a-listed-project/dev/destroy", method="POST",
                      bearer=portal.token, json={"confirm": "not-a-listed-project"})
    assert answer.status_code == 404
    assert "knows no deployment" in answer.json()["error"]


def test_browser_without_token_sees_refusal(page, portal: Running, deployed: Deployed) -> None:
    """Opening the portal without its token shows the refusal and no deployment."""
    page.goto(portal.base + "/")
    assert "needs its token" in page.inner_text("body")
    assert deployed.name not in page.content()


def test_browser_dns_rebinding_is_refused(page, portal: Running, deployed: Deployed) -> None:
    """A name that resolves to 127.0.0.1 (DNS rebinding) gets nothing, even with the token."""
    answer = page.goto(f"http://rebind.test:{portal.port}/?token={portal.token}")
    assert answer is not None and answer.status == 403
    assert "answers only at 127.0.0.1" in page.inner_text("body")
    assert deployed.name not in page.content()


@pytest.fixture
def other_site() -> Iterator[str]:
    """Another local web site: a page a user might have open while the portal runs."""
    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<!doctype html><title>other site</title><p>hello</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_browser_other_site_cannot_read_or_act(page, portal: Running, deployed: Deployed,
                                               other_site: str) -> None:
    """A page of another site that knows the token can neither read the portal nor destroy."""
    page.goto(other_site)
    outcome = page.evaluate("""async ([base, token, name]) => {
        const tries = {};
        for (const [what, init] of [
            ["read", {headers: {Authorization: "Bearer " + token}}],
            ["destroy", {method: "POST", headers: {Authorization: "Bearer " + token,
                         "Content-Type": "application/json"}, body: JSON.stringify({confirm: name})}],
        ]) {
            const path = what === "read" ? "/api/targets" : `/api/targets/local/${name}/dev/destroy`;
            try { const r = await fetch(base + path, init); tries[what] = await r.text(); }
            catch (e) { tries[what] = "refused"; }
        }
        return tries;
    }""", [portal.base, portal.token, deployed.name])
    assert outcome == {"read": "refused", "destroy": "refused"}
    view = _request(portal, f"/api/targets/local/{deployed.name}/dev", token=portal.token).json()
    assert {s["name"]: s["state"] for s in view["services"]}["web"] == "SERVICE_DEPLOYMENT_COMPLETED"


def test_deeply_nested_action_body_is_refused_not_a_crash(portal: Running,
                                                          deployed: Deployed) -> None:
    """A JSON body nested a hundred thousand deep is refused (409), never a 500."""
    url = f"{portal.base}/api/targets/local/{deployed.name}/dev/destroy"
    answer = httpx2.post(url, content="[" * 100_000 + "]" * 100_000, timeout=30,
                         headers={"Authorization": f"Bearer {portal.token}",
                                  "Content-Type": "application/json"})
    assert answer.status_code == 409, answer.text
    assert "Nothing was changed" in answer.json()["hint"]


def _streamed_lines(portal: Running, deployed: Deployed, contains: str, seconds: float = 4.0,
                    since: str | None = None) -> list[str]:
    """The log lines the portal streams for ``contains`` (and ``since``) within ``seconds``."""
    import json
    import time

    url = f"{portal.base}/api/targets/local/{deployed.name}/dev/logs"
    lines: list[str] = []
    deadline = time.monotonic() + seconds
    try:
        params = {"token": portal.token, "contains": contains, **({"since": since} if since else {})}
        with httpx2.stream("GET", url, params=params, timeout=seconds + 5) as answer:
            for row in answer.iter_lines():
                if row.startswith("data: "):
                    data = json.loads(row[len("data: "):])
                    if "text" in data:
                        lines.append(data["text"])
                if time.monotonic() > deadline:
                    break
    except httpx2.ReadTimeout:
        pass
    return lines


def test_contains_filters_what_is_shown_not_the_values(portal: Running,
                                                       deployed: Deployed) -> None:
    """A prefix of a config value matches no line (the filter reads the redacted text), while
    the redacted text itself matches."""
    from tests.portal.conftest import SECRET

    assert _streamed_lines(portal, deployed, SECRET[:16]) == []
    shown = _streamed_lines(portal, deployed, "token=[config value]")
    assert shown == ["starting with token=[config value]"]


def test_a_stream_since_before_1970_starts_at_the_first_line(portal: Running,
                                                            deployed: Deployed) -> None:
    """since before 1970 streams from the first line, not a problem event or a 500."""
    shown = _streamed_lines(portal, deployed, "API_TOKEN", since="1960-01-01T00:00:00Z")
    assert "API_TOKEN is not set" in shown
