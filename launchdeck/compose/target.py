"""What a deployment target can run, as validation needs to know it (providers declare it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a target can deploy; compose validation reads this, never a provider's name."""

    cloud: bool
    """Services run on a managed container platform: ingress goes through a load balancer,
    host-level fields (hostname, devices, dns …) do not exist, volumes are not kept."""
    stores: frozenset[str]
    """Managed stores it provides for x-defang-postgres / -redis / -mongodb."""
    llm: bool
    """x-defang-llm gives a service access to a hosted model."""
    domains: bool
    """domainname gets a certificate and a DNS record."""

