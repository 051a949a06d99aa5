"""What every tool group of the server shares: the state the server keeps between calls, the
project a call's arguments name, and the result shape (structured content and a short text).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.mcpserver import Context
from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel

from launchdeck.server.args import ref
from launchdeck.server.texts import user_errors

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from launchdeck.tools.project import ProjectRef

Tool = Callable[..., Any]
"""``tool(title, *, writes, meta=None, **hints)``: the decorator that registers a tool (or, in a
read-only server, leaves out one that writes)."""


@dataclass
class AppState:
    deploys: Any
    """launchdeck.tools.deploy.Deploys: deploys that go on after a call stops waiting."""


@asynccontextmanager
async def lifespan(server: MCPServer[AppState]) -> AsyncIterator[AppState]:
    from launchdeck.tools.deploy import Deploys

    async with anyio.create_task_group() as tasks:
        yield AppState(Deploys(tasks))
        tasks.cancel_scope.cancel()


def state(ctx: Context) -> AppState:
    return ctx.request_context.lifespan_context


def project(working_directory: str, compose_files: list[str] | None, project_name: str | None,
            provider: str | None, stack: str | None) -> ProjectRef:
    """The project and target a call's common arguments name (a tool error when they cannot)."""
    with user_errors():
        return ref(working_directory, compose_files, project_name, provider, stack)


def result(model: BaseModel, summary: str) -> CallToolResult:
    """Structured content for programs, a short text for people."""
    return CallToolResult(content=[TextContent(type="text", text=summary)],
                          structured_content=model.model_dump(mode="json"))
