"""Serving the MCP server: stdio (the default) or streamable HTTP behind a bearer token.

On stdio, stdout belongs to the protocol, so logs go to stderr and to a rotating file in
the state directory. Over HTTP, binding anything but loopback requires a token, and every
request without it is answered 401.
"""

from __future__ import annotations

import argparse
import hmac
import ipaddress
import logging
import logging.handlers
import os
from typing import Any

from launchdeck.errors import UsageError
from launchdeck.paths import state_dir

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


def setup_logging(level: str = "INFO") -> None:
    """Log to stderr and to <state dir>/logs/mcp.log (rotated at 5 MB)."""
    directory = state_dir() / "logs"
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: list[logging.Handler] = [
        logging.StreamHandler(),  # stderr
        logging.handlers.RotatingFileHandler(directory / "mcp.log", maxBytes=5_000_000,
                                             backupCount=3, encoding="utf-8"),
    ]
    root = logging.getLogger()
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(level)


_TOKENLESS = {"127.0.0.1", "localhost"}
"""The only binds served without a token: any other address (even 127.0.0.2) needs one."""


def local_security(host: str) -> Any:
    """Host and Origin checks for a server bound to loopback ``host``: only the names that
    reach it from this machine, on any port."""
    from mcp.server.transport_security import TransportSecuritySettings

    bound = f"[{host.strip('[]')}]" if ":" in host.strip("[]") else host
    names = sorted({bound, "127.0.0.1", "localhost", "[::1]"})
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[f"{n}:*" for n in names] + names,
        allowed_origins=[f"{scheme}://{n}:*" for n in names for scheme in ("http", "https")]
        + [f"{scheme}://{n}" for n in names for scheme in ("http", "https")])


def is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class BearerToken:
    """ASGI middleware: every HTTP request must carry ``Authorization: Bearer <token>``."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"www-authenticate", b"Bearer")]})
                await send({"type": "http.response.body",
                            "body": b'{"error": "missing or wrong bearer token"}'})
                return
        await self.app(scope, receive, send)


MIN_TOKEN = 16
"""Characters a bearer token needs at least: shorter ones can be guessed."""


def parser() -> argparse.ArgumentParser:
    """`launchdeck mcp serve`'s options (parsed here, so that starting the server loads no
    command-line framework: MCP clients start it often and wait for it)."""
    parser = argparse.ArgumentParser(prog="launchdeck mcp serve",
                                     description="Serve launchdeck's tools over MCP.")
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio",
                        help="stdio for a local client (default); http for streamable HTTP")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (http)")
    parser.add_argument("--port", type=int, default=8765, help="port (http)")
    parser.add_argument("--token", default=os.environ.get("LAUNCHDECK_MCP_TOKEN") or None,
                        help="bearer token every HTTP request must carry (required off "
                             "loopback; default: LAUNCHDECK_MCP_TOKEN)")
    parser.add_argument("--read-only", action="store_true",
                        default=os.environ.get("LAUNCHDECK_MCP_READ_ONLY", "") not in ("", "0"),
                        help="offer only the tools that change nothing (ps, logs, config_list, "
                             "debug_failure, plan; default: LAUNCHDECK_MCP_READ_ONLY=1)")
    return parser


def main(argv: list[str]) -> None:
    """Parse `mcp serve`'s options and serve."""
    options = parser().parse_args(argv)
    serve(options.transport, host=options.host, port=options.port, token=options.token,
          read_only=options.read_only)


def serve(transport: str = "stdio", *, host: str = "127.0.0.1", port: int = 8765,
          token: str | None = None, read_only: bool = False) -> None:
    """Run the server until the client disconnects (stdio) or the process is stopped (http)."""
    from launchdeck.server.server import create_server

    if transport not in ("stdio", "http"):
        raise UsageError(f"unknown transport {transport!r}", hint="Use stdio or http.")
    if token is not None and len(token.strip()) < MIN_TOKEN:
        raise UsageError(f"the bearer token is too short ({len(token.strip())} characters)",
                         hint=f"Use at least {MIN_TOKEN} random characters, e.g. "
                              "`openssl rand -hex 24`.")
    if transport == "http" and not token and host not in _TOKENLESS:
        raise UsageError(f"serving on {host} needs a bearer token",
                         hint="Pass --token (or set LAUNCHDECK_MCP_TOKEN), or bind 127.0.0.1.")
    setup_logging()
    server = create_server(read_only=read_only)
    if transport == "stdio":
        server.run("stdio")
        return

    import anyio
    import uvicorn
    from mcp.server.transport_security import TransportSecuritySettings

    # the SDK turns DNS-rebinding checks on only for the literal 127.0.0.1/localhost/::1: every
    # loopback address gets them here, stated explicitly (off loopback the token guards)
    security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    if is_loopback(host):
        security = local_security(host)
    app: Any = server.streamable_http_app(host=host, transport_security=security)
    if token:
        app = BearerToken(app, token)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    logging.getLogger("launchdeck.mcp").info("serving MCP on http://%s:%d/mcp", host, port)
    anyio.run(uvicorn.Server(config).serve)
