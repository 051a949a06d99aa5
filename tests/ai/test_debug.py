"""debug_failure diagnoses real failing projects on the local Docker Engine."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import anyio
import httpx2
import pytest

from launchdeck.ai.llm import AnthropicLLM
from launchdeck.compose.load import normalize_project_name
from launchdeck.tools.config import config_set
from launchdeck.tools.debug import debug
from launchdeck.tools.deploy import deploy
from launchdeck.tools.destroy import destroy
from launchdeck.tools.project import ProjectRef
from testkit import BUSYBOX, DEBIAN

PROBE_8080 = '["CMD", "wget", "-q", "-O", "/dev/null", "http://localhost:8080/"]'


def _elf_for_arm64() -> bytes:
    """A minimal 64-bit ELF header for AArch64: the kernel refuses to run it here."""
    header = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header += struct.pack("<HHIQQQIHHHHHH", 2, 183, 1, 0x400000, 64, 0, 0, 64, 56, 0, 64, 0, 0)
    return header


PROJECTS = {
    "healthcheck_tool": {"compose.yaml": f"""\
services:
  web:
    image: {BUSYBOX}
    command: ["httpd", "-f", "-p", "8080", "-h", "/"]
    healthcheck: {{test: ["CMD", "curl", "-f", "http://localhost:8080/"], interval: 1s, retries: 2}}
"""},
    "wrong_port": {"compose.yaml": f"""\
services:
  web:
    image: {BUSYBOX}
    command: ["sh", "-c", "echo 'server listening on port 9090'; exec httpd -f -p 9090 -h /"]
    ports: [{{target: 8080, mode: ingress}}]
    healthcheck: {{test: {PROBE_8080}, interval: 1s, retries: 2}}
"""},
    "missing_module": {"compose.yaml": f"""\
services:
  api:
    image: {DEBIAN}
    command: ["python3", "-c", "import flask"]
"""},
    "missing_config": {"compose.yaml": f"""\
services:
  api:
    image: {BUSYBOX}
    command: ["sh", "-c", "echo starting; : \\"$${{API_KEY:?API_KEY is not set}}\\""]
"""},
    "out_of_memory": {"compose.yaml": f"""\
services:
  worker:
    image: {BUSYBOX}
    command: ["sh", "-c", "echo loading; x=aaaaaaaa; while true; do x=$$x$$x; done"]
    deploy: {{resources: {{limits: {{memory: 16M}}, reservations: {{memory: 8M}}}}}}
"""},
    "wrong_architecture": {
        "compose.yaml": "services:\n  app:\n    build: .\n",
        "Dockerfile": f"FROM {BUSYBOX}\nCOPY app /app\nRUN chmod +x /app\nCMD [\"/app\"]\n",
        "app": _elf_for_arm64(),
    },
    "connection_refused": {"compose.yaml": f"""\
