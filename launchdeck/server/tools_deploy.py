"""The tools that change what runs on a target, and the check before: deploy (or its plan),
destroy, check; and plan on its own in a read-only server."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context, ElicitationResult, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult
from pydantic import BaseModel, Field

from launchdeck.engine.events import Event
from launchdeck.engine.results import ChangeSummary, PlanResult, ServiceStatus
from launchdeck.providers import description
from launchdeck.server import calls, elicit, texts, ui
from launchdeck.server.args import (
    ComposeFiles,
    ModeName,
    ProjectName,
    ProviderName,
    StackName,
    WorkingDirectory,
)
from launchdeck.server.calls import Tool
from launchdeck.server.texts import user_errors
from launchdeck.tools.check import CheckResult
from launchdeck.tools.destroy import DestroyResult

WAIT_SECONDS = 50.0
"""How long deploy waits by default: a little under the 60 s many clients allow a call."""


class DeployOutput(BaseModel):
    """A deploy's outcome so far, or (dry_run) the plan: what would change and why."""

    project: str
    stack: str
    provider: str
    target: str | None = None
    dry_run: bool = False
    deployment_id: str | None = None
    finished: bool = Field(False, description="False while the deploy still runs.")
    ok: bool = Field(False, description="Every service is SERVICE_DEPLOYMENT_COMPLETED.")
    services: list[ServiceStatus] = []
    changes: list[ChangeSummary] = []
    config_stored: list[str] = Field([], description="Config names the user gave values for.")
    next_step: str


