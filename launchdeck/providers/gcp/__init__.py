"""The GCP provider: Cloud Run, Cloud Build, Artifact Registry, Secret Manager, Cloud SQL,
Memorystore, Firestore (MongoDB compatibility), Cloud Logging, Vertex AI and a load balancer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from launchdeck.compose.target import Capabilities, Description

if TYPE_CHECKING:
    from launchdeck.providers.gcp.provider import GcpProvider

CAPABILITIES = Capabilities(cloud=True, stores=frozenset({"postgres", "redis", "mongodb"}), llm=True,
                            domains=True)
DESCRIPTION = Description(name="gcp", title="GCP", capabilities=CAPABILITIES, account="project",
                          region_variables=("GCP_REGION",), default_region="us-central1",
                          prices="gcp")


def create(*, region: str | None = None, profile: str | None = None) -> GcpProvider:
    """The provider for the project and region of the environment (``region`` overrides
    GCP_REGION, for a front end's --region; ``profile`` means nothing to GCP)."""
    from launchdeck.providers.gcp.api import Gcp
    from launchdeck.providers.gcp.provider import GcpProvider

    return GcpProvider(Gcp(region=region) if region else None)
