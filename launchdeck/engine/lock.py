"""Who holds a deploy lock, in the words every provider's lock keeps: owner, deployment,
host, process, since, expiry; and whether that holder is gone.

Each provider stores the holder where only one writer can create it (an SSM parameter, a
Cloud Storage object with ``ifGenerationMatch=0``, a local file only one process can
``flock``); what it stores and the refusal a second deploy gets are the same everywhere, and
so is how a stale one is recognised where a lock does not die with its process.
"""

from __future__ import annotations

import json
import os
import socket
import time
from datetime import UTC, datetime
from typing import Any

from launchdeck.errors import Action, ProviderError

EXPIRY = 2 * 3600
"""Seconds a lock lasts: longer than any deploy (a new database takes about ten minutes)."""


def holder(operation: str, deployment_id: str) -> dict[str, Any]:
    """This process, as a lock's holder."""
    return {"owner": operation, "deployment": deployment_id, "host": socket.gethostname(),
            "pid": os.getpid(), "since": datetime.now(UTC).isoformat(timespec="seconds"),
            "expires": time.time() + EXPIRY}


def parse(data: str | bytes) -> dict[str, Any]:
    """A stored holder (an empty one when it cannot be read)."""
    try:
        value = json.loads(data)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def stale(found: dict[str, Any]) -> bool:
    """Whether the holder is gone: expired, or a process of this machine that has ended."""
    if float(found.get("expires", 0)) < time.time():
        return True
    if found.get("host") == socket.gethostname() and isinstance(found.get("pid"), int):
        try:
            os.kill(found["pid"], 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
    return False


def busy(found: dict[str, Any], *, provider: str, project: str, stack: str) -> ProviderError:
    """The refusal a second deploy gets, naming who holds the stack."""
    return ProviderError(
        f"another {found.get('owner', 'deploy')} of {project} ({stack}) is running "
        f"(deployment {found.get('deployment', '?')} on {found.get('host', '?')}, "
        f"since {found.get('since', '?')})", provider=provider,
        hint="Wait for it to finish (ps follows it), then try again.",
        actions=[Action("ps", {"provider": provider, "stack": stack})])