def register(tool: Tool, *, read_only: bool) -> None:
    @tool("Deploy", writes=True, meta=ui.META, idempotent_hint=True, destructive_hint=False)
    async def deploy(
        ctx: Context,
        working_directory: WorkingDirectory,
        config: Annotated[ElicitationResult[Any], Resolve(elicit.missing_config)],
        compose_files: ComposeFiles = None,
        project_name: ProjectName = None,
        provider: ProviderName = None,
        stack: StackName = None,
        dry_run: Annotated[bool, Field(description="Only plan.")] = False,
        wait_seconds: Annotated[float, Field(ge=0, le=3600, description="Then answer; it goes on.")]
        = WAIT_SECONDS,
        force: Annotated[bool, Field(description="Rebuild and recreate all.")] = False,
        mode: ModeName = None,
    ) -> Annotated[CallToolResult, DeployOutput]:
        """Deploy the project (dry_run: only plan), then report each service."""
        from launchdeck.stacks import record_mode
        from launchdeck.tools.deploy import plan, prepare
        from launchdeck.tools.stacks import check_known

        where = calls.project(working_directory, compose_files, project_name, provider, stack)
        if mode is not None:
            where = replace(where, mode=mode)
        with user_errors():
            check_known(where.working_directory, where.stack)
            chosen = where.settings.mode
        if dry_run:
            with user_errors():
                planned = await plan(where, force=force)
            planned_output = DeployOutput(
                project=planned.project, stack=planned.stack, provider=planned.provider,
                target=planned.target, dry_run=True, changes=planned.changes,
                next_step="Nothing was changed. Call deploy to apply it.")
            return calls.result(planned_output, texts.plan(planned))
        with user_errors():
            loaded = where.load()
        stored = await _store_answers(where, loaded, config)
        deploys = calls.state(ctx).deploys
        with user_errors():  # refuse bad compose files and missing config before starting
            ready = await prepare(where, loaded)
            if mode is not None:  # every later deploy of the stack uses it
                record_mode(where.working_directory, where.stack, chosen)
            running = deploys.start(ready, wait_seconds=600, force=force, mode=chosen.value)
            target = await where.line()
        await _follow(ctx, running, wait_seconds, f"target: {target}")
        if running.error is not None:
            with user_errors():
                raise running.error
        if running.result is not None:
            result = running.result
            next_step = ("Done. Open the endpoints, or call logs to read output." if result.ok
                         else "Some services failed: call debug_failure for the cause and fix "
                              "(or logs), fix it, then deploy again.")
            output = DeployOutput(project=result.project, stack=result.stack,
                                  provider=result.provider, target=target,
                                  deployment_id=result.deployment_id,
                                  services=result.services, changes=result.changes, finished=True,
                                  ok=result.ok, config_stored=stored, next_step=next_step)
        else:
            output = DeployOutput(
                project=ready.project.name, stack=ready.stack, provider=ready.provider.name,
                target=target, deployment_id=running.deployment_id, services=running.statuses(),
                config_stored=stored,
                next_step=f"Still deploying after {wait_seconds:g}s; call ps in a little while.")
        return calls.result(output, texts.deploy(output))

    @tool("Destroy", writes=True, destructive_hint=True)
    async def destroy(
        working_directory: WorkingDirectory,
        approval: Annotated[ElicitationResult[elicit.Confirm], Resolve(elicit.destroy)],
        compose_files: ComposeFiles = None,
        project_name: ProjectName = None,
        provider: ProviderName = None,
        stack: StackName = None,
        confirm: Annotated[str | None, Field(description=(
            "The project name, to confirm, when the client cannot ask the user."))] = None,
        volumes: Annotated[bool, Field(description="Also delete data volumes.")] = False,
    ) -> Annotated[CallToolResult, DestroyResult]:
        """Remove all the project owns on its target (the user confirms)."""
        from launchdeck.tools.destroy import destroy as run_destroy

        where = calls.project(working_directory, compose_files, project_name, provider, stack)
        with user_errors():
            loaded = where.load()
        name = loaded.project.name
        asked, answer = elicit.answer(approval)
        if asked:
            if answer is None or not answer.confirm:
                raise ToolError(f"The user did not confirm: {name} was not destroyed.")
        elif confirm != name:
            raise ToolError(f"destroy removes everything {name} ({where.stack}) owns on "
                            f"{where.provider_name}. Ask the user, then call again with "
                            f"confirm={name!r}.")
        with user_errors():
            result = await run_destroy(where, loaded, volumes=volumes)
        summary = f"removed {len(result.removed)} object(s) of {name} ({result.stack})"
        if result.kept:
            summary += f"; kept: {', '.join(result.kept)}" + (
                " (volumes=true deletes the volumes)"
                if description(result.provider).volumes_kept else "")
        return calls.result(result, summary)

    @tool("Check a project", writes=False)
    async def check(
        working_directory: WorkingDirectory,
        compose_files: ComposeFiles = None,
        project_name: ProjectName = None,
        provider: ProviderName = None,
        stack: StackName = None,
    ) -> Annotated[CallToolResult, CheckResult]:
        """What stops the project deploying to its target, located, with fixes. Offline."""
        from launchdeck.tools.check import check as run_check

        where = calls.project(working_directory, compose_files, project_name, provider, stack)
        with user_errors():
            result = run_check(where)
        return calls.result(result, texts.check(result))

    if read_only:
        @tool("Plan", writes=False)
        async def plan(
            working_directory: WorkingDirectory,
            compose_files: ComposeFiles = None,
            project_name: ProjectName = None,
            provider: ProviderName = None,
            stack: StackName = None,
            mode: ModeName = None,
        ) -> Annotated[CallToolResult, PlanResult]:
            """What a deploy would change, unit by unit, and why. Changes nothing."""
            from launchdeck.tools.deploy import plan as run_plan

            where = calls.project(working_directory, compose_files, project_name, provider, stack)
            if mode is not None:
                where = replace(where, mode=mode)
            with user_errors():
                result = await run_plan(where)
            return calls.result(result, texts.plan(result))


async def _store_answers(where: Any, loaded: Any, config: Any) -> list[str]:
    """Put the values the user gave in the form straight into the config store, through the
    config tool's checks (a blank or unusable value is refused, none stored)."""
    asked, answer = elicit.answer(config)
    if asked and answer is None:
        raise ToolError("The user declined to give the missing config values. Set them with "
                        "config_set, then deploy again.")
    if answer is None:
        return []
    from launchdeck.tools.config import store

    with user_errors():
        return await store(where, answer.model_dump(), loaded)


async def _follow(ctx: Context, running: Any, wait_seconds: float, first: str) -> None:
    """Name the target, then forward every state change as a progress notification, until
    done or wait_seconds."""
    send, receive = anyio.create_memory_object_stream[Event](1000)
    running.listeners.append(lambda event: send.send_nowait(event))
    progress = 1
    await ctx.report_progress(progress, None, first)

    async def forward() -> None:
        nonlocal progress
        async for event in receive:
            if event.state is not None:
                progress += 1
                await ctx.report_progress(progress, None, f"{event.service}: {event.state.value}")

    with anyio.move_on_after(wait_seconds):
        async with anyio.create_task_group() as group:
            group.start_soon(forward)
            await running.done.wait()
            group.cancel_scope.cancel()
    running.listeners.clear()
    send.close()
