"""Who may do what: the stack's runtime service account and the few rights it gets.

Every Cloud Run service of a (project, stack) runs as one service account made for it. It
can read only the secrets its services reference (a binding on each secret, not on the
project), and, when a service has ``x-defang-llm``, call Vertex AI (``roles/aiplatform.user``
on the project). Cloud Run's own agent pulls images from the same project's registry, so
the account needs nothing for that. Each service is invokable by ``allUsers``: the public
ones by design, the internal ones because their ingress only admits traffic from the network.
"""

from __future__ import annotations

from typing import Any

from launchdeck.providers.gcp import names, policy
from launchdeck.providers.gcp.api import Gcp, GcpError, deleted, if_found


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


async def is_public(gcp: Gcp, service_name: str) -> bool:
    """Whether anyone may invoke the Cloud Run service (a read)."""
    held = await gcp.call("run.services", "get_iam_policy", request={"resource": service_name})
    return policy.has(held, names.INVOKER, "allUsers")


async def make_public(gcp: Gcp, service_name: str) -> bool:
    """Let anyone invoke the Cloud Run service; whether the policy changed."""
    return await policy.edit(
        gcp,
        "run.services",
        service_name,
        lambda held: policy.add(held, names.INVOKER, "allUsers"),
        busy=f"could not make {service_name} invokable: its policy kept changing",
    )
