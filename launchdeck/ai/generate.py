"""Scaffolding a deployable project: from the template catalog, or written by an LLM and checked.

Steps without I/O (choose a template, render it, build the LLM prompt, parse and check an
LLM's answer) are separate from the one step that acts: writing files, only inside the
target folder (resolved before it is checked), never over a non-empty folder unless asked,
and whole or not at all.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, Field, ValidationError

from launchdeck.errors import LaunchdeckError, UsageError
from launchdeck.paths import is_system

LANGUAGES = ("python", "nodejs", "golang")
KINDS = {
    "rest-api": "a REST API with /health and /echo",
    "postgres": "a web service with a managed PostgreSQL (x-defang-postgres)",
    "redis-worker": "a worker with a managed Redis queue (x-defang-redis)",
    "llm-chat": "a chat service on a managed LLM (x-defang-llm)",
}
_KEYWORDS = {
    "postgres": ("postgres", "postgresql", "database", "sql", "db", "crud", "todo", "store",
                 "persist", "table", "records"),
    "redis-worker": ("redis", "queue", "worker", "job", "jobs", "background", "task", "tasks",
                     "cache", "async"),
    "llm-chat": ("llm", "chat", "chatbot", "ai", "gpt", "claude", "bot", "assistant", "model",
                 "prompt", "openai"),
    "rest-api": ("api", "rest", "http", "endpoint", "echo", "service", "json"),
}
_LANGUAGE_WORDS = {"python": ("python", "flask", "django", "fastapi"),
                   "nodejs": ("node", "nodejs", "javascript", "express", "js", "typescript"),
                   "golang": ("go", "golang")}
MAX_FILES = 40
MAX_FILE_BYTES = 200_000


class GeneratedFile(BaseModel):
    path: str = Field(description="Path relative to the project folder, with / separators.")
    content: str


class GeneratedProject(BaseModel):
    """What an LLM must answer: every file of the project."""

    files: list[GeneratedFile]


@dataclass(frozen=True)
class Choice:
    language: str
    template: str
    reason: str


def choose(description: str, language: str | None, template: str | None) -> Choice:
    """The template (and language) for a description, by keywords when none is named."""
    if not description.strip():
        raise UsageError("the description is empty",
                         hint='Say what the project should do, e.g. "a todo API that stores items '
                              'in postgres".')
    raw = re.findall(r"[a-z0-9]+", description.lower())
    words = set(raw) | {w[:-1] for w in raw if len(w) > 3 and w.endswith("s")}
    if language is not None and language not in LANGUAGES:
        raise UsageError(f"unknown language {language!r}", hint=f"Use one of: {', '.join(LANGUAGES)}.")
    if template is not None and template not in KINDS:
        raise UsageError(f"unknown template {template!r}",
                         hint="Templates: " + "; ".join(f"{k} ({v})" for k, v in KINDS.items()))
    lang = language or next((name for name, hints in _LANGUAGE_WORDS.items()
                             if words & set(hints)), "python")
    if template:
        return Choice(lang, template, "named")
    scores = {kind: len(words & set(keys)) for kind, keys in _KEYWORDS.items()}
    best = max(scores, key=lambda kind: (scores[kind], kind != "rest-api"))  # specific wins
    if scores[best] == 0:
        best = "rest-api"
    hits = sorted(words & set(_KEYWORDS[best]))
    reason = f"matched {', '.join(hits)}" if hits else "default"
    return Choice(lang, best, reason)


def render(choice: Choice, name: str) -> list[GeneratedFile]:
    """The files of a catalog template, with the project name filled in."""
    folder = resources.files("launchdeck.templates").joinpath(choice.language, choice.template)
    files = []
    for entry in sorted(_walk(folder), key=lambda pair: pair[0]):
        path, text = entry
        files.append(GeneratedFile(path=path, content=text.replace("{{name}}", name)))
    return files


def _walk(folder, prefix: str = ""):  # type: ignore[no-untyped-def]
    for item in folder.iterdir():
        if item.name == "__pycache__":
            continue
        if item.is_dir():
            yield from _walk(item, f"{prefix}{item.name}/")
        else:
            yield f"{prefix}{item.name}", item.read_text(encoding="utf-8")


def project_name(folder: Path) -> str:
    """The compose project name a folder gives (its resolved name: ``x/..`` is not a name)."""
    from launchdeck.compose.load import normalize_project_name

    return normalize_project_name(Path(folder).resolve().name) or "app"


# -- the LLM path: prompt, parse, check -----------------------------------------------------


def llm_prompt(description: str, language: str, name: str) -> tuple[str, str]:
    """(system, user) texts asking for a whole project as JSON."""
    from launchdeck.prompts import text

    example = render(Choice(language, "rest-api", "example"), name)
    shown = "\n\n".join(f"--- {f.path} ---\n{f.content}" for f in example
                        if f.path in ("compose.yaml", "Dockerfile"))
    return (text("generate_system"),
            text("generate_user").format(description=description, language=language, name=name,
                                         example=shown))


def repair_prompt(files: list[GeneratedFile], problems: list[str]) -> str:
    from launchdeck.prompts import text

    listing = "\n\n".join(f"--- {f.path} ---\n{f.content}" for f in files)
    return text("generate_repair").format(problems="\n".join(f"- {p}" for p in problems),
                                          files=listing)


def parse(answer: str) -> list[GeneratedFile]:
    """The files in an LLM's answer (JSON, possibly inside a code fence)."""
    from launchdeck.ai.llm import json_object

    try:
        return GeneratedProject.model_validate(json_object(answer)).files
    except (ValueError, ValidationError) as exc:
        raise ValueError(f"the answer is not a project: {exc}") from exc


