"""Asking the client's own model (MCP sampling) to write a project or read a failure.

Used when the client offers sampling and no Anthropic API key takes precedence. Each round
is a resolver, so the conversation happens before the tool body runs; the flows themselves
(prompts, checks, repairs) live in tools/ and are shared with the CLI.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from mcp.server.mcpserver import Context, Resolve, Sample
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import SamplingMessage, TextContent

from launchdeck.errors import LaunchdeckError
from launchdeck.server.args import ref


def can_sample(ctx: Context) -> bool:
    """The client's own model can be asked, and no Anthropic key takes precedence."""
    capabilities = ctx.client_capabilities
    return bool(capabilities and capabilities.sampling is not None) and \
        not os.environ.get("ANTHROPIC_API_KEY")


def sample(system: str, prompt: str, max_tokens: int) -> Sample:
    return Sample([SamplingMessage(role="user", content=TextContent(type="text", text=prompt))],
                  max_tokens=max_tokens, system_prompt=system)


def text_of(result: Any) -> str:
    content = getattr(result, "content", None)
    blocks = content if isinstance(content, list) else [content]
    return "".join(getattr(block, "text", "") or "" for block in blocks)


# -- debug_failure -------------------------------------------------------------------------


async def debug_draft(working_directory: str, compose_files: list[str] | None,
                      project_name: str | None, provider: str | None, stack: str | None,
                      deployment_id: str | None, service: str | None) -> Any:
    """Evidence and detector findings (None when they cannot be had: the body says why)."""
    from launchdeck.tools.debug import gather

    try:
        where = ref(working_directory, compose_files, project_name, provider, stack)
        return await gather(where, deployment=deployment_id, service=service)
    except (LaunchdeckError, ToolError):
        return None


async def debug_reading(ctx: Context, draft: Annotated[Any, Resolve(debug_draft)]) -> Any:
    """Ask the client's model to read the evidence, when it can and there is evidence."""
    from launchdeck.ai.debug import llm_prompt

    if draft is None or not draft.evidence or not can_sample(ctx):
        return None
    system, prompt = llm_prompt(draft.project, draft.stack, draft.provider, draft.evidence,
                                draft.findings)
    return sample(system, prompt, 2000)


# -- generate_project ----------------------------------------------------------------------


async def first_draft(ctx: Context, description: str, language: str | None, folder: str,
                      template: str | None, overwrite: bool) -> Any:
    """The client's model writes the project when it can (and no template was named), once
    the folder is known to be one it may write."""
    from launchdeck.tools.generate import check_folder, replay

    if template or not can_sample(ctx):
        return None
    try:
        attempt = replay(description, language,
                         check_folder(folder, overwrite=overwrite, absolute=True), [])
    except LaunchdeckError:
        return None
    return sample(attempt.system, attempt.prompt, 8000)


async def second_draft(ctx: Context, description: str, language: str | None, folder: str,
                       first: Annotated[Any, Resolve(first_draft)]) -> Any:
    return _repair(description, language, folder, [first])


async def third_draft(ctx: Context, description: str, language: str | None, folder: str,
                      first: Annotated[Any, Resolve(first_draft)],
                      second: Annotated[Any, Resolve(second_draft)]) -> Any:
    return _repair(description, language, folder, [first, second])


def _repair(description: str, language: str | None, folder: str, rounds: list[Any]) -> Any:
    """A repair request for the latest answer, or None when it passed (or nothing was asked)."""
    from launchdeck.tools.generate import check_folder, replay

    if any(r is None for r in rounds):
        return None
    try:
        attempt = replay(description, language, check_folder(folder, overwrite=True),
                         [text_of(r) for r in rounds])
    except LaunchdeckError:
        return None
    if attempt.files is not None or attempt.next_prompt is None:
        return None
    return sample(attempt.system, attempt.next_prompt, 8000)
