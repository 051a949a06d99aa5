"""Config values for the local provider: one 0600 JSON file per (project, stack)."""

from __future__ import annotations

import fcntl
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from launchdeck.errors import ProviderError
from launchdeck.paths import write_atomic


class FileConfigStore:
    """Values in ``<state dir>/config/<project>/<stack>.json``, readable by the user only."""

    def __init__(self, root: Path, project: str, stack: str) -> None:
        self.path = root / "config" / project / f"{stack}.json"

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ProviderError(f"cannot read the config store {self.path}: {type(exc).__name__}",
                                provider="local",
                                hint="Fix or remove the file, then set the values again.") from exc
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _write(self, data: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomic(self.path, json.dumps(data, sort_keys=True), 0o600)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the store's lock file for one read-modify-write: concurrent writers (the CLI,
        the MCP server, the portal, CI) take turns, so none loses another's value."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock = self.path.with_name(f".{self.path.name}.lock")
        with open(lock, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    async def set(self, name: str, value: str) -> None:
        with self._locked():
            data = self._read()
            data[name] = value
            self._write(data)

    async def names(self) -> list[str]:
        return sorted(self._read())

    async def delete(self, name: str) -> bool:
        with self._locked():
            data = self._read()
            if name not in data:
                return False
            del data[name]
            self._write(data)
            return True

    async def values(self, names: Sequence[str]) -> dict[str, str]:
        data = self._read()
        return {name: data[name] for name in names if name in data}
