"""Run the portal: bind 127.0.0.1, make the session token, serve with uvicorn until stopped."""

from __future__ import annotations

import errno
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass

from launchdeck.errors import UsageError
from launchdeck.portal.catalog import Catalog
from launchdeck.portal.web import Settings, create_app

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Bound:
    sock: socket.socket
    port: int
    token: str

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/?token={self.token}"


def bind(port: int = 0) -> Bound:
    """A listening socket on 127.0.0.1 (``port`` 0: a free one) and a fresh session token."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            raise UsageError(f"cannot listen on {HOST}:{port}: {exc.strerror}",
                             hint="Pick another port, or leave it out for a free one.") from exc
        raise
    sock.listen(128)
    sock.set_inheritable(True)
    return Bound(sock, sock.getsockname()[1], secrets.token_urlsafe(24))


def serve(catalog: Catalog, bound: Bound, *, settings: Settings | None = None,
          started: Callable[[], None] = lambda: None) -> None:
    """Serve the portal on ``bound`` until interrupted (Ctrl-C, SIGTERM); ``started`` runs once
    requests are answered."""
    import uvicorn

    app = create_app(catalog, token=bound.token, port=bound.port, settings=settings)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                            timeout_graceful_shutdown=2)

    class _Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                started()

    _Server(config).run(sockets=[bound.sock])
