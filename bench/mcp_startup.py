"""MCP server cold start and tools/list, next to a bare MCPServer on the same SDK.

Spawns `launchdeck mcp serve` (stdio, as clients start it) and a bare `MCPServer` with one
tool, and measures, as a client sees it: spawn → initialize response, and the tools/list
round trip. Prints medians of several runs and their ratio (goal: cold start at most 1.15x),
and what tools/list costs a model's context: name + description + inputSchema per tool
(goal: at most 700 bytes on average) and the whole response per tool (goal: 1,500).
Run: .venv/bin/python bench/mcp_startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                         "clientInfo": {"name": "bench", "version": "0"}}}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}

BARE = "\n".join([
    "from mcp.server import MCPServer",
    "server = MCPServer('bare')",
    "@server.tool()",
    "def echo(text: str) -> str:",
    "    '''Say it back.'''",
    "    return text",
    "server.run()",
])
SERVERS = {
    "launchdeck": [sys.executable, "-m", "launchdeck", "mcp", "serve"],
    "bare MCPServer": [sys.executable, "-c", BARE],
}


def _send(process: subprocess.Popen[bytes], message: dict[str, object]) -> None:
    assert process.stdin
    process.stdin.write(json.dumps(message).encode() + b"\n")
    process.stdin.flush()


def _reply(process: subprocess.Popen[bytes], wanted: int) -> bytes:
    assert process.stdout
    while True:
        line = process.stdout.readline()
        if not line:
            raise SystemExit("the server exited early")
        if json.loads(line).get("id") == wanted:
            return line


def once(argv: list[str], env: dict[str, str]) -> tuple[float, float, bytes]:
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, env=env)
    try:
        _send(process, INITIALIZE)
        _reply(process, 1)
        started = time.perf_counter() - start
        _send(process, INITIALIZED)
        t = time.perf_counter()
        _send(process, LIST)
        listing = _reply(process, 2)
        return started, time.perf_counter() - t, listing
    finally:
        process.kill()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as state:
        env = {**os.environ, "LAUNCHDECK_STATE_DIR": state}
        runs: dict[str, list[tuple[float, float, bytes]]] = {name: [] for name in SERVERS}
        for argv in SERVERS.values():
            once(argv, env)  # warm the file cache
        for _ in range(options.runs):  # alternate, so load from elsewhere hits both alike
            for name, argv in SERVERS.items():
                runs[name].append(once(argv, env))
        figures = {name: (statistics.median(r[0] for r in found),
                          statistics.median(r[1] for r in found), found[0][2])
                   for name, found in runs.items()}
    ours, bare = figures["launchdeck"], figures["bare MCPServer"]
    for name, (start, listing, raw) in figures.items():
        print(f"{name:>15}: cold start {start * 1000:6.0f} ms, tools/list {listing * 1000:5.1f} ms, "
              f"tools/list response {len(raw)} bytes")
    print(f"{'ratio':>15}: cold start {ours[0] / bare[0]:.2f}x (goal <= 1.15x), tools/list "
          f"{ours[1] / bare[1]:.2f}x (median of {options.runs} runs)")
    tools = json.loads(ours[2])["result"]["tools"]
    seen = [len(json.dumps({k: t[k] for k in ("name", "description", "inputSchema")},
                           separators=(",", ":"))) for t in tools]
    print(f"{'context':>15}: {len(tools)} tools; name + description + inputSchema "
          f"{sum(seen) / len(tools):.0f} bytes per tool on average (goal <= 700), largest "
          f"{max(seen)}; whole tools/list {len(ours[2]) / len(tools):.0f} bytes per tool "
          "(goal <= 1,500)")


if __name__ == "__main__":
    main()
