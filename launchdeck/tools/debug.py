"""debug_failure: why a deploy failed, from evidence, detectors and (optionally) an LLM.

Config values are removed from every piece of evidence before it goes anywhere, so neither
the result nor an LLM prompt can carry one, even when a service printed it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from launchdeck.ai import debug as dbg
from launchdeck.engine.events import State
from launchdeck.errors import UnknownService
from launchdeck.tools.project import ProjectRef

if TYPE_CHECKING:
    from launchdeck.ai.llm import LLM
    from launchdeck.compose.model import Project


class Draft(BaseModel):
    """Evidence and detector findings, before any LLM reads them."""

    project: str
    stack: str
    provider: str
    evidence: list[dbg.ServiceEvidence]
    findings: list[dbg.Finding]


class DebugResult(Draft):
    llm: str | None = Field(None, description="The model that read the evidence, if any.")
    next_step: str


def _failing(state: State, exit_code: int | None, health: str | None) -> bool:
    return state.failed or state is State.SERVICE_DEPLOYMENT_PENDING and health == "unhealthy" \
        or state is State.STOPPED and exit_code not in (None, 0)


async def gather(ref: ProjectRef, *, deployment: str | None = None,
                 service: str | None = None) -> Draft:
    """Evidence for each failed service (or the one named), and what the detectors find.
    A service the last deployment failed counts as failed even if it now stands stopped
    (a one-shot script that exited 0 after its deploy timed out)."""
    from launchdeck import redact
    from launchdeck.engine import logs, ps
    from launchdeck.engine.seams import LogQuery
    from launchdeck.tools.deployment import record

    project = ref.load().project
    if service and service not in project.services:
        raise UnknownService(service, list(project.services))
    provider = ref.target()
    hidden = await redact.of_store(provider.config_store(project.name, ref.stack))
    if deployment:
        kept = await _kept(ref, project, deployment, service, hidden)
        if kept is not None:
            findings = [f for e in kept for f in dbg.detect(e)]
            return Draft(project=project.name, stack=ref.stack, provider=provider.name,
                         evidence=kept, findings=findings)
    last = await record(provider, project.name, ref.stack)
    if last is not None and deployment and last.result.deployment_id != deployment:
        last = None
    failed_last = {s.name: s for s in (last.result.services if last else []) if s.state.failed}
    evidence = []
    for status in await ps.ps(provider, project, ref.stack, record=last):
        if status.name not in project.services:
            continue
        if service and status.name != service:
            continue
        was = failed_last.get(status.name)
        if was is not None and status.state in (State.STOPPED, State.NOT_DEPLOYED):
            status = status.model_copy(update={  # what the deploy saw; the exit code is now's
                "state": was.state, "message": was.message or status.message,
                "start_error": status.start_error or was.start_error,
                "health_output": status.health_output or was.health_output})
        if not service and not _failing(status.state, status.exit_code, status.health):
            continue
        lines = await logs.read(provider, project.name, ref.stack,
                                    LogQuery(services=(status.name,), tail=dbg.MAX_LOG_LINES,
                                             deployment=deployment))
        e = dbg.evidence_for(project, project.services[status.name], state=status.state,
                             message=status.message, exit_code=status.exit_code,
                             oom_killed=status.oom_killed, health_output=status.health_output,
                             logs=[line.text for line in lines], start_error=status.start_error)
        evidence.append(redact.model(e, hidden))
    findings = [f for e in evidence for f in dbg.detect(e)]
    return Draft(project=project.name, stack=ref.stack, provider=provider.name,
                 evidence=evidence, findings=findings)


async def _kept(ref: ProjectRef, project: Project, deployment: str, service: str | None,
                hidden: list[str]) -> list[dbg.ServiceEvidence] | None:
    """Evidence for the failed units of a deployment the history keeps, from its own lines (its
    build output, what its services printed while it was the latest, its timeline); None when
    the history has no such deployment."""
    from launchdeck import redact
    from launchdeck.errors import UsageError
    from launchdeck.tools.deployments import logs

    try:
        build = await logs(ref, deployment, "build")
    except UsageError:
        return None
    run = await logs(ref, deployment, "run")
    timeline = await logs(ref, deployment, "deploy")
    from launchdeck.engine.history import History

    entry = await History(ref.target().blobs(), project.name, ref.stack).find(build.deployment)
    out = []
    for unit in entry.units:
        if unit.name not in project.services or (service and unit.name != service):
            continue
        state = State(unit.state) if unit.state else None
        if state is None or not service and not state.failed:
            continue
        lines = [line.text for kind in (timeline, build, run) for line in kind.lines
                 if line.service == unit.name][-dbg.MAX_LOG_LINES:]
        e = dbg.evidence_for(project, project.services[unit.name], state=state,
                             message=unit.message, exit_code=None, oom_killed=False,
                             health_output=None, logs=lines)
        out.append(redact.model(e, hidden))
    return out


def conclude(draft: Draft, llm_findings: list[dbg.Finding], llm: str | None) -> DebugResult:
    findings = draft.findings + llm_findings
    if not draft.evidence:
        next_step = "No service is failing: nothing to diagnose."
    elif findings:
        next_step = ("Apply the fix of the most confident finding, then deploy again. Nothing "
                     "was changed.")
    else:
        next_step = ("No known cause matched: read the evidence shown (state, start error, last "
                     "log lines), or the full logs.")
    return DebugResult(project=draft.project, stack=draft.stack, provider=draft.provider,
                       evidence=draft.evidence, findings=findings, llm=llm, next_step=next_step)


async def debug(ref: ProjectRef, *, deployment: str | None = None, service: str | None = None,
                llm: LLM | None = None) -> DebugResult:
    """Diagnose the project's failed services; with ``llm``, add its reading of the evidence."""
    return await read(await gather(ref, deployment=deployment, service=service), llm)


async def read(draft: Draft, llm: LLM | None) -> DebugResult:
    """The diagnosis from gathered evidence; with ``llm``, add its reading of it."""
    extra: list[dbg.Finding] = []
    if llm is not None and draft.evidence:
        system, prompt = dbg.llm_prompt(draft.project, draft.stack, draft.provider,
                                        draft.evidence, draft.findings)
        extra = dbg.parse_llm(await llm.complete(system, prompt, max_tokens=2000))
    return conclude(draft, extra, llm.name if llm and draft.evidence else None)
