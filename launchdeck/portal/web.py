"""The portal's web application: the page, a small JSON API, and server-sent event streams.

    GET  /                                        the page
    GET  /static/<file>                           its stylesheet and scripts
    GET  /api/targets                             the deployments the portal knows
    GET  /api/targets/<provider>/<project>/<stack>             one deployment's view
    GET  .../stream                               that view again each time it changes (SSE)
    GET  .../logs?service=&since=&contains=       what the services print, followed (SSE)
    GET  .../plan                                 what a redeploy would change
    GET  .../diagnosis?service=                   debug_failure's findings
    GET  .../rollback?to=<id>                     what rolling back to a deployment would change
    POST .../redeploy  {"confirm": <project>}     deploy the project on disk again
    POST .../rollback  {"confirm": <project>, "to": <id>}   roll back to that deployment's images
    POST .../destroy   {"confirm": <project>}     remove everything the deployment owns

Every request has passed guard.py first. Actions name the project they act on, typed by the
user, and act only on a deployment the portal listed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from launchdeck.errors import LaunchdeckError
from launchdeck.portal import assets, view
from launchdeck.portal.catalog import Catalog, Target, UnknownTarget
from launchdeck.portal.guard import Guard
from launchdeck.portal.watch import Watch

log = logging.getLogger("launchdeck.portal")

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
       "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
KEEPALIVE = 15.0
"""Seconds between comments on a quiet event stream, so a closed page is noticed."""


@dataclass
class Settings:
    interval: float = 1.0
    """Seconds between reads of a watched deployment's state (sooner when an event comes)."""
    log_interval: float | None = None
    """Seconds between log reads while following (None: the provider's own)."""


class Portal:
    """What the routes share: the catalog, the watch (made when the app starts) and secrets."""

    def __init__(self, catalog: Catalog, settings: Settings) -> None:
        self.catalog = catalog
        self.settings = settings
        self.secrets = view.Secrets(catalog)
        self.histories = view.Histories(catalog)
        self._watch: Watch | None = None

    @property
    def watch(self) -> Watch:
        assert self._watch is not None, "the portal's app has not started"
        return self._watch

    async def target(self, request: Request) -> Target:
        p = request.path_params
        return await self.catalog.find(p["provider"], p["project"], p["stack"])


def create_app(catalog: Catalog, *, token: str, port: int, settings: Settings | None = None) -> Any:
    """The portal as an ASGI application, behind its guard."""
    portal = Portal(catalog, settings or Settings())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tasks:
            portal._watch = Watch(tasks, catalog)
            yield
            tasks.cancel_scope.cancel()

    base = "/api/targets/{provider}/{project}/{stack}"
    routes = [
        Route("/", lambda request: _page(token)),
        Route("/static/{name}", _static),
        Route("/api/targets", _handler(portal, _targets)),
        Route(base, _handler(portal, _view)),
        Route(base + "/stream", _handler(portal, _stream)),
        Route(base + "/logs", _handler(portal, _logs)),
        Route(base + "/plan", _handler(portal, _plan)),
        Route(base + "/diagnosis", _handler(portal, _diagnosis)),
        Route(base + "/rollback", _handler(portal, _rollback_preview)),
        Route(base + "/rollback", _handler(portal, _rollback), methods=["POST"]),
        Route(base + "/redeploy", _handler(portal, _redeploy), methods=["POST"]),
        Route(base + "/destroy", _handler(portal, _destroy), methods=["POST"]),
    ]
    return Guard(Starlette(routes=routes, lifespan=lifespan), token=token, port=port)


def _page(token: str) -> Response:
    return HTMLResponse(assets.page(token), headers={"Content-Security-Policy": CSP})


