"""The portal lists the deployments every provider keeps a history of, not only the local one:
a history in the moto server's S3 bucket is a target with its rows; a project deployed to the
local GCP shows in Debian's chromium with its history, the portal started with no directory."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest

from launchdeck.engine.history import Deployment, History, UnitEntry
from launchdeck.portal.catalog import Catalog
from launchdeck.portal.view import Histories, Secrets, view
from launchdeck.portal.watch import Watch
from tests.providers.aws.conftest import aws_env, moto_server  # noqa: F401
from tests.providers.gcp.conftest import fake, fake_server  # noqa: F401
from tests.providers.gcp.test_cli import env, run  # noqa: F401


def test_a_history_in_s3_is_a_target_with_its_rows(aws_env) -> None:  # noqa: F811
    """Two deployments kept in the region's bucket: the catalog lists aws/shop/dev, and its
    view has both rows, newest first, with what each changed and how long it took."""
    catalog = Catalog(["aws"], "dev")
    blobs = catalog.provider("aws").blobs()
    at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    for n, action in enumerate(("CREATE", "UPDATE")):
        entry = Deployment(id=f"d{n}", project="shop", stack="dev", provider="aws",
                           started=at + timedelta(hours=n),
                           ended=at + timedelta(hours=n, seconds=95),
                           units=[UnitEntry(name="web", action=action, image=f"web:{n}")])
        anyio.run(History(blobs, "shop", "dev").append, entry)

    async def shown():  # type: ignore[no-untyped-def]
        target = await catalog.find("aws", "shop", "dev")
        async with anyio.create_task_group() as tasks:
            return await view(catalog, Watch(tasks, catalog), Secrets(catalog), target,
                              Histories(catalog))

    assert [t.key for t in anyio.run(catalog.targets)] == ["aws/shop/dev"]
    got = anyio.run(shown)
    assert [(h.id, [(c.unit, c.action) for c in h.changed], h.seconds) for h in got.history] == \
        [("d1", [("web", "UPDATE")], 95.0), ("d0", [("web", "CREATE")], 95.0)]
    assert got.can_roll_back is False  # no compose files at hand


def test_unreadable_provider_is_named_not_fatal(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """With no AWS credentials the listing says why aws shows nothing; the local targets stay."""
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    from launchdeck.portal.view import listing

    found = anyio.run(listing, Catalog(["local", "aws"], "dev"))
    assert found.unlisted == ["aws"]
    assert "no AWS credentials found" in found.problems[0]


COMPOSE = """\
name: storefront
services:
  web:
    build: ./web
    ports: ["8080"]
"""


@dataclass(frozen=True)
class GcpPortal:
    url: str
    deployment: str


@pytest.fixture
def gcp_portal(env, tmp_path: Path) -> Iterator[GcpPortal]:  # noqa: F811
    """A project deployed to the local GCP with the CLI (in its own process: Playwright holds an
    event loop on this thread), then `launchdeck portal --provider gcp` started in an empty
    folder; its address."""
    folder = tmp_path / "storefront"
    (folder / "web").mkdir(parents=True)
    (folder / "compose.yaml").write_text(COMPOSE)
    (folder / "web" / "Dockerfile").write_text("FROM busybox:1.36\nCMD [\"httpd\", \"-f\"]\n")
    up = run("compose", "up", "--provider", "gcp", "--detach", cwd=folder, env=env)
    assert up.returncode == 0, up.stderr
    shown = run("deployments", "show", "latest", "--provider", "gcp", "--format", "json",
                cwd=folder, env=env)
    deployment = json.loads(shown.stdout)["deployment"]["id"]
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GCP_", "GOOGLE_", "LAUNCHDECK_"))}
    process = subprocess.Popen([sys.executable, "-m", "launchdeck", "portal", "--provider", "gcp"],
                               cwd=empty, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**clean, **env})
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/\?token=[\w-]+", line), \
            process.stderr.read() if process.stderr else line
        yield GcpPortal(line, deployment)
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_a_gcp_deployment_shows_its_history_in_the_browser(gcp_portal: GcpPortal, page) -> None:
    """The portal, given no directory, lists gcp's storefront and shows its deployment as a
    row: the deploy's id, that it succeeded, what it created; no rollback is offered."""
    page.goto(gcp_portal.url)
    rows = page.locator("#history table.history tbody tr")
    rows.first.wait_for()
    assert "storefront" in page.locator("#targets").inner_text()
    assert rows.count() == 1
    assert rows.nth(0).locator(".outcome").inner_text() == "deploy: succeeded"
    assert "web CREATE" in rows.nth(0).locator(".changed").inner_text()
    assert rows.nth(0).get_attribute("data-deployment") == gcp_portal.deployment
    assert page.locator("#history button").count() == 0


def test_the_page_names_a_provider_it_could_not_read(tmp_path: Path, page) -> None:
    """Started for aws without AWS credentials, the page says aws is not listed and why,
    beside its note that nothing is deployed; it does not fail."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAUNCHDECK_"))}
    none = str(tmp_path / "none")
    process = subprocess.Popen(
        [sys.executable, "-m", "launchdeck", "portal", "--provider", "aws"], cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**clean, "AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none,
             "AWS_EC2_METADATA_DISABLED": "true", "AWS_REGION": "us-east-1",
             "LAUNCHDECK_STATE_DIR": str(tmp_path / "state")})
    assert process.stdout is not None
    try:
        line = process.stdout.readline().strip()
        assert line.startswith("http://127.0.0.1:"), process.stderr.read() if process.stderr else line
        page.goto(line)
        note = page.locator("#unlisted")
        note.wait_for()
        assert note.inner_text().startswith("Not listed: aws: ")
        assert "no AWS credentials found" in note.inner_text()
        assert page.locator("#empty").is_visible()
    finally:
        process.terminate()
        process.wait(timeout=15)
