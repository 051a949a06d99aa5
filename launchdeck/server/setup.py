"""Adding launchdeck to an MCP client's configuration file, or printing the snippet.

Writing is idempotent: other servers are kept, the file is backed up before it changes,
and a file that is not valid JSON is left alone with an error that says so.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from launchdeck.errors import UsageError
from launchdeck.paths import write_atomic

CLIENTS = ("claude-desktop", "claude-code", "cursor", "vscode", "windsurf")


@dataclass(frozen=True)
class SetupResult:
    path: Path
    changed: bool
    backup: Path | None
    snippet: str


def command() -> list[str]:
    """How a client starts the server: this launchdeck, by absolute path when we can tell."""
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script and script.name == "launchdeck" and script.exists():
        return [str(script.absolute()), "mcp", "serve"]
    found = shutil.which("launchdeck")
    if found:
        return [found, "mcp", "serve"]
    return [sys.executable, "-m", "launchdeck", "mcp", "serve"]


def config_path(client: str, *, home: Path | None = None, cwd: Path | None = None) -> Path:
    """Where ``client`` keeps its MCP servers (user-wide, or per project for Claude Code and
    VS Code, which read them from the project)."""
    home = home or Path.home()
    cwd = cwd or Path.cwd()
    if client == "claude-desktop":
        if sys.platform == "darwin":
            return home / "Library" / "Application Support" / "Claude" / "claude_desktop_config.json"
        if sys.platform == "win32":
            return Path(os.environ.get("APPDATA", home)) / "Claude" / "claude_desktop_config.json"
        return home / ".config" / "Claude" / "claude_desktop_config.json"
    if client == "claude-code":
        return cwd / ".mcp.json"
    if client == "cursor":
        return home / ".cursor" / "mcp.json"
    if client == "vscode":
        return cwd / ".vscode" / "mcp.json"
    if client == "windsurf":
        return home / ".codeium" / "windsurf" / "mcp_config.json"
    raise UsageError(f"unknown client {client!r}", hint=f"Use one of: {', '.join(CLIENTS)}.")


def entry(client: str, argv: list[str]) -> tuple[str, dict[str, Any]]:
    """The key that holds servers in this client's file, and launchdeck's entry."""
    server = {"command": argv[0], "args": argv[1:]}
    if client == "vscode":
        return "servers", {"type": "stdio", **server}
    return "mcpServers", server


def setup(client: str, *, write: bool = True, home: Path | None = None,
          cwd: Path | None = None, argv: list[str] | None = None,
          read_only: bool = False) -> SetupResult:
    path = config_path(client, home=home, cwd=cwd)
    key, server = entry(client, [*(argv or command()), *(["--read-only"] if read_only else [])])
    snippet = json.dumps({key: {"launchdeck": server}}, indent=2)
    if not write:
        return SetupResult(path, False, None, snippet)
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8") or "{}")
        except (ValueError, OSError) as exc:
            raise UsageError(f"{path} is not valid JSON ({exc}); it was left unchanged",
                             hint="Fix the file, or add this snippet by hand:\n" + snippet) from exc
        if not isinstance(data, dict):
            raise UsageError(f"{path} does not hold a JSON object; it was left unchanged",
                             hint="Add this snippet by hand:\n" + snippet)
    servers = data.get(key)
    if servers is not None and not isinstance(servers, dict):
        raise UsageError(f"{key} in {path} is not an object; the file was left unchanged")
    if (servers or {}).get("launchdeck") == server:
        return SetupResult(path, False, None, snippet)
    backup = None
    if path.exists():
        backup = path.with_name(f"{path.name}.{time.strftime('%Y%m%d-%H%M%S')}.bak")
        shutil.copy2(path, backup)
    data[key] = {**(servers or {}), "launchdeck": server}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(data, indent=2) + "\n", 0o600)
    return SetupResult(path, True, backup, snippet)
