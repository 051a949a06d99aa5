"""The portal's history of deployments and its rollback, in a real browser (Debian's chromium
under Playwright), against `launchdeck portal` and a project deployed twice to the real Docker
Engine: each deployment a row, and a rollback to an earlier one after its preview and the
typed project name; refused, changing nothing, when that deployment's image is gone."""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from launchdeck.compose.load import normalize_project_name
from launchdeck.providers.local import spec as S
from testkit import BUSYBOX
from tests.portal.conftest import Deployed, Running, start_portal, stop, wait_until

COMPOSE = """\
services:
  web:
    build: ./web
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://localhost:8080/index.html"]
      interval: 1s
      retries: 10
"""


def _version(folder: Path, n: int) -> None:
    """web's image, different for each ``n``."""
    (folder / "web" / "Dockerfile").write_text(
        f"FROM {BUSYBOX}\nRUN mkdir /site && echo v{n} > /site/index.html\n"
        'CMD ["httpd", "-f", "-p", "8080", "-h", "/site"]\n')


def _git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(folder), "-c", "user.email=t@example.com",
                           "-c", "user.name=t", *args], check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture(scope="module")
def twice(tmp_path_factory: pytest.TempPathFactory, docker_api) -> Iterator[tuple[Deployed, list[str]]]:
    """v1 then v2 (another image for web), each committed to git first; (project, ids)."""
    name = f"portal-hist-{secrets.token_hex(4)}"
    root = tmp_path_factory.mktemp("portal-history")
    folder = root / name
    (folder / "web").mkdir(parents=True)
    (folder / "compose.yaml").write_text(COMPOSE)
    _git(root, "init", "-q", "-b", "main", str(folder))
    deployed = Deployed(folder, name, root / f"{name}-state")
    ids = []
    for n in (1, 2):
        _version(folder, n)
        _git(folder, "add", "-A")
        _git(folder, "commit", "-q", "-m", f"v{n}")
        done = deployed.cli("compose", "up", "-C", str(folder), "--detach", "--wait-timeout", "60")
        assert done.returncode == 0, done.stderr
        shown = deployed.cli("deployments", "show", "latest", "-C", str(folder), "--format", "json")
        ids.append(json.loads(shown.stdout)["deployment"]["id"])
    yield deployed, ids
    deployed.cli("compose", "down", "-C", str(folder))
    for image in docker_api.images(filters={"label": f"{S.PROJECT}={normalize_project_name(name)}"}):
        docker_api.remove_image(image["Id"], force=True)


@pytest.fixture(scope="module")
def portal(twice) -> Iterator[Running]:
    running = start_portal(twice[0], "-C", str(twice[0].folder))
    yield running
    stop(running)


def _rows(page):  # type: ignore[no-untyped-def]
    return page.locator("#history table.history tbody tr")


def _open(page, portal: Running) -> None:
    page.goto(portal.url)
    _rows(page).first.wait_for()


