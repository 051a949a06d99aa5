"""Where launchdeck keeps its own files: config values, logs."""

from __future__ import annotations

import os
from pathlib import Path


def state_dir() -> Path:
    """``LAUNCHDECK_STATE_DIR``, else ``$XDG_STATE_HOME/launchdeck``, else ~/.local/state."""
    explicit = os.environ.get("LAUNCHDECK_STATE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "launchdeck"
