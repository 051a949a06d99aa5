"""Resolving ``extends``: a service built on another one, from the same file or another.

The extended service is merged under the extending one by the usual merge rules. Relative
paths of a service taken from another file (build context, env_file, bind mounts) are made
absolute against that file's directory, as Docker Compose does.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from launchdeck.compose.merge import merge
from launchdeck.compose.source import Mapping, Override, Sequence, file_at, shorten, where
from launchdeck.errors import ComposeError, Problem

Reader = Callable[[Path], Mapping]
"""Reads another compose file: parsed, interpolated, checked and normalised."""


def resolve_extends(doc: Mapping, path: Path, read: Reader) -> None:
    """Replace every service of ``doc`` that extends another by the merged result, in place."""
    resolver = _Resolver(read)
    resolver.docs[path] = doc
    services = doc.get("services") or {}
    for name in list(services):
        merged = resolver.service(path, name, ())
        # `web: !override {extends: base}` replaces web with the extended result
        services[name] = Override(merged) if isinstance(services[name], Override) else merged


class _Resolver:
    def __init__(self, read: Reader) -> None:
        self.read = read
        self.docs: dict[Path, Mapping] = {}
        self.done: dict[tuple[Path, str], Mapping] = {}

    def doc(self, path: Path) -> Mapping:
        if path not in self.docs:
            self.docs[path] = self.read(path)
        return self.docs[path]

    def service(self, path: Path, name: str, chain: tuple[tuple[Path, str], ...]) -> Mapping:
        key = (path, name)
        if key in self.done:
            return self.done[key]
        doc = self.doc(path)
        services = doc.get("services") or {}
        if key in chain:
            loop = " -> ".join(n for _, n in (*chain, key))
            file, line = where(doc, ("services", name, "extends"))
            raise ComposeError(Problem(f"extends forms a cycle: {loop}", file, line,
                                       f"services.{name}.extends"))
        service = services[name]
        if isinstance(service, Override):
            service = service.value
        spec = service.get("extends") if isinstance(service, dict) else None
        if spec is None:
            self.done[key] = service
            return service
        target, file = (spec, None) if isinstance(spec, str) else (spec.get("service"),
                                                                     spec.get("file"))
        base_path = self._file(doc, name, path, file) if file else path
        base_services = self.doc(base_path).get("services") or {}
        if target not in base_services:
            where_file, line = where(doc, ("services", name, "extends"))
            known = ", ".join(base_services) or "(none)"
            raise ComposeError(Problem(f"extends names service {target!r}, which "
                                       f"{'that file' if file else 'the file'} does not define "
                                       f"(services: {known})", where_file, line,
                                       f"services.{name}.extends"))
        base = self.service(base_path, str(target), (*chain, key))
        if base_path.parent != path.parent:
            base = rebase(base, base_path.parent)
        own = Mapping({k: v for k, v in service.items() if k != "extends"},
                      where={k: v for k, v in service.where.items() if k != "extends"})
        merged = merge(base, own, ("services", name))
        self.done[key] = merged
        return merged


    @staticmethod
    def _file(doc: Mapping, name: str, path: Path, file: str) -> Path:
        where_file, line = where(doc, ("services", name, "extends"))
        field = f"services.{name}.extends.file"
        found, ok = file_at(path.parent / file, Problem(
            f"extends names the file {shorten(file, 80, middle=True)!r}, which cannot be used: ",
            where_file, line, field))
        if ok:
            return found
        raise ComposeError(Problem(f"extends names the file {file}, which does not exist",
                                   where_file, line, field))


def rebase(service: Mapping, directory: Path) -> Mapping:
    """A copy of ``service`` whose relative paths are absolute against ``directory``."""
    out = Mapping(service, where=dict(service.where))
    build = out.get("build")
    if isinstance(build, dict) and isinstance(build.get("context"), str):
        out["build"] = Mapping({**build, "context": _absolute(build["context"], directory)},
                               where=dict(getattr(build, "where", {})))
    env_files = out.get("env_file")
    if isinstance(env_files, list):
        out["env_file"] = Sequence(
            [_absolute(e, directory) if isinstance(e, str) else
             Mapping({**e, "path": _absolute(str(e.get("path", "")), directory)},
                     where=dict(getattr(e, "where", {})))
             for e in env_files], where=list(getattr(env_files, "where", [])))
    volumes = out.get("volumes")
    if isinstance(volumes, list):
        out["volumes"] = Sequence([_rebase_volume(v, directory) for v in volumes],
                                  where=list(getattr(volumes, "where", [])))
    return out


def _absolute(text: str, directory: Path) -> str:
    if "://" in text or text.startswith(("/", "~", "git@")):
        return text
    return os.path.normpath(directory / text)  # joined and cleaned, as Compose does: no symlinks


def _rebase_volume(volume: Any, directory: Path) -> Any:
    if isinstance(volume, str):
        source, sep, rest = volume.partition(":")
        return _absolute(source, directory) + sep + rest if sep and source.startswith(".") \
            else volume
    if isinstance(volume, dict) and volume.get("type") == "bind" and \
            isinstance(volume.get("source"), str) and not volume["source"].startswith(("/", "~")):
        return Mapping({**volume, "source": _absolute(str(volume["source"]), directory)},
                       where=dict(getattr(volume, "where", {})))
    return volume
