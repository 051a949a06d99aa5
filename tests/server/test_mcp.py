"""The MCP server end to end, driven by the SDK's own client over stdio and streamable HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import docker.errors
import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from launchdeck.compose.load import normalize_project_name
from testkit import BUSYBOX

SECRET = "mcp-pw-8d3a61f0c2b94e17"
TOKEN = "test-token-5b0c9e4d2a71"
TOOLS = {"deploy", "ps", "logs", "config_set", "config_list", "config_delete", "destroy",
         "deployments", "rollback",
         "generate_project", "debug_failure", "estimate", "check"}


def _write_project(root: Path) -> Path:
    (root / "compose.yaml").write_text(f"""\
services:
  web:
    image: {BUSYBOX}
    command: ["sh", "-c", "for i in 1 2 3 4 5; do echo line $$i; done; exec httpd -f -p 8080 -h /"]
    ports:
      - target: 8080
        mode: ingress
    environment:
      - DB_PASSWORD
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://localhost:8080/bin/sh"]
      interval: 1s
      retries: 10
""")
    return root


class Seen:
    """Everything the client received from the server, to check what it never saw."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.progress: list[tuple[float, str | None]] = []
        self.elicitations: list[str] = []

    def text(self) -> str:
        return "\n".join(self.items)

    async def on_message(self, message: Any) -> None:
        self.items.append(repr(message))

    async def on_progress(self, progress: float, total: float | None, message: str | None) -> None:
        self.progress.append((progress, message))
        self.items.append(f"progress {progress} {message}")


