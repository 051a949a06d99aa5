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
from launchdeck.engine.gather import gather
from launchdeck.providers.gcp import names, policy
from launchdeck.providers.gcp.api import PROPAGATION, Gcp, GcpError, deleted, if_found


async def account(gcp: Gcp, named: names.Names) -> None:
    """The stack's runtime service account, made if missing; one of its name that is another
    stack's (its description names another) is refused."""
    project, stack = named.project, named.stack
    await _make(gcp, named.account(gcp.project), named.account_id(),
                f"launchdeck {project} ({stack})"[:100], names.account_description(project, stack),
                owner=(project, stack))


async def _make(gcp: Gcp, email: str, account_id: str, display: str, description: str, *,
                owner: tuple[str, str] | None = None) -> None:
    """A service account, made if missing and then confirmed; with ``owner``, one that is found
    must be that stack's."""
    from google.cloud import iam_admin_v1 as ia

    def mine(found: dict[str, Any]) -> None:
        if owner is not None and names.account_owner(found.get("description", "")) != owner:
            names.refuse("service account", email, names.account_owner(found.get("description", "")),
                         *owner)

    found = await found_account(gcp, email)
    if found is not None:
        mine(found)
        return
    request = ia.CreateServiceAccountRequest(
        account_id=account_id,
        service_account=ia.ServiceAccount(display_name=display, description=description),
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
        found = await found_account(gcp, email)
        if found is not None:
            mine(found)
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
    return await found_account(gcp, email) is not None


async def found_account(gcp: Gcp, email: str) -> dict[str, Any] | None:
    """The service account (its JSON: ``email``, ``description`` ...), or None."""
    path = f"/v1/projects/{gcp.project}/serviceAccounts/{email}"
    return await if_found(lambda: gcp.rest("iam", "GET", path))


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


BUILD_ACCOUNT = "LAUNCHDECK_GCP_BUILD_ACCOUNT"
"""Names the service account Cloud Build runs as, instead of the one launchdeck makes."""
ACT_AS = "iam.serviceAccounts.actAs"


async def builder(gcp: Gcp) -> str:
    """The service account builds run as: the one the user names, or ``launchdeck-builder``
    made with exactly what a build needs. Either way the caller must be allowed to act as it;
    one error names the role when not. New projects' default build identity (the compute
    account) holds no role in a secure-by-default organization, so builds never rely on it."""
    named = gcp.setting(BUILD_ACCOUNT)
    email = named or f"{names.BUILDER}@{gcp.project}.iam.gserviceaccount.com"
    member = f"serviceAccount:{email}"

    async def grant() -> None:
        def change(held: Any) -> Any | None:
            wrote = [policy.add(held, role, member) for role in names.BUILD_ROLES]
            return held if any(w is not None for w in wrote) else None

        if await policy.edit(gcp, "cloudresourcemanager", f"projects/{gcp.project}", change,
                             busy=f"could not give {email} what builds need: the policy kept changing",
                             options={"requested_policy_version": 3}):
            gcp.made(email)  # builds pushing as it may be refused until the grants propagate

    async def may_act() -> None:
        path = f"/v1/projects/{gcp.project}/serviceAccounts/{email}:testIamPermissions"
        answer = await gcp.rest("iam", "POST", path, body={"permissions": [ACT_AS]})
        if ACT_AS not in (answer or {}).get("permissions", []):
            raise GcpError(
                f"the account deploying may not run builds as {email} (it lacks {ACT_AS})",
                code=403,
                status="PERMISSION_DENIED",
                hint=f"Grant it roles/iam.serviceAccountUser on that account: `gcloud iam service-accounts "
                f"add-iam-policy-binding {email} --member=user:YOU@example.com "
                "--role=roles/iam.serviceAccountUser`, then try again.",
            )

    if named:
        await may_act()
        return email
    await _make(gcp, email, names.BUILDER, "launchdeck builder",
                "Runs launchdeck's Cloud Build builds: reads contexts, writes logs, pushes images")
    await gather(grant, may_act)  # neither needs the other once the account is there
    return email


def is_open(service: Any) -> bool:
    """Whether anyone reaching the Cloud Run service's ingress may invoke it."""
    return bool(service.invoker_iam_disabled)
