"""The tools on a stack's history: deployments (the list, or one in full with its timeline) and
rollback (the user confirms, after a preview of what changes), and the history as a resource."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.mcpserver import Context, Elicit, ElicitationResult, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.resources.templates import ResourceSecurity
from mcp_types import CallToolResult
from pydantic import BaseModel, Field

from launchdeck.engine.history import Deployment
from launchdeck.errors import LaunchdeckError
from launchdeck.server import calls, elicit
from launchdeck.server.args import (
    ComposeFiles,
    ProjectName,
    ProviderName,
    StackName,
    WorkingDirectory,
    ref,
)
from launchdeck.server.calls import Tool
from launchdeck.server.texts import user_errors
from launchdeck.tools.deployments import DeploymentSummary
from launchdeck.tools.rollback import RollbackPreview

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

Which = Annotated[str | None, Field(description="An id (or its start), latest or previous.")]


class DeploymentsOutput(BaseModel):
    """The stack's deployments, newest first; or (deployment given) that one in full."""

    project: str
    stack: str
    provider: str
    target: str | None = None
    deployments: list[DeploymentSummary] = []
    deployment: Deployment | None = None
    next_step: str


class RollbackOutput(BaseModel):
    """A rollback's preview (dry_run) or its outcome."""

    dry_run: bool
    preview: RollbackPreview
    deployment_id: str | None = Field(None, description="The rollback's own deployment id.")
    ok: bool = False
    services: dict[str, str] = Field({}, description="Service -> the state it reached.")
    next_step: str


class Approve(BaseModel):
    confirm: bool = Field(description="Yes, roll back.")


def _line(d: DeploymentSummary) -> str:
    what = f"rollback to {d.rollback_of}" if d.rollback_of else d.operation
    commit = f" {d.commit[:12]}" if d.commit else ""
    return f"{d.id} {d.started.isoformat(timespec='seconds')} {what} {d.outcome}{commit}"


async def approve_rollback(ctx: Context, working_directory: str, compose_files: list[str] | None,
                           project_name: str | None, provider: str | None, stack: str | None,
                           deployment: str | None = None, dry_run: bool = False) -> Any:
    """The user's own yes, after the preview of what the rollback changes."""
    from launchdeck.tools.rollback import preview

    if dry_run or not elicit.can_elicit(ctx):
        return None
    try:
        shown = await preview(ref(working_directory, compose_files, project_name, provider, stack),
                              deployment or "previous")
    except (LaunchdeckError, ToolError):
        return None  # the tool body reports it properly
    changed = [f"{c.service} ({c.action.value})" for c in shown.plan.changed]
    notes = []
    if shown.config_changed:
        notes.append(f"config changed since then (today's values stay): "
                     f"{', '.join(shown.config_changed)}")
    return Elicit(f"Roll back {shown.plan.project} ({shown.plan.stack}) on {shown.plan.provider} "
                  f"to deployment {shown.to}? It changes: {', '.join(changed) or 'nothing'}."
                  + "".join(f" {n}." for n in notes), Approve)


