"""The GCP provider: Cloud Run, Cloud Build, Artifact Registry, Secret Manager, Cloud SQL,
Memorystore, Cloud Logging, Vertex AI and a load balancer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from launchdeck.providers.base import Capabilities

if TYPE_CHECKING:
    from launchdeck.providers.gcp.provider import GcpProvider

CAPABILITIES = Capabilities(cloud=True, stores=frozenset({"postgres", "redis"}), llm=True, domains=True)


def create() -> GcpProvider:
    from launchdeck.providers.gcp.provider import GcpProvider

    return GcpProvider()
