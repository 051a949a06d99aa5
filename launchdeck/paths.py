"""Where launchdeck keeps its own files (config values, logs), and how it writes a file whole."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def state_dir() -> Path:
    """``LAUNCHDECK_STATE_DIR``, else ``$XDG_STATE_HOME/launchdeck``, else ~/.local/state."""
    explicit = os.environ.get("LAUNCHDECK_STATE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "launchdeck"


def write_atomic(path: Path, text: str | bytes, mode: int = 0o666) -> None:
    """Write ``text`` to ``path`` whole or not at all: into a new file beside it (created with
    ``mode``, less the umask, so a 0600 file is never readable by others, even briefly), then
    renamed over it; the new file is removed if anything fails."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(text.encode() if isinstance(text, str) else text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


_SYSTEM_FOLDERS = frozenset(("/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32",
                             "/lib64", "/libx32", "/media", "/mnt", "/opt", "/proc", "/run", "/sbin",
                             "/srv", "/sys", "/tmp", "/usr", "/usr/local", "/var", "/var/tmp"))
"""Folders that are never a project's own, whatever their contents."""
_SYSTEM_TREES = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc",
                 "/run", "/sbin", "/sys", "/usr/bin", "/usr/include", "/usr/lib", "/usr/lib64",
                 "/usr/libexec", "/usr/sbin", "/usr/share", "/var/cache", "/var/log")
"""Folders nothing of a project belongs anywhere inside."""


def is_system(path: Path) -> bool:
    """Whether ``path`` (resolved) is or lies in a system folder, where no project can be:
    naming one is a mistake or an attack."""
    return str(path) in _SYSTEM_FOLDERS or any(path.is_relative_to(tree) for tree in _SYSTEM_TREES)


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
    if is_system(resolved):
        raise UsageError(f"{resolved} is a system directory, not a project",
                         hint="Pass the directory of your project.")
    return resolved
