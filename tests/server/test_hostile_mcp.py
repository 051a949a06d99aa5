"""Hostile input over MCP (issue 28), through the SDK's own client and raw HTTP: arguments no
tool should take whole, files outside the project, and the HTTP transport's checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp_types as types
import pytest

from tests.server.test_mcp import Seen, _free_port, _text, connect

TOKEN = "hostile-token-6c1f0e9d8b7a"


@pytest.fixture
def app(tmp_path: Path) -> Path:
    root = tmp_path / "app"
    root.mkdir()
    (root / "compose.yaml").write_text("services:\n  web:\n    image: x\n    environment: [PW]\n")
    return root


def _calls(state: Path, calls: list[tuple[str, dict[str, Any]]]) -> list[types.CallToolResult]:
    async def scenario() -> list[types.CallToolResult]:
        async with connect("stdio", "legacy", Seen(), state, None) as client:
            return [await client.call_tool(name, args) for name, args in calls]
    return anyio.run(scenario)


def test_arguments_are_never_echoed_whole(app: Path, tmp_path: Path) -> None:
    """Megabyte arguments (a path, a deployment id, a service, a stack) come back as a short
    error naming the argument; the session goes on."""
    where = {"working_directory": str(app)}
    results = _calls(tmp_path / "state", [
        ("ps", {"working_directory": "/x" * 5_000_000}),
        ("logs", {**where, "deployment_id": "d" * 10_000_000}),
        ("logs", {**where, "service": "s" * 1_000_000}),
        ("ps", {**where, "stack": "s" * 4_000}),
        ("ps", {"working_directory": "/" + "y" * 3_000}),
        ("ps", where),
    ])
    texts = [_text(r) for r in results]
    assert all(r.is_error for r in results[:5]), texts
    assert "working_directory: at most 4096 characters" in texts[0]
    assert "deployment_id: at most 4096 characters" in texts[1]
    assert "service: at most 4096 characters" in texts[2]
    assert "invalid stack name" in texts[3] and "stack" in texts[3]
    assert "working_directory" in texts[4] and "does not exist" in texts[4]
    assert all(len(t) < 1_000 for t in texts), [len(t) for t in texts]
    assert not results[5].is_error


def test_null_nan_and_nested_cursors_are_named_errors(app: Path, tmp_path: Path) -> None:
    """null for a required argument or an optional one, and a cursor of nested data: each an
    error naming the argument, never pydantic's text."""
    where = {"working_directory": str(app)}
    results = _calls(tmp_path / "state", [
        ("ps", {"working_directory": None}),
        ("logs", {**where, "limit": None}),
        ("logs", {**where, "cursor": "W3t7" * 50}),
        ("logs", {**where, "cursor": "eyJvIjogW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1"}),
    ])
    texts = [_text(r) for r in results]
    assert all(r.is_error for r in results), texts
    assert "working_directory: required, and null is not a value" in texts[0]
    assert "limit: null is not a value" in texts[1]
    assert "invalid cursor" in texts[2] and "invalid cursor" in texts[3]
    joined = "\n".join(texts)
    assert "pydantic" not in joined and "validation error" not in joined


def test_nan_and_lone_surrogates_in_raw_json(app: Path, tmp_path: Path) -> None:
    """Raw JSON-RPC over HTTP (the SDK's client sends neither): NaN for a number is refused as
    not finite; a value with a lone surrogate (no UTF-8 form) is a parse error that quotes
    nothing."""
    port = _free_port()
    server = _serve(tmp_path, port, "--token", TOKEN)
    try:
        url = f"http://127.0.0.1:{port}/mcp"
        headers = {"accept": "application/json, text/event-stream",
                   "authorization": f"Bearer {TOKEN}", "content-type": "application/json"}
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                           "clientInfo": {"name": "raw", "version": "1"}}}
        opened = httpx2.post(url, json=init, headers=headers, timeout=30)
        session = opened.headers.get("mcp-session-id")
        if session:
            headers["mcp-session-id"] = session
        httpx2.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"},
                    headers=headers, timeout=30)
        body = ('{"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "logs", '
                f'"arguments": {{"working_directory": {json.dumps(str(app))}, "limit": NaN}}}}}}')
        answer = httpx2.post(url, content=body, headers=headers, timeout=30)
        body = ('{"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": '
                f'"config_set", "arguments": {{"working_directory": {json.dumps(str(app))}, '
                '"name": "PW", "value": "hunter2\\ud800"}}}')
        surrogate = httpx2.post(url, content=body, headers=headers, timeout=30)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert answer.status_code == 200, answer.text
    assert "limit: must be a finite number" in answer.text
    assert surrogate.status_code == 400 and "Parse error" in surrogate.text, surrogate.text
    assert "hunter2" not in surrogate.text


def test_since_and_working_directory_errors_name_the_argument(app: Path, tmp_path: Path) -> None:
    """A time logs cannot read names since; a path with `..` names working_directory."""
    results = _calls(tmp_path / "state", [
        ("logs", {"working_directory": str(app), "since": "99999999999h"}),
        ("ps", {"working_directory": f"{app}/../{app.name}"}),
    ])
    assert "since: cannot read the time" in _text(results[0])
    assert _text(results[1]).startswith("Error executing tool ps: working_directory '") or \
        "working_directory '" in _text(results[1])


def test_compose_files_stay_inside_working_directory(app: Path, tmp_path: Path) -> None:
    """compose_files that lead out of working_directory (another project's) are refused."""
    other = tmp_path / "other"
    other.mkdir()
    (other / "compose.yaml").write_text("services:\n  secretive:\n    image: x\n")
    results = _calls(tmp_path / "state", [
        ("ps", {"working_directory": str(app), "compose_files": ["../other/compose.yaml"]}),
        ("ps", {"working_directory": str(app), "compose_files": [str(other / "compose.yaml")]}),
        ("ps", {"working_directory": str(app), "compose_files": ["compose.yaml"]}),
    ])
    for refused in results[:2]:
        assert refused.is_error
        assert "compose_files:" in _text(refused) and "not inside working_directory" in _text(refused)
        assert "secretive" not in _text(refused)
    assert not results[2].is_error


