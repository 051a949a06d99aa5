"""What the server offers besides tools: the project's stacks and the compose reference as
resources, and the prompts that start a deploy or a diagnosis."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.server.mcpserver.resources.templates import ResourceSecurity

from launchdeck.paths import project_dir
from launchdeck.prompts import text
from launchdeck.server.texts import user_errors

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer


def register(server: MCPServer) -> None:
    @server.resource("launchdeck://stacks{+working_directory}", name="stacks",
                     title="The project's stacks", mime_type="application/json",
                     security=ResourceSecurity(exempt_params={"working_directory"}))
    async def stacks(working_directory: str) -> str:
        """Each stack of the project: provider, region, account, last deployment and state."""
        from launchdeck.tools.stacks import overview

        try:
            with user_errors():
                where = project_dir(working_directory, absolute=True,
                                    argument="working_directory")
                return json.dumps([s.model_dump(mode="json") for s in await overview(str(where))])
        except ToolError as exc:  # the SDK passes on only a ResourceError's own words
            raise ResourceError(str(exc)) from exc

    @server.prompt(name="deploy_project", title="Deploy this project")
    def deploy_prompt(working_directory: str, provider: str = "") -> str:
        """Deploy the compose project in a directory and report where it runs."""
        hint = f" and provider `{provider}`" if provider else ""
        return text("deploy").format(working_directory=working_directory, provider_hint=hint)

    @server.prompt(name="debug_deploy", title="Why did my deploy fail?")
    def debug_prompt(working_directory: str) -> str:
        """Find out why a deploy failed or a service is unhealthy."""
        return text("debug").format(working_directory=working_directory)

    @server.resource("launchdeck://compose-reference", name="compose_reference",
                     title="Supported compose reference", mime_type="text/markdown")
    def compose_reference() -> str:
        """Which compose fields and extensions launchdeck supports, and where."""
        return text("compose_reference")
