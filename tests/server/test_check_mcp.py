"""The check tool over MCP: the findings and the verdict, located, with fixes."""

from __future__ import annotations

from pathlib import Path

import anyio

from tests.server.test_mcp import Seen, _data, _text, connect

HOSTNAME = "services:\n  web:\n    image: nginx\n    hostname: web.internal\n"


def test_check_finds_what_a_target_refuses_located_with_the_fix(tmp_path: Path) -> None:
    """check names the line a cloud refuses and says it cannot deploy; locally it can."""
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "compose.yaml").write_text(HOSTNAME)
    where = {"working_directory": str(folder)}

    async def scenario() -> tuple[dict, str, dict]:
        async with connect("stdio", "legacy", Seen(), tmp_path / "state", None) as client:
            cloud = await client.call_tool("check", {**where, "provider": "aws"})
            local = await client.call_tool("check", {**where, "provider": "local"})
            return _data(cloud), _text(cloud), _data(local)

    cloud, text, local = anyio.run(scenario)
    assert cloud["ok"] is False and cloud["errors"] >= 1 and cloud["provider"] == "aws"
    (hostname,) = [f for f in cloud["findings"] if f["field"] == "services.web.hostname"]
    assert hostname["severity"] == "error" and hostname["line"] == 4 and hostname["fix"]
    assert "compose.yaml:4 services.web.hostname" in text and "error(s) stop" in text
    assert local["ok"] is True and local["errors"] == 0
