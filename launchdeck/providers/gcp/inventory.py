"""Which names a (project, stack) has in GCP: those a first deploy gives now, or those of a
stack deployed before marks (``names``' docstring)."""

from __future__ import annotations

from launchdeck.engine.gather import gather
from launchdeck.providers.gcp import access, names
from launchdeck.providers.gcp.api import Gcp, if_enabled


async def stack_names(gcp: Gcp, project: str, stack: str, *, iam_new: bool = False) -> names.Names:
    """The names the (project, stack) has: those a first deploy gives now, unless the stack was
    deployed before marks and has its runtime service account under the name it had then (and
    none under the marked one: its marked names, once it has them, are kept whatever else
    appears, an older release deploying the stack again, say).

    The account is what tells: a deploy makes it first (prepare), before any Cloud Run service,
    store or load balancer, and a teardown deletes it after them, so a stack with anything
    named has it; it has an exact name (a read of one account, not a listing of every service
    in the region), and its description says whose it is (two stacks that met under the old
    names shared one: the one it names keeps them). A plain stack's names have no other way to
    be, so it asks nothing, and neither does a deploy that turned IAM on (``iam_new``: it
    holds no account of the stack, and a read would wait out the API's propagation). Nothing is
    written: deploy, plan, ps, rollback and logs ask GCP the
    same way and find the same answer, and a teardown removes what either named."""
    fresh, *earlier = names.Names.every(project, stack)
    if not earlier or iam_new:
        return fresh
    marked, before = await gather(lambda: made(gcp, fresh), lambda: made(gcp, earlier[0]))
    return earlier[0] if before and not marked else fresh


async def made(gcp: Gcp, named: names.Names) -> bool:
    """Whether the runtime service account ``named`` gives is there, and this stack's (IAM not
    yet enabled holds none)."""
    found = await if_enabled(lambda: access.found_account(gcp, named.account(gcp.project)), None)
    return found is not None and \
        names.account_owner(found.get("description", "")) == (named.project, named.stack)
