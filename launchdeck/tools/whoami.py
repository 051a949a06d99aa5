"""whoami: the target a command would act on, checked before anything else happens."""

from __future__ import annotations

from pydantic import BaseModel

from launchdeck.engine.results import Target
from launchdeck.tools.project import ProjectRef, describe


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
    from launchdeck.stacks import check_account

    target = await ref.identity(pin=False)
    stack = ref.settings.stack
    check_account(stack, target.account)
    return WhoamiResult(target=target, stack=ref.stack, line=describe(target),
                        notes=list(ref.notes()), pinned=stack.account if stack else None)
