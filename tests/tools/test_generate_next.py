"""What generate_project says to do next: deploy, and which config values that will ask for."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from launchdeck.tools.generate import generate
from tests.server.test_mcp import Seen, _data, connect


@pytest.mark.parametrize(("template", "names"), [("postgres", "POSTGRES_PASSWORD"),
                                                 ("rest-api", None)])
def test_next_step_names_the_config_deploy_asks_for(tmp_path: Path, template: str,
                                                    names: str | None) -> None:
    """The next step is a deploy of the folder, naming the config it reads (or none)."""
    folder = tmp_path / "app"
    result = anyio.run(lambda: generate("an app", str(folder), template=template))
    assert result.next_step.startswith(f"Deploy it: call deploy with working_directory {folder}.")
    if names:
        assert f"It reads config {names}: deploy asks the user" in result.next_step
    else:
        assert "It reads no config values." in result.next_step
    assert result.config == ([names] if names else [])
    assert "launchdeck " not in result.next_step  # words for an agent, not a command line


def test_generate_project_over_mcp_returns_the_next_step(tmp_path: Path) -> None:
    """Over MCP the result and its text carry the same next step."""
    async def scenario() -> None:
        async with connect("stdio", "legacy", Seen(), tmp_path / "state", None) as client:
            done = await client.call_tool("generate_project", {
                "description": "a todo API", "folder": str(tmp_path / "todo"), "template": "postgres"})
            assert "It reads config POSTGRES_PASSWORD" in _data(done)["next_step"]

    anyio.run(scenario)
