"""The config tools: set (the value from the user's own form when it can be), list, delete."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import ElicitationResult, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult
from pydantic import Field

from launchdeck.server import calls, elicit
from launchdeck.server.args import (
    ComposeFiles,
    ProjectName,
    ProviderName,
    StackName,
    WorkingDirectory,
)
from launchdeck.server.calls import Tool
from launchdeck.server.texts import user_errors
from launchdeck.tools.config import ConfigResult


class ConfigOutput(ConfigResult):
    passed_through_conversation: bool = Field(
        False, description="The value was given as an argument, so the model saw it.")


def register(tool: Tool) -> None:
    @tool("Set a config value", writes=True, idempotent_hint=True, destructive_hint=False)
    async def config_set(
        working_directory: WorkingDirectory,
        name: Annotated[str, Field(description="Config name, e.g. DATABASE_PASSWORD.")],
        asked: Annotated[ElicitationResult[elicit.Secret], Resolve(elicit.secret)],
        value: Annotated[str | None, Field(description="Leave out: the user is asked directly.")]
        = None,
        random: Annotated[bool, Field(description="Generate a strong random value.")] = False,
        compose_files: ComposeFiles = None,
        project_name: ProjectName = None,
        provider: ProviderName = None,
        stack: StackName = None,
    ) -> Annotated[CallToolResult, ConfigOutput]:
        """Store a secret config value the project reads; it is never shown."""
        from launchdeck.tools.config import config_set as run_set
        from launchdeck.tools.config import random_value

        where = calls.project(working_directory, compose_files, project_name, provider, stack)
        through_conversation = value is not None
        if random:
            value = random_value()
        elif value is None:
            was_asked, answer = elicit.answer(asked)
            if answer is not None:
                value = answer.value
            elif was_asked:
                raise ToolError(f"The user declined to give a value for {name}.")
            else:
                raise ToolError("This client cannot ask the user for the value: pass random=true "
                                "to generate one, or ask the user to set it in a terminal.")
        with user_errors():
            result = await run_set(where, name, value or "")
        output = ConfigOutput(**dict(result), passed_through_conversation=through_conversation)
        summary = f"set {name} for {output.project} ({output.stack}, {output.provider})"
        if through_conversation:
            summary += ("; note: the value passed through the conversation. Next time leave "
                        "value out so the user is asked directly.")
        if output.missing:
            summary += f"\nstill missing: {', '.join(output.missing)}"
        return calls.result(output, summary)

    @tool("List config names", writes=False)
    async def config_list(
        working_directory: WorkingDirectory,
        compose_files: ComposeFiles = None,
        project_name: ProjectName = None,
        provider: ProviderName = None,
        stack: StackName = None,
    ) -> Annotated[CallToolResult, ConfigResult]:
        """Names of the config values set, and of those still missing."""
        from launchdeck.tools.config import config_list as run_list

        where = calls.project(working_directory, compose_files, project_name, provider, stack)
        with user_errors():
            result = await run_list(where)
        summary = f"set: {', '.join(result.names) or '(none)'}"
        if result.missing:
            summary += f"\nmissing: {', '.join(result.missing)}"
        return calls.result(result, summary)

    @tool("Delete a config value", writes=True, destructive_hint=True)
    async def config_delete(
        working_directory: WorkingDirectory,
        name: Annotated[str, Field(description="Config name.")],
        compose_files: ComposeFiles = None,
        project_name: ProjectName = None,
        provider: ProviderName = None,
        stack: StackName = None,
    ) -> Annotated[CallToolResult, ConfigResult]:
        """Delete a config value from the project's store."""
        from launchdeck.tools.config import config_delete as run_delete

        where = calls.project(working_directory, compose_files, project_name, provider, stack)
        with user_errors():
            result = await run_delete(where, name)
        return calls.result(result, f"deleted {name} from {result.project} ({result.stack})")
