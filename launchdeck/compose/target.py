"""What a deployment target is, as the layers above providers need to know it: what it can
run (validation reads it) and how front ends speak of it. Each provider package declares both,
readable without importing any SDK, so nothing above providers/ names a provider."""

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
    autoscaling: bool = False
    """x-defang-autoscaling makes the replica count follow the load."""


@dataclass(frozen=True, slots=True)
class Description:
    """What front ends say about a target and which of its settings they read, and the facts
    the engine reads of it; none of them asks for a provider by name. A provider states only
    what differs from the defaults."""

    name: str
    """The provider's name in the registry (the --provider value)."""
    title: str
    """What it is, in a sentence: "local Docker Engine", "AWS"."""
    capabilities: Capabilities
    account: str | None = None
    """What the target calls the account it deploys to ("account", "project"); None for a
    target with no account, which is named by its endpoint and never pinned in a stack file."""
    region_variables: tuple[str, ...] = ()
    """Environment variables that choose the region, strongest first; empty: no regions."""
    default_region: str | None = None
    """The region priced when none is given or in force."""
    profile_variable: str | None = None
    """The environment variable naming a credentials profile; None: it takes no profile."""
    volumes_kept: bool = False
    """A destroy keeps named volumes unless asked to delete them too."""
    prices: str | None = None
    """Its price table (launchdeck/prices/<prices>.json); None: it costs nothing to run on."""
    lists_records: bool = False
    """It can list every deployment record it keeps (the portal shows them all)."""
    log_interval: float = 2.0
    """Seconds between two reads of its logs when following them."""

    @property
    def cloud(self) -> bool:
        return self.capabilities.cloud

    @property
    def regions(self) -> bool:
        return bool(self.region_variables)
