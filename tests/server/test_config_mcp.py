"""Config values from the user's forms (MCP elicitation) are held to the config tool's rules."""

from __future__ import annotations

from pathlib import Path

import anyio

from tests.server.test_mcp import Seen, _data, _text, _write_project, connect


def test_a_blank_value_from_the_config_form_is_refused(tmp_path: Path) -> None:
    """deploy's config form goes through config_set's checks: a blank value is refused, none
    is stored, and nothing deploys."""
    (tmp_path / "app").mkdir()
    project = _write_project(tmp_path / "app")
    where = {"working_directory": str(project)}
    seen = Seen()

    async def scenario() -> tuple[str, list[str]]:
        async with connect("stdio", "legacy", seen, tmp_path / "state", None,
                           answer={"DB_PASSWORD": ""}) as client:
            refused = await client.call_tool("deploy", where)
            assert refused.is_error
            listed = _data(await client.call_tool("config_list", where))
            return _text(refused), listed["names"]

    text, names = anyio.run(scenario)
    assert any("DB_PASSWORD" in m for m in seen.elicitations)
    assert "no value given for DB_PASSWORD" in text
    assert names == []


def test_a_blank_value_asked_by_config_set_is_refused(tmp_path: Path) -> None:
    """config_set with the value asked in a form refuses a blank answer and stores nothing."""
    (tmp_path / "app").mkdir()
    project = _write_project(tmp_path / "app")
    where = {"working_directory": str(project)}

    async def scenario() -> tuple[str, list[str]]:
        async with connect("stdio", "legacy", Seen(), tmp_path / "state", None,
                           answer={"value": ""}) as client:
            refused = await client.call_tool("config_set", {**where, "name": "DB_PASSWORD"})
            assert refused.is_error
            listed = _data(await client.call_tool("config_list", where))
            return _text(refused), listed["names"]

    text, names = anyio.run(scenario)
    assert "no value given for DB_PASSWORD" in text
    assert names == []
