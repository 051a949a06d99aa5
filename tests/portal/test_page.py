"""The portal page in a real browser (Debian's chromium under Playwright), against
`launchdeck portal` and a real local deployment."""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx2
import pytest

from tests.portal.conftest import (
    SCRIPT_LINE,
    SECRET,
    Deployed,
    Running,
    deploy,
    exec_print,
    remove,
    shot,
    start_portal,
    stop,
    wait_until,
)


def _card(page, service: str):  # type: ignore[no-untyped-def]
    return page.locator(f'.card[data-service="{service}"]')


def _open(page, portal: Running) -> None:
    page.goto(portal.url)
    page.locator(".card").first.wait_for()


def test_each_service_shows_state_and_endpoint(page, portal: Running, deployed: Deployed) -> None:
    """Every service has a card with its state; the web service's endpoint is a link."""
    _open(page, portal)
    states = {name: _card(page, name).locator(".state").inner_text()
              for name in ("web", "talker", "broken")}
    assert states == {"web": "SERVICE_DEPLOYMENT_COMPLETED", "talker": "SERVICE_DEPLOYMENT_COMPLETED",
                      "broken": "SERVICE_DEPLOYMENT_FAILED"}
    link = _card(page, "web").locator(".endpoints a")
    assert link.get_attribute("href").startswith("http://127.0.0.1:")
    assert _card(page, "web").locator(".replicas").inner_text() == "1/1"
    assert _card(page, "web").locator(".health").inner_text() == "healthy"


def test_endpoint_link_answers(page, portal: Running) -> None:
    """Following the web service's endpoint link reaches the service itself."""
    _open(page, portal)
    with page.context.expect_page() as opened:
        _card(page, "web").locator(".endpoints a").click()
    service = opened.value
    service.wait_for_load_state()
    assert service.inner_text("body").strip() == "portal-ok"


def test_failing_service_shows_its_diagnosis(page, portal: Running) -> None:
    """The failed service's card shows debug_failure's cause, evidence and fix."""
    _open(page, portal)
    diagnosis = _card(page, "broken").locator(".diagnosis")
    diagnosis.wait_for()
    assert "API_TOKEN" in diagnosis.locator(".cause").inner_text()
    assert diagnosis.locator(".evidence").inner_text() == "API_TOKEN is not set"
    assert "API_TOKEN" in diagnosis.locator(".fix").inner_text()
    assert _card(page, "web").locator(".diagnosis").count() == 0


def test_new_log_line_appears_without_reload(page, portal: Running, deployed: Deployed,
                                             docker_api) -> None:
    """A line a service prints after the page opened shows up in the logs, with no reload."""
    _open(page, portal)
    page.evaluate("window.__sameDocument = true")
    marker = f"fresh line {secrets.token_hex(4)}"
    exec_print(docker_api, deployed.name, "talker", marker)
    page.locator("#logs .line", has_text=marker).wait_for()
    line = page.locator("#logs .line", has_text=marker)
    assert line.locator(".svc").inner_text() == "talker"
    assert page.evaluate("window.__sameDocument") is True


@pytest.mark.parametrize("when", ["printed at start", "printed while watching"])
def test_markup_in_a_log_line_is_text(when: str, page, portal: Running, deployed: Deployed,
                                      docker_api) -> None:
    """A log line with <script> and tags is shown as those characters, and nothing runs."""
    _open(page, portal)
    text = SCRIPT_LINE
    if when == "printed while watching":
        text = SCRIPT_LINE.replace("bold", f"bold {secrets.token_hex(4)}")
        exec_print(docker_api, deployed.name, "talker", text)
    line = page.locator("#logs .line .text", has_text=text)
    line.wait_for()
    assert line.first.inner_text() == text
    assert page.locator("#logs script, #logs img, #logs b").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_logs_filter_by_service_and_text(page, portal: Running, deployed: Deployed) -> None:
    """The service and contains filters narrow the stream to the lines asked for."""
    _open(page, portal)
    page.locator("#logs .line").first.wait_for()
    page.select_option("#log-service", "broken")
    page.fill("#log-contains", "API_TOKEN")
    page.click("#log-filters button[type=submit]")
    page.locator("#logs .line", has_text="API_TOKEN is not set").wait_for()
    services = set(page.locator("#logs .line .svc").all_inner_texts())
    assert services == {"broken"}


