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


_SYSTEM = ("/etc", "/usr", "/proc", "/sys", "/dev", "/boot", "/bin", "/sbin", "/lib", "/lib32",
           "/lib64", "/run")
"""Where no project can be: a working directory there is a mistake or an attack."""


def project_dir(text: str, *, absolute: bool = False) -> Path:
    """A project directory a user named, resolved (symlinks and all) and checked: it exists,
    has no ``..`` segments, and is not in a system directory."""
    from launchdeck.errors import UsageError

    if "\0" in text:
        raise UsageError("the project directory contains a NUL byte", hint="Check the path.")
    given = Path(text).expanduser()
    if absolute and not given.is_absolute():
        raise UsageError(f"the project directory must be an absolute path, not {text!r}",
                         hint="Pass the full path, e.g. /home/me/project.")
    if ".." in given.parts:
        raise UsageError(f"the project directory {text!r} has '..' in it",
                         hint="Pass the directory itself, without '..'.")
    try:
        resolved = given.resolve(strict=True)
    except (OSError, RuntimeError):  # missing, or a symlink loop
        raise UsageError(f"the project directory {text} does not exist",
                         hint="Pass an existing directory that holds a compose file.") from None
    if not resolved.is_dir():
        raise UsageError(f"{text} is not a directory",
                         hint="Pass the directory that holds the compose file.")
    if resolved == Path("/") or any(resolved == Path(s) or Path(s) in resolved.parents
                                    for s in _SYSTEM):
        raise UsageError(f"{resolved} is a system directory, not a project",
                         hint="Pass the directory of your project.")
    return resolved
