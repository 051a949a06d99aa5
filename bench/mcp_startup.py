"""MCP server cold start and tools/list, next to a bare MCPServer on the same SDK.

Spawns `launchdeck mcp serve` (stdio) and a bare `MCPServer` with no tools, and measures, as a
client sees it: spawn → initialize response, and the tools/list round trip. Prints medians
of several runs, the ratio, and the size of the tools/list response in bytes.
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

SERVERS = {
    "launchdeck": [sys.executable, "-m", "launchdeck", "mcp", "serve"],
    "bare MCPServer": [sys.executable, "-c",
                       "from mcp.server import MCPServer; MCPServer('bare').run()"],
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


def once(argv: list[str], env: dict[str, str]) -> tuple[float, float, int]:
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
        return started, time.perf_counter() - t, len(listing)
    finally:
        process.kill()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as state:
        env = {**os.environ, "LAUNCHDECK_STATE_DIR": state}
        figures = {}
        for name, argv in SERVERS.items():
            once(argv, env)  # warm the file cache
            runs = [once(argv, env) for _ in range(options.runs)]
            figures[name] = (statistics.median(r[0] for r in runs),
                             statistics.median(r[1] for r in runs), runs[0][2])
    ours, bare = figures["launchdeck"], figures["bare MCPServer"]
    for name, (start, listing, size) in figures.items():
        print(f"{name:>15}: cold start {start * 1000:6.0f} ms, tools/list {listing * 1000:5.1f} ms, "
              f"tools/list response {size} bytes")
    print(f"{'ratio':>15}: cold start {ours[0] / bare[0]:.2f}x, tools/list "
          f"{ours[1] / bare[1]:.2f}x (median of {options.runs} runs)")


if __name__ == "__main__":
    main()
