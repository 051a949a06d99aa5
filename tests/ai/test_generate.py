"""generate_project: templates that deploy, LLM answers checked and repaired, files kept inside."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import anyio
import httpx2
import pytest

from launchdeck.ai import generate as gen
from launchdeck.ai.llm import AnthropicLLM
from launchdeck.compose import load
from launchdeck.errors import UsageError
from launchdeck.tools.check import findings
from launchdeck.tools.deploy import deploy
from launchdeck.tools.destroy import destroy
from launchdeck.tools.generate import MAX_REPAIRS, generate
from launchdeck.tools.project import ProjectRef

ALL = [(lang, kind) for lang in gen.LANGUAGES for kind in gen.KINDS]


@pytest.mark.parametrize(("language", "kind"), ALL, ids=[f"{lang}-{kind}" for lang, kind in ALL])
def test_every_template_is_cloud_ready(language: str, kind: str, tmp_path: Path) -> None:
    """Each template renders to a project with no error finding on any provider."""
    written = gen.write(tmp_path / "demo", gen.render(gen.Choice(language, kind, ""), "demo"),
                        overwrite=False)
    assert {"compose.yaml", "Dockerfile", ".dockerignore", "README.md"} <= set(written)
    loaded = load(cwd=tmp_path / "demo", os_environ={})
    for provider in ("local", "aws", "gcp"):
        errors = [f for f in findings(loaded, provider) if f.severity == "error"]
        assert errors == [], errors
    app = loaded.project.services["app"]
    assert app.ingress_ports and app.healthcheck and app.deploy.resources.reservations.memory


@pytest.mark.parametrize(
    ("description", "language", "kind"),
    [("a todo list API that stores items in postgres", "python", "postgres"),
     ("background job queue worker in golang", "golang", "redis-worker"),
     ("a chatbot that answers questions with an LLM, node please", "nodejs", "llm-chat"),
     ("hello world service", "python", "rest-api")],
)
def test_description_picks_the_template(description: str, language: str, kind: str) -> None:
    """Without an LLM, words in the description choose the language and the template."""
    choice = gen.choose(description, None, None)
    assert (choice.language, choice.template) == (language, kind)


def _get(url: str) -> dict:
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.loads(response.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


@pytest.mark.parametrize("language", ["python", "nodejs"])
def test_rest_template_deploys_and_answers(language: str, tmp_path: Path, state: Path,
                                           debian_image) -> None:
    """The REST template builds, passes its healthcheck, and answers /health and /echo."""
    folder = tmp_path / f"rest-{language}"
    result = anyio.run(lambda: generate("a REST API", str(folder), language=language))
    assert result.source == "template" and result.template == "rest-api"
    ref = ProjectRef(working_directory=str(folder), provider="local", stack="dev")
    try:
        deployed = anyio.run(lambda: deploy(ref, wait_seconds=120))
        assert deployed.ok, deployed.model_dump_json(indent=1)
        endpoint = deployed.services[0].endpoints[0]
        assert _get(endpoint + "/health") == {"status": "OK"}
        assert _get(endpoint + "/echo?name=launchdeck&n=2") == {
            "method": "GET", "params": {"name": "launchdeck", "n": "2"}}
    finally:
        anyio.run(lambda: destroy(ref))


class FakeModel:
    """An Anthropic Messages API that answers offline with scripted texts, in order."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.requests: list[dict] = []

    def llm(self) -> AnthropicLLM:
        def handle(request: httpx2.Request) -> httpx2.Response:
            self.requests.append(json.loads(request.content))
            text = self.answers[min(len(self.requests), len(self.answers)) - 1]
            return httpx2.Response(200, json={
                "id": f"msg_{len(self.requests)}", "type": "message", "role": "assistant",
                "model": "claude-test", "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn", "stop_sequence": None,
                "usage": {"input_tokens": 1, "output_tokens": 1}})

        return AnthropicLLM("k", "claude-test",
                            http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handle)))


def _project(files: dict[str, str]) -> str:
    return "```json\n" + json.dumps({"files": [{"path": p, "content": c}
                                               for p, c in files.items()]}) + "\n```"


GOOD = {
    "compose.yaml": """name: shop
services:
  app:
    build: .
    ports:
      - target: 8080
        mode: ingress
    healthcheck:
      test: ["CMD", "python3", "-c", "import urllib.request; urllib.request.urlopen('http://localhost:8080/health')"]
    deploy:
      resources:
        reservations: {memory: 128M}
""",
    "Dockerfile": "FROM python:3.12-slim\nCOPY main.py .\nCMD [\"python3\", \"main.py\"]\n",
    "main.py": "print('hello')\n",
    ".dockerignore": "__pycache__/\n",
    "README.md": "# shop\n",
}


def test_llm_writes_the_project(tmp_path: Path) -> None:
    """A model's valid project is checked and written as it is."""
    model = FakeModel(_project(GOOD))
    result = anyio.run(lambda: generate("a shop", str(tmp_path / "shop"), llm=model.llm()))
    assert (result.source, result.repairs) == ("llm", 0)
    assert (tmp_path / "shop" / "main.py").read_text() == "print('hello')\n"
    assert "a shop" in json.dumps(model.requests[0])


def test_broken_llm_project_is_repaired(tmp_path: Path) -> None:
    """A project that fails the checks goes back with the findings, and the fix is written."""
    broken = {**GOOD, "compose.yaml": GOOD["compose.yaml"].replace("    healthcheck:\n", "    x:\n")
              .replace("      test:", "#")}
    broken["compose.yaml"] = "\n".join(line for line in GOOD["compose.yaml"].splitlines()
                                       if "healthcheck" not in line and "test:" not in line)
    broken["compose.yaml"] += "\n    hostname: shop\n"
    model = FakeModel(_project(broken), _project(GOOD))
    result = anyio.run(lambda: generate("a shop", str(tmp_path / "shop"), llm=model.llm()))
    assert (result.source, result.repairs) == ("llm", 1)
    repair = model.requests[1]["messages"][0]["content"]
    assert "has no healthcheck" in repair and "hostname is not supported" in repair
    assert "healthcheck" in (tmp_path / "shop" / "compose.yaml").read_text()


def test_llm_cannot_write_outside_the_folder(tmp_path: Path) -> None:
    """Paths leaving the folder are refused; after the bounded repairs the template is used."""
    escape = {**GOOD, "../outside.txt": "pwned", "/tmp/abs.txt": "pwned"}
    model = FakeModel(_project(escape))
    folder = tmp_path / "shop"
    result = anyio.run(lambda: generate("a shop", str(folder), llm=model.llm()))
    assert len(model.requests) == 1 + MAX_REPAIRS
    assert result.source == "template" and "kept failing" in result.notes[0]
    assert not (tmp_path / "outside.txt").exists() and not Path("/tmp/abs.txt").exists()
    assert (folder / "compose.yaml").is_file()


def test_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    """An existing non-empty folder is left alone unless overwrite is asked for."""
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(UsageError, match="is not empty"):
        anyio.run(lambda: generate("api", str(tmp_path)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]
    result = anyio.run(lambda: generate("api", str(tmp_path), overwrite=True))
    assert "compose.yaml" in result.files and (tmp_path / "keep.txt").exists()


def test_symlink_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    """A file path that resolves outside the folder through a symlink is not written."""
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "link").symlink_to(tmp_path)
    with pytest.raises(UsageError, match="resolves outside"):
        gen.write(folder, [gen.GeneratedFile(path="link/evil.txt", content="x")], overwrite=True)
    assert not (tmp_path / "evil.txt").exists()
