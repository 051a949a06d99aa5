"""A faithful local GCP (placeholder docstring, completed below)."""

from launchdeck.providers.gcp.fake.core import Knobs
from launchdeck.providers.gcp.fake.server import FakeGcp, is_mutating

__all__ = ["FakeGcp", "Knobs", "is_mutating"]
