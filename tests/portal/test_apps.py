"""The deployment view inside an assistant (MCP Apps): what the MCP server offers, driven by the
SDK's own client over stdio, and the ui:// document rendered in chromium by a host double
that answers with results recorded from the real tools on a real local deployment."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.extension import advertise
from mcp.client.stdio import StdioServerParameters

from launchdeck.server.ui import URI
from tests.portal.conftest import SCRIPT_LINE, Deployed, shot

APPS = "io.modelcontextprotocol/ui"
MIME = "text/html;profile=mcp-app"
HOST = (Path(__file__).parent / "host.html").read_text()
CSP = ("default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; media-src 'self' data:; object-src 'none'; connect-src 'none'")
"""The CSP the MCP Apps specification has a host apply when a resource declares none."""


@asynccontextmanager
async def _client(deployed: Deployed, *, apps: bool) -> AsyncIterator[Client]:
    server = StdioServerParameters(
        command=sys.executable, args=["-m", "launchdeck", "mcp", "serve"],
        env={"LAUNCHDECK_STATE_DIR": str(deployed.state),
             **({"DOCKER_HOST": os.environ["DOCKER_HOST"]} if "DOCKER_HOST" in os.environ else {})})
    extensions = [advertise(APPS, {"mimeTypes": [MIME]})] if apps else None
    async with Client(server, extensions=extensions, read_timeout_seconds=120) as client:
        yield client


def _wire(result: types.CallToolResult) -> dict[str, Any]:
    """A tool result as it travels to a host (and from the host to the view)."""
    assert not result.is_error, result.content
    return result.model_dump(mode="json", by_alias=True, exclude_none=True)


@dataclass
class Recorded:
    """What the real MCP server answered: the listing, the ui:// document, and tool results."""

    tools: dict[str, Any]
    resource: Any
    where: dict[str, Any]
    results: dict[str, dict[str, Any]]
    calls: list[dict[str, Any]]
    plain_ps: dict[str, Any]


@pytest.fixture(scope="module")
def recorded(deployed: Deployed) -> Recorded:
    """Deploy through MCP, then record ps (from a client with Apps and one without) and the
    calls the view makes, so every answer describes the same deployment."""
    where = {"working_directory": str(deployed.folder)}
    calls = [
        ("ps", where),
        ("logs", {**where, "service": "talker", "tail": 50}),
        ("logs", {**where, "service": "broken", "tail": 50}),
        ("debug_failure", {**where, "service": "broken"}),
        ("deploy", {**where, "dry_run": True}),
    ]

    async def record() -> Recorded:
        async with _client(deployed, apps=True) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            resource = (await client.read_resource(URI)).contents[0]
            deployed_now = _wire(await client.call_tool("deploy", where))
        async with _client(deployed, apps=False) as client:
            plain = _wire(await client.call_tool("ps", where))
        async with _client(deployed, apps=True) as client:
            answers = [(name, args, _wire(await client.call_tool(name, args)))
                       for name, args in calls]
            # the history, then a rollback to the deployment before the last (preview, then go)
            listed = _wire(await client.call_tool("deployments", where))
            answers.append(("deployments", where, listed))
            earlier = listed["structuredContent"]["deployments"][1]["id"]
            for args in ({**where, "deployment": earlier, "dry_run": True},
                         {**where, "deployment": earlier, "confirm": earlier}):
                answers.append(("rollback", args, _wire(await client.call_tool("rollback", args))))
        return Recorded(tools=tools, resource=resource, where=where,
                        results={"ps": answers[0][2], "deploy": deployed_now},
                        calls=[{"name": n, "arguments": a, "result": r} for n, a, r in answers],
                        plain_ps=plain)

    with ThreadPoolExecutor(1) as thread:  # away from the browser's event loop, if it runs
        return thread.submit(anyio.run, record).result()


def test_deploy_and_ps_point_at_the_view(recorded: Recorded) -> None:
    """deploy and ps carry _meta.ui.resourceUri of the deployment view; no other tool does."""
    pointing = {name for name, tool in recorded.tools.items()
                if ((tool.meta or {}).get("ui") or {}).get("resourceUri") == URI}
    assert pointing == {"deploy", "ps"}
    assert all(not (tool.meta or {}).get("ui") for name, tool in recorded.tools.items()
               if name not in pointing)


