"""A build context as a builder sees it: its files (``.dockerignore`` honoured), a digest, and
the archive a remote builder reads.

Every target names an image built from source by this digest (with the Dockerfile, target,
build args and platform), so an unchanged service is never rebuilt, and a plan knows the
image a build would make without building it. A remote builder gets the same files as one
reproducible archive (fixed times, owners and modes), so an unchanged context is uploaded once.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from launchdeck.compose.model import Build, Service
from launchdeck.errors import BuildError

MAX_CONTEXT = 500 * 1024 * 1024
"""Bytes of files a build context may hold; more is nearly always a missing .dockerignore."""
Archive = Literal["zip", "tar.gz"]
"""The archive formats remote builders read a context from (also the upload's file extension)."""
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
"""The earliest time a ZIP entry can carry: every entry gets it, so the digest is the content's."""


@dataclass(frozen=True)
class Context:
    root: Path
    paths: list[str]
    """Every file and folder the builder sees, relative to ``root``, sorted."""
    size: int


def scan(build: Build, service: str, limit: int = MAX_CONTEXT) -> Context:
    """The files of ``build``'s context (blocking: run it in a worker thread)."""
    from docker.utils.build import exclude_paths

    root = Path(build.context)
    if not root.is_dir():
        raise BuildError(f"build context {root} is not a folder", service=service,
                         hint="Fix build.context in the compose file.")
    ignore = root / ".dockerignore"
    patterns = []
    if ignore.is_file():
        patterns = [line.strip() for line in ignore.read_text(encoding="utf-8").splitlines()
                    if line.strip() and not line.strip().startswith("#")]
    paths = sorted(exclude_paths(str(root), patterns, dockerfile=build.dockerfile))
    size = 0
    for rel in paths:
        full = root / rel
        if full.is_file() and not full.is_symlink():
            size += full.stat().st_size
            if size > limit:
                raise BuildError(
                    f"build context {root} holds more than {limit // (1024 * 1024)} MB",
                    service=service,
                    hint="List what the image does not need (node_modules, .git, data, build "
                         "output) in a .dockerignore next to the Dockerfile.")
    return Context(root, paths, size)


def digest(context: Context, build: Build, platform: str | None = None) -> str:
    """A digest of everything a build reads: the files (names, modes, contents), the
    Dockerfile, target, build args and platform."""
    files = hashlib.sha256()
    for rel in context.paths:
        full = context.root / rel
        info = full.lstat()
        files.update(rel.encode() + b"\0" + oct(info.st_mode).encode() + b"\0")
        if full.is_symlink():
            files.update(os.readlink(full).encode())
        elif full.is_file():
            with full.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    files.update(block)
        files.update(b"\n")
    settings = {"files": files.hexdigest(), "dockerfile": build.dockerfile,
                "inline": build.dockerfile_inline, "target": build.target,
                "args": {k: v for k, v in sorted(build.args.items())}, "platform": platform}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Source:
    """A built service's context as one deploy reads it, once: its files, and the digest of
    everything its build reads, which names the image."""

    context: Context
    digest: str


def source(service: Service) -> Source:
    """Scan and digest ``service``'s build context (blocking: run it in a worker thread)."""
    assert service.build is not None
    found = scan(service.build, service.name)
    return Source(found, digest(found, service.build, service.platform))


@dataclass(frozen=True)
class Packed:
    """A context as one archive, named by its own digest."""

    digest: str
    data: bytes
    files: int


def pack(context: Context, archive: Archive) -> Packed:
    """``context`` as a reproducible ``archive`` (blocking: run it in a worker thread)."""
    data = _zip(context) if archive == "zip" else _tar_gz(context)
    return Packed(hashlib.sha256(data).hexdigest(), data, len(context.paths))


def _tar_gz(context: Context) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel in context.paths:
            full = context.root / rel
            info = tar.gettarinfo(str(full), arcname=rel)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            if info.isfile():
                with full.open("rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
    return gzip.compress(raw.getvalue(), mtime=0)


def _zip(context: Context) -> bytes:
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for rel in context.paths:
            full = context.root / rel
            mode = full.lstat().st_mode
            if stat.S_ISLNK(mode):
                # a link is kept as one, as docker build sees it: its target as content
                archive.writestr(_entry(rel, stat.S_IFLNK | 0o777), str(full.readlink()))
            elif stat.S_ISDIR(mode):
                archive.writestr(_entry(rel.rstrip("/") + "/", stat.S_IFDIR | 0o755), b"")
            elif stat.S_ISREG(mode):
                # only the executable bit survives, as git keeps it: a umask must not change digests
                entry = _entry(rel, stat.S_IFREG | (0o755 if mode & 0o111 else 0o644))
                entry.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(entry, full.read_bytes())
    return raw.getvalue()


def _entry(name: str, mode: int) -> zipfile.ZipInfo:
    entry = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
    entry.create_system = 3  # unix, so that unzip applies the mode below
    entry.external_attr = (mode & 0xFFFF) << 16
    return entry
