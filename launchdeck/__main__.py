"""``launchdeck`` and ``python -m launchdeck``: the CLI, or straight to the MCP server.

MCP clients start ``launchdeck mcp serve`` and wait for it, so that command goes to the
server without loading the command-line framework.
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:3] != ["mcp", "serve"]:
        from launchdeck.cli import main as cli

        cli()
        return
    from launchdeck.errors import LaunchdeckError
    from launchdeck.server.serve import main as serve

    try:
        serve(sys.argv[3:])
    except LaunchdeckError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