def check(files: list[GeneratedFile]) -> list[str]:
    """Why these files would not make a deployable project (empty when they would)."""
    problems = [p for f in files for p in _unsafe(f.path)]
    if problems:
        return problems
    if len(files) > MAX_FILES:
        return [f"too many files ({len(files)}; at most {MAX_FILES})"]
    problems = _conflicts(files)
    if problems:
        return sorted(problems)
    paths = {f.path for f in files}
    if "compose.yaml" not in paths:
        return ["compose.yaml is missing"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "project"
        _write_tree(root, files)
        try:
            from launchdeck import providers
            from launchdeck.compose import load, validate

            loaded = load(cwd=root, os_environ={})
        except LaunchdeckError as exc:
            return [f"compose.yaml does not load: {exc}"]
        for name, service in loaded.project.services.items():
            if service.build:
                dockerfile = Path(service.build.context) / (service.build.dockerfile or "Dockerfile")
                if not dockerfile.is_file():
                    problems.append(f"service {name} builds from {dockerfile.relative_to(root)}, "
                                    "which is missing")
            for port in service.ingress_ports:
                if service.healthcheck is None or service.healthcheck.disabled:
                    problems.append(f"service {name}: ingress port {port.target} has no "
                                    "healthcheck")
        cloud = next(n for n in providers.names() if providers.description(n).cloud)
        problems += [f"{f.file}:{f.line}: {f.field}: {f.message} (fix: {f.fix})"
                     for f in validate(loaded, cloud, providers.capabilities(cloud))
                     if f.severity == "error"]
    return problems


def _unsafe(path: str) -> list[str]:
    pure = PurePosixPath(path)
    if not path.strip() or pure.parts in ((), (".",)):
        return [f"{path!r}: a file needs a name"]
    if path.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", path) or pure.is_absolute():
        return [f"{path!r}: absolute paths are not allowed"]
    if ".." in pure.parts or "\\" in path:
        return [f"{path!r}: paths must stay inside the project folder"]
    if "\0" in path or any(len(part.encode()) > _MAX_NAME_BYTES for part in pure.parts):
        return [f"{path!r}: not a valid file name"]
    return []


# -- acting: writing files ------------------------------------------------------------------

_MAX_NAME_BYTES = 255


def resolve_folder(folder: str | os.PathLike[str], *, cwd: Path | None = None) -> Path:
    """The absolute folder a user's path means: ``~`` expanded, relative to ``cwd``, with
    symlinks followed and ``..`` applied after them (``/tmp/a/../../etc`` is /etc, even with
    ``a`` missing), so that every check looks at the folder that would really be written."""
    text = os.fspath(folder)
    if not text.strip():
        raise UsageError("no folder was given", hint="Name the folder to create the project in.")
    if "\0" in text:
        raise UsageError("the folder's name contains a NUL byte", hint="Name a real folder.")
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = (cwd or Path.cwd()) / path
    try:
        return path.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop (RuntimeError before Python 3.13)
        raise UsageError(f"{text} cannot be resolved: {getattr(exc, 'strerror', None) or exc}",
                         hint="Name a folder that exists or can be created, without symlink "
                              "loops.") from exc


NAME_MAX, PATH_MAX = 255, 4096
"""Bytes in one name, and in a whole path, that Linux file systems take."""


def check_target(folder: str | os.PathLike[str], *, overwrite: bool,
                 cwd: Path | None = None) -> Path:
    """Resolve ``folder`` and refuse what cannot become a new project's folder: a system folder,
    a file, a path through a file, or a folder with files in it unless ``overwrite``.

    Returns the resolved folder: the one to write to and to show."""
    from launchdeck.compose.source import shorten

    long = [part for part in Path(folder).parts if len(os.fsencode(part)) > NAME_MAX]
    if long:
        raise UsageError(f"folder: the name '{shorten(long[0], 40, middle=True)}' is longer than "
                         f"{NAME_MAX} bytes, the most a file system takes",
                         hint="Choose a shorter folder name.")
    if len(os.fsencode(str(folder))) > PATH_MAX:
        raise UsageError(f"folder: the path is longer than {PATH_MAX} bytes",
                         hint="Choose a shorter folder path.")
    root = resolve_folder(folder, cwd=cwd)
    shown = str(folder) if str(folder) == str(root) else f"{folder} (that is {root})"
    if is_system(root):
        raise UsageError(f"{shown} is a system folder, not a place for a project",
                         hint="Choose a folder of your own, such as one under your home folder.")
    if root.exists() and not root.is_dir():
        raise UsageError(f"{shown} exists and is not a folder", hint="Choose a new or empty folder.")
    ancestor = next(p for p in root.parents if p.exists())
    if not root.exists() and not ancestor.is_dir():
        raise UsageError(f"{shown} cannot be made: {ancestor} is a file, not a folder",
                         hint="Choose a new or empty folder.")
    try:
        occupied = root.is_dir() and any(root.iterdir())
    except OSError as exc:
        raise UsageError(f"{shown} cannot be read: {exc.strerror}",
                         hint="Choose a folder you can read and write.") from exc
    if occupied and not overwrite:
        raise UsageError(f"{shown} is not empty",
                         hint="Choose an empty or new folder, or allow replacing files "
                              "(--overwrite, or overwrite: true).")
    return root


def write(folder: str | os.PathLike[str], files: list[GeneratedFile], *,
          overwrite: bool) -> list[str]:
    """Write ``files`` into ``folder``, whole or not at all, never outside it.

    A new folder is written beside its place and renamed into it in one step. Into an
    existing folder (empty, or ``overwrite``), files are staged inside it first and then moved
    over one by one; if a move fails, the files already moved are put back as they were."""
    problems = [p for f in files for p in _unsafe(f.path)]
    if problems:
        raise UsageError("refusing to write outside the project folder: " + "; ".join(problems),
                         hint="Give paths relative to the project folder, without `..`.")
    root = check_target(folder, overwrite=overwrite)
    if len(files) > MAX_FILES:
        raise UsageError(f"too many files ({len(files)}; at most {MAX_FILES})")
    problems = _conflicts(files)
    if problems:
        raise UsageError("refusing to write the project: " + "; ".join(sorted(problems)))
    if root.exists():
        _land_in_existing(root, files, _destinations(root, files, folder))
    else:
        _land_new(root, files)
    return [f.path for f in files]


def _conflicts(files: list[GeneratedFile]) -> list[str]:
    """Two files at one path, a file where another needs a folder, a file too large."""
    problems = [f"{f.path} is larger than {MAX_FILE_BYTES} bytes" for f in files
                if len(f.content.encode()) > MAX_FILE_BYTES]
    seen: set[PurePosixPath] = set()
    for path in (PurePosixPath(f.path) for f in files):
        if path in seen:
            problems.append(f"{path} is given twice")
        seen.add(path)
    for path in seen:
        problems += [f"{parent} is given as a file, but {path} needs it as a folder"
                     for parent in path.parents if parent in seen]
    return problems


def _destinations(root: Path, files: list[GeneratedFile],
                  folder: str | os.PathLike[str]) -> dict[str, Path]:
    """Where each file lands in an existing folder, resolved: symlinks in it may not lead out."""
    out: dict[str, Path] = {}
    for f in files:
        target = (root / f.path).resolve()
        if not target.is_relative_to(root) or target == root:
            raise UsageError(f"refusing to write {f.path}: it resolves outside {folder} "
                             f"(to {target}, through a symlink)",
                             hint="Remove the symlink, or choose a new folder.")
        if target.is_dir():
            raise UsageError(f"refusing to write {f.path}: {target} is a folder",
                             hint="Remove it, or choose a new folder.")
        existing = next((p for p in [target, *target.parents] if p.exists()), root)
        if existing != target and not existing.is_dir():
            raise UsageError(f"refusing to write {f.path}: {existing} is a file, not a folder",
                             hint="Remove it, or choose a new folder.")
        if target in out.values():
            raise UsageError(f"refusing to write {f.path}: another file lands at {target} too")
        out[f.path] = target
    return out


def _staging(parent: Path, name: str) -> Path:
    """A new, private-named folder in ``parent`` (made with the user's usual permissions)."""
    while True:
        path = parent / f".{name}.launchdeck-{secrets.token_hex(4)}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path


def _land_new(root: Path, files: list[GeneratedFile]) -> None:
    made: list[Path] = []
    for ancestor in reversed(root.parents):
        if not ancestor.exists():
            try:
                ancestor.mkdir()
            except OSError as exc:
                _remove_folders(made)
                raise UsageError(f"cannot make {ancestor}: {exc.strerror}",
                                 hint="Choose a folder you can write to.") from exc
            made.append(ancestor)
    staging: Path | None = None
    try:
        staging = _staging(root.parent, root.name)
        _write_tree(staging, files)
        os.rename(staging, root)  # one step: the folder appears complete, or not at all
    except OSError as exc:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        _remove_folders(made)
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
            raise UsageError(f"{root} is not empty (files appeared in it while writing)",
                             hint="Choose an empty or new folder, or allow replacing files.") from exc
        raise UsageError(f"cannot write the project into {root}: {exc.strerror or exc}",
                         hint="Check there is space and permission to write there.") from exc


def _land_in_existing(root: Path, files: list[GeneratedFile], targets: dict[str, Path]) -> None:
    # staged inside the folder itself: same file system for every move, and no need to write
    # in its parent (an empty folder of one's own often sits in a folder one cannot write)
    staging = None
    placed: list[tuple[Path, Path | None]] = []
    made: list[Path] = []
    try:
        staging = _staging(root, "generate")
        _write_tree(staging / "new", files)
        (staging / "old").mkdir()
        for index, f in enumerate(files):
            target = targets[f.path]
            for folder in reversed([p for p in target.parents if p.is_relative_to(root)]):
                if not folder.exists():
                    folder.mkdir()
                    made.append(folder)
            backup = None
            if os.path.lexists(target):
                backup = staging / "old" / str(index)
                os.rename(target, backup)
            placed.append((target, backup))
            os.rename(staging / "new" / f.path, target)
    except OSError as exc:
        for target, backup in reversed(placed):  # put back what was there
            with contextlib.suppress(OSError):
                if os.path.lexists(target) and (backup is None or os.path.lexists(backup)):
                    os.unlink(target)
                if backup is not None:
                    os.rename(backup, target)
        _remove_folders(made)
        raise UsageError(f"cannot write the project into {root}: {exc.strerror or exc}; "
                         "nothing was changed",
                         hint="Check there is space and permission to write there.") from exc
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


def _remove_folders(made: list[Path]) -> None:
    for folder in reversed(made):
        with contextlib.suppress(OSError):
            folder.rmdir()


def _write_tree(base: Path, files: list[GeneratedFile]) -> None:
    """Write ``files`` under ``base``, a folder only this process has touched."""
    base.mkdir(exist_ok=True)
    for f in files:
        target = base / f.path
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(f.content)
            os.fchmod(out.fileno(), 0o755 if f.path.endswith(".sh") else 0o644)
