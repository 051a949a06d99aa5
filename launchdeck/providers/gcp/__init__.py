"""The GCP provider: Cloud Run, Cloud Build, Artifact Registry, Secret Manager, Cloud SQL,
Memorystore, Cloud Logging, Vertex AI and a load balancer."""

from __future__ import annotations

from typing import NoReturn

from launchdeck.providers.base import Capabilities

CAPABILITIES = Capabilities(cloud=True, stores=frozenset({"postgres", "redis"}), llm=True, domains=True)


def create() -> NoReturn:
    from launchdeck.errors import UsageError

    raise UsageError(
        "deploying to gcp is not available in this version",
        hint="Deploy with --provider local or aws; checking the compose file with "
        "--provider gcp already tells whether it is ready for GCP.",
    )
