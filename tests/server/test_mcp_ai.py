"""generate_project and debug_failure over MCP, with and without the client's own model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest

from launchdeck.tools.config import config_set
from launchdeck.tools.deploy import deploy
from launchdeck.tools.destroy import destroy
from launchdeck.tools.project import ProjectRef
from testkit import BUSYBOX

from .test_mcp import Seen, _data, _text, connect

GOOD = {
    "compose.yaml": "name: shop\nservices:\n  app:\n    build: .\n    ports:\n"
                    "      - {target: 8080, mode: ingress}\n    healthcheck:\n"
                    "      test: [\"CMD\", \"python3\", \"-c\", \"print(1)\"]\n"
                    "    deploy: {resources: {reservations: {memory: 64M}}}\n",
    "Dockerfile": "FROM python:3.12-slim\nCOPY main.py .\nCMD [\"python3\", \"main.py\"]\n",
    "main.py": "print('hi')\n",
}


class ClientModel:
    """The MCP client's model: answers sampling requests with scripted texts."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.prompts: list[str] = []

    async def __call__(self, context: Any, params: types.CreateMessageRequestParams
                       ) -> types.CreateMessageResult:
        self.prompts.append(json.dumps(params.model_dump(mode="json")))
        text = self.answers[min(len(self.prompts), len(self.answers)) - 1]
        return types.CreateMessageResult(role="assistant", model="client-model",
                                         content=types.TextContent(type="text", text=text))


def _answer(files: dict[str, str]) -> str:
    return json.dumps({"files": [{"path": p, "content": c} for p, c in files.items()]})


def test_generate_from_template_without_a_model(tmp_path: Path) -> None:
    """Without any model the description picks a catalog template, written in the folder."""
    async def scenario() -> dict:
        async with connect("stdio", "legacy", Seen(), tmp_path / "state", None) as client:
            return _data(await client.call_tool("generate_project", {
                "description": "an API that stores orders in postgres",
                "folder": str(tmp_path / "orders"), "language": "nodejs"}))

    data = anyio.run(scenario)
    assert (data["source"], data["template"], data["language"]) == ("template", "postgres",
                                                                    "nodejs")
    assert (tmp_path / "orders" / "server.js").is_file()
    assert "deploy" in data["next_step"]


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_generate_with_the_clients_model_repairs_once(mode: str, tmp_path: Path) -> None:
    """The client's model writes the project; a broken first answer is sent back and fixed."""
    broken = {**GOOD, "compose.yaml": GOOD["compose.yaml"] + "    privileged: true\n"}
    broken.pop("Dockerfile")
    model = ClientModel(_answer(broken), _answer(GOOD))

    async def scenario() -> dict:
        async with connect("stdio", mode, Seen(), tmp_path / "state", None,
                           sampling=model) as client:
            return _data(await client.call_tool("generate_project", {
                "description": "a shop", "folder": str(tmp_path / "shop")}))

    data = anyio.run(scenario)
    assert (data["source"], data["repairs"], data["model"]) == ("llm", 1, "the client's model")
    assert len(model.prompts) == 2 and "Dockerfile, which is missing" in model.prompts[1]
    assert (tmp_path / "shop" / "main.py").read_text() == "print('hi')\n"


@pytest.fixture
def crashed(tmp_path: Path, state: Path, docker_api) -> ProjectRef:
    root = tmp_path / "crashy"
    root.mkdir()
    (root / "compose.yaml").write_text(f"""\
services:
  app:
    image: {BUSYBOX}
    environment: [TOKEN]
    command: ["sh", "-c", "echo token=$$TOKEN; echo 'ModuleNotFoundError: No module named yaml'; exit 1"]
""")
    ref = ProjectRef(working_directory=str(root), provider="local", stack="dev")
    anyio.run(lambda: config_set(ref, "TOKEN", "tok-77aa93b1c5"))
    assert not anyio.run(lambda: deploy(ref, wait_seconds=30)).ok
    yield ref
    anyio.run(lambda: destroy(ref))


@pytest.mark.parametrize("with_model", [False, True])
def test_debug_failure(with_model: bool, crashed: ProjectRef, tmp_path: Path,
                       state: Path) -> None:
    """Detectors name the cause; the client's model adds its reading; no config value leaks."""
    model = ClientModel(json.dumps({"findings": [{
        "service": "app", "cause": "PyYAML is not installed", "evidence": ["No module named yaml"],
        "fix": "add pyyaml to requirements.txt", "patch": None, "confidence": 0.9}]}))
    seen = Seen()

    async def scenario() -> types.CallToolResult:
        async with connect("stdio", "auto", seen, state, None,
                           sampling=model if with_model else None) as client:
            return await client.call_tool("debug_failure",
                                          {"working_directory": crashed.working_directory})

    result = anyio.run(scenario)
    data = _data(result)
    assert data["findings"][0]["detector"] == "missing_module"
    assert "yaml" in data["findings"][0]["fix"]
    if with_model:
        assert data["llm"] == "the client's model"
        assert [f["source"] for f in data["findings"]] == ["detector", "llm"]
        assert "tok-77aa93b1c5" not in "".join(model.prompts)
        assert "[config value]" in "".join(model.prompts)
    else:
        assert data["llm"] is None and model.prompts == []
    assert "tok-77aa93b1c5" not in seen.text() + _text(result)
