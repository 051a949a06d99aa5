"""whoami: the target a command would act on, checked before anything else happens."""

from __future__ import annotations

from pydantic import BaseModel

from launchdeck.engine.status import Target
from launchdeck.tools.project import ProjectRef


class WhoamiResult(BaseModel):
    target: Target
    stack: str
    line: str
    notes: list[str] = []
    """Where a flag or the environment overrode the stack's file."""
    pinned: str | None = None
    """The account or project the stack's file records, if any."""


async def whoami(ref: ProjectRef) -> WhoamiResult:
    """Who and where; fails clearly when credentials are missing or expired, or reach another
    account than the stack records."""
    target = await ref.identity(pin=False)
    stack = ref.settings.stack
    if stack is not None and stack.account and target.account and stack.account != target.account:
        from launchdeck.stacks import check_account

        check_account(ref.working_directory, stack, target.account, allow_new=False)
    return WhoamiResult(target=target, stack=ref.stack, line=target.describe(),
                        notes=list(ref.notes()), pinned=stack.account if stack else None)