def test_config_values_are_never_shown(page, portal: Running, deployed: Deployed) -> None:
    """PORTAL_SECRET is listed as set; its value, which talker printed, is never on the page."""
    _open(page, portal)
    line = page.locator("#logs .line .text", has_text="starting with token=")
    line.wait_for()
    assert line.inner_text() == "starting with token=[config value]"
    assert page.locator("#config li span").all_inner_texts() == ["PORTAL_SECRET", "set"]
    page.locator('.card[data-service="broken"] .diagnosis').wait_for()
    assert SECRET not in page.content()
    view = httpx2.get(f"{portal.base}/api/targets/local/{deployed.name}/dev",
                      params={"token": portal.token}, timeout=30).text
    assert SECRET not in view and "PORTAL_SECRET" in view


def test_plan_preview_of_project_on_disk(page, portal: Running) -> None:
    """The plan section shows what a redeploy would change, unit by unit."""
    _open(page, portal)
    rows = page.locator("#plan table.plan tbody tr")
    rows.first.wait_for()
    actions = {row.locator("td").nth(0).inner_text(): row.locator("td").nth(2).inner_text()
               for row in rows.all()}
    assert actions == {"web": "NOOP", "talker": "NOOP", "broken": "UPDATE"}


def test_redeploy_after_typed_confirmation_updates_live(page, portal: Running,
                                                        deployed: Deployed) -> None:
    """Redeploy asks for the project's name, then the timeline fills in as the deploy runs."""
    _open(page, portal)
    page.evaluate("window.__sameDocument = true")
    page.click("#redeploy")
    page.fill("#confirm-input", deployed.name[:-1])
    assert page.is_disabled("#confirm-go")
    page.fill("#confirm-input", deployed.name)
    page.click("#confirm-go")
    page.locator("#timeline-of", has_text="deploy ").wait_for()
    last = page.locator("#timeline li", has_text="SERVICE_DEPLOYMENT_FAILED")
    last.wait_for()
    entries = page.locator("#timeline li").all_inner_texts()
    assert any("UPDATE_QUEUED" in e and "broken" in e for e in entries)
    assert "broken: exited with code 3" in last.first.inner_text()
    assert page.evaluate("window.__sameDocument") is True


def test_destroy_after_typed_confirmation(page, tmp_path, docker_api) -> None:
    """Destroy asks for the project's name, then removes every container of the deployment."""
    one = deploy(tmp_path, docker_api)
    running = start_portal(one, "-C", str(one.folder))
    try:
        _open(page, running)
        page.click("#destroy")
        assert page.is_disabled("#confirm-go")
        page.fill("#confirm-input", one.name)
        page.click("#confirm-go")
        wait_until(lambda: _card(page, "web").locator(".state").inner_text() == "NOT_DEPLOYED")
        label = {"label": [f"dev.launchdeck.project={one.name}"]}
        assert docker_api.containers(all=True, filters=label) == []
        assert "destroy" in page.locator("#timeline-of").inner_text()
    finally:
        stop(running)
        remove(docker_api, one.name)


def test_record_only_deployments_are_listed(page, deployed: Deployed) -> None:
    """Started without a directory, the portal lists and shows the deployments its records name."""
    running = start_portal(deployed)
    try:
        _open(page, running)
        assert deployed.name in page.locator("#targets").inner_text()
        assert _card(page, "web").locator(".state").inner_text() == "SERVICE_DEPLOYMENT_COMPLETED"
        assert page.is_disabled("#redeploy")
        assert "directory" in page.locator("#plan").inner_text()
    finally:
        stop(running)


def test_screenshot_for_the_readme(page, portal: Running, deployed: Deployed,
                                   tmp_path: Path) -> None:
    """The README's picture of the portal is taken from the live page, every part drawn."""
    httpx2.post(f"{portal.base}/api/targets/local/{deployed.name}/dev/redeploy",
                headers={"Authorization": f"Bearer {portal.token}"}, json={"confirm": deployed.name},
                timeout=30)
    page.set_viewport_size({"width": 1280, "height": 1000})
    _open(page, portal)
    page.locator("#timeline li", has_text="SERVICE_DEPLOYMENT_FAILED").wait_for()
    page.locator('.card[data-service="broken"] .diagnosis').wait_for()
    page.locator("#plan table.plan").wait_for()
    page.locator("#logs .line").nth(2).wait_for()
    picture = page.screenshot(path=str(shot("portal.png", tmp_path)), full_page=True)
    assert picture[:8] == b"\x89PNG\r\n\x1a\n"
