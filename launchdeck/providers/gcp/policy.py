"""IAM policies on GCP resources (the project, a secret, a Cloud Run service): read, change, write.

Every API that holds one answers ``get_iam_policy`` and ``set_iam_policy`` alike. A policy
carries an etag, so a write that crossed another one is refused (ABORTED); ``edit`` then
reads the policy again and makes its change anew.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from launchdeck.providers.gcp.api import Gcp, GcpError

TRIES = 5
"""Read-modify-write rounds of a policy that others change at the same time (ABORTED)."""


async def edit(
    gcp: Gcp,
    api: str,
    resource: str,
    change: Callable[[Any], Any | None],
    *,
    busy: str,
    options: Mapping[str, Any] | None = None,
) -> bool:
    """Write what ``change`` makes of ``resource``'s policy; whether it wrote.

    ``change`` returns the policy to write (it may alter the one it is given), or None when
    the policy already holds what is wanted. ``busy`` is the error's text when others kept
    changing the policy through every round.
    """
    read = {"resource": resource, **({"options": dict(options)} if options else {})}
    for _ in range(TRIES):
        policy = await gcp.call(api, "get_iam_policy", request=read)
        wanted = change(policy)
        if wanted is None:
            return False
        try:
            await gcp.call(api, "set_iam_policy", request={"resource": resource, "policy": wanted})
            return True
        except GcpError as exc:
            if exc.status != "ABORTED":
                raise
    raise GcpError(busy, hint="Try again in a moment.")


def has(policy: Any, role: str, member: str) -> bool:
    """Whether ``member`` holds ``role`` in ``policy`` without a condition."""
    return any(b.role == role and member in b.members and not b.condition.expression for b in policy.bindings)


def add(policy: Any, role: str, member: str) -> Any | None:
    """``policy`` with ``member`` in the unconditional binding of ``role`` (made if missing), or
    None when ``member`` holds ``role`` already: a ``change`` for ``edit``."""
    if has(policy, role, member):
        return None
    binding = next((b for b in policy.bindings if b.role == role and not b.condition.expression), None)
    if binding is None:
        binding = policy.bindings.add(role=role)
    binding.members.append(member)
    return policy


def without(policy: Any, member: str) -> Any:
    """A copy of an IAM policy with ``member`` taken out of every binding (empty ones dropped)."""
    from google.iam.v1 import policy_pb2

    out = policy_pb2.Policy(version=policy.version, etag=policy.etag)
    for binding in policy.bindings:
        members = [m for m in binding.members if m != member]
        if members:
            kept = out.bindings.add()
            kept.CopyFrom(binding)
            del kept.members[:]
            kept.members.extend(members)
    return out
