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


MAX_READ = 1_000_000
"""Bytes a file named by a user (a Dockerfile, an env file, a compose file) may hold."""


def read_regular(path: Path, *, what: str, limit: int = MAX_READ) -> bytes:
    """The bytes of ``path``, which must be a regular file of at most ``limit`` bytes: a
    device (/dev/zero), a FIFO or a directory is refused before it is read, so a path from a
    user never hangs or exhausts memory. OSError subclasses as ``open`` raises them;
    ``ValueError`` (saying why) for anything but a regular file that fits."""
    import stat

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{what} is not a regular file")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{what} is larger than {limit // 1000} kB")
    return data


def project_dir(text: str, *, absolute: bool = False,
                argument: str = "the project directory") -> Path:
    """A project directory a user named, resolved (symlinks and all) and checked: it exists,
    has no ``..`` segments, and is not in a system directory. ``argument`` is how errors name
    it (``working_directory`` for a tool)."""
    from launchdeck.compose.source import shorten
    from launchdeck.errors import UsageError

    shown = shorten(text, 80, middle=True).encode("unicode_escape").decode("ascii")
    if "\0" in text:
        raise UsageError(f"{argument} contains a NUL byte", hint="Check the path.")
    given = Path(text).expanduser()
    if absolute and not given.is_absolute():
        raise UsageError(f"{argument} must be an absolute path, not '{shown}'",
                         hint="Pass the full path, e.g. /home/me/project.")
    if ".." in given.parts:
        raise UsageError(f"{argument} '{shown}' has '..' in it",
                         hint="Pass the directory itself, without '..'.")
    try:
        resolved = given.resolve(strict=True)
        if not resolved.is_dir():
            raise UsageError(f"{argument} '{shown}' is not a directory",
                             hint="Pass the directory that holds the compose file.")
    except (OSError, RuntimeError):  # missing, a symlink loop, or a name too long
        raise UsageError(f"{argument} '{shown}' does not exist",
                         hint="Pass an existing directory that holds a compose file.") from None
    if is_system(resolved):
        raise UsageError(f"{argument} {shorten(str(resolved), 80, middle=True)} is a system "
                         "directory, not a project",
                         hint="Pass the directory of your project.")
    return resolved