def test_view_is_one_offline_html_document(recorded: Recorded) -> None:
    """The ui:// resource is one MCP App HTML document that loads nothing from anywhere else."""
    resource = recorded.resource
    assert resource.mime_type == MIME
    html = resource.text
    assert html.startswith("<!doctype html>")
    assert "LaunchdeckRender" in html and "ui/initialize" in html
    for outside in ('src="', "src='", "@import", "url(http", 'href="http', "<link rel=\"stylesheet"):
        assert outside not in html


def test_hosts_without_apps_get_the_same_result(recorded: Recorded) -> None:
    """A client without MCP Apps gets exactly the text and structured output of one with it."""
    assert recorded.plain_ps == recorded.results["ps"]
    assert recorded.plain_ps["content"][0]["text"].startswith("- web: SERVICE_DEPLOYMENT_COMPLETED")
    assert set(recorded.plain_ps["structuredContent"]) == {"project", "stack", "provider", "target",
                                                           "services", "deploying", "next_step"}


def _render(page, recorded: Recorded, tool: str) -> Any:
    """The ui:// document in the host double, given ``tool``'s recorded result; its frame."""
    page.set_content(HOST)
    page.evaluate("config => start(config)", {
        "html": recorded.resource.text, "csp": CSP, "toolInput": recorded.where,
        "toolResult": recorded.results[tool], "recorded": recorded.calls})
    frame = page.frame_locator("#view")
    frame.locator(".card").first.wait_for()
    return frame


def _host(page) -> dict[str, Any]:
    return page.evaluate("window.host")


def test_view_initializes_before_anything_else(page, recorded: Recorded) -> None:
    """The view asks ui/initialize first, then says initialized, breaking no rule of the bridge."""
    _render(page, recorded, "ps")
    host = _host(page)
    assert host["calls"][0]["method"] == "ui/initialize"
    assert host["calls"][0]["params"]["protocolVersion"]
    assert host["notifications"][0] == "ui/notifications/initialized"
    assert host["errors"] == []


def test_ps_result_shows_service_cards(page, recorded: Recorded) -> None:
    """A ps result becomes a card per service with its state, replicas and endpoint."""
    frame = _render(page, recorded, "ps")
    states = {name: frame.locator(f'.card[data-service="{name}"] .state').inner_text()
              for name in ("web", "talker", "broken")}
    assert states == {"web": "SERVICE_DEPLOYMENT_COMPLETED", "talker": "SERVICE_DEPLOYMENT_COMPLETED",
                      "broken": "SERVICE_DEPLOYMENT_FAILED"}
    assert frame.locator('.card[data-service="web"] .replicas').inner_text() == "1/1"
    assert frame.locator("#timeline li").count() == 3


def test_deploy_result_shows_changes_and_cards(page, recorded: Recorded) -> None:
    """A deploy result shows what the deployment changed, and where each service ended up."""
    frame = _render(page, recorded, "deploy")
    deployment = recorded.results["deploy"]["structuredContent"]["deployment_id"]
    assert deployment in frame.locator("#plan-title").inner_text()
    rows = frame.locator("#plan table.plan tbody tr")
    assert {row.locator("td").nth(0).inner_text(): row.locator("td").nth(2).inner_text()
            for row in rows.all()}["broken"] == "UPDATE"
    assert frame.locator('.card[data-service="broken"] .state').inner_text() == \
        "SERVICE_DEPLOYMENT_FAILED"


def test_endpoint_opens_through_the_host(page, recorded: Recorded) -> None:
    """An endpoint link asks the host to open it (ui/open-link) instead of navigating the frame."""
    frame = _render(page, recorded, "ps")
    link = frame.locator('.card[data-service="web"] .endpoints a')
    url = link.get_attribute("href")
    link.click()
    page.wait_for_function("window.host.links.length > 0")
    assert _host(page)["links"] == [url]


def test_logs_button_calls_logs_and_shows_text(page, recorded: Recorded) -> None:
    """Logs calls the logs tool through the host and shows its lines as text; nothing in them runs."""
    frame = _render(page, recorded, "ps")
    frame.locator('.card[data-service="talker"] button', has_text="Logs").click()
    line = frame.locator("#output .line .text", has_text="<script>")
    line.wait_for()
    assert line.inner_text() == SCRIPT_LINE
    calls = [c["params"] for c in _host(page)["calls"] if c["method"] == "tools/call"]
    assert calls == [{"name": "logs", "arguments": {**recorded.where, "service": "talker", "tail": 50}}]
    assert frame.locator("#output script, #output img, #output b").count() == 0
    view = page.frames[1]
    assert view.evaluate("window.__pwned") is None


