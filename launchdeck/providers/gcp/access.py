"""Who may do what: the stack's runtime service account and the few rights it gets.

Every Cloud Run service of a (project, stack) runs as one service account made for it. It
can read only the secrets its services reference (a binding on each secret, not on the
project), and, when a service has ``x-defang-llm``, call Vertex AI (``roles/aiplatform.user``
on the project). Cloud Run's own agent pulls images from the same project's registry, so
the account needs nothing for that. No service gets an ``allUsers`` invoker binding, which
domain-restricted sharing refuses: each has Cloud Run's invoker check off instead
(``invoker_iam_disabled``), the public ones by design, the internal ones because their ingress
only admits traffic from the network.

IAM is eventually consistent: an account just made is confirmed by consecutive reads before
anything names it, and the door retries refusals naming it for a while (``Gcp.made``).
"""

from __future__ import annotations

from typing import Any

from launchdeck.engine import poll
from launchdeck.providers.gcp import names, policy
from launchdeck.providers.gcp.api import PROPAGATION, Gcp, GcpError, deleted, if_found


async def account(gcp: Gcp, project: str, stack: str) -> None:
    """The stack's runtime service account, made if missing."""
    from google.cloud import iam_admin_v1 as ia

    email = names.account_email(project, stack, gcp.project)
    if await account_exists(gcp, email):
        return
    request = ia.CreateServiceAccountRequest(
        account_id=names.account_id(project, stack),
        service_account=ia.ServiceAccount(
            display_name=f"launchdeck {project} ({stack})"[:100],
            description=f"Runs the Cloud Run services of {project} ({stack}); made by launchdeck",
        ),
    )
    gcp.made(email)
    try:
        await gcp.rest(
            "iam",
            "POST",
            f"/v1/projects/{gcp.project}/serviceAccounts",
            body=request,
            response_type=ia.ServiceAccount,
        )
    except GcpError as exc:
        if exc.code != 409:
            raise
    await confirmed(gcp, email)


CONFIRMATIONS = 3
"""Consecutive successful reads that make a new account count as there (what
terraform-provider-google does since GoogleCloudPlatform/magic-modules#14547)."""


async def confirmed(gcp: Gcp, email: str) -> None:
    """Wait until ``CONFIRMATIONS`` reads in a row find the account just made."""
    streak = 0

    async def check() -> bool | None:
        nonlocal streak
        streak = streak + 1 if await account_exists(gcp, email) else 0
        return True if streak >= CONFIRMATIONS else None

    if await poll.until(check, interval=gcp.poll_interval, timeout=PROPAGATION) is None:
        raise GcpError(
            f"the service account {email} was made but is still not readable",
            code=504,
            status="DEADLINE_EXCEEDED",
            hint="IAM is slow to propagate right now: deploy again in a few minutes.",
        )


async def account_exists(gcp: Gcp, email: str) -> bool:
    path = f"/v1/projects/{gcp.project}/serviceAccounts/{email}"
    return await if_found(lambda: gcp.rest("iam", "GET", path)) is not None


async def delete_account(gcp: Gcp, email: str) -> bool:
    """Delete the service account; False when it was not there."""
    return await deleted(
        lambda: gcp.rest("iam", "DELETE", f"/v1/projects/{gcp.project}/serviceAccounts/{email}")
    )


async def project_role(gcp: Gcp, role: str, member: str, *, wanted: bool) -> bool:
    """Give ``member`` the project-level ``role`` (or take it away); whether the policy changed."""

    def change(held: Any) -> Any | None:
        if wanted:
            return policy.add(held, role, member)
        return policy.without(held, member) if policy.has(held, role, member) else None

    return await policy.edit(
        gcp,
        "cloudresourcemanager",
        f"projects/{gcp.project}",
        change,
        busy=f"could not change the project's IAM policy for {member}: it kept changing",
        options={"requested_policy_version": 3},
    )


def is_open(service: Any) -> bool:
    """Whether anyone reaching the Cloud Run service's ingress may invoke it."""
    return bool(service.invoker_iam_disabled)
