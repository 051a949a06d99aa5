"""Deployment targets behind the engine's seams (engine/seams.py), and the registry every front end reads.

Adding a provider is one entry in ``_PACKAGES``: its name and the package that holds it. The
package exposes ``CAPABILITIES`` (read by validation), ``DESCRIPTION`` (what front ends say
about it), both readable without loading any SDK, and ``create()``, which makes the provider
with its default clients. This is the one place that lists the providers by name.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from launchdeck.identity import check_provider

if TYPE_CHECKING:
    from launchdeck.compose.target import Capabilities, Description
    from launchdeck.engine.seams import Provider

_PACKAGES = {
    "local": "launchdeck.providers.local",
    "aws": "launchdeck.providers.aws",
    "gcp": "launchdeck.providers.gcp",
}


def names() -> tuple[str, ...]:
    """Every provider's name, the default (local) first."""
    return tuple(_PACKAGES)


def capabilities(name: str) -> Capabilities:
    """What the provider called ``name`` can deploy."""
    return importlib.import_module(_PACKAGES[check_provider(name)]).CAPABILITIES


def description(name: str) -> Description:
    """How front ends speak of the provider called ``name``, and which settings it reads."""
    return importlib.import_module(_PACKAGES[check_provider(name)]).DESCRIPTION


def default() -> str:
    """The provider a command uses when nothing names one."""
    return names()[0]


def pricing(name: str) -> Any:
    """How the provider called ``name`` prices itself (tools/estimate.py's ``Pricing``), for a
    provider whose description names a price table."""
    return importlib.import_module(f"{_PACKAGES[check_provider(name)]}.prices")


def create(name: str, *, region: str | None = None, profile: str | None = None) -> Provider:
    """The provider called ``name``, constructed with its default clients (in ``region``,
    with the credentials of ``profile``, where those mean something to it)."""
    return importlib.import_module(_PACKAGES[check_provider(name)]).create(region=region, profile=profile)
