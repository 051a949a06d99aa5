"""Test doubles and helpers for launchdeck's own tests and benchmarks (not shipped in the wheel):
images made offline, event recording, the in-memory provider; testkit.aws (the moto harness) and
testkit.gcp (the local GCP) beside it.

No image registry is needed: the test image is a root filesystem of the machine's static
busybox (Debian's busybox-static), imported into the Docker Engine. It has a shell, an HTTP
server (httpd, with CGI), wget and nc, which is enough to build real multi-service projects.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import time
from pathlib import Path
from typing import Any

from launchdeck.compose.target import Capabilities, Description
from launchdeck.engine.events import Recorder
from launchdeck.engine.seams import Provider, Session

__all__ = ["BUSYBOX", "BUSYBOX_TAGS", "DEBIAN", "DEBIAN_TAGS", "MemoryBlobs", "MemoryProvider", "Recorder",
           "busybox_rootfs", "ensure_busybox_image", "ensure_debian_image"]

BUSYBOX = "launchdeck-test/busybox:latest"
BUSYBOX_TAGS = (BUSYBOX, "busybox:1.36")
"""The image under every name the tests and examples/ use."""

_FILES = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n",
    "etc/group": "root:x:0:\nnogroup:x:65534:\n",
    "etc/hosts": "127.0.0.1 localhost\n",
}


def busybox_rootfs(busybox: Path = Path("/bin/busybox")) -> bytes:
    """A tar of a root filesystem: busybox, a link per applet, a few files in /etc."""
    if not busybox.is_file():
        raise FileNotFoundError(f"{busybox} is missing: install Debian's busybox-static")
    applets = subprocess.run([str(busybox), "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    out = io.BytesIO()
    now = time.time()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for directory, mode in (("bin", 0o755), ("etc", 0o755), ("tmp", 0o1777),
                                ("root", 0o700), ("www", 0o755), ("proc", 0o555),
                                ("sys", 0o555), ("dev", 0o755)):
            info = tarfile.TarInfo(directory)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, mode, now
            tar.addfile(info)
        tar.add(str(busybox), arcname="bin/busybox")
        for applet in applets:
            if applet == "busybox":
                continue
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname, info.mtime = tarfile.SYMTYPE, "busybox", now
            tar.addfile(info)
        for name, text in _FILES.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, now
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def ensure_busybox_image(api: Any) -> str:
    """Import the busybox image under every name in BUSYBOX_TAGS unless it is there."""
    import docker.errors

    try:
        image_id = api.inspect_image(BUSYBOX)["Id"]
    except docker.errors.ImageNotFound:
        repository, tag = BUSYBOX.rsplit(":", 1)
        api.import_image_from_data(busybox_rootfs(), repository=repository, tag=tag,
                                   changes=['CMD ["sh"]', "ENV PATH=/bin"])
        image_id = api.inspect_image(BUSYBOX)["Id"]
    for name in BUSYBOX_TAGS[1:]:
        repository, tag = name.rsplit(":", 1)
        api.tag(image_id, repository, tag)
    return image_id


DEBIAN = "launchdeck-test/debian:bookworm"
DEBIAN_TAGS = (DEBIAN, "python:3.12-slim", "node:22-slim")
"""A Debian with python3 and nodejs, under the base-image names the templates use."""
_MIRROR = "http://deb.debian.org/debian"


def ensure_debian_image(api: Any) -> str:
    """Build the Debian image with debootstrap (about a minute, once) unless it is there."""
    import shutil
    import tempfile

    import docker.errors

    try:
        image_id = api.inspect_image(DEBIAN)["Id"]
    except docker.errors.ImageNotFound:
        if not shutil.which("debootstrap"):
            raise FileNotFoundError("debootstrap is missing: install Debian's debootstrap") from None
        with tempfile.TemporaryDirectory(prefix="launchdeck-rootfs-") as tmp:
            root = Path(tmp) / "root"
            subprocess.run(["debootstrap", "--variant=minbase", "--include=python3,nodejs",
                            "bookworm", str(root), _MIRROR], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            with (root / "etc" / "passwd").open("a") as passwd:
                passwd.write("node:x:1000:1000:node:/home/node:/bin/sh\n")
            with (root / "etc" / "group").open("a") as group:
                group.write("node:x:1000:\n")
            (root / "home" / "node").mkdir(parents=True, exist_ok=True)
            os.chown(root / "home" / "node", 1000, 1000)
            tar = subprocess.run(["tar", "-C", str(root), "-c", "."], check=True,
                                 stdout=subprocess.PIPE).stdout
        repository, tag = DEBIAN.rsplit(":", 1)
        api.import_image_from_data(tar, repository=repository, tag=tag, changes=[
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            'CMD ["bash"]'])
        image_id = api.inspect_image(DEBIAN)["Id"]
    for name in DEBIAN_TAGS[1:]:
        repository, tag = name.rsplit(":", 1)
        api.tag(image_id, repository, tag)
    return image_id


# -- an in-memory provider on the engine's seams ---------------------------------------------


class MemoryProvider(Provider):
    """A deployment target that keeps everything in memory, behind the same seams as the real
    providers (launchdeck.engine.seams), for testing the engine's loop without a Docker
    Engine or a cloud. It does what it is told and records every change it makes.

    Knobs: ``failing_builds`` (service names whose build fails), ``failing_services`` (units
    that never become healthy), ``log_lines`` (what ``read_logs`` finds), ``removed_images``
    (images no longer on the target); ``changes`` lists every mutating call as
    ``(operation, unit)``; ``stored`` holds what the engine keeps on the target (records, the
    lock).
    """

    description = Description(
        name="memory", title="in-memory test target", log_interval=0.01,
        capabilities=Capabilities(cloud=False, stores=frozenset({"postgres", "redis", "mongodb"}),
                                  llm=False, domains=False))

    def __init__(self) -> None:
        self.units: dict[tuple[str, str], dict[str, _MemoryUnit]] = {}
        self.stored = MemoryBlobs()
        self.config: dict[tuple[str, str], dict[str, str]] = {}
        self.changes: list[tuple[str, str]] = []
        self.failing_builds: set[str] = set()
        self.failing_services: set[str] = set()
        self.log_lines: list[Any] = []
        self.built: list[str] = []
        self.removed_images: set[str] = set()
        self.prepared = 0
        """How many deploys have prepared (made what the units stand on)."""

    async def identity(self) -> Any:
        from launchdeck.engine.results import Target

        return Target(provider=self.name, account="memory")

    def config_store(self, project: str, stack: str) -> _MemoryConfig:
        return _MemoryConfig(self.config.setdefault((project, stack), {}))

    def blobs(self) -> MemoryBlobs:
        return self.stored

    async def session(self, project: Any, stack: str, config: Any, deployment_id: str,
                      options: Any, sink: Any) -> _MemorySession:
        return _MemorySession(self, project, stack, dict(config), deployment_id)

    def statuses(self, project: Any, stack: str) -> dict[str, Any]:
        from launchdeck.engine.results import ServiceStatus

        return {name: ServiceStatus(name=name, state=unit.state, replicas_running=unit.replicas,
                                    replicas_desired=unit.replicas, deployment_id=unit.etag,
                                    image=unit.image)
                for name, unit in self.units.get((project.name, stack), {}).items()
                if unit.kind != "ingress"}

    async def read_logs(self, project: str, stack: str, query: Any) -> list[Any]:
        return [line for line in self.log_lines
                if (not query.services or line.service in query.services)
                and (query.since is None or line.at >= query.since)
                and (query.until is None or line.at <= query.until)]

    async def destroy(self, project: str, stack: str, *, volumes: bool, sink: Any) -> Any:
        from launchdeck.engine.seams import Teardown

        gone = self.units.pop((project, stack), {})
        self.changes += [("destroy", name) for name in sorted(gone)]
        return Teardown(removed=sorted(gone), kept=[])


class _MemoryUnit:
    def __init__(self, digest: str, kind: str, replicas: int, state: Any, etag: str,
                 image: str | None) -> None:
        self.digest, self.kind, self.replicas, self.state = digest, kind, replicas, state
        self.etag, self.image = etag, image


class _MemorySession(Session):
    interval = 0.001

    def __init__(self, provider: MemoryProvider, project: Any, stack: str,
                 config: dict[str, str], etag: str) -> None:
        self.provider, self.project, self.stack, self.config, self.etag = \
            provider, project, stack, config, etag
        self.live = provider.units.setdefault((project.name, stack), {})
        self.services = _MemoryServices(self)

    async def observe(self) -> dict[str, Any]:
        from launchdeck.engine.events import State
        from launchdeck.engine.seams import Found, Kind

        statuses = self.provider.statuses(self.project, self.stack)
        return {name: Found(unit.digest, kind=Kind(unit.kind), replicas=unit.replicas,
                            ready=unit.state is State.SERVICE_DEPLOYMENT_COMPLETED,
                            status=statuses.get(name))
                for name, unit in self.live.items()}

    async def image(self, service: Any, source: Any, *, build: bool, progress: Any) -> str:
        from launchdeck.engine.events import State
        from launchdeck.errors import BuildError

        if source is None:
            return service.image or ""
        tag = f"memory/{service.name}:{source.digest}"
        if build:
            progress(State.BUILD_RUNNING, f"building {tag}")
            self.provider.built.append(service.name)
            if service.name in self.provider.failing_builds:
                raise BuildError("build failed: step 2/3 exited with code 1",
                                 service=service.name, hint="Fix the Dockerfile.")
        return tag

    async def has_image(self, image: str) -> bool:
        return image not in self.provider.removed_images

    async def prepare(self) -> None:
        """Nothing is shared between units in memory: only counted."""
        self.provider.prepared += 1


class _MemoryServices:
    """Services (and stores, which run as services here) kept in a dict."""

    def __init__(self, session: _MemorySession) -> None:
        self.session, self.provider = session, session.provider

    def render(self, service: Any, image: str) -> Any:
        from launchdeck.engine.seams import Rendered

        return Rendered(spec=image)

    async def apply(self, unit: Any, action: Any, progress: Any) -> None:
        from launchdeck.engine.events import State

        self.provider.changes.append((action.value.lower(), unit.name))
        self.session.live[unit.name] = _MemoryUnit(unit.digest, unit.kind.value, unit.replicas,
                                                   State.SERVICE_DEPLOYMENT_PENDING,
                                                   self.session.etag, unit.spec)

    async def look(self, unit: Any, progress: Any) -> Any:
        from launchdeck.engine.events import State
        from launchdeck.engine.results import ServiceStatus

        live = self.session.live[unit.name]
        failed = unit.name in self.provider.failing_services
        live.state = State.SERVICE_DEPLOYMENT_FAILED if failed else \
            State.SERVICE_DEPLOYMENT_COMPLETED
        return ServiceStatus(name=unit.name, state=live.state, replicas_running=unit.replicas,
                             replicas_desired=unit.replicas, deployment_id=live.etag,
                             exit_code=0 if unit.once else None,
                             message="never became healthy" if failed else "")

    async def remove(self, name: str, found: Any, progress: Any) -> None:
        self.provider.changes.append(("delete", name))
        self.session.live.pop(name, None)


class _MemoryConfig:
    def __init__(self, values: dict[str, str]) -> None:
        self._values = values

    async def set(self, name: str, value: str) -> None:
        self._values[name] = value

    async def names(self) -> list[str]:
        return sorted(self._values)

    async def delete(self, name: str) -> bool:
        return self._values.pop(name, None) is not None

    async def values(self, names: Any) -> dict[str, str]:
        return {n: self._values[n] for n in names if n in self._values}


class MemoryBlobs:
    """The engine's blobs in a dict, ``key -> (data, generation)``; generations count up. Each
    call compares and changes without awaiting, so a precondition is atomic as the real
    stores promise. ``writes`` lists every write and delete as ``(operation, key)``."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}
        self.writes: list[tuple[str, str]] = []
        self._count = 0

    def _matches(self, key: str, generation: str | None) -> bool:
        from launchdeck.engine.blobs import ABSENT

        found = self.objects.get(key)
        return generation is None or generation == (found[1] if found else ABSENT)

    async def read(self, key: str) -> tuple[bytes, str] | None:
        return self.objects.get(key)

    async def write(self, key: str, data: bytes, *, if_generation: str | None = None) -> str | None:
        if not self._matches(key, if_generation):
            return None
        self._count += 1
        self.objects[key] = (bytes(data), str(self._count))
        self.writes.append(("write", key))
        return str(self._count)

    async def delete(self, key: str, *, if_generation: str | None = None) -> None:
        if key in self.objects and self._matches(key, if_generation):
            del self.objects[key]
            self.writes.append(("delete", key))

    async def list(self, prefix: str) -> list[str]:
        return sorted(k for k in self.objects if k.startswith(prefix))
