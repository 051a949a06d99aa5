"""Fixtures for the portal: a real local deployment, `launchdeck portal` in its own process,
and Debian's chromium driven by Playwright (no browser download)."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from testkit import BUSYBOX

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SECRET = "portal-secret-7f3a9c51d2e8"
"""The config value the talker service prints at start: it must never reach the page."""
SCRIPT_LINE = "<script>window.__pwned=1</script><img src=x onerror=window.__pwned=2><b>bold</b>"
"""A log line a service prints that would run, or draw, if it were taken as markup."""
DOCS = Path(__file__).resolve().parents[2] / "docs"


UPDATE_SCREENSHOTS = os.environ.get("LAUNCHDECK_UPDATE_SCREENSHOTS") == "1"
"""Read when the tests are collected: each test runs without the caller's LAUNCHDECK_* variables."""


def shot(name: str, tmp_path: Path) -> Path:
    """Where a screenshot goes: the README's `docs/` when LAUNCHDECK_UPDATE_SCREENSHOTS=1 asks
    for new pictures, otherwise the test's own folder, so a test run leaves the tree as it was."""
    return (DOCS if UPDATE_SCREENSHOTS else tmp_path) / name

COMPOSE = f"""\
services:
  web:
    image: {BUSYBOX}
    command: ["sh", "-c", "mkdir -p /www && echo portal-ok > /www/index.html
                           && exec httpd -f -p 8080 -h /www"]
    ports:
      - target: 8080
        mode: ingress
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://localhost:8080/"]
      interval: 1s
      retries: 20
  talker:
    image: {BUSYBOX}
    command: ["sh", "-c", "echo starting with token=$$PORTAL_SECRET; echo '{SCRIPT_LINE}'; exec sleep 100000"]
    environment:
      - PORTAL_SECRET
  broken:
    image: {BUSYBOX}
    command: ["sh", "-c", "echo 'API_TOKEN is not set'; exit 3"]
"""


@dataclass(frozen=True)
class Deployed:
    """A project deployed to the real Docker Engine, with its own state directory."""

    folder: Path
    name: str
    state: Path

    @property
    def env(self) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items()
                if not k.startswith(("LAUNCHDECK_", "COMPOSE_")) and k != "ANTHROPIC_API_KEY"}
        return {**keep, "LAUNCHDECK_STATE_DIR": str(self.state)}

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "launchdeck", *args], input=stdin,
                              capture_output=True, text=True, env=self.env, timeout=300)


def deploy(root: Path, docker_api: object, compose: str = COMPOSE) -> Deployed:
    """Write the project in a folder of its own name (unique: other sessions share the engine),
    set its config value and deploy it with the CLI."""
    name = f"portal-{secrets.token_hex(4)}"
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "compose.yaml").write_text(compose)
    deployed = Deployed(folder, name, root / f"{name}-state")
    if "PORTAL_SECRET" in compose:
        done = deployed.cli("config", "set", "PORTAL_SECRET", "-C", str(folder), stdin=SECRET)
        assert done.returncode == 0, done.stderr
    done = deployed.cli("compose", "up", "-C", str(folder), "--detach", "--wait-timeout", "90")
    assert "deployment" in done.stderr, done.stderr  # exits 1: broken fails, as it should
    return deployed


def remove(docker_api, name: str) -> None:
    label = {"label": [f"dev.launchdeck.project={name}"]}
    for c in docker_api.containers(all=True, filters=label):
        docker_api.remove_container(c["Id"], force=True, v=True)
    for n in docker_api.networks(filters=label):
        docker_api.remove_network(n["Id"])


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory, docker_api) -> Iterator[Deployed]:
    """web (healthy, with an endpoint), talker (prints a config value and markup), broken
    (exits 3 saying API_TOKEN is not set), deployed once for the module."""
    found = deploy(tmp_path_factory.mktemp("portal"), docker_api)
    yield found
    remove(docker_api, found.name)


@dataclass(frozen=True)
class Running:
    url: str
    base: str
    port: int
    token: str
    process: subprocess.Popen[str]


def start_portal(deployed: Deployed, *args: str) -> Running:
    """`launchdeck portal` in its own process; its address as it printed it."""
    process = subprocess.Popen([sys.executable, "-m", "launchdeck", "portal", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=deployed.env)
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    found = re.fullmatch(r"(http://127\.0\.0\.1:(\d+))/\?token=([\w-]+)", line)
    if not found:
        process.kill()
        problem = process.stderr.read() if process.stderr else ""
        raise AssertionError(f"portal printed {line!r}; stderr: {problem}")
    return Running(line, found[1], int(found[2]), found[3], process)


def stop(running: Running) -> None:
    running.process.terminate()
    try:
        running.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        running.process.kill()
        running.process.wait()


@pytest.fixture(scope="module")
def portal(deployed: Deployed) -> Iterator[Running]:
    """The portal, started with the deployed project's directory."""
    running = start_portal(deployed, "-C", str(deployed.folder))
    yield running
    stop(running)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's chromium under Playwright; scripts/test installs both. Per module: Playwright's
    sync API holds an event loop on this thread while it runs, where other tests run theirs."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"no {CHROMIUM}: run scripts/test (scripts/browser installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # rebind.test resolves to this machine, as a DNS-rebinding attacker's name would
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[*CHROMIUM_FLAGS, "--host-resolver-rules=MAP rebind.test 127.0.0.1"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    """A fresh browser context and page (no cookies or storage from another test)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(30_000)
    yield opened
    context.close()


def exec_print(docker_api, project: str, service: str, text: str) -> None:
    """Have a running service print ``text`` on its own standard output (what `docker logs` reads)."""
    (container,) = docker_api.containers(filters={"label": [f"dev.launchdeck.project={project}",
                                                            f"dev.launchdeck.service={service}"]})
    quoted = "'" + text.replace("'", "'\\''") + "'"
    run = docker_api.exec_create(container["Id"], ["sh", "-c", f"echo {quoted} > /proc/1/fd/1"])
    docker_api.exec_start(run["Id"])
    assert docker_api.exec_inspect(run["Id"])["ExitCode"] == 0


def wait_until(check, timeout: float = 30.0, interval: float = 0.2):  # type: ignore[no-untyped-def]
    """Poll ``check`` until it returns something true (tests wait for real processes)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout}s: {check}")
        time.sleep(interval)
