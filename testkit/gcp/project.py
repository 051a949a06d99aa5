"""What a new project in a secure-by-default organization does that an old one does not, in one place.

Every duration is the real one (seconds), with the page it comes from; the fake waits
``duration * knobs.time_scale``. Where Google gives no number, the value is a typical one seen
in public reports, said so beside it. With ``knobs.new_project`` off, nothing lags and no
organization policy applies (an old, hand-tuned project).
"""

from __future__ import annotations

from typing import Any

from testkit.gcp.core import ApiError, error_info

ENABLED_BY_DEFAULT = frozenset(
    {
        "bigquery.googleapis.com",
        "bigquerystorage.googleapis.com",
        "cloudapis.googleapis.com",
        "clouddebugger.googleapis.com",
        "cloudtrace.googleapis.com",
        "datastore.googleapis.com",
        "logging.googleapis.com",
        "monitoring.googleapis.com",
        "servicemanagement.googleapis.com",
        "serviceusage.googleapis.com",
        "sql-component.googleapis.com",
        "storage-api.googleapis.com",
        "storage-component.googleapis.com",
        "storage.googleapis.com",
    }
)
"""The services a new project has on: https://cloud.google.com/service-usage/docs/enabled-service
("Services enabled by default"). Every other API answers SERVICE_DISABLED until enabled."""

ENABLE_OPERATION = 30.0
"""An enable operation's own run. Not documented; gcloud's `services enable` typically returns
in 10-60 s (terraform-provider-google#2129 waits on the operation for this reason)."""
ENABLE_PROPAGATION = 120.0
"""After the operation is done, calls still answer SERVICE_DISABLED for a while: the error
itself says "If you enabled this API recently, wait a few minutes for the action to propagate
to our systems and retry" (a few minutes; issues such as
google-marketing-solutions/cwv_from_ga4_exports#16 and terraform-provider-google#10510 show
first calls failing right after enabling)."""
ACCOUNT_PROPAGATION = 60.0
"""A new service account is not usable in policies or services yet: "After you create a service
account, you might need to wait for 60 seconds or more before you use the service account"
(https://cloud.google.com/iam/docs/service-accounts-create); seen as "Service account ... does
not exist" in hashicorp/vault-plugin-secrets-gcp#237 and googleapis/google-cloud-go#11482."""
GRANT_PROPAGATION = 120.0
"""A new role binding takes effect after a delay: "typically takes 2 minutes ... can take 7
minutes or longer" (https://cloud.google.com/iam/docs/access-change-propagation); the typical
figure is used."""
LATEST_LAG = 60.0
"""``versions/latest`` keeps answering the previous version after a new one is added: only
reads by version number are strongly consistent
(https://cloud.google.com/secret-manager/docs/access-secret-version recommends pinning a
version). Google gives no figure; one minute is assumed."""
CERTIFICATE_AFTER_DNS = 900.0
"""A Google-managed certificate stays PROVISIONING until the domain's A record points at the
load balancer's address, then takes "up to 60 minutes" (usually about 15) to become ACTIVE
(https://cloud.google.com/load-balancing/docs/ssl-certificates/google-managed-certs)."""
SQL_CREATE = 600.0
"""A Cloud SQL for PostgreSQL instance: about 5-10 minutes to create (Cloud SQL's quickstarts say
"can take several minutes"; public timelines show 5-10); the upper figure is used."""
REDIS_CREATE = 300.0
"""A Memorystore for Redis basic instance: about 5 minutes
(https://cloud.google.com/memorystore/docs/redis/create-manage-instances)."""
FIRESTORE_CREATE = 60.0
"""A Firestore database (Enterprise edition, MongoDB compatibility): its create is a
long-running operation; Google gives no figure, and `gcloud firestore databases create`
typically returns within a minute (typical; not documented)."""
BUILD = 90.0
"""A small Docker build on Cloud Build, queue to push (typical; not documented)."""
REVISION = 20.0
"""A new Cloud Run revision to become ready (typical; not documented)."""
REQUEST = 0.1
"""One control-plane call's round trip (a read of Cloud Run, IAM, Secret Manager or Cloud
Storage from a client near the region): typical, not documented; Google publishes no latency
figure for its admin APIs. Set as ``knobs.latency`` to time what is only calls (a no-op redeploy)."""

DOMAIN_RESTRICTED_SHARING = "constraints/iam.allowedPolicyMemberDomains"
"""Enforced in organizations made since May 2024 (secure by default:
https://cloud.google.com/resource-manager/docs/secure-by-default-organizations)."""
PUBLIC_MEMBERS = frozenset({"allUsers", "allAuthenticatedUsers"})


def refuse_public(member: str) -> None:
    """Domain-restricted sharing: a policy naming everyone is refused, as
    terraform-provider-google#13592 and LayerZero-Labs/gasolina-gcp#15 show it (HTTP 400,
    FAILED_PRECONDITION), with the constraint named in its details."""
    if member not in PUBLIC_MEMBERS:
        return
    raise ApiError(
        "FAILED_PRECONDITION",
        "One or more users named in the policy do not belong to a permitted customer,  perhaps "
        "due to an organization policy.",
        code=400,
        reason="conditionNotMet",
        details=[
            {
                "@type": "type.googleapis.com/google.rpc.PreconditionFailure",
                "violations": [
                    {
                        "type": DOMAIN_RESTRICTED_SHARING,
                        "subject": member,
                        "description": f"Member {member} is not in an allowed domain.",
                    }
                ],
            },
            error_info("ORG_POLICY_CONSTRAINT_VIOLATED", "iam.googleapis.com",
                       {"constraint": DOMAIN_RESTRICTED_SHARING, "member": member}),
        ],
    )


def store_failure(knobs: Any, instance: str) -> str | None:
    """The error a store create ends with, from the ``failing_stores`` knob: ``quota`` and ``zone``
    stand for the real messages of that kind."""
    for key, reason in knobs.failing_stores.items():
        if key in instance:
            return {
                "quota": "QUOTA_EXCEEDED: Quota exceeded for quota metric 'Instances' in region.",
                "zone": "ZONE_RESOURCE_POOL_EXHAUSTED: The zone does not have enough resources "
                "available to fulfill the request. Try a different zone, or try again later.",
            }.get(reason, reason)
    return None
