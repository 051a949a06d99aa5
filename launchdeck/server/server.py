"""The MCP server: the deploy loop as tools an agent can call.

Each tool adapts one function of launchdeck/tools/ and adds only the MCP parts: asking the
user (elicit.py), the client's model (sample.py), progress notifications, and a short text
(texts.py). The tools live in groups (tools_deploy.py: deploy, plan, destroy, check;
tools_status.py: ps, logs, debug_failure; tools_config.py; tools_project.py: generate and
estimate), the resources and prompts in resources.py, the MCP Apps view in ui.py. Arguments
are checked in our words before a tool runs (args.py); errors a user can fix come back as tool
errors that name the next call. Secret values reach the config store straight from the user
and are never part of a result.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations

from launchdeck import __version__
from launchdeck.compose.source import shorten
from launchdeck.engine.results import ServiceStatus
from launchdeck.prompts import text
from launchdeck.server import resources, tools_config, tools_deploy, tools_project, tools_status, ui
from launchdeck.server.args import lean, problems
from launchdeck.server.calls import AppState, lifespan
from launchdeck.tools.config import MAX_VALUE

log = logging.getLogger("launchdeck.mcp")


class LaunchdeckServer(MCPServer[AppState]):
    """An MCPServer that publishes lean schemas and checks arguments strictly, in our words."""

    async def list_tools(self) -> list[Any]:
        tools = await super().list_tools()
        for tool in tools:
            tool.input_schema = {**lean(tool.input_schema), "additionalProperties": False}
            if tool.output_schema:  # MCP asks the root to say it is an object
                tool.output_schema = {"type": "object", **lean(tool.output_schema, output=True)}
        return tools

    async def call_tool(self, name: str, arguments: dict[str, Any],
                        context: Context[AppState, Any] | None = None) -> Any:
        schemas = {t.name: t.input_schema for t in await self.list_tools()}
        if name in schemas:
            _check(name, schemas[name], arguments)
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:  # a last bound: no error carries an argument back whole
            if len(str(exc)) <= MAX_ERROR_CHARS:
                raise
            raise ToolError(shorten(str(exc), MAX_ERROR_CHARS, middle=True)) from exc


MAX_ERROR_CHARS = 2_000
"""The longest error text a tool returns (a 10 MiB argument quoted whole makes clients drop
the session)."""
MAX_STRING_CHARS = 4_096
"""The longest string argument (PATH_MAX); a config value may be as long as a value can."""


def _check(tool: str, schema: dict[str, Any], arguments: dict[str, Any]) -> None:
    """Refuse unknown arguments and values of the wrong type before the tool runs."""
    from pydantic import ValidationError, create_model

    allowed = list(schema.get("properties", {}))
    unknown = sorted(set(arguments) - set(allowed))
    if unknown:
        raise ToolError(f"invalid arguments for {tool}: {', '.join(unknown)}: no such argument "
                        f"(it takes: {', '.join(allowed)})")
    required = set(schema.get("required", []))
    for key, value in arguments.items():  # what the types below would let through
        if value is None:
            raise ToolError(f"invalid arguments for {tool}: {key}: "
                            + ("required, and null is not a value" if key in required
                               else "null is not a value; leave it out for the default"))
        if isinstance(value, float) and not math.isfinite(value):
            raise ToolError(f"invalid arguments for {tool}: {key}: must be a finite number")
        limit = MAX_VALUE if key == "value" else MAX_STRING_CHARS
        if isinstance(value, str) and len(value) > limit:
            raise ToolError(f"invalid arguments for {tool}: {key}: at most {limit} characters "
                            f"(this one has {len(value)})")
        if isinstance(value, list) and any(isinstance(v, str) and len(v) > MAX_STRING_CHARS
                                           for v in value):
            raise ToolError(f"invalid arguments for {tool}: {key}: each at most "
                            f"{MAX_STRING_CHARS} characters")
    fields: dict[str, Any] = {}
    for key, prop in schema.get("properties", {}).items():
        fields[key] = (_python_type(prop), ... if key in required else None)
    model = create_model(f"{tool}_arguments", **fields)
    try:
        model.model_validate({k: _unquote(v, schema["properties"][k]) for k, v in arguments.items()},
                             strict=True)
    except ValidationError as exc:
        raise ToolError(problems(exc, tool)) from exc
    for key, value in arguments.items():  # ranges the schema states
        prop = schema["properties"][key]
        if isinstance(value, int | float) and not isinstance(value, bool):
            if "minimum" in prop and value < prop["minimum"]:
                raise ToolError(f"invalid arguments for {tool}: {key}: must be at least "
                                f"{prop['minimum']}")
            if "maximum" in prop and value > prop["maximum"]:
                raise ToolError(f"invalid arguments for {tool}: {key}: must be at most "
                                f"{prop['maximum']}")


def _python_type(prop: dict[str, Any]) -> Any:
    if "enum" in prop:
        return Literal[tuple(prop["enum"])] | None  # type: ignore[misc]
    return {"string": str | None, "boolean": bool | None, "integer": int | None,
            "number": float | None, "array": list[str] | None}.get(prop.get("type", ""), Any)


def _unquote(value: Any, prop: dict[str, Any]) -> Any:
    """A list some clients send as a JSON string (the SDK accepts that too)."""
    if prop.get("type") == "array" and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def create_server(*, read_only: bool = False) -> MCPServer[AppState]:
    """The launchdeck MCP server with its tools, prompts and resources. ``read_only``: only
    the tools that change nothing are offered (the others do not exist for the client)."""
    server = LaunchdeckServer("launchdeck", version=__version__, instructions=text("instructions"),
                              lifespan=lifespan, extensions=[ui.extension()])

    def tool(title: str, *, writes: bool, meta: dict[str, Any] | None = None, **hints: bool) -> Any:
        if writes and read_only:
            return lambda fn: fn
        return server.tool(annotations=ToolAnnotations(title=title, read_only_hint=not writes,
                                                       **hints), meta=meta)

    tools_deploy.register(tool, read_only=read_only)
    tools_status.register(tool)
    tools_config.register(tool)
    tools_project.register(tool)
    from launchdeck.server import tools_history  # deployments, rollback

    tools_history.register(tool, server)
    resources.register(server)
    return server


__all__ = ["AppState", "ServiceStatus", "create_server"]