def register(tool: Tool, server: MCPServer) -> None:
    @tool("Deployments", writes=False)
    async def deployments(
        working_directory: WorkingDirectory,
        compose_files: ComposeFiles = None,
        project_name: ProjectName = None,
        provider: ProviderName = None,
        stack: StackName = None,
        deployment: Which = None,
        limit: Annotated[int, Field(ge=1, le=50)] = 20,
    ) -> Annotated[CallToolResult, DeploymentsOutput]:
        """The stack's deployments (deploys, rollbacks, destroys); one in full with its timeline."""
        from launchdeck.tools.deployments import ls, show

        where = calls.project(working_directory, compose_files, project_name, provider, stack)
        with user_errors():
            if deployment:
                one = await show(where, deployment)
                output = DeploymentsOutput(
                    project=one.project, stack=one.stack, provider=one.provider,
                    target=one.target, deployment=one.deployment,
                    next_step="Call logs with this deployment_id and type build, run or deploy "
                              "for its lines, or rollback to run its images again.")
                d = one.deployment
                text = "\n".join([f"{d.id}: {d.operation} {d.outcome}", *(
                    f"{u.name}: {u.action} {u.state or ''} {u.image or ''}".rstrip()
                    for u in d.units), f"{len(d.timeline)} timeline event(s)", output.next_step])
                return calls.result(output, text)
            listed = await ls(where, limit=limit)
        output = DeploymentsOutput(
            project=listed.project, stack=listed.stack, provider=listed.provider,
            target=listed.target, deployments=listed.deployments,
            next_step="Call deployments with a deployment id for its units and timeline."
            if listed.deployments else "Nothing is kept yet: each deploy is kept from now on.")
        return calls.result(output, "\n".join([*map(_line, listed.deployments),
                                               output.next_step]))

    @tool("Roll back", writes=True, destructive_hint=True, idempotent_hint=False)
    async def rollback(
        working_directory: WorkingDirectory,
        approval: Annotated[ElicitationResult[Approve], Resolve(approve_rollback)],
        compose_files: ComposeFiles = None,
        project_name: ProjectName = None,
        provider: ProviderName = None,
        stack: StackName = None,
        deployment: Annotated[str | None, Field(description="An id, or previous (the default).")]
        = None,
        dry_run: Annotated[bool, Field(description="Only preview.")] = False,
        confirm: Annotated[str | None, Field(description=(
            "The deployment id rolled back to, to confirm, when the client cannot ask the "
            "user."))] = None,
        wait_seconds: Annotated[float, Field(ge=0, le=3600)] = 300,
    ) -> Annotated[CallToolResult, RollbackOutput]:
        """Run an earlier deployment's images again, no build (the user confirms)."""
        from launchdeck.tools.rollback import preview
        from launchdeck.tools.rollback import rollback as run_rollback

        where = calls.project(working_directory, compose_files, project_name, provider, stack)
        with user_errors():
            shown = await preview(where, deployment or "previous")
        summary = [f"{c.service}: {c.action.value} ({c.reason})" for c in shown.plan.changed]
        if shown.config_changed:
            summary.append("config changed since then (today's values stay): "
                           + ", ".join(shown.config_changed))
        if dry_run:
            output = RollbackOutput(dry_run=True, preview=shown,
                                    next_step="Nothing was changed. Call rollback without dry_run "
                                              "to apply it (the user confirms).")
            return calls.result(output, "\n".join([*summary, output.next_step]))
        asked, answer = elicit.answer(approval)
        if asked:
            if answer is None or not answer.confirm:
                raise ToolError(f"The user did not confirm: nothing was rolled back to {shown.to}.")
        elif confirm != shown.to:
            raise ToolError(f"rollback changes {len(shown.plan.changed)} unit(s) of "
                            f"{shown.plan.project} ({shown.plan.stack}). Show the user the preview "
                            f"(dry_run=true), ask, then call again with confirm={shown.to!r}.")
        with user_errors():
            result = await run_rollback(where, shown.to, wait_seconds=wait_seconds)
        output = RollbackOutput(
            dry_run=False, preview=shown, deployment_id=result.deployment_id, ok=result.ok,
            services={s.name: s.state.value for s in result.services},
            next_step="Done." if result.ok else "Some services failed: call debug_failure.")
        return calls.result(output, f"rollback {result.deployment_id} to {shown.to}: "
                                    + ("ok" if result.ok else "failed") + "\n" + output.next_step)

    @server.resource("launchdeck://deployments{+working_directory}", name="deployments",
                     title="The stack's deployments", mime_type="application/json",
                     security=ResourceSecurity(exempt_params={"working_directory"}))
    async def history(working_directory: str) -> str:
        """The default stack's deployments, newest first (LAUNCHDECK_STACK chooses another)."""
        from launchdeck.tools.deployments import ls

        with user_errors():
            where = ref(working_directory, None, None, None, None)
            listed = await ls(where)
        return json.dumps(listed.model_dump(mode="json"))
