"""A build context as a builder sees it: its files (``.dockerignore`` honoured) and a digest.

Every target names an image built from source by this digest (with the Dockerfile, target,
build args and platform), so an unchanged service is never rebuilt, and a plan knows the
image a build would make without building it.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from launchdeck.compose.model import Build, Service
from launchdeck.errors import BuildError

MAX_CONTEXT = 500 * 1024 * 1024
"""Bytes of files a build context may hold; more is nearly always a missing .dockerignore."""


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
