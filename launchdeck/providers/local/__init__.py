"""The local Docker Engine as a deployment target."""

from launchdeck.providers.local.provider import LocalProvider

__all__ = ["LocalProvider"]
