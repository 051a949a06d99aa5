"""Errors of the Pulumi components, shaped for Pulumi to show as a message and a hint.

    LaunchdeckError
    ├── ProgramError       the program declares what cannot deploy; Pulumi prints it without a
    │                      traceback (it is also a ``pulumi.RunError``)
    └── DeploymentFailed   the dynamic provider's create, update or delete did not succeed
"""

from __future__ import annotations

import pulumi

from launchdeck.errors import LaunchdeckError


class ProgramError(LaunchdeckError, pulumi.RunError):
    """Found while the program runs (preview too), before anything changes."""


class DeploymentFailed(LaunchdeckError):
    """The engine refused, or a service did not reach SERVICE_DEPLOYMENT_COMPLETED."""
