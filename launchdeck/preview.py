"""The Action's preview mode: a stack of its own for each pull request, deployed on every push to
it and removed when it closes, with one comment on the pull request that says where it runs.

For the event the step runs on (launchdeck/github.py reads it):

- opened, synchronize, reopened: the project is checked and its CONFIG_* values stored as ``up``
  does, then deployed to the stack ``pr-<number>`` (the ``preview-stack`` input, which must hold
  ``{number}`` so that two pull requests never share a stack), expiring ``ttl`` after this
  deploy so that ``stack gc`` removes a stack whose pull request was abandoned (and edits
  its comment to say so: ``expired``);
- closed: the stack is removed as ``compose down -v`` removes it, its data and its config
  values too (a preview's data is a throwaway, and its config values are copies of the
  repository's secrets);
- a pull request from a fork: GitHub gives its workflow no secrets and a read-only token
  (https://docs.github.com/en/actions/security-guides/automatic-token-authentication), so
  nothing is deployed; the job summary says so, and the comment too when the token may write it.

The comment (created once, then edited) shows the URLs, what the last deploy changed, the
stack's estimated cost and the deployment id; after close, that the stack was removed. It is
made only of what launchdeck reports, and every config value is hidden from it as from the
summary.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TextIO

from launchdeck.errors import LaunchdeckError, UsageError
from launchdeck.github import Comments, GitHubError, PullRequest, marker, pull_request

if TYPE_CHECKING:
    from launchdeck.ci import Inputs, Runner
    from launchdeck.engine.results import DeployResult
    from launchdeck.tools.debug import DebugResult
    from launchdeck.tools.deployments import Expired, GcResult
    from launchdeck.tools.destroy import DestroyResult
    from launchdeck.tools.estimate import EstimateResult
    from launchdeck.tools.project import ProjectRef

DEPLOYED_ON = ("opened", "synchronize", "reopened")
NUMBER = "{number}"


def stack_name(template: str, number: int) -> str:
    """The preview stack of pull request ``number``: ``template`` with its number in."""
    from launchdeck.identity import check_stack

    if NUMBER not in template:
        raise UsageError(f"the preview-stack input {template[:40]!r} has no {NUMBER}",
                         hint="Two pull requests must never share a stack: write the number in "
                              "it, as pr-{number} does.")
    return check_stack(template.replace(NUMBER, str(number)))


def is_preview(template: str, stack: str) -> bool:
    """Whether ``stack`` is the preview stack of some pull request."""
    return preview_number(template, stack) is not None


def preview_number(template: str, stack: str) -> int | None:
    """The pull request whose preview stack ``stack`` is, by the ``preview-stack`` template
    that named it (which holds the number: see ``stack_name``); None for another stack."""
    if NUMBER not in template:
        return None
    head, _, tail = template.partition(NUMBER)
    pattern = re.escape(head) + "([0-9]+)" + re.escape(tail).replace(re.escape(NUMBER), "\\1")
    found = re.fullmatch(pattern, stack)
    return int(found.group(1)) if found else None


async def run(inputs: Inputs, values: Mapping[str, str], runner: Runner, err: TextIO) -> int:
    """The preview step for the pull request event the job runs on; the step's exit status."""
    try:
        pr = pull_request(runner.env)
        inputs = replace(inputs, stack=stack_name(inputs.preview_stack, pr.number))
    except LaunchdeckError as exc:
        runner.command("error", str(exc), title="launchdeck preview")
        runner.output("result", "refused")
        return 1
    runner.output("stack", inputs.stack)
    comment = _Comment(inputs, pr.repository, pr.number, inputs.stack, runner)
    if pr.from_fork:
        return await _fork(inputs, pr, runner, comment)
    if pr.action == "closed":
        return await _close(inputs, pr, runner, err, comment)
    if pr.action not in DEPLOYED_ON:
        runner.output("result", "skipped")
        runner.summary(f"### launchdeck preview: nothing to do for a pull request "
                       f"{pr.action.replace('_', ' ')}\n\nA preview is deployed when a pull "
                       f"request is {', '.join(DEPLOYED_ON)}, and removed when it is closed.\n")
        return 0
    return await _deploy(inputs, values, pr, runner, err, comment)


