"""The local Docker Engine as a deployment target."""

from __future__ import annotations

from typing import TYPE_CHECKING

from launchdeck.compose.target import Capabilities, Description

if TYPE_CHECKING:
    from launchdeck.providers.local.provider import LocalProvider

CAPABILITIES = Capabilities(cloud=False, stores=frozenset({"postgres", "redis", "mongodb"}),
                            llm=False, domains=False)
DESCRIPTION = Description(name="local", title="local Docker Engine", capabilities=CAPABILITIES,
                          volumes_kept=True, lists_records=True, log_interval=1.0)


def create(*, region: str | None = None, profile: str | None = None) -> LocalProvider:
    from launchdeck.providers.local.provider import LocalProvider

    return LocalProvider()
