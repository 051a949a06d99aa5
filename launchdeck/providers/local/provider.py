"""The local provider: deploys a project to the Docker Engine on this machine.

One network per (project, stack); one container per replica, labelled with project, stack,
service, deployment id and the digest of what it runs (session.py makes them). This module
holds what is not one deploy: the connection, the config store, the files the engine keeps
its records and lock in, ps, logs and destroy. Every Docker call is blocking, so each runs in
a worker thread.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import anyio
import anyio.to_thread

from launchdeck.compose.model import Project
from launchdeck.engine import records
from launchdeck.engine.blobs import ABSENT, Generation
from launchdeck.engine.events import Event, Sink, State
from launchdeck.engine.gather import gather
from launchdeck.engine.results import LogLine, Target
from launchdeck.engine.seams import DeployOptions, LogQuery, Provider, Teardown
from launchdeck.errors import UsageError
from launchdeck.paths import state_dir, write_atomic
from launchdeck.providers.local import DESCRIPTION
from launchdeck.providers.local import containers as C
from launchdeck.providers.local import spec as S
from launchdeck.providers.local.config import FileConfigStore
from launchdeck.providers.local.daemon import Endpoint, connect, resolve_endpoint

RECORDS = records.FOLDER
"""The state directory's folder of deployment records, ``<project>/<stack>.json``."""


class LocalProvider(Provider):
    """Deploys to the Docker Engine named by DOCKER_HOST, or the default socket."""

    description = DESCRIPTION

    def __init__(self, client: Any = None, *, state_root: Path | None = None,
                 builds_in_parallel: int = 2, poll: float = 0.25) -> None:
        self._client = client
        self._endpoint: Endpoint | None = None
        self._state_root = state_root
        self.builds = anyio.CapacityLimiter(builds_in_parallel)
        self.poll = poll
        """Seconds between reads while waiting for containers to become healthy."""

    @property
    def root(self) -> Path:
        return self._state_root or state_dir()

    def recorded(self) -> list[tuple[str, str, datetime]]:
        """(project, stack, written at) of every deployment record kept here, sorted."""
        found = []
        for path in sorted((self.root / RECORDS).glob("*/*.json")):
            try:
                written = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            except OSError:  # removed while listing
                continue
            found.append((path.parent.name, path.stem, written))
        return found

    @property
    def endpoint(self) -> Endpoint:
        """Where the engine is: DOCKER_HOST, else the current Docker context, else the socket."""
        if self._endpoint is None:
            self._endpoint = resolve_endpoint()
        return self._endpoint

    @property
    def api(self) -> Any:
        """The low-level Docker API client, connected on first use (EngineUnavailable, naming
        every place looked at, when nothing answers)."""
        if self._client is None:
            self._client = connect(self.endpoint, timeout=120)
        return self._client.api

    async def identity(self) -> Target:
        """The engine's endpoint and where it was found (no call to the engine)."""
        endpoint = self.endpoint
        return Target(provider=self.name, account=endpoint.host, credentials=endpoint.source)

    async def connected(self) -> Any:
        return await C.in_thread(lambda: self.api)

    def config_store(self, project: str, stack: str) -> FileConfigStore:
        return FileConfigStore(self.root, project, stack)

    def blobs(self) -> FileBlobs:
        return FileBlobs(self.root)

    async def session(self, project: Project, stack: str, config: Mapping[str, str],
                      deployment_id: str, options: DeployOptions, sink: Sink) -> Any:
        from launchdeck.providers.local.session import LocalSession

        return LocalSession(self, await self.connected(), project, stack, config, deployment_id,
                            options, sink)

    # -- what runs now --------------------------------------------------------------------

    async def containers(self, project: str, stack: str, service: str | None = None,
                         deployment: str | None = None) -> list[C.Container]:
        api = await self.connected()
        filters = S.owner_filter(project, stack, service)
        if deployment:
            filters["label"].append(f"{S.ETAG}={deployment}")
        listed = await C.in_thread(api.containers, all=True, filters=filters)

        async def inspect(container: str) -> C.Container | None:
            try:
                return await C.in_thread(api.inspect_container, container)
            except Exception as exc:  # removed between list and inspect
                if not C.not_found(exc):
                    raise
                return None

        found = await gather(*[lambda c=c: inspect(c["Id"]) for c in listed])
        return [c for c in found if c is not None]

    async def read_logs(self, project: str, stack: str, query: LogQuery) -> list[LogLine]:
        found: list[C.Container] = []
        for service in list(query.services) or [None]:
            found += await self.containers(project, stack, service, query.deployment)
        lines: list[LogLine] = []
        for c in found:
            lines += await self._container_logs(c, query)
        return lines

    async def _container_logs(self, c: C.Container, query: LogQuery) -> list[LogLine]:
        since, until = query.since, query.until
        kwargs: dict[str, Any] = {"stdout": True, "stderr": True, "timestamps": True}
        # Docker takes whole seconds: ask for a little more, then filter to the exact bounds
        if since:
            kwargs["since"] = int(since.timestamp())
        if until:
            kwargs["until"] = int(until.timestamp()) + 1
        if query.tail is not None:
            kwargs["tail"] = query.tail
        try:
            raw = await C.in_thread(self.api.logs, c["Id"], **kwargs)
        except Exception as exc:
            if C.not_found(exc):
                return []
            raise
        service, replica = C.label(c, S.SERVICE), int(C.label(c, S.REPLICA, "0"))
        parsed = (C.parse_log(text, service, replica)
                  for text in raw.decode("utf-8", "replace").splitlines())
        return [line for line in parsed if line and (since is None or line.at >= since)
                and (until is None or line.at <= until)]

    # -- destroy --------------------------------------------------------------------------

    async def destroy(self, project: str, stack: str, *, volumes: bool, sink: Sink) -> Teardown:
        api = await self.connected()
        removed = []
        for c in await self.containers(project, stack):
            name = c["Name"].lstrip("/")
            sink(Event(C.label(c, S.SERVICE) or None, State.STOPPED, f"removing {name}"))
            await C.in_thread(C.remove, api, c["Id"])
            removed.append(name)
        filters = S.owner_filter(project, stack)
        for net in await C.in_thread(api.networks, filters=filters):
            await C.in_thread(api.remove_network, net["Id"])
            removed.append(net["Name"])
        listed = await C.in_thread(api.volumes, filters=filters)
        kept = []
        for vol in listed.get("Volumes") or []:
            if volumes:
                await C.in_thread(api.remove_volume, vol["Name"], force=True)
                removed.append(vol["Name"])
            else:
                kept.append(vol["Name"])
        return Teardown(removed, kept)