class _Comment:
    """The launchdeck comment on pull request ``number`` of ``repository`` for this (provider,
    stack, folder)."""

    def __init__(self, inputs: Inputs, repository: str, number: int, stack: str,
                 runner: Runner) -> None:
        from launchdeck.ci import relative

        self.inputs, self.repository, self.number, self.runner = inputs, repository, number, runner
        folder = relative(".", inputs, runner.env)
        self.mark = marker(f"{inputs.provider}/{stack}/{folder}")
        self.id: int | None = None
        """The comment's id once written (None: not written, or none to edit)."""

    async def put(self, body: str, *, create: bool = True, required: bool = True) -> bool:
        """Write ``body`` (every config value hidden); when GitHub refuses, an error annotation
        (``required``) or a warning and a line in the summary; whether it was written."""
        from launchdeck import redact

        body = redact.text(body, self.runner.hidden)
        try:
            async with Comments(self.repository, self.inputs.token,
                                api=self.runner.env.get("GITHUB_API_URL", "")) as comments:
                self.id = await comments.put(self.number, self.mark, body, create=create)
        except LaunchdeckError as exc:
            status = exc.status if isinstance(exc, GitHubError) else 0
            self.runner.command("error" if required else "warning", str(exc),
                                title="launchdeck preview: pull request comment")
            self.runner.summary(f"The pull request comment could not be written"
                                f"{f' (GitHub answered {status})' if status else ''}: "
                                f"{exc.message}\n\n{exc.hint}\n")
            return False
        return True


# -- opened, synchronize, reopened ---------------------------------------------------------------


async def _deploy(inputs: Inputs, values: Mapping[str, str], pr: PullRequest, runner: Runner,
                  err: TextIO, comment: _Comment) -> int:
    """Check, store the config, deploy with the ttl; the comment says how it went."""
    from launchdeck.ci import deployed, load_checked, refused, store_config, ttl_seconds

    head = f"`{pr.head_sha[:12]}`"
    checked = load_checked(inputs, runner)
    if checked is None:
        await comment.put(_header(inputs, pr, "not deployed") + "The compose project has errors "
                          "for this target: the job's annotations and summary name each one.\n")
        return 1
    ref, loaded = checked
    _warn_if_not_head(inputs, pr, runner)
    if not await store_config(ref, loaded, values, runner, err):
        await comment.put(_header(inputs, pr, "not deployed") + "A config value could not be "
                          "stored: the job's annotations say which.\n")
        return 1
    started = datetime.now(UTC)
    try:
        result, diagnosis = await deployed(inputs, ref, runner, err, ttl=inputs.ttl)
    except LaunchdeckError as exc:
        refused(inputs, exc, runner)
        await comment.put(_header(inputs, pr, "not deployed") + f"The deploy of {head} was "
                          f"refused before anything changed:\n\n```\n{_fence(exc.message)}\n```\n"
                          + (f"\n{exc.hint}\n" if exc.hint else ""))
        return 1
    cost = await _estimate(ref, err)
    expires = started + timedelta(seconds=ttl_seconds(inputs.ttl))
    written = await comment.put(deployed_comment(inputs, pr, result, cost, diagnosis, expires))
    return 1 if result.failed or not written else 0


async def _estimate(ref: ProjectRef, err: TextIO) -> EstimateResult | None:
    """The stack's monthly estimate, or None (said on stderr) where it has no prices."""
    from launchdeck.tools.estimate import estimate

    try:
        return await estimate(ref)
    except LaunchdeckError as exc:
        err.write(f"no cost estimate: {exc.message}\n")
        return None