def _history(deployed: Deployed) -> list[dict]:
    done = deployed.cli("deployments", "ls", "-C", str(deployed.folder), "--format", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["deployments"]


def _web_image(docker_api, deployed: Deployed) -> str:
    (found,) = docker_api.containers(filters={"label": [
        f"{S.PROJECT}={normalize_project_name(deployed.name)}", f"{S.SERVICE}=web"]})
    return found["Image"]


def test_each_deployment_is_a_row_newest_first(page, portal: Running, twice) -> None:
    """id, when, who, git commit and branch, outcome, what changed and how long it took."""
    deployed, ids = twice
    _open(page, portal)
    rows = _rows(page)
    assert [rows.nth(i).get_attribute("data-deployment") for i in range(2)] == ids[::-1]
    newest = rows.nth(0)
    assert newest.locator(".outcome").inner_text() == "deploy: succeeded"
    assert newest.locator(".changed").inner_text() == "web REPLACE"
    assert rows.nth(1).locator(".changed").inner_text() == "web CREATE"
    head = _git(deployed.folder, "rev-parse", "HEAD")
    assert newest.locator(".git").inner_text() == f"{head[:8]} main"
    assert newest.locator(".took").inner_text().endswith("s")
    assert newest.locator(".when time").get_attribute("datetime")
    assert newest.locator(".who").inner_text() != ""
    # the newest is what runs: only earlier ones offer a rollback
    assert newest.locator("button").count() == 0
    assert rows.nth(1).locator("button", has_text="Roll back").count() == 1


def test_rollback_after_preview_and_typed_name(page, portal: Running, twice, docker_api) -> None:
    """Roll back to v1: the preview names web to change; Go waits for the project's name; then
    the timeline follows the rollback, the history gains its row, web runs v1's image."""
    deployed, ids = twice
    v1 = next(d for d in _history(deployed) if d["id"] == ids[0])
    _open(page, portal)
    page.evaluate("window.__sameDocument = true")
    _rows(page).nth(1).locator("button", has_text="Roll back").click()
    preview = page.locator("#confirm-preview table.plan")
    preview.wait_for()
    assert "web" in preview.inner_text()
    assert f"deployment {ids[0]}" in page.locator("#confirm-title").inner_text()
    page.fill("#confirm-input", deployed.name[:-1])
    assert page.is_disabled("#confirm-go")
    page.fill("#confirm-input", deployed.name)
    assert not page.is_disabled("#confirm-go")
    page.click("#confirm-go")
    page.locator("#timeline-of", has_text="rollback ").wait_for()
    wait_until(lambda: _rows(page).nth(0).locator(".outcome").inner_text()
               == f"rollback to {ids[0]}: succeeded", timeout=90)
    assert _web_image(docker_api, deployed) == v1["images"]["web"]
    latest = _history(deployed)[0]
    assert (latest["operation"], latest["rollback_of"], latest["outcome"]) == \
        ("rollback", ids[0], "succeeded")
    assert page.evaluate("window.__sameDocument") is True


def test_rollback_to_a_removed_image_is_refused(page, portal: Running, twice,
                                                docker_api) -> None:
    """With v2's image removed, the preview says so and names what to do, Go stays disabled, and
    a confirmed request is refused: web keeps running what it ran, the history is unchanged."""
    deployed, ids = twice
    listed = _history(deployed)
    if listed[0]["operation"] != "rollback":  # run alone: make v2 an earlier deployment first
        done = deployed.cli("rollback", ids[0], "--yes", "-C", str(deployed.folder))
        assert done.returncode == 0, done.stderr
        listed = _history(deployed)
    v2 = next(d for d in listed if d["id"] == ids[1])
    running = _web_image(docker_api, deployed)
    assert running != v2["images"]["web"]
    docker_api.remove_image(v2["images"]["web"], force=True)
    _open(page, portal)
    page.locator(f'#history tr[data-deployment="{ids[1]}"] button').click()
    problem = page.locator("#confirm-preview .problem")
    problem.wait_for()
    assert "no longer on local" in problem.inner_text()
    assert "Deploy from source again" in problem.inner_text()
    page.fill("#confirm-input", deployed.name)
    assert page.is_disabled("#confirm-go")
    answer = httpx2.post(f"{portal.base}/api/targets/local/{normalize_project_name(deployed.name)}"
                         f"/dev/rollback", headers={"Authorization": f"Bearer {portal.token}"},
                         json={"confirm": normalize_project_name(deployed.name), "to": ids[1]},
                         timeout=60)
    assert answer.status_code == 409
    assert "no longer on local" in answer.json()["error"]
    assert len(_history(deployed)) == len(listed)
    assert _web_image(docker_api, deployed) == running


def test_a_rollback_names_its_deployment(portal: Running, twice) -> None:
    """A confirmed rollback without the deployment to go back to is refused in words."""
    deployed, _ = twice
    project = normalize_project_name(deployed.name)
    answer = httpx2.post(f"{portal.base}/api/targets/local/{project}/dev/rollback",
                         headers={"Authorization": f"Bearer {portal.token}"},
                         json={"confirm": project}, timeout=30)
    assert answer.status_code == 409
    assert answer.json()["error"] == "a rollback names the deployment to go back to"
