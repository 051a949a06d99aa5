"""Loading a compose project from disk, the way Docker Compose finds and reads it.

find files (-f, COMPOSE_FILE, or compose.yaml & co. here or in a parent directory)
→ read each (YAML with lines) → name the project (so that ${COMPOSE_PROJECT_NAME} is known)
→ interpolate (.env, .env.<stack>, COMPOSE_* from the OS; strings cast where Compose casts)
→ check against the compose-spec schema → include → extends → merge → profiles
→ bare environment keys from .env → env_file → ``Project``.

Every problem is reported with its file and line; nothing here prints. Paths come from users
and may be hostile (NUL bytes, symlink loops, unreadable directories): each is resolved and
checked before use, and what is wrong is said at the file and line that named it.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterable
from collections.abc import Sequence as Seq
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from launchdeck.compose import envfile, schema
from launchdeck.compose.extends import rebase, resolve_extends
from launchdeck.compose.interpolate import InterpolationError, Template, substitute
from launchdeck.compose.merge import merge, normalize_file, strip_markers, without_markers
from launchdeck.compose.model import Project, path_label
from launchdeck.compose.source import (
    BadPath,
    Mapping,
    Sequence,
    Where,
    file_at,
    is_file,
    os_reason,
    parse_yaml,
    read_text,
    resolved,
    shorten,
    where,
)
from launchdeck.errors import ComposeError, Problem

CANDIDATES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
_PROJECT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")  # used with fullmatch: "ok\n" is refused
_RESOURCES = ("services", "volumes", "networks", "secrets", "configs")
MAX_SERVICES = 1000
"""The most services a project may have: a safety bound (loading 1,000 takes about two seconds),
far above what real projects hold."""


@dataclass(frozen=True, slots=True)
class Reference:
    """A ``${VAR}`` that no .env file defines, and where it was written."""

    names: tuple[str, ...]
    path: tuple[Any, ...]
    file: str
    line: int


@dataclass
class Loaded:
    """A project together with what validation needs to know about its source."""

    project: Project
    references: list[Reference] = field(default_factory=list)
    locations: dict[tuple[Any, ...], Where] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)

    def where(self, path: Iterable[Any]) -> Where:
        """The file and line of ``path``, or of its nearest located ancestor."""
        steps = tuple(path)
        while steps:
            found = self.locations.get(steps)
            if found:
                return found
            steps = steps[:-1]
        files = self.project.compose_files
        return (files[0] if files else "", 0)


def load(
    files: Seq[str] = (),
    *,
    cwd: str | os.PathLike[str] | None = None,
    project_name: str | None = None,
    profiles: Seq[str] = (),
    stack: str = "dev",
    os_environ: dict[str, str] | None = None,
) -> Loaded:
    """Load, interpolate, check and merge a compose project; raise ComposeError on any problem."""
    base = _base_directory(cwd)
    environ = os.environ if os_environ is None else os_environ
    env = {k: v for k, v in environ.items() if k.startswith("COMPOSE_")}
    paths = _find_files(base, files, env)
    project_dir = paths[0].parent
    dotenv = _dotenv(project_dir, stack, env, base)
    variables = {**dotenv, **env}
    reader = _Reader(base, shell=frozenset(env) - frozenset(dotenv))

    raw = [_read(path, base) for path in paths]
    # Compose names the project first, so that files can use ${COMPOSE_PROJECT_NAME}
    name = _project_name(project_name, variables, raw, project_dir)
    variables["COMPOSE_PROJECT_NAME"] = name
    docs, problems = [], []
    for path, doc in zip(paths, raw, strict=True):  # every file's problems are reported together
        problems += reader.checked(path, variables, doc)
        docs.append(doc)
    if problems:
        raise ComposeError(problems)
    for path, doc in zip(paths, docs, strict=True):
        reader.include(doc, project_dir, variables, (path,))
        normalize_file(doc)
        resolve_extends(doc, path, lambda other: reader.prepare(other, variables))
    merged: Mapping = docs[0]
    for doc in docs[1:]:
        merged = merge(merged, doc)
    strip_markers(merged)
    if not merged:  # an empty file is an empty part of a project, but a project needs a part
        raise ComposeError(Problem("the file is empty", _display(paths[0], base))
                           if len(paths) == 1 else Problem("every compose file is empty"),
                           hint="A compose file needs at least a services: section.")
    _count_services(merged)

    _apply_profiles(merged, list(profiles) or _split(variables.get("COMPOSE_PROFILES", "")))
    reader.bare_environment(merged, variables)
    _read_env_files(merged, project_dir, variables, base)
    refs = _collect_refs(merged, ())
    _resolve_build_args(merged, variables)
    _empty_entries(merged, ("volumes", "networks"))
    merged["name"] = name

    try:
        project = Project.model_validate(
            {**merged, "working_dir": str(project_dir),
             "compose_files": [str(p) for p in paths]},
            context={"working_dir": str(project_dir)},
        )
    except ValidationError as exc:
        raise ComposeError(_pydantic_problems(exc, merged, paths[0], base)) from None

    _check_references(project, merged)
    live = [r for r in refs if r[0][0] == "services" and r[0][1] in project.services]
    located = []
    for path, names in live:
        file, line = where(merged, path, (_display(paths[0], base), 0))
        located.append(Reference(names, path, file, line))
        if len(path) == 4 and path[2] == "environment":
            project.services[path[1]].env_refs[path[3]] = names
    return Loaded(project, located, _locations(merged), variables)


class _Reader:
    """Reads the files of one project: compose files, included ones, extended ones.

    ``shell`` names the variables that only the shell defines (``COMPOSE_*``): a bare
    environment key never takes its value from the shell.
    """

    def __init__(self, base: Path, shell: frozenset[str] = frozenset()) -> None:
        self.base = base
        self.shell = shell
        self._included: dict[tuple[Path, Path, frozenset[tuple[str, str]]], Mapping] = {}
        """Each included file read once (for its directory and variables): includes arranged
        as a diamond would otherwise be read again on every path, in exponential time."""

    def checked(self, path: Path, variables: dict[str, str], doc: Mapping, *,
                extended: bool = False) -> list[Problem]:
        """What is wrong with ``doc``, the file read from ``path``, which is interpolated in
        place; the schema is checked last."""
        label = _display(path, self.base)
        _count_services(doc)
        problems = _interpolate(doc, (), variables, label, doc)
        # the schema takes no null for these; Compose reads an extended file unchecked, so
        # a service with nothing under it (`cpu:`) is an empty one there
        _empty_entries(doc, ("secrets", "configs", *(("services",) if extended else ())))
        return problems or schema.check(without_markers(doc), label)

    def read(self, path: Path, variables: dict[str, str], *,
             extended: bool = False) -> tuple[Mapping, list[Problem]]:
        """One file read and interpolated, and what is wrong with it."""
        doc = _read(path, self.base)
        return doc, self.checked(path, variables, doc, extended=extended)

    def prepare(self, other: Path, variables: dict[str, str]) -> Mapping:
        """Another file named by extends: read, interpolated, checked, normalised."""
        doc, problems = self.read(other, variables, extended=True)
        if problems:
            raise ComposeError(problems)
        normalize_file(doc)
        return doc

    def bare_environment(self, doc: Mapping, variables: dict[str, str]) -> None:
        """``environment: [KEY]`` takes KEY's value from .env or .env.<stack> (or the project
        name), as Compose does; a key they do not define stays a config reference."""
        for service in (doc.get("services") or {}).values():
            environment = service.get("environment") if isinstance(service, dict) else None
            if not isinstance(environment, dict):
                continue
            for key, value in environment.items():
                if value is None and key in variables and key not in self.shell:
                    environment[key] = variables[key]

    def include(self, doc: Mapping, directory: Path, variables: dict[str, str],
                chain: tuple[Path, ...]) -> None:
        """Import into ``doc`` what its ``include:`` entries define, as Compose does.

        Each entry is a project of its own: its paths are relative to the including project's
        directory, its files' relative paths to its own project directory (by default the
        directory of its first file), and its variables come from its own .env (or the
        entry's env_file) under the including project's, which win.
        """
        entries = doc.pop("include", None) or []
        for index, entry in enumerate(entries):
            at = _entry_where(entries, index)
            spec = entry if isinstance(entry, dict) else {"path": entry}
            if not spec.get("path"):
                raise ComposeError(Problem("an include entry needs a path", *at, "include"),
                                   hint="Write `- path: other/compose.yaml`, or just the path.")
            files = [self._file(directory, str(p), at, "include") for p in _listed(spec["path"])]
            for file in files:
                if file in chain:
                    loop = " -> ".join(_display(p, self.base) for p in (*chain, file))
                    raise ComposeError(Problem(f"include forms a cycle: {loop}", *at, "include"))
            if len(chain) > MAX_INCLUDE_DEPTH:
                raise ComposeError(Problem(f"includes nest more than {MAX_INCLUDE_DEPTH} files "
                                           "deep", *at, "include"),
                                   hint="Include the files from fewer levels (a file may "
                                        "include several).")
            given = spec.get("project_directory")
            own_dir = _resolve(directory / str(given), at, "include", given) if given \
                else files[0].parent
            own = self._include_variables(spec, directory, own_dir, variables, at)
            imported: Mapping | None = None
            for file in files:
                part = self._included_part(file, own_dir, own, chain)
                imported = part if imported is None else merge(imported, part)
            if imported is not None:
                strip_markers(imported)
                self.bare_environment(imported, own)
                self._import(doc, imported, own_dir, at)

    def _included_part(self, file: Path, own_dir: Path, own: dict[str, str],
                       chain: tuple[Path, ...]) -> Mapping:
        """``file`` as an include entry imports it: read, its own includes imported,
        normalised, extends resolved; read once, then copied."""
        key = (file, own_dir, frozenset(own.items()))
        if key not in self._included:
            part, problems = self.read(file, own)
            if problems:
                raise ComposeError(problems)
            self.include(part, own_dir, own, (*chain, file))
            normalize_file(part)
            resolve_extends(part, file, lambda other, own=own: self.prepare(other, own))
            self._included[key] = part
        return copy.deepcopy(self._included[key])

    def _include_variables(self, spec: Any, directory: Path, own_dir: Path,
                           variables: dict[str, str], at: Where) -> dict[str, str]:
        env_files = [self._file(directory, str(p), at, "include.env_file")
                     for p in _listed(spec.get("env_file") or [])]
        if not env_files:
            dot_env, found = file_at(own_dir / ".env", Problem(
                f"cannot read {_short(own_dir / '.env')}: ", *at, "include"), resolve=False)
            env_files = [dot_env] if found else []
        values: dict[str, str] = {}
        for path in env_files:
            values.update(read_env_file(path, {**variables, **values}, _display(path, self.base),
                                        (at, "include.env_file")))
        return {**values, **variables}

    def _import(self, doc: Mapping, imported: Mapping, own_dir: Path, at: Where) -> None:
        for key in _RESOURCES:
            source = imported.get(key)
            if not isinstance(source, dict):
                continue
            target = doc.get(key)
            if not isinstance(target, Mapping):
                target = doc[key] = Mapping()
                doc.where.setdefault(key, at)
            for name, value in source.items():
                if key == "services" and isinstance(value, Mapping):
                    value = rebase(value, own_dir)
                if name in target and target[name] != value:
                    file, line = target.where.get(name, at)
                    other_file, other_line = source.where.get(name, at)
                    raise ComposeError(Problem(
                        f"{key}.{name} is defined here and, differently, in the included file "
                        f"{other_file} (line {other_line})", file, line, f"{key}.{name}"),
                        hint="Rename one of the two, or remove one definition.")
                target[name] = value
                target.where[name] = source.where.get(name, at)

    def _file(self, directory: Path, written: str, at: Where, field: str) -> Path:
        found, ok = file_at(directory / written, Problem(f"cannot use {_short(written)}: ", *at, field))
        if not ok:
            raise ComposeError(Problem(f"{_display(found, self.base)} not found", *at, field),
                               hint="Check the path; relative paths start at the project "
                                    "directory.")
        return found


MAX_INCLUDE_DEPTH = 40
"""How deep includes may nest (Compose sets no limit; a chain of a thousand files is an
attack, not a project)."""


def _count_services(doc: Mapping) -> None:
    services = doc.get("services")
    if isinstance(services, dict) and len(services) > MAX_SERVICES:
        file, line = where(doc, ("services",))
        raise ComposeError(Problem(f"{len(services)} services are more than launchdeck loads "
                                   f"({MAX_SERVICES})", file, line, "services"),
                           hint="Split the project into several projects.")


def _entry_where(entries: Any, index: int) -> Where:
    places = getattr(entries, "where", [])
    return places[index] if index < len(places) else ("", 0)


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _resolve(path: Path, at: Where, field: str, written: Any = None) -> Path:
    try:
        return resolved(path)
    except BadPath as exc:
        shown = _short(path if written is None else written)
        raise ComposeError(Problem(f"cannot use {shown}: {exc}", *at, field)) from None


def _short(path: Any) -> str:
    """A path for a message: NUL bytes visible, and at most 80 characters."""
    return shorten(str(path).replace("\0", "\\0"), 80, middle=True)


def _empty_entries(doc: Mapping, keys: tuple[str, ...]) -> None:
    """``volumes: {db-data: }``: an entry with no value is an empty mapping, which takes every
    default. Secrets and configs are filled in each file, before the schema check; volumes and
    networks once the files are merged, so that a null in a later file still resets an entry."""
    for key in keys:
        entries = doc.get(key)
        if isinstance(entries, Mapping):
            for name in [n for n, v in entries.items() if v is None]:
                entries[name] = Mapping()


def _base_directory(cwd: str | os.PathLike[str] | None) -> Path:
    hint = "Pass an existing project directory with -C/--cwd."
    try:
        raw = Path(cwd) if cwd is not None else Path(os.getcwd())
    except OSError as exc:  # the current directory was removed
        raise ComposeError(Problem(f"cannot use the current directory: {exc.strerror}"),
                           hint=hint) from None
    try:
        base = resolved(raw)
        ok = base.is_dir()
    except BadPath as exc:
        raise ComposeError(Problem(f"cannot use directory {_short(raw)}: {exc}"), hint=hint) from None
    except OSError as exc:
        raise ComposeError(Problem(f"cannot use directory {_short(raw)}: {os_reason(exc)}"),
                           hint=hint) from None
    if not ok:
        raise ComposeError(Problem(f"directory {base} does not exist"), hint=hint)
    return base


def has_compose_file(base: Path) -> bool:
    """Whether a command run in ``base`` finds a compose file (there, in a parent, or from
    COMPOSE_FILE), as ``load`` looks for one."""
    try:
        return bool(_find_files(base, (), dict(os.environ)))
    except ComposeError:
        return False


def _find_files(base: Path, files: Seq[str], env: dict[str, str]) -> list[Path]:
    if not files and env.get("COMPOSE_FILE"):
        # an empty separator is no separator: the default, as Compose reads it
        files = env["COMPOSE_FILE"].split(env.get("COMPOSE_PATH_SEPARATOR") or os.pathsep)
    hint = "Check the -f/--file paths."
    if files:
        paths = []
        for name in files:
            path, found = file_at(base / name, Problem(f"cannot use compose file {_short(Path(name))}: "),
                                  hint=hint)
            if not found:
                raise ComposeError(Problem(f"compose file {path} not found"), hint=hint)
            paths.append(path)
        return paths
    for directory in (base, *base.parents):
        for name in CANDIDATES:
            try:
                found = is_file(directory / name)
            except BadPath as exc:
                raise ComposeError(Problem(f"cannot look for {name} in {directory}: {exc}"),
                                   hint="Run from a directory you can read, or pass the file "
                                        "with -f.") from None
            if found:
                stem, dot, ext = name.rpartition(".")
                override = directory / f"{stem}.override{dot}{ext}"
                try:
                    with_override = is_file(override)
                except BadPath:
                    with_override = False
                return [directory / name, *([override] if with_override else [])]
    raise ComposeError(
        Problem(f"no compose file found in {base} or its parent directories"),
        hint=f"Create {CANDIDATES[0]}, pass one with -f, or choose the directory with -C.",
    )


def _read(path: Path, base: Path) -> Mapping:
    label = _display(path, base)
    try:
        text = read_text(path)
    except BadPath as exc:
        raise ComposeError(Problem(f"cannot read the file: {exc}", label)) from None
    doc = parse_yaml(text, label)
    if doc is None:  # empty, or only comments: Compose reads it as a part with nothing in it
        return Mapping()
    if not isinstance(doc, Mapping):
        raise ComposeError(Problem("the top level must be a mapping (services:, volumes:, ...)",
                                   label, 1))
    return doc


def _display(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def _dotenv(project_dir: Path, stack: str, env: dict[str, str], base: Path) -> dict[str, str]:
    """What .env, then .env.<stack>, define (later wins); their values may use COMPOSE_*
    variables of the OS environment."""
    variables: dict[str, str] = {}
    for name in (".env", f".env.{stack}"):
        path, found = file_at(project_dir / name,
                              Problem(f"cannot read {_display(project_dir / name, base)}: "), resolve=False)
        if found:
            variables.update(read_env_file(path, {**variables, **env}, _display(path, base)))
    return variables


def read_env_file(path: Path, known: dict[str, str], label: str,
                  named_at: tuple[Where, str] | None = None) -> dict[str, str]:
    """KEY=VALUE lines as Compose reads them (see ``envfile``); values may use what ``known``
    defines and what the file defined above them.

    ``named_at`` is where a compose file names this env file (its place and field), so that
    a file that cannot be read is reported there.
    """
    values: dict[str, str] = {}
    try:
        text = read_text(path)
    except BadPath as exc:
        if named_at:
            (file, line), field = named_at
            raise ComposeError(Problem(f"cannot read env file {label}: {exc}", file, line,
                                       field)) from None
        raise ComposeError(Problem(f"cannot read the file: {exc}", label)) from None
    if "\0" in text:
        raise ComposeError(Problem("the file contains a NUL character (is it binary?)", label))
    grown = 0
    try:
        for key, value, line in envfile.parse(text, known.get):
            grown += len(value)
            if grown > MAX_GROWTH:
                raise ComposeError(Problem(f"its values grow past {MAX_GROWTH >> 20} MB once "
                                           "variables are substituted", label, line))
            values[key] = value
    except envfile.EnvFileError as exc:
        raise ComposeError(Problem(str(exc), label, exc.line),
                           hint="Write one KEY=VALUE per line.") from None
    return values


MAX_GROWTH = 16 << 20
"""How many characters substitution may add to one file (each value is also bounded)."""


def _interpolate(node: Any, path: tuple[Any, ...], variables: dict[str, str], label: str,
                 root: Mapping, grown: list[int] | None = None) -> list[Problem]:
    grown = [0] if grown is None else grown
    problems: list[Problem] = []
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in list(items):
        if isinstance(value, str):
            cast = _CASTS.get(key) if isinstance(key, str) else None
            if cast is None and path[:1] == ("services",) and path[2:] == ("ulimits",):
                cast = _CASTS["*"]  # `nofile: "${N}"`: the one pattern ending in any key
            if "$" not in value and cast is None:
                continue
            try:
                result = substitute(value, variables)
                grown[0] += len(result.value) - len(value)
                if grown[0] > MAX_GROWTH:
                    raise InterpolationError(f"substitution makes the file more than "
                                             f"{MAX_GROWTH >> 20} MB longer")
            except InterpolationError as exc:
                file, line = where(root, (*path, key), (label, 0))
                problems.append(Problem(str(exc), file, line, path_label((*path, key))))
                if grown[0] > MAX_GROWTH:
                    return problems
                continue
            if result.refs:
                node[key] = Template(result.value, result.refs)
                continue
            node[key] = result.value
            convert = _caster(cast, (*path, key)) if cast else None
            if convert is not None:
                try:
                    node[key] = convert(result.value)
                except ValueError as exc:
                    file, line = where(root, (*path, key), (label, 0))
                    problems.append(Problem(f"{exc}, not {shorten(result.value, 60)!r}", file,
                                            line, path_label((*path, key))))
        elif isinstance(value, (dict, list)):
            problems += _interpolate(value, (*path, key), variables, label, root, grown)
            if grown[0] > MAX_GROWTH:
                return problems
    return problems


def _to_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "y", "yes", "on"):
        return True
    if lowered in ("false", "n", "no", "off"):
        return False
    raise ValueError("must be true or false")


def _to_int(text: str) -> int:
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise ValueError("must be an integer")
    return int(text)


def _to_float(text: str) -> float:
    if not re.fullmatch(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
                        r"|[+-]?(?:inf|infinity|nan)", text, re.IGNORECASE):
        raise ValueError("must be a number")
    return float(text)


_S = ("services", "*")
_CAST_PATHS: dict[tuple[str, ...], Any] = {
    (*_S, "cpu_count"): _to_int, (*_S, "cpu_percent"): _to_float, (*_S, "cpu_period"): _to_int,
    (*_S, "cpu_quota"): _to_int, (*_S, "cpu_rt_period"): _to_int,
    (*_S, "cpu_rt_runtime"): _to_int, (*_S, "cpus"): _to_float, (*_S, "cpu_shares"): _to_int,
    (*_S, "init"): _to_bool, (*_S, "depends_on", "*", "required"): _to_bool,
    (*_S, "depends_on", "*", "restart"): _to_bool, (*_S, "deploy", "replicas"): _to_int,
    (*_S, "deploy", "update_config", "parallelism"): _to_int,
    (*_S, "deploy", "update_config", "max_failure_ratio"): _to_float,
    (*_S, "deploy", "rollback_config", "parallelism"): _to_int,
    (*_S, "deploy", "rollback_config", "max_failure_ratio"): _to_float,
    (*_S, "deploy", "restart_policy", "max_attempts"): _to_int,
    (*_S, "deploy", "placement", "max_replicas_per_node"): _to_int,
    (*_S, "healthcheck", "retries"): _to_int, (*_S, "healthcheck", "disable"): _to_bool,
    (*_S, "oom_kill_disable"): _to_bool, (*_S, "oom_score_adj"): _to_int,
    (*_S, "pids_limit"): _to_int, (*_S, "ports", "*", "target"): _to_int,
    (*_S, "privileged"): _to_bool, (*_S, "read_only"): _to_bool, (*_S, "scale"): _to_int,
    (*_S, "stdin_open"): _to_bool, (*_S, "tty"): _to_bool, (*_S, "ulimits", "*"): _to_int,
    (*_S, "ulimits", "*", "hard"): _to_int, (*_S, "ulimits", "*", "soft"): _to_int,
    (*_S, "volumes", "*", "read_only"): _to_bool,
    (*_S, "volumes", "*", "volume", "nocopy"): _to_bool,
    **{(kind, "*", flag): _to_bool for kind, flag in (
        ("networks", "external"), ("networks", "internal"), ("networks", "attachable"),
        ("networks", "enable_ipv4"), ("networks", "enable_ipv6"), ("volumes", "external"),
        ("secrets", "external"), ("configs", "external"))},
}
"""Where Compose turns a string into a boolean or a number once it is interpolated (compose-go
``loader/interpolate.go``): ``read_only: "${RO:-false}"`` is false, not the text "false"."""
_CASTS: dict[str, list[tuple[tuple[str, ...], Any]]] = {}
for _pattern, _convert in _CAST_PATHS.items():
    _CASTS.setdefault(_pattern[-1], []).append((_pattern, _convert))


def _caster(candidates: list[tuple[tuple[str, ...], Any]], path: tuple[Any, ...]) -> Any:
    """The conversion for the value at ``path``, if Compose converts it ("*": any key or index)."""
    for pattern, convert in candidates:
        if len(pattern) == len(path) and all(p == "*" or p == step
                                             for p, step in zip(pattern, path, strict=True)):
            return convert
    return None


def _collect_refs(node: Any, path: tuple[Any, ...]) -> list[tuple[tuple[Any, ...], tuple[str, ...]]]:
    found = []
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        if isinstance(value, Template):
            found.append(((*path, key), value.refs))
        elif isinstance(value, (dict, list)):
            found += _collect_refs(value, (*path, key))
    return found


def normalize_project_name(text: str) -> str:
    """A directory name made into a project name, as Compose does it."""
    return re.sub(r"[^a-z0-9_-]", "", text.lower()).lstrip("_-")


def _project_name(given: str | None, variables: dict[str, str], docs: list[Mapping],
                  project_dir: Path) -> str:
    """As Compose names a project: -p, else COMPOSE_PROJECT_NAME (both must be valid names),
    else the last ``name:`` of the files (interpolated, then normalised as Compose does), else
    the directory's name (normalised)."""
    for source, value in (("--project-name", given),
                          ("COMPOSE_PROJECT_NAME", variables.get("COMPOSE_PROJECT_NAME"))):
        if value:
            if not _PROJECT_NAME.fullmatch(value):
                raise ComposeError(
                    Problem(f"invalid project name {shorten(value, 60)!r} (from {source})"),
                    hint="Use lowercase letters, digits, dashes and underscores, "
                         "starting with a letter or digit.",
                )
            return value
    written, at = "", ("", 0)
    for doc in docs:
        value = doc.get("name")
        if isinstance(value, (str, int, float)) and not isinstance(value, bool) and str(value):
            written, at = str(value), where(doc, ("name",))
    if written:
        try:
            result = substitute(written, variables)
        except InterpolationError as exc:
            raise ComposeError(Problem(str(exc), *at, "name")) from None
        # a variable nothing defines is empty here: a name is no place for a config value
        name = normalize_project_name(
            substitute(result.value, dict.fromkeys(result.refs, "")).value if result.refs
            else result.value)
        if not name:
            raise ComposeError(Problem(f"cannot make a project name from {written!r}", *at,
                                       "name"),
                               hint="Use lowercase letters, digits, dashes and underscores, "
                                    "starting with a letter or digit.")
        return name
    name = normalize_project_name(project_dir.name)
    if not name:
        raise ComposeError(Problem(f"cannot make a project name from {project_dir.name!r}"),
                           hint="Set name: in the compose file or pass --project-name.")
    return name


def _split(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def _apply_profiles(doc: Mapping, active: list[str]) -> None:
    services = doc.get("services") or Mapping()
    disabled = {}
    for name, service in list(services.items()):
        wanted = service.get("profiles") if isinstance(service, dict) else None
        if wanted and "*" not in active and not set(map(str, wanted)) & set(active):
            disabled[name] = wanted
            del services[name]
    problems = []
    for name, service in services.items():
        for dep in (service.get("depends_on") or {}) if isinstance(service, dict) else {}:
            if dep in services:
                continue
            file, line = where(doc, ("services", name, "depends_on", dep))
            if dep in disabled:
                message = (f"service {name!r} depends on {dep!r}, which is only in profile "
                           f"{', '.join(map(str, disabled[dep]))}; enable it with --profile")
            else:
                message = (f"service {name!r} depends on undefined service {dep!r}; "
                           "define it or remove it from depends_on")
            problems.append(Problem(message, file, line, f"services.{name}.depends_on"))
    if problems:
        raise ComposeError(problems)


def _read_env_files(doc: Mapping, project_dir: Path, variables: dict[str, str],
                    base: Path) -> None:
    for name, service in (doc.get("services") or {}).items():
        entries = service.get("env_file") if isinstance(service, dict) else None
        if not entries:
            continue
        values: dict[str, str] = {}
        for index, entry in enumerate(entries):
            spec = entry if isinstance(entry, dict) else {"path": entry}
            file, line = where(doc, ("services", name, "env_file", index))
            field = f"services.{name}.env_file[{index}]"
            written = str(spec.get("path", ""))
            path = _resolve(project_dir / written, (file, line), field, f"env file {written}")
            try:
                found = is_file(path, named=True)
            except BadPath as exc:
                raise ComposeError(Problem(f"cannot use env file {_short(written)}: {exc}",
                                           file, line, field)) from None
            if not found:
                if spec.get("required", True) is False:
                    continue
                raise ComposeError(
                    Problem(f"env file {_display(path, base)} not found", file, line,
                            f"services.{name}.env_file[{index}]"),
                    hint="Create it, or mark the entry required: false.",
                )
            values.update(read_env_file(path, variables, _display(path, base), ((file, line), field)))
        environment = service.get("environment") or Mapping()
        service["environment"] = Mapping({**values, **environment},
                                         where=dict(getattr(environment, "where", {})))


def _check_references(project: Project, doc: Mapping) -> None:
    """Networks, volumes and volumes_from must name something the project defines."""
    problems = []
    for name, service in project.services.items():
        for network in service.networks:
            if network != "default" and network not in project.networks:
                file, line = where(doc, ("services", name, "networks", network))
                problems.append(Problem(f"service {name!r} refers to undefined network "
                                        f"{network!r}; declare it under top-level networks:",
                                        file, line, f"services.{name}.networks"))
        for index, mount in enumerate(service.volumes):
            if mount.type == "volume" and mount.source and mount.source not in project.volumes:
                file, line = where(doc, ("services", name, "volumes", index))
                problems.append(Problem(f"service {name!r} refers to undefined volume "
                                        f"{mount.source!r}; declare it under top-level volumes:",
                                        file, line, f"services.{name}.volumes[{index}]"))
        for source in service.volumes_from:
            other = source.split(":")[0]
            if not source.startswith("container:") and other not in project.services:
                file, line = where(doc, ("services", name, "volumes_from"))
                problems.append(Problem(f"service {name!r} takes volumes from undefined "
                                        f"service {other!r}", file, line,
                                        f"services.{name}.volumes_from"))
    if problems:
        raise ComposeError(problems)


def _resolve_build_args(doc: Mapping, variables: dict[str, str]) -> None:
    """A build arg with no value takes the variable of that name, or is left out; a variable
    nothing defines is empty, as Compose makes it (validation says whether that is allowed)."""
    for service in (doc.get("services") or {}).values():
        build = service.get("build") if isinstance(service, dict) else None
        args = build.get("args") if isinstance(build, dict) else None
        if isinstance(args, dict):
            for key in [k for k, v in args.items() if v is None]:
                if key in variables:
                    args[key] = variables[key]
                else:
                    del args[key]
            for key, value in args.items():
                if isinstance(value, Template):
                    args[key] = substitute(value, dict.fromkeys(value.refs, "")).value


def _pydantic_problems(exc: ValidationError, doc: Mapping, first: Path,
                       base: Path) -> list[Problem]:
    problems = []
    for error in exc.errors():
        path = tuple(error["loc"])
        # pydantic appends the name of a union member or a validator to the location
        while path and not _exists(doc, path):
            path = path[:-1]
        file, line = where(doc, path, (_display(first, base), 0))
        message = _plain(error)
        value = _at(doc, path)
        if isinstance(value, Template):
            names = ", ".join(value.refs)
            message += f" ({names} is not set: define it in .env or .env.<stack>)"
        problems.append(Problem(message, file, line, path_label(path)))
    return sorted(set(problems), key=lambda p: (p.file, p.line, p.path))


def _plain(error: Any) -> str:
    """A pydantic error in the words of the rest of this module."""
    kind, value = error["type"], error.get("input")
    if isinstance(value, str):  # the message quotes it: keep it short
        value = shorten(value, 60)
    if kind == "missing":
        return f"missing required key {error['loc'][-1]!r}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"must be an integer, not {value!r}"
    if kind in ("float_parsing", "float_type"):
        return f"must be a number, not {value!r}"
    if kind in ("bool_parsing", "bool_type"):
        return f"must be true or false, not {value!r}"
    if kind == "string_type":
        return f"must be a string, not {value!r}"
    if kind == "literal_error":
        return f"{value!r} is not one of {error['ctx']['expected']}"
    return str(error["msg"]).removeprefix("Value error, ")


def _exists(doc: Any, path: tuple[Any, ...]) -> bool:
    node = doc
    for step in path:
        if isinstance(node, dict) and step in node:
            node = node[step]
        elif isinstance(node, list) and isinstance(step, int) and step < len(node):
            node = node[step]
        else:
            return False
    return True


def _at(doc: Any, path: tuple[Any, ...]) -> Any:
    node = doc
    for step in path:
        node = node[step]
    return node


def _locations(doc: Any) -> dict[tuple[Any, ...], Where]:
    found: dict[tuple[Any, ...], Where] = {}
    stack: list[tuple[tuple[Any, ...], Any]] = [((), doc)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, Mapping):
            for key, value in node.items():
                if key in node.where:
                    found[(*path, key)] = node.where[key]
                if isinstance(value, (Mapping, Sequence)):
                    stack.append(((*path, key), value))
        elif isinstance(node, Sequence):
            for index, value in enumerate(node):
                if index < len(node.where):
                    found[(*path, index)] = node.where[index]
                if isinstance(value, (Mapping, Sequence)):
                    stack.append(((*path, index), value))
    return found