services:
  api:
    image: {BUSYBOX}
    command: ["httpd", "-f", "-p", "9000", "-h", "/"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://localhost:9000/bin/sh"]
      interval: 1s
  web:
    image: {BUSYBOX}
    command: ["sh", "-c", "echo fetching config; wget -q -O- http://api:9999/config || exit 4"]
    depends_on: {{api: {{condition: service_healthy}}}}
"""},
    "build_error": {
        "compose.yaml": "services:\n  app:\n    build: .\n",
        "Dockerfile": f"FROM {BUSYBOX}\nRUN echo installing\nRUN ls /missing-dir\n",
    },
    "permission_denied": {"compose.yaml": f"""\
services:
  app:
    image: {BUSYBOX}
    user: "65534"
    command: ["sh", "-c", "echo saving state; echo x > /root/state.txt"]
"""},
    "missing_user": {"compose.yaml": f"""\
services:
  app:
    image: {BUSYBOX}
    user: appuser
    command: ["sleep", "60"]
"""},
    "missing_executable": {"compose.yaml": f"""\
services:
  app:
    image: {BUSYBOX}
    command: ["gunicorn", "app:app"]
"""},
    "exec_permission": {"compose.yaml": f"""\
services:
  app:
    image: {BUSYBOX}
    entrypoint: ["/etc/hosts"]
"""},
    "missing_mount": {"compose.yaml": f"""\
services:
  app:
    image: {BUSYBOX}
    command: ["sleep", "60"]
    volumes: [{{type: bind, source: ./data, target: /data}}]
"""},
    "crash": {"compose.yaml": f"""\
services:
  app:
    image: {BUSYBOX}
    command: ["sh", "-c", "echo 'fatal: unexpected state in queue'; exit 3"]
"""},
}


@pytest.fixture
def failing(tmp_path: Path, state: Path, docker_api, debian_image):
    """Write and deploy a failing project; remove everything afterwards."""
    made: list[ProjectRef] = []

    def deploy_failing(name: str) -> ProjectRef:
        root = tmp_path / name.replace("_", "-")
        root.mkdir()
        for file, content in PROJECTS[name].items():
            target = root / file
            target.write_bytes(content) if isinstance(content, bytes) else target.write_text(content)
        ref = ProjectRef(working_directory=str(root), provider="local", stack="dev")
        made.append(ref)
        result = anyio.run(lambda: deploy(ref, wait_seconds=30))
        assert not result.ok, result.model_dump_json(indent=1)
        return ref

    yield deploy_failing
    for ref in made:
        label = {"label": [f"dev.launchdeck.project="
                           f"{normalize_project_name(Path(ref.working_directory).name)}"]}
        for c in docker_api.containers(all=True, filters=label):
            docker_api.remove_container(c["Id"], force=True, v=True)
        for n in docker_api.networks(filters=label):
            docker_api.remove_network(n["Id"])


@pytest.mark.parametrize("cause", sorted(PROJECTS))
def test_detector_names_the_cause(cause: str, failing) -> None:
    """The most confident finding for a real failing project is the right detector."""
    ref = failing(cause)
    result = anyio.run(lambda: debug(ref))
    assert result.findings, result.model_dump_json(indent=1)
    top = result.findings[0]
    assert top.detector == cause, result.model_dump_json(indent=1)
    assert top.evidence and top.fix and top.source == "detector"


def _anthropic(answer: str, seen: list[dict]) -> AnthropicLLM:
    """The real anthropic SDK over an HTTP transport that answers offline."""
    def handle(request: httpx2.Request) -> httpx2.Response:
        seen.append(json.loads(request.content))
        return httpx2.Response(200, json={
            "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-test",
            "content": [{"type": "text", "text": answer}], "stop_reason": "end_turn",
            "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 10}})

    return AnthropicLLM("test-key", "claude-test",
                        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handle)))


def test_llm_adds_its_reading_and_never_sees_config_values(failing, tmp_path) -> None:
    """With a model, its findings join the detectors'; the prompt holds no config value."""
    secret = "s3cret-token-value-91"
    root = tmp_path / "leaky"
    root.mkdir()
    (root / "compose.yaml").write_text(f"""\
services:
  app:
    image: {BUSYBOX}
    environment: [TOKEN]
    command: ["sh", "-c", "echo using token $$TOKEN; echo 'fatal: token rejected'; exit 1"]
""")
    ref = ProjectRef(working_directory=str(root), provider="local", stack="dev")
    anyio.run(lambda: config_set(ref, "TOKEN", secret))
    try:
        assert not anyio.run(lambda: deploy(ref, wait_seconds=30)).ok
        seen: list[dict] = []
        answer = json.dumps({"findings": [{
            "service": "app", "cause": "the token is rejected by the upstream API",
            "evidence": ["fatal: token rejected"], "fix": "set a valid TOKEN",
            "patch": None, "confidence": 0.7}]})
        result = anyio.run(lambda: debug(ref, llm=_anthropic(answer, seen)))
    finally:
        anyio.run(lambda: destroy(ref))
    assert result.llm == "anthropic:claude-test"
    assert [f.source for f in result.findings] == ["detector", "llm"]
    assert result.findings[1].cause == "the token is rejected by the upstream API"
    prompt = json.dumps(seen)
    assert "fatal: token rejected" in prompt and "[config value]" in prompt
    assert secret not in prompt and secret not in result.model_dump_json()


@pytest.mark.parametrize("dockerfile", ["/etc/passwd", "../outside/Dockerfile", "link-out",
                                        "fifo"])
def test_evidence_never_quotes_a_file_outside_the_project(tmp_path, dockerfile: str) -> None:
    """A Dockerfile outside the build context (or no regular file) is left out of the
    evidence, so neither the result nor a model sees it."""
    import os

    from launchdeck.ai.debug import evidence_for
    from launchdeck.compose.load import load
    from launchdeck.engine.events import State

    root = tmp_path / "app"
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "Dockerfile").write_text("FROM outside-secret\n")
    root.mkdir()
    (root / "link-out").symlink_to(tmp_path / "outside" / "Dockerfile")
    os.mkfifo(root / "fifo")
    (root / "compose.yaml").write_text(f"services:\n  web:\n    build: {{context: ., "
                                       f"dockerfile: '{dockerfile}'}}\n")
    project = load(cwd=root, os_environ={}).project
    found = evidence_for(project, project.services["web"], state=State.BUILD_FAILED, message="",
                         exit_code=None, oom_killed=False, health_output=None, logs=[])
    assert found.dockerfile is None


def test_evidence_quotes_the_dockerfile_in_its_context(tmp_path) -> None:
    """The Dockerfile inside the build context is still part of the evidence."""
    from launchdeck.ai.debug import evidence_for
    from launchdeck.compose.load import load
    from launchdeck.engine.events import State

    (tmp_path / "Dockerfile").write_text("FROM python:3.12-slim\n")
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    build: .\n")
    project = load(cwd=tmp_path, os_environ={}).project
    found = evidence_for(project, project.services["web"], state=State.BUILD_FAILED, message="",
                         exit_code=None, oom_killed=False, health_output=None, logs=[])
    assert found.dockerfile == "FROM python:3.12-slim\n"
