"""The local Docker Engine as a deployment target."""

from __future__ import annotations

from typing import TYPE_CHECKING

from launchdeck.compose.target import Capabilities

if TYPE_CHECKING:
    from launchdeck.providers.local.provider import LocalProvider

CAPABILITIES = Capabilities(cloud=False, stores=frozenset({"postgres", "redis", "mongodb"}),
                            llm=False, domains=False)


def create(*, region: str | None = None, profile: str | None = None) -> LocalProvider:
    from launchdeck.providers.local.provider import LocalProvider

    return LocalProvider()
