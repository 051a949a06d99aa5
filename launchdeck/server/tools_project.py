"""The tools about a project rather than a deployment: generate one, estimate its cost."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Resolve
from mcp_types import CallToolResult
from pydantic import Field

from launchdeck.server import calls, sample
from launchdeck.server.args import (
    ComposeFiles,
    ModeName,
    ProjectName,
    ProviderName,
    WorkingDirectory,
)
from launchdeck.server.calls import Tool
from launchdeck.server.texts import user_errors
from launchdeck.tools.estimate import EstimateResult
from launchdeck.tools.generate import GenerateResult


def register(tool: Tool) -> None:
    @tool("Generate a project", writes=True, destructive_hint=False)
    async def generate_project(
        description: Annotated[str, Field(description="What it should do, in plain words.")],
        folder: Annotated[str, Field(description="Absolute path of a new or empty folder.")],
        first: Annotated[Any, Resolve(sample.first_draft)],
        second: Annotated[Any, Resolve(sample.second_draft)],
        third: Annotated[Any, Resolve(sample.third_draft)],
        language: Literal["python", "nodejs", "golang"] | None = None,
        template: Annotated[Literal["rest-api", "postgres", "redis-worker", "llm-chat"] | None,
                            Field(description="A catalog template, used as it is.")] = None,
        overwrite: Annotated[bool, Field(description="Write into a non-empty folder.")] = False,
    ) -> Annotated[CallToolResult, GenerateResult]:
        """Scaffold a deployable compose project (compose, Dockerfile, code)."""
        from launchdeck.ai.llm import from_environment
        from launchdeck.tools.generate import check_folder, finish, generate, replay

        with user_errors():
            target = check_folder(folder, overwrite=overwrite, absolute=True)
            sampled = [r for r in (first, second, third) if r is not None]
            if sampled:
                attempt = replay(description, language, target,
                                 [sample.text_of(r) for r in sampled])
                result = finish(target, description, language, template, overwrite, attempt,
                                model="the client's model")
            else:
                result = await generate(description, str(target), language=language,
                                        template=template, overwrite=overwrite,
                                        llm=from_environment())
        source = f"the {result.template} template" if result.template else "the LLM"
        summary = (f"wrote {len(result.files)} file(s) in {result.folder} from {source}: "
                   f"{', '.join(result.files)}\n{result.next_step}")
        return calls.result(result, summary)

    @tool("Monthly cost", writes=False)
    async def estimate(
        working_directory: WorkingDirectory,
        compose_files: ComposeFiles = None,
        project_name: ProjectName = None,
        provider: ProviderName = None,
        region: str | None = None,
        mode: ModeName = None,
        compare: Annotated[Literal["affordable", "balanced", "high_availability"] | None, Field(
            description="Another mode, to say how much more or less this one costs.")] = None,
    ) -> Annotated[CallToolResult, EstimateResult]:
        """Monthly cloud cost per service, from list prices."""
        from dataclasses import replace

        from launchdeck.tools.estimate import estimate as run_estimate
        from launchdeck.tools.estimate import summary

        where = calls.project(working_directory, compose_files, project_name, provider, None)
        where = replace(where, mode=mode or "affordable")
        with user_errors():
            result = await run_estimate(where, region=region, compare=compare)
        return calls.result(result, summary(result))