def test_failed_service_diagnosis_through_the_host(page, recorded: Recorded) -> None:
    """"Why did it fail?" calls debug_failure for that service and shows its cause and fix."""
    frame = _render(page, recorded, "ps")
    assert frame.locator('.card[data-service="web"] button', has_text="Why").count() == 0
    frame.locator('.card[data-service="broken"] button', has_text="Why did it fail?").click()
    diagnosis = frame.locator('.card[data-service="broken"] .diagnosis')
    diagnosis.wait_for()
    assert "API_TOKEN" in diagnosis.locator(".cause").inner_text()
    assert diagnosis.locator(".evidence").inner_text() == "API_TOKEN is not set"
    names = [c["params"]["name"] for c in _host(page)["calls"] if c["method"] == "tools/call"]
    assert names[0] == "debug_failure"


def test_plan_button_calls_deploy_dry_run(page, recorded: Recorded) -> None:
    """Plan asks deploy for a dry run through the host and shows each unit's action."""
    frame = _render(page, recorded, "ps")
    frame.locator("#plan-button").click()
    rows = frame.locator("#plan table.plan tbody tr")
    rows.first.wait_for()
    assert {row.locator("td").nth(0).inner_text(): row.locator("td").nth(2).inner_text()
            for row in rows.all()} == {"web": "NOOP", "talker": "NOOP", "broken": "UPDATE"}
    assert _host(page)["errors"] == []


def test_history_button_lists_the_deployments(page, recorded: Recorded) -> None:
    """History calls deployments through the host: a row per deployment, newest first; every
    row but the newest offers a rollback."""
    frame = _render(page, recorded, "ps")
    frame.locator("#history-button").click()
    rows = frame.locator("#history table.history tbody tr")
    rows.first.wait_for()
    listed = next(c["result"]["structuredContent"]["deployments"] for c in recorded.calls
                  if c["name"] == "deployments")
    assert [rows.nth(i).get_attribute("data-deployment") for i in range(rows.count())] == \
        [d["id"] for d in listed]
    assert rows.nth(0).locator("button").count() == 0
    assert rows.nth(1).locator("button", has_text="Roll back").count() == 1
    assert _host(page)["errors"] == []


def test_rollback_through_the_host_after_preview_and_typed_name(page, recorded: Recorded) -> None:
    """Roll back shows rollback's dry-run preview, waits for the project's name, then calls
    rollback with the deployment id as its confirmation, and closes."""
    frame = _render(page, recorded, "ps")
    frame.locator("#history-button").click()
    row = frame.locator("#history table.history tbody tr").nth(1)
    earlier = row.get_attribute("data-deployment")
    row.locator("button", has_text="Roll back").click()
    project = recorded.results["ps"]["structuredContent"]["project"]
    assert earlier in frame.locator("#rollback-title").inner_text()
    frame.locator("#rollback-input").fill(project[:-1])
    assert frame.locator("#rollback-go").is_disabled()
    frame.locator("#rollback-input").fill(project)
    frame.locator("#rollback-go:not([disabled])").wait_for()
    assert frame.locator("#rollback-preview .problem").count() == 0
    frame.locator("#rollback-go").click()
    frame.locator("#rollback").wait_for(state="hidden")
    asked = [c["params"]["arguments"] for c in _host(page)["calls"]
             if c["method"] == "tools/call" and c["params"]["name"] == "rollback"]
    assert asked == [{**recorded.where, "deployment": earlier, "dry_run": True},
                     {**recorded.where, "deployment": earlier, "confirm": earlier}]
    assert _host(page)["errors"] == []


def test_screenshot_of_the_view_for_the_readme(page, recorded: Recorded, tmp_path: Path) -> None:
    """The README's picture of the view in an assistant is taken from the host double."""
    page.set_viewport_size({"width": 1280, "height": 1040})
    frame = _render(page, recorded, "deploy")
    frame.locator('.card[data-service="broken"] button', has_text="Why did it fail?").click()
    frame.locator('.card[data-service="broken"] .diagnosis').wait_for()
    frame.locator('.card[data-service="broken"] button', has_text="Logs").click()
    frame.locator("#output .line").first.wait_for()
    picture = page.locator("#view").screenshot(path=str(shot("portal-app.png", tmp_path)))
    assert picture[:8] == b"\x89PNG\r\n\x1a\n"
