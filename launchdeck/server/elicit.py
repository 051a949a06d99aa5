"""What the server asks the user directly (MCP elicitation), before a tool body runs.

Secret values reach the config store straight from the user's form and never pass through
the model; a destroy waits for the user's own yes.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import AcceptedElicitation, Context, Elicit
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, ConfigDict, Field, StrictBool, create_model

from launchdeck.errors import LaunchdeckError
from launchdeck.server.args import ref


class Confirm(BaseModel):
    confirm: StrictBool = Field(description="Yes, destroy it.")  # "yes" or 1 is no answer


class Secret(BaseModel):
    value: str = Field(description="The value (stored in the secret config store; the assistant "
                                   "does not see it).")


def can_elicit(ctx: Context) -> bool:
    capabilities = ctx.client_capabilities
    elicitation = capabilities.elicitation if capabilities else None
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


def answer(outcome: Any) -> tuple[bool, Any]:
    """(asked, data) from a resolver's outcome; data is None unless the user accepted."""
    if isinstance(outcome, AcceptedElicitation):
        return outcome.data is not None, outcome.data
    return True, None  # declined or cancelled


async def missing_config(ctx: Context, working_directory: str, compose_files: list[str] | None,
                         project_name: str | None, provider: str | None, stack: str | None,
                         dry_run: bool = False) -> Any:
    """Every unset config value in one form, when the client can show forms."""
    from launchdeck.tools.deploy import missing_config as missing

    if dry_run or not can_elicit(ctx):
        return None
    try:
        names = await missing(ref(working_directory, compose_files, project_name, provider, stack))
    except (LaunchdeckError, ToolError):
        return None  # the tool body reports it properly
    if not names:
        return None
    form = create_model(
        "ConfigValues", __config__=ConfigDict(title="Config values"),
        **{name: (str, Field(description=f"Value of {name}")) for name in names},
    )
    return Elicit(f"The project needs {len(names)} secret config value(s): {', '.join(names)}. "
                  "They go straight to the config store; the assistant never sees them.", form)


async def secret(ctx: Context, name: str, value: str | None, random: bool) -> Any:
    if value is not None or random or not can_elicit(ctx):
        return None
    return Elicit(f"Value for config {name} (stored as a secret; the assistant does not see it)",
                  Secret)


async def destroy(ctx: Context, working_directory: str, compose_files: list[str] | None,
                  project_name: str | None, provider: str | None, stack: str | None) -> Any:
    """The user's own confirmation, naming the project as it resolves."""
    if not can_elicit(ctx):
        return None
    try:
        where = ref(working_directory, compose_files, project_name, provider, stack)
        name = where.load().project.name
    except LaunchdeckError:
        return None  # the tool body reports it properly
    return Elicit(f"Destroy {name} (stack {where.stack}) on {where.provider_name}? This removes every "
                  "container, service and network it owns.", Confirm)