def _warn_if_not_head(inputs: Inputs, pr: PullRequest, runner: Runner) -> None:
    """A checkout of the merge commit (actions/checkout's default for pull_request) is not what
    the pull request's branch holds: say how to check out its head."""
    try:
        done = subprocess.run(["git", "-C", str(inputs.working_directory), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return
    commit = done.stdout.strip()
    if done.returncode == 0 and commit and commit != pr.head_sha:
        runner.command("warning", f"the workspace is at {commit[:12]}, not at the pull request's "
                       f"head {pr.head_sha[:12]}: check out ref: "
                       "${{ github.event.pull_request.head.sha }} to preview what the branch "
                       "holds", title="launchdeck preview")


# -- closed ----------------------------------------------------------------------------------------


async def _close(inputs: Inputs, pr: PullRequest, runner: Runner, err: TextIO,
                 comment: _Comment) -> int:
    """Remove the stack, its data and its config values; edit the comment (write one only if
    something was removed)."""
    from launchdeck.ci import announce, down_summary, load_checked, refused
    from launchdeck.tools.deployments import forget_config
    from launchdeck.tools.destroy import destroy

    checked = load_checked(inputs, runner, judged=False)
    if checked is None:
        return 1
    ref, loaded = checked
    try:
        announce(ref, await ref.line(), err)
        result = await destroy(ref, loaded, volumes=True)
        erased = await forget_config(ref.target(), loaded.project.name, inputs.stack)
    except LaunchdeckError as exc:
        refused(inputs, exc, runner)
        await comment.put(_header(inputs, pr, "not removed") + "Removing the stack failed:\n\n"
                          f"```\n{_fence(exc.message)}\n```\n\nRun the job again, or "
                          f"`launchdeck compose down -v --stack {inputs.stack}`.\n")
        return 1
    runner.output("result", "removed")
    runner.summary(down_summary(result)
                   + (f"\nConfig values removed: {', '.join(erased)}.\n" if erased else ""))
    written = await comment.put(removed_comment(inputs, pr, result, erased),
                                create=bool(result.removed))
    return 0 if written else 1


# -- gc ----------------------------------------------------------------------------------------------


async def expired(inputs: Inputs, result: GcResult, runner: Runner) -> dict[str, int]:
    """After gc: edit the comment of each removed preview stack's pull request to say that it
    expired and was removed (none is written where there was none). The pull request is the
    one the stack is named after (the ``preview-stack`` input), in ``GITHUB_REPOSITORY``; a
    comment GitHub refuses is a warning, since the stack is gone all the same. The stacks
    whose comment was edited, with their pull request's number."""
    repository = runner.env.get("GITHUB_REPOSITORY", "")
    done = {}
    for stack in [] if result.dry_run or not repository else result.expired:
        number = preview_number(inputs.preview_stack, stack.stack)
        if number is None:
            continue
        comment = _Comment(inputs, repository, number, stack.stack, runner)
        await comment.put(expired_comment(inputs, stack), create=False, required=False)
        if comment.id is not None:
            done[stack.stack] = number
    return done


def expired_comment(inputs: Inputs, stack: Expired) -> str:
    """The comment after gc removed an expired preview: when and why, what went with it."""
    values = len(stack.config)
    return (f"### launchdeck preview `{stack.stack}` ({inputs.provider}): expired and removed\n\n"
            f"Nothing was deployed to the stack `{stack.stack}` after deployment "
            f"`{stack.deployment}`, and its time to live ran out at "
            f"{stack.expires.strftime('%Y-%m-%d %H:%M UTC')}: `launchdeck stack gc` removed it, "
            f"with {values} config value(s). Its data volumes were kept "
            f"(`launchdeck compose down -v --stack {stack.stack}` removes them).\n\n"
            "Push to the pull request to deploy a new preview.\n")


# -- forks -----------------------------------------------------------------------------------------


async def _fork(inputs: Inputs, pr: PullRequest, runner: Runner, comment: _Comment) -> int:
    """Deploy nothing; say why in the summary, and in the comment when the token may write."""
    text = (f"Pull request #{pr.number} comes from the fork `{pr.head_repository}`. GitHub gives "
            "a workflow run for a fork's pull request no secrets and a read-only token, so "
            "launchdeck deploys no preview for it. A maintainer who has reviewed the change can "
            "push its branch to this repository to get a preview.\n")
    runner.output("result", "skipped")
    runner.summary(f"### launchdeck preview: not deployed (a fork's pull request)\n\n{text}")
    if pr.action in DEPLOYED_ON:
        await comment.put(_header(inputs, pr, "not deployed") + text, required=False)
    return 0


# -- the comment -----------------------------------------------------------------------------------


def _header(inputs: Inputs, pr: PullRequest, state: str) -> str:
    return (f"### launchdeck preview `{inputs.stack}` ({inputs.provider}): {state}\n\n"
            f"For commit `{pr.head_sha[:12]}` of #{pr.number}.\n\n")


def _fence(text: str) -> str:
    return text.replace("```", "`\u200b``")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def deployed_comment(inputs: Inputs, pr: PullRequest, result: DeployResult,
                     cost: EstimateResult | None, diagnosis: DebugResult | None,
                     expires: datetime) -> str:
    """The comment after a deploy: URLs, what changed, the cost, the deployment id."""
    from launchdeck.ci import changes_table

    failed = [s.name for s in result.failed]
    lines = [_header(inputs, pr, f"failed ({', '.join(failed)})" if failed else "deployed")
             + f"Deployment `{result.deployment_id}` of `{result.project}`.", "",
             "| service | state | URL |", "| --- | --- | --- |"]
    for s in result.services:
        links = " ".join(f"<{u}>" if u.startswith("http") else f"`{u}`" for u in s.endpoints)
        lines.append(f"| {_cell(s.name)} | {s.state.value} | {links or '-'} |")
    lines += ["", "#### What this deploy changed", "", changes_table(result.changes).rstrip()]
    if failed:
        lines += ["", "#### Why it failed", ""]
        for s in result.failed:
            lines.append(f"- **{_cell(s.name)}**: {s.state.value}"
                         f"{': ' + _cell(s.message) if s.message else ''}")
        if diagnosis is not None:
            lines += [f"- {_cell(f.service)}: {_cell(f.cause)} (fix: {_cell(f.fix)})"
                      for f in diagnosis.findings]
        lines.append("\nThe job's summary has the evidence (the services' last log lines).")
    lines += ["", "#### Estimated cost", "", _cost(cost), "",
              f"The stack is removed when the pull request closes, or by `launchdeck stack gc` "
              f"after {expires.strftime('%Y-%m-%d %H:%M UTC')} ({inputs.ttl} after this push) "
              "if nothing is pushed until then."]
    return "\n".join(lines) + "\n"


def _cost(cost: EstimateResult | None) -> str:
    if cost is None:
        return "No estimate: this target has no price table for the stack's region."
    if cost.region is None:
        return " ".join(cost.notes) or "Nothing: it runs on the runner's machine."
    items = ", ".join(f"{s.name} {s.monthly:.2f}" for s in cost.services)
    return (f"About **{cost.monthly_total:.2f} {cost.currency} a month** in {cost.region} "
            f"(list prices of {cost.prices_as_of}; {items}), while the stack exists.")


def removed_comment(inputs: Inputs, pr: PullRequest, result: DestroyResult,
                    erased: list[str]) -> str:
    """The comment after close: the stack is gone."""
    why = "merged" if pr.merged else "closed"
    lines = [f"### launchdeck preview `{inputs.stack}` ({inputs.provider}): removed", "",
             f"The pull request was {why}: the stack `{inputs.stack}` of `{result.project}` was "
             f"removed ({len(result.removed)} resource(s), its data and "
             f"{len(erased)} config value(s) with it)." if result.removed or erased else
             f"The pull request was {why}; nothing of the stack `{inputs.stack}` was left to "
             "remove."]
    if result.kept:
        lines += ["", f"Kept: {', '.join(result.kept)}."]
    return "\n".join(lines) + "\n"