def test_env_file_errors_carry_no_content_to_the_client_or_the_log(app: Path,
                                                                  tmp_path: Path) -> None:
    """An env_file that is a JSON store is refused by line; its values reach neither the
    client nor the server's log."""
    (app / "store.json").write_text('{"DB_PASSWORD": "hunter2-mcp-store"}\n')
    (app / "compose.yaml").write_text("services:\n  web:\n    image: x\n    env_file: [store.json]\n")
    state = tmp_path / "state"
    (result,) = _calls(state, [("ps", {"working_directory": str(app)})])
    assert result.is_error and "store.json:1" in _text(result)
    assert "hunter2" not in _text(result)
    log = (state / "logs" / "mcp.log").read_text()
    assert "store.json" in log and "hunter2" not in log


def test_config_set_refuses_nul(app: Path, tmp_path: Path) -> None:
    """config_set refuses a value with a NUL by name, stores nothing and never echoes it."""
    where = {"working_directory": str(app)}
    results = _calls(tmp_path / "state", [
        ("config_set", {**where, "name": "PW", "value": "hunter2\x00tail"}),
        ("config_list", where),
    ])
    assert "the value of PW contains a NUL character" in _text(results[0])
    assert "hunter2" not in _text(results[0])
    assert results[1].structured_content["names"] == []


def test_an_invalid_image_is_a_finding_in_deploy(app: Path, tmp_path: Path) -> None:
    """deploy (a plan) of an image Docker cannot parse is refused with the located finding."""
    (app / "compose.yaml").write_text("services:\n  web:\n    image: Busybox:1.36\n")
    (result,) = _calls(tmp_path / "state", [("deploy", {"working_directory": str(app),
                                                        "dry_run": True})])
    assert result.is_error
    assert "services.web.image" in _text(result) and "must be lowercase" in _text(result)
    assert "internal error" not in _text(result).lower()


def test_stacks_resource_of_a_system_folder_is_a_clear_error(tmp_path: Path) -> None:
    """resources/read of launchdeck://stacks/etc says why, in our words."""
    async def scenario() -> str:
        async with connect("stdio", "legacy", Seen(), tmp_path / "state", None) as client:
            try:
                await client.read_resource("launchdeck://stacks/etc")
            except Exception as exc:  # noqa: BLE001 - the SDK raises the server's error
                return str(exc)
            return ""

    said = anyio.run(scenario)
    assert "working_directory /etc is a system directory" in said


# -- the HTTP transport ---------------------------------------------------------------------

def _serve(tmp_path: Path, port: int, *args: str, host: str = "127.0.0.1") -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "launchdeck", "mcp", "serve", "--transport", "http", "--host",
         host, "--port", str(port), *args],
        env={**os.environ, "LAUNCHDECK_STATE_DIR": str(tmp_path / "state"),
             "LAUNCHDECK_MCP_TOKEN": ""},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while True:
        try:
            import socket

            socket.create_connection((host, port), timeout=1).close()
            return process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(process.stderr.read().decode() if process.stderr else "") \
                    from None
            time.sleep(0.1)


def test_other_loopback_addresses_need_a_token() -> None:
    """Binding 127.0.0.2 (loopback, but not the address the SDK guards) needs a token."""
    result = subprocess.run([sys.executable, "-m", "launchdeck", "mcp", "serve", "--transport",
                             "http", "--host", "127.0.0.2"], capture_output=True, text=True,
                            timeout=60, env={**os.environ, "LAUNCHDECK_MCP_TOKEN": ""})
    assert result.returncode == 1
    assert "serving on 127.0.0.2 needs a bearer token" in result.stderr


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2"])
def test_loopback_servers_check_host_and_origin(tmp_path: Path, host: str) -> None:
    """On any loopback address a foreign Host or Origin is refused, even with the token;
    the server's own address is answered."""
    port = _free_port()
    server = _serve(tmp_path, port, "--token", TOKEN, host=host)
    url = f"http://{host}:{port}/mcp"
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "raw", "version": "1"}}}
    headers = {"accept": "application/json, text/event-stream",
               "authorization": f"Bearer {TOKEN}"}
    try:
        own = httpx2.post(url, json=body, headers=headers, timeout=30)
        foreign_host = httpx2.post(url, json=body, timeout=30,
                                   headers={**headers, "host": f"rebind.example:{port}"})
        foreign_origin = httpx2.post(url, json=body, timeout=30,
                                     headers={**headers, "origin": "http://evil.example"})
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert own.status_code == 200, own.text
    assert foreign_host.status_code == 421
    assert foreign_origin.status_code == 403


@pytest.mark.parametrize("answer", ["yes", 1])
def test_the_destroy_form_takes_only_a_boolean(app: Path, tmp_path: Path, answer: Any) -> None:
    """A destroy form answered "yes" or 1 instead of true destroys nothing."""
    seen = Seen()

    async def scenario() -> types.CallToolResult:
        async with connect("stdio", "legacy", seen, tmp_path / "state", None,
                           answer={"confirm": answer}) as client:
            return await client.call_tool("destroy", {"working_directory": str(app)})

    result = anyio.run(scenario)
    assert seen.elicitations, "the form was not shown"
    assert result.is_error, _text(result)
    assert "does not match the requested schema" in _text(result)
    assert "removed" not in (result.structured_content or {})