async def _static(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in assets.FILES:
        return Response("not found", status_code=404)
    return Response(assets.read(name), media_type=assets.FILES[name])


def _json(model: BaseModel, status: int = 200) -> Response:
    return Response(model.model_dump_json(), status_code=status, media_type="application/json")


def _error(exc: LaunchdeckError, status: int) -> Response:
    return JSONResponse({"error": exc.message, "hint": exc.hint}, status_code=status)


def _handler(portal: Portal, fn: Any) -> Any:
    """A route that answers a LaunchdeckError with its message and hint, never a traceback."""
    async def handle(request: Request) -> Response:
        try:
            return await fn(portal, request)
        except UnknownTarget as exc:
            return _error(exc, 404)
        except LaunchdeckError as exc:
            return _error(exc, 409 if request.method == "POST" else 400)
    return handle


async def _targets(portal: Portal, request: Request) -> Response:
    return _json(await view.listing(portal.catalog))


async def _view(portal: Portal, request: Request) -> Response:
    return _json(await view.view(portal.catalog, portal.watch, portal.secrets,
                                 await portal.target(request), portal.histories))


async def _plan(portal: Portal, request: Request) -> Response:
    return _json(await view.plan(portal.catalog, portal.secrets, await portal.target(request)))


async def _diagnosis(portal: Portal, request: Request) -> Response:
    service = request.query_params.get("service") or None
    return _json(await view.diagnose(portal.catalog, portal.secrets,
                                     await portal.target(request), service))


def _event(name: str, data: str) -> bytes:
    return f"event: {name}\ndata: {data}\n\n".encode()


async def _stream(portal: Portal, request: Request) -> Response:
    """The view each time it differs from the last one sent: at once when the portal sees an
    event of a deploy it runs, else at the next read."""
    target = await portal.target(request)
    watch, interval = portal.watch, portal.settings.interval

    async def events() -> AsyncIterator[bytes]:
        last, sent = "", anyio.current_time()
        while True:
            signal = watch.signal(target.key)
            try:
                found = await portal.catalog.find(target.provider, target.project, target.stack)
                current = (await view.view(portal.catalog, watch, portal.secrets, found,
                                           portal.histories)).model_dump_json()
            except LaunchdeckError as exc:  # e.g. its record went with a destroy
                yield _event("problem", json.dumps({"error": exc.message, "hint": exc.hint}))
                return
            if current != last:
                last, sent = current, anyio.current_time()
                yield _event("view", current)
            elif anyio.current_time() - sent >= KEEPALIVE:
                sent = anyio.current_time()
                yield b": keepalive\n\n"
            with anyio.move_on_after(interval):
                await signal.wait()
            await anyio.sleep(0.1)  # a burst of events makes one read, not one each

    return _sse(events())


async def _logs(portal: Portal, request: Request) -> Response:
    target = await portal.target(request)
    q = request.query_params
    lines = view.logs(portal.catalog, portal.secrets, target,
                      services=[s for s in q.getlist("service") if s], since=q.get("since") or None,
                      contains=q.get("contains") or None, interval=portal.settings.log_interval)

    async def events() -> AsyncIterator[bytes]:
        try:
            async for line in lines:
                yield _event("line", line.model_dump_json())
        except LaunchdeckError as exc:
            yield _event("problem", json.dumps({"error": exc.message, "hint": exc.hint}))

    return _sse(events())


def _sse(body: AsyncIterator[bytes]) -> Response:
    return StreamingResponse(body, media_type="text/event-stream",
                             headers={"X-Accel-Buffering": "no"})


async def _confirmed(portal: Portal, request: Request) -> tuple[Target, dict[str, Any]]:
    """The target of an action, once the request names its project as the user typed it."""
    from launchdeck.errors import UsageError

    target = await portal.target(request)
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise UsageError("actions take a JSON body", hint="Send {\"confirm\": <project name>}.")
    try:
        body = json.loads(await request.body())
    except (ValueError, RecursionError):  # RecursionError: nested thousands deep
        body = None
    if not isinstance(body, dict) or body.get("confirm") != target.project:
        raise UsageError(f"not confirmed: type the project name {target.project!r} to go on",
                         hint="Nothing was changed.")
    return target, body


async def _redeploy(portal: Portal, request: Request) -> Response:
    target, _ = await _confirmed(portal, request)
    portal.secrets.forget(target)
    deployment = await portal.watch.redeploy(target)
    return JSONResponse({"deployment_id": deployment}, status_code=202)


async def _rollback_preview(portal: Portal, request: Request) -> Response:
    to = request.query_params.get("to") or ""
    return _json(await view.rollback_preview(portal.catalog, portal.secrets,
                                             await portal.target(request), to))


async def _rollback(portal: Portal, request: Request) -> Response:
    from launchdeck.errors import UsageError

    target, body = await _confirmed(portal, request)
    to = body.get("to")
    if not isinstance(to, str) or not to:
        raise UsageError("a rollback names the deployment to go back to",
                         hint="Send {\"confirm\": <project name>, \"to\": <deployment id>}.")
    portal.secrets.forget(target)
    deployment = await portal.watch.rollback(target, to)
    return JSONResponse({"deployment_id": deployment}, status_code=202)


async def _destroy(portal: Portal, request: Request) -> Response:
    target, body = await _confirmed(portal, request)
    result = await portal.watch.destroy(target, volumes=body.get("volumes") is True)
    return _json(result)
