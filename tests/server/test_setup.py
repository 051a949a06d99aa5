"""`launchdeck mcp setup`: client config files written, merged and backed up safely."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from launchdeck.errors import UsageError
from launchdeck.server.setup import CLIENTS, config_path, setup

ARGV = ["/opt/bin/launchdeck", "mcp", "serve"]


@pytest.mark.parametrize("client", CLIENTS)
def test_writes_a_new_config(client: str, tmp_path: Path) -> None:
    """Each client gets its file with launchdeck as a stdio server."""
    result = setup(client, home=tmp_path / "home", cwd=tmp_path / "project", argv=ARGV)
    data = json.loads(result.path.read_text())
    key = "servers" if client == "vscode" else "mcpServers"
    assert data[key]["launchdeck"]["command"] == "/opt/bin/launchdeck"
    assert data[key]["launchdeck"]["args"] == ["mcp", "serve"]
    assert result.changed and result.backup is None


def test_merge_keeps_other_servers_and_backs_up(tmp_path: Path) -> None:
    """An existing file keeps its other servers and settings; the old file is saved first."""
    path = config_path("cursor", home=tmp_path)
    path.parent.mkdir(parents=True)
    original = {"mcpServers": {"other": {"command": "other"}}, "theme": "dark"}
    path.write_text(json.dumps(original))
    result = setup("cursor", home=tmp_path, argv=ARGV)
    data = json.loads(path.read_text())
    assert data["mcpServers"]["other"] == {"command": "other"} and data["theme"] == "dark"
    assert "launchdeck" in data["mcpServers"]
    assert result.backup and json.loads(result.backup.read_text()) == original


def test_second_setup_changes_nothing(tmp_path: Path) -> None:
    """Running setup again leaves the file and makes no backup."""
    setup("windsurf", home=tmp_path, argv=ARGV)
    path = config_path("windsurf", home=tmp_path)
    before = path.read_text()
    again = setup("windsurf", home=tmp_path, argv=ARGV)
    assert not again.changed and again.backup is None
    assert path.read_text() == before
    assert len(list(path.parent.iterdir())) == 1


def test_invalid_json_is_left_alone(tmp_path: Path) -> None:
    """A broken config file is not overwritten; the error shows the snippet to add."""
    path = config_path("claude-desktop", home=tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text("{ not json")
    with pytest.raises(UsageError) as caught:
        setup("claude-desktop", home=tmp_path, argv=ARGV)
    assert path.read_text() == "{ not json"
    assert "left unchanged" in str(caught.value) and '"launchdeck"' in caught.value.hint


def test_print_only_writes_nothing(tmp_path: Path) -> None:
    """--print returns the snippet and touches no file."""
    result = setup("claude-code", write=False, cwd=tmp_path, argv=ARGV)
    assert json.loads(result.snippet)["mcpServers"]["launchdeck"]["command"] == ARGV[0]
    assert not result.path.exists()
