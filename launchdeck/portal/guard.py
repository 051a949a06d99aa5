"""The checks every request to the portal passes before anything answers it.

The portal listens on 127.0.0.1, where any local user and any page a browser opens can reach
it. So, as notebook servers do, it wants its session token on every request (in the query or
as a bearer token); a Host header other than the loopback name and port it serves is refused,
so a DNS-rebinding page (evil.example resolving to 127.0.0.1) gets nothing even if it guessed
the token; and a request a browser marks with a foreign Origin is refused, so no other site
can act through a logged-in tab.
"""

from __future__ import annotations

import hmac
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    # the token is in the page's address: never send it on to an endpoint the page links to
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def loopback(port: int) -> frozenset[str]:
    """The Host values a request to the portal on ``port`` may carry."""
    return frozenset({f"127.0.0.1:{port}", f"localhost:{port}"})


def refusal(*, host: str | None, origin: str | None, token: str | None, expected: str,
            port: int) -> str | None:
    """Why a request is refused, or None when it passes every check."""
    hosts = loopback(port)
    if host is None or host.lower() not in hosts:
        return "refused: this portal answers only at 127.0.0.1 or localhost on its own port"
    if origin is not None and origin.lower() not in {f"http://{h}" for h in hosts}:
        return "refused: requests from other sites are not accepted"
    if not token or not hmac.compare_digest(token.encode(), expected.encode()):
        return ("refused: this portal needs its token; open the address `launchdeck portal` "
                "printed")
    return None


def _token(scope: Scope, headers: Headers) -> str | None:
    authorization = headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
    return values[0] if values else None


class Guard:
    """ASGI middleware: refuse (403) any request that fails a check; add security headers."""

    def __init__(self, app: ASGIApp, *, token: str, port: int) -> None:
        self.app = app
        self.token = token
        self.port = port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":  # no websockets here
            await send({"type": "websocket.close", "code": 1008})
            return
        headers = Headers(scope=scope)
        problem = refusal(host=headers.get("host"), origin=headers.get("origin"),
                          token=_token(scope, headers), expected=self.token, port=self.port)
        if problem is not None:
            await PlainTextResponse(problem, status_code=403, headers=SECURITY_HEADERS)(
                scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", []))
                present = {name.lower() for name, _ in raw}
                raw += [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()
                        if k.lower().encode() not in present]
                message = {**message, "headers": raw}
            await send(message)

        await self.app(scope, receive, send_with_headers)