def _elicit_with(answer: dict[str, Any] | None, seen: Seen):
    async def callback(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        seen.elicitations.append(params.message)
        seen.items.append(params.model_dump_json())
        if answer is None:
            return types.ElicitResult(action="decline")
        return types.ElicitResult(action="accept", content=answer)
    return callback


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """`launchdeck mcp serve --transport http` with a token, in its own process."""
    port = _free_port()
    state = tmp_path_factory.mktemp("http-state")
    process = subprocess.Popen(
        [sys.executable, "-m", "launchdeck", "mcp", "serve", "--transport", "http",
         "--port", str(port), "--token", TOKEN],
        env={**{k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"},
             "LAUNCHDECK_STATE_DIR": str(state)},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(process.stderr.read().decode() if process.stderr else "") from None
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}/mcp"
    process.terminate()
    process.wait(timeout=10)


@asynccontextmanager
async def connect(transport: str, mode: str, seen: Seen, state: Path, http_url: str | None,
                  answer: dict[str, Any] | None | bool = False,
                  sampling: Any = None) -> AsyncIterator[Client]:
    """A client on the given transport; ``answer`` False means no elicitation support."""
    elicitation = None if answer is False else _elicit_with(answer, seen)  # type: ignore[arg-type]
    if transport == "stdio":
        server: Any = StdioServerParameters(
            command=sys.executable, args=["-m", "launchdeck", "mcp", "serve"],
            env={"LAUNCHDECK_STATE_DIR": str(state), **({"DOCKER_HOST": os.environ["DOCKER_HOST"]}
                                                          if "DOCKER_HOST" in os.environ else {})})
    else:
        assert http_url
        server = streamable_http_client(
            http_url, http_client=httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"},
                                                     timeout=120))
    async with Client(server, mode=mode, elicitation_callback=elicitation,
                      sampling_callback=sampling, message_handler=seen.on_message,
                      read_timeout_seconds=120) as client:
        yield client


def _data(result: types.CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    return result.structured_content or {}


def _text(result: types.CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, types.TextContent))


@pytest.fixture
def project(tmp_path: Path, docker_api) -> Path:
    root = _write_project(tmp_path / "app")
    yield root
    label = {"label": [f"dev.launchdeck.project={normalize_project_name(root.name)}"]}
    for _ in range(60):  # a deploy still going when the server stopped may be removing some
        try:
            for c in docker_api.containers(all=True, filters=label):
                docker_api.remove_container(c["Id"], force=True, v=True)
            break
        except docker.errors.APIError as exc:
            if exc.status_code not in (404, 409):
                raise
            time.sleep(0.5)
    for n in docker_api.networks(filters=label):
        docker_api.remove_network(n["Id"])


@pytest.fixture(autouse=True)
def _project_dir(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()


CASES = [("stdio", "legacy"), ("stdio", "auto"), ("http", "auto")]


@pytest.mark.parametrize(("transport", "mode"), CASES, ids=[f"{t}-{m}" for t, m in CASES])
def test_deploy_loop_with_elicitation(transport: str, mode: str, project: Path, tmp_path: Path,
                                      request: pytest.FixtureRequest) -> None:
    """deploy asks for the missing secret in a form, reports progress, then ps, logs, destroy."""
    seen = Seen()
    url = request.getfixturevalue("http_server") if transport == "http" else None
    state = tmp_path / "state"
    where = {"working_directory": str(project)}

    async def scenario() -> None:
        async with connect(transport, mode, seen, state, url,
                           answer={"DB_PASSWORD": SECRET, "confirm": True}) as client:
            result = await client.call_tool("deploy", where, progress_callback=seen.on_progress)
            data = _data(result)
            assert data["ok"] and data["finished"], data
            assert data["config_stored"] == ["DB_PASSWORD"]
            (web,) = data["services"]
            assert web["state"] == "SERVICE_DEPLOYMENT_COMPLETED"
            assert web["endpoints"][0].startswith("http://127.0.0.1:")
            assert "SERVICE_DEPLOYMENT_COMPLETED" in _text(result)
            assert any("DB_PASSWORD" in m for m in seen.elicitations)
            values = [p for p, _ in seen.progress]
            assert values and values == sorted(values) and len(set(values)) == len(values)
            assert any(m and "web: SERVICE_DEPLOYMENT_COMPLETED" in m for _, m in seen.progress)

            ps = _data(await client.call_tool("ps", where))
            assert ps["services"][0]["state"] == "SERVICE_DEPLOYMENT_COMPLETED"

            first = _data(await client.call_tool("logs", {**where, "contains": "line", "limit": 3}))
            assert [line["text"] for line in first["lines"]] == ["line 1", "line 2", "line 3"]
            assert first["next_cursor"]
            second = _data(await client.call_tool(
                "logs", {**where, "contains": "line", "limit": 3, "cursor": first["next_cursor"]}))
            assert [line["text"] for line in second["lines"]] == ["line 4", "line 5"]
            assert second["next_cursor"] is None

            destroyed = _data(await client.call_tool("destroy", where))
            assert destroyed["removed"]
            assert _data(await client.call_tool("ps", where))["services"][0]["state"] == \
                "NOT_DEPLOYED"
            await client.call_tool("config_delete", {**where, "name": "DB_PASSWORD"})

    anyio.run(scenario)
    assert SECRET not in seen.text()


def test_without_elicitation_names_what_to_do(project: Path, tmp_path: Path) -> None:
    """A client without forms gets the missing names, sets them by tool, confirms by name."""
    seen = Seen()
    where = {"working_directory": str(project)}

    async def scenario() -> None:
        async with connect("stdio", "legacy", seen, tmp_path / "state", None) as client:
            refused = await client.call_tool("deploy", where)
            assert refused.is_error
            assert "config not set: DB_PASSWORD" in _text(refused)
            assert "config_set" in _text(refused)

            random = _data(await client.call_tool("config_set", {**where, "name": "DB_PASSWORD",
                                                                 "random": True}))
            assert random["names"] == ["DB_PASSWORD"] and random["missing"] == []
            assert random["passed_through_conversation"] is False
            given = await client.call_tool("config_set", {**where, "name": "OTHER",
                                                          "value": "given-in-chat"})
            assert _data(given)["passed_through_conversation"] is True
            assert "passed through the conversation" in _text(given)
            asked = await client.call_tool("config_set", {**where, "name": "THIRD"})
            assert asked.is_error and "random=true" in _text(asked)
            listed = _data(await client.call_tool("config_list", where))
            assert listed["names"] == ["DB_PASSWORD", "OTHER"]

            deployed = _data(await client.call_tool("deploy", where))
            assert deployed["ok"]
            again = _data(await client.call_tool("deploy", where))
            assert {c["action"] for c in again["changes"]} == {"NOOP"}

            unconfirmed = await client.call_tool("destroy", where)
            assert unconfirmed.is_error and f"confirm='{project.name}'" in _text(unconfirmed)
            confirmed = _data(await client.call_tool("destroy", {**where, "confirm": project.name}))
            assert confirmed["removed"]

    anyio.run(scenario)


def test_declined_confirmation_destroys_nothing(project: Path, tmp_path: Path) -> None:
    """When the user declines the destroy form, nothing is removed."""
    seen = Seen()
    where = {"working_directory": str(project)}

    async def scenario() -> None:
        async with connect("stdio", "legacy", seen, tmp_path / "state", None,
                           answer=None) as client:
            result = await client.call_tool("destroy", where)
            assert result.is_error and "did not confirm" in _text(result)

    anyio.run(scenario)
    assert any("Destroy" in m for m in seen.elicitations)


def test_tools_list_schemas_and_annotations(tmp_path: Path) -> None:
    """Every tool is listed with its input and output schema and the right hints."""
    async def scenario() -> dict[str, types.Tool]:
        async with connect("stdio", "auto", Seen(), tmp_path / "state", None) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            prompts = {p.name for p in (await client.list_prompts()).prompts}
            assert prompts == {"deploy_project", "debug_deploy"}
            resources = (await client.list_resources()).resources
            assert [str(r.uri) for r in resources] == ["ui://launchdeck/deployment",
                                                       "launchdeck://compose-reference"]
            return tools

    tools = anyio.run(scenario)
    assert set(tools) == TOOLS
    for name, tool in tools.items():
        first = "description" if name == "generate_project" else "working_directory"
        assert tool.input_schema["required"][0] == first
        assert tool.output_schema and tool.description
    assert all(tools[n].annotations.read_only_hint for n in ("ps", "logs", "config_list", "check"))
    assert all(tools[n].annotations.destructive_hint for n in ("destroy", "config_delete"))
    assert tools["deploy"].annotations.idempotent_hint
    assert "value" not in tools["config_set"].input_schema["required"]


def test_bad_arguments_are_tool_errors_with_the_fix(project: Path, tmp_path: Path) -> None:
    """Wrong arguments come back as tool errors that say what to do, never a traceback."""
    async def scenario() -> list[str]:
        async with connect("stdio", "legacy", Seen(), tmp_path / "state", None) as client:
            results = [
                await client.call_tool("ps", {"working_directory": "relative/dir"}),
                await client.call_tool("ps", {"working_directory": str(tmp_path / "missing")}),
                await client.call_tool("logs", {"working_directory": str(project),
                                                "service": "wbe"}),
                await client.call_tool("logs", {"working_directory": str(project),
                                                "since": "yesterday"}),
                await client.call_tool("logs", {"working_directory": str(project),
                                                "cursor": "garbage"}),
                await client.call_tool("config_set", {"working_directory": str(project),
                                                      "name": "1BAD", "random": True}),
                await client.call_tool("ps", {}),
            ]
            assert all(r.is_error for r in results)
            return [_text(r) for r in results]

    texts = anyio.run(scenario)
    assert "absolute path" in texts[0]
    assert "does not exist" in texts[1]
    assert "no service 'wbe'" in texts[2] and "Services: web" in texts[2]
    assert "10m" in texts[3]
    assert "invalid cursor" in texts[4]
    assert "invalid config name '1BAD'" in texts[5]
    assert "working_directory" in texts[6]
    assert not any("Traceback" in t for t in texts)


def test_http_requires_the_token(http_server: str) -> None:
    """Every HTTP request without the bearer token is answered 401."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    headers = {"accept": "application/json, text/event-stream"}
    without = httpx2.post(http_server, json=body, headers=headers, timeout=10)
    wrong = httpx2.post(http_server, json=body, timeout=10,
                        headers={**headers, "authorization": "Bearer nope"})
    assert (without.status_code, wrong.status_code) == (401, 401)
    assert "bearer token" in without.text


def test_http_off_loopback_needs_a_token() -> None:
    """Binding a public address without a token is refused before serving."""
    result = subprocess.run([sys.executable, "-m", "launchdeck", "mcp", "serve", "--transport",
                             "http", "--host", "0.0.0.0"], capture_output=True, text=True,
                            timeout=60, check=False, env={**os.environ, "LAUNCHDECK_MCP_TOKEN": ""})
    assert result.returncode == 1
    assert "needs a bearer token" in result.stderr


def test_startup_imports_nothing_heavy() -> None:
    """Creating the server loads no Docker, cloud or LLM SDK."""
    code = ("import sys; from launchdeck.server.server import create_server; create_server(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('docker', 'boto3', 'botocore', 'google', 'anthropic')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=True)
    assert json.loads(result.stdout.replace("'", '"')) == []


def test_deploy_goes_on_after_wait_seconds(project: Path, tmp_path: Path) -> None:
    """With wait_seconds=0 deploy answers at once; ps follows the deploy to the end."""
    async def scenario() -> None:
        async with connect("stdio", "legacy", Seen(), tmp_path / "state", None) as client:
            where = {"working_directory": str(project)}
            await client.call_tool("config_set", {**where, "name": "DB_PASSWORD", "random": True})
            early = _data(await client.call_tool("deploy", {**where, "wait_seconds": 0}))
            assert early["finished"] is False and "call ps" in early["next_step"]
            busy = await client.call_tool("deploy", where)
            assert busy.is_error and "already running" in _text(busy)
            for _ in range(120):
                ps = _data(await client.call_tool("ps", where))
                if ps["deploying"] is None and ps["services"][0]["state"] == \
                        "SERVICE_DEPLOYMENT_COMPLETED":
                    break
                await anyio.sleep(0.25)
            assert ps["deploying"] is None
            assert ps["services"][0]["state"] == "SERVICE_DEPLOYMENT_COMPLETED"

    anyio.run(scenario)


def test_arguments_are_checked_strictly_in_our_words(project: Path, tmp_path: Path) -> None:
    """Unknown arguments, strings for booleans, times out of range, paths with `..` or in
    system folders: each a short message naming the argument, never a validator's text."""
    where = {"working_directory": str(project)}

    async def scenario() -> list[str]:
        async with connect("stdio", "legacy", Seen(), tmp_path / "state", None) as client:
            results = [
                await client.call_tool("ps", {**where, "verbose": True}),
                await client.call_tool("config_set", {**where, "name": "A", "random": "yes"}),
                await client.call_tool("logs", {**where, "since": "99999999999h"}),
                await client.call_tool("logs", {**where, "limit": 0}),
                await client.call_tool("ps", {"working_directory": f"{project}/../{project.name}"}),
                await client.call_tool("ps", {"working_directory": "/etc"}),
                await client.call_tool("config_set", {**where, "name": "A" * 256, "random": True}),
                await client.call_tool("deploy", {**where, "provider": "azure"}),
            ]
            assert all(r.is_error for r in results), [_text(r) for r in results]
            return [_text(r) for r in results]

    texts = anyio.run(scenario)
    assert "verbose: no such argument" in texts[0] and "working_directory" in texts[0]
    assert "random: must be true or false" in texts[1]
    assert "cannot read the time" in texts[2] and "10m" in texts[2]
    assert "limit: must be at least 1" in texts[3]
    assert "'..'" in texts[4]
    assert "system directory" in texts[5]
    assert "255" in texts[6]
    assert "provider: must be one of" in texts[7]
    joined = "\n".join(texts)
    assert "pydantic" not in joined and "Traceback" not in joined and "validation error" not in joined


def test_a_plan_over_mcp_changes_nothing(project: Path, tmp_path: Path, docker_api) -> None:
    """deploy with dry_run returns each service's action and why, and makes no container."""
    where = {"working_directory": str(project)}

    async def scenario() -> dict[str, Any]:
        async with connect("stdio", "legacy", Seen(), tmp_path / "state", None) as client:
            await client.call_tool("config_set", {**where, "name": "DB_PASSWORD", "random": True})
            return _data(await client.call_tool("deploy", {**where, "dry_run": True}))

    planned = anyio.run(scenario)
    assert planned["dry_run"] is True and planned["services"] == []
    assert [(c["service"], c["action"], c["reason"]) for c in planned["changes"]] == [
        ("web", "CREATE", "new")]
    name = normalize_project_name(project.name)
    assert docker_api.containers(all=True, filters={"label": [f"dev.launchdeck.project={name}"]}) == []


@pytest.mark.parametrize("token", [" ", "short-token"])
def test_http_refuses_a_token_anyone_could_guess(token: str) -> None:
    """A bearer token under 16 characters (or of spaces) is refused before serving."""
    result = subprocess.run([sys.executable, "-m", "launchdeck", "mcp", "serve", "--transport",
                             "http", "--host", "0.0.0.0", "--token", token],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert "the bearer token is too short" in result.stderr and "16" in result.stderr