class FileBlobs:
    """The engine's blobs as files in the state directory, ``<root>/<key>``.

    A file is written beside its place and renamed over it, so a reader sees a whole one; its
    version is a digest of its content. A write or delete with a precondition compares and
    replaces while holding an exclusive ``flock`` on ``<root>/.blobs.lock`` (for microseconds),
    so of two processes that read the same version one succeeds.
    """

    GUARD = ".blobs.lock"

    def __init__(self, root: Path) -> None:
        self.root = root

    async def read(self, key: str) -> tuple[bytes, Generation] | None:
        return await anyio.to_thread.run_sync(self._read, self._path(key))

    async def write(self, key: str, data: bytes, *,
                    if_generation: Generation | None = None) -> Generation | None:
        path = self._path(key)

        def write() -> Generation | None:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with self._guard(if_generation):
                if if_generation is not None and self._version(path) != if_generation:
                    return None
                write_atomic(path, data)
            return _digest(data)

        return await anyio.to_thread.run_sync(write)

    async def delete(self, key: str, *, if_generation: Generation | None = None) -> None:
        path = self._path(key)

        def delete() -> None:
            with self._guard(if_generation):
                if if_generation is None or self._version(path) == if_generation:
                    path.unlink(missing_ok=True)

        await anyio.to_thread.run_sync(delete)

    async def list(self, prefix: str) -> list[str]:
        def listed() -> list[str]:
            head = prefix.rpartition("/")[0]
            folder = self._path(head) if head else self.root
            found = []
            for path in folder.rglob("*") if folder.is_dir() else ():
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix) and not path.name.startswith(".") and path.is_file():
                    found.append(key)
            return sorted(found)

        return await anyio.to_thread.run_sync(listed)

    def _path(self, key: str) -> Path:
        parts = PurePosixPath(key).parts
        if not parts or key.startswith("/") or any(p.startswith(".") for p in parts):  # no .., no hidden
            raise UsageError(f"{key!r} is not a key of the state directory",
                             hint="Name projects and stacks with letters, digits, - and _.")
        return self.root.joinpath(*parts)

    @staticmethod
    def _read(path: Path) -> tuple[bytes, Generation] | None:
        try:
            data = path.read_bytes()
        except OSError:  # not there (or unreadable): as if never written
            return None
        return data, _digest(data)

    def _version(self, path: Path) -> Generation:
        found = self._read(path)
        return ABSENT if found is None else found[1]

    @contextmanager
    def _guard(self, condition: Generation | None) -> Iterator[None]:
        if condition is None:
            yield
            return
        import fcntl

        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        with (self.root / self.GUARD).open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _digest(data: bytes) -> Generation:
    return hashlib.sha256(data).hexdigest()[:32]
