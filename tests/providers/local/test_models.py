"""Compose model services on the local engine: the Docker Model Runner serves them, or the
deploy is refused saying how to get one."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import anyio
import pytest

from launchdeck.compose.load import load, normalize_project_name
from launchdeck.engine import logs
from launchdeck.engine.deploy import deploy
from launchdeck.engine.seams import DeployOptions, LogQuery
from launchdeck.errors import ProviderError
from launchdeck.providers.local import spec as S
from launchdeck.providers.local.provider import LocalProvider
from testkit import BUSYBOX

COMPOSE = f"""\
services:
  app:
    image: {BUSYBOX}
    command: ["sh", "-c", "echo model=$$AI_MODEL; wget -qO- $${{AI_URL}}models; echo; exec sleep 600"]
    depends_on: [ai]
  ai:
    provider:
      type: model
      options:
        model: ai/smollm2
"""


class _Runner(BaseHTTPRequestHandler):
    """The Model Runner's OpenAI-compatible model list: all the deploy asks of it."""

    def do_GET(self) -> None:  # noqa: N802
        body = json.dumps({"object": "list", "data": [{"id": "ai/smollm2", "object": "model"}]})
        self.send_response(200 if self.path.endswith("/models") else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch):
    """A stand-in for Docker Model Runner (not installable here), on every interface so that
    containers reach it through host.docker.internal."""
    server = ThreadingHTTPServer(("0.0.0.0", 0), _Runner)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("LAUNCHDECK_MODEL_RUNNER_URL",
                       f"http://localhost:{server.server_address[1]}/engines/v1")
    yield server
    server.shutdown()


@pytest.fixture
def app(tmp_path: Path, docker_api):
    root = tmp_path / "modelapp"
    root.mkdir()
    (root / "compose.yaml").write_text(COMPOSE)
    yield root
    label = {"label": [f"{S.PROJECT}={normalize_project_name(root.name)}"]}
    for c in docker_api.containers(all=True, filters=label):
        docker_api.remove_container(c["Id"], force=True)
    for n in docker_api.networks(filters=label):
        docker_api.remove_network(n["Id"])


def _deploy(provider: LocalProvider, root: Path):
    loaded = load(cwd=root, os_environ={})
    return anyio.run(lambda: deploy(loaded, provider, stack="dev",
                                    options=DeployOptions(wait_timeout=60)))


def test_without_a_model_runner_the_deploy_is_refused(app: Path, tmp_path: Path, docker_api,
                                                      monkeypatch) -> None:
    """No runner answers: a clear refusal naming the service and what to do; nothing started."""
    monkeypatch.setenv("LAUNCHDECK_MODEL_RUNNER_URL", "http://localhost:9/engines/v1")
    with pytest.raises(ProviderError) as caught:
        _deploy(LocalProvider(state_root=tmp_path / "state"), app)
    assert "ai is a model service (ai/smollm2)" in caught.value.message
    assert "Docker Model Runner" in caught.value.hint
    label = {"label": [f"{S.PROJECT}={normalize_project_name(app.name)}"]}
    assert docker_api.containers(all=True, filters=label) == []


def test_dependents_get_the_model_url_and_name_and_reach_the_runner(app: Path, tmp_path: Path,
                                                                    runner) -> None:
    """app receives AI_URL and AI_MODEL, and from its container the runner answers."""
    provider = LocalProvider(state_root=tmp_path / "state")
    result = _deploy(provider, app)
    assert result.ok, [(s.name, s.state, s.message) for s in result.services]
    ai = next(s for s in result.services if s.name == "ai")
    assert ai.endpoints == [f"http://localhost:{runner.server_address[1]}/engines/v1"]

    async def lines() -> list[str]:
        for _ in range(50):
            found = await logs.read(provider, normalize_project_name(app.name), "dev", LogQuery())
            if len(found) >= 2:
                return [line.text for line in found]
            await anyio.sleep(0.2)
        return []

    text = anyio.run(lines)
    assert text[0] == "model=ai/smollm2"
    assert json.loads(text[1])["data"][0]["id"] == "ai/smollm2"
    again = _deploy(provider, app)
    assert {c.action for c in again.changes} == {"NOOP"}
