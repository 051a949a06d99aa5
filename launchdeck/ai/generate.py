"""Scaffolding a deployable project: from the template catalog, or written by an LLM and checked.

Steps without I/O (choose a template, render it, build the LLM prompt, parse and check an
LLM's answer) are separate from the one step that acts: writing files, only inside the
target folder, never over a non-empty folder unless asked.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, Field, ValidationError

from launchdeck.errors import LaunchdeckError, UsageError

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
    from launchdeck.compose.load import normalize_project_name

    return normalize_project_name(folder.name) or "app"


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
        raise ValueError(f"the answer is not a project: {exc}") from None


def check(files: list[GeneratedFile]) -> list[str]:
    """Why these files would not make a deployable project (empty when they would)."""
    problems = [p for f in files for p in _unsafe(f.path)]
    if problems:
        return problems
    if len(files) > MAX_FILES:
        return [f"too many files ({len(files)}; at most {MAX_FILES})"]
    paths = {f.path for f in files}
    if "compose.yaml" not in paths:
        return ["compose.yaml is missing"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "project"
        _write(root, files)
        try:
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
        problems += [f"{f.file}:{f.line}: {f.field}: {f.message} (fix: {f.fix})"
                     for f in validate(loaded, "aws") if f.severity == "error"]
    return problems


def _unsafe(path: str) -> list[str]:
    pure = PurePosixPath(path)
    if not path or path.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", path) or \
            pure.is_absolute():
        return [f"{path!r}: absolute paths are not allowed"]
    if ".." in pure.parts or "\\" in path:
        return [f"{path!r}: paths must stay inside the project folder"]
    return []


# -- acting: writing files ------------------------------------------------------------------


def check_target(folder: Path, *, overwrite: bool) -> None:
    """Refuse a folder that is a file, or holds files, unless replacing them is allowed."""
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder} exists and is not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not overwrite:
        raise UsageError(f"{folder} is not empty",
                         hint="Choose an empty or new folder, or allow replacing files "
                              "(--overwrite, or overwrite: true).")


def write(folder: Path, files: list[GeneratedFile], *, overwrite: bool) -> list[str]:
    """Write ``files`` under ``folder``; refuse paths that would land outside it."""
    problems = [p for f in files for p in _unsafe(f.path)]
    if problems:
        raise UsageError("refusing to write outside the project folder: " + "; ".join(problems))
    check_target(folder, overwrite=overwrite)
    root = folder.resolve()
    for f in files:
        target = (folder / f.path).resolve()
        if not target.is_relative_to(root):  # a symlink inside the folder points out of it
            raise UsageError(f"refusing to write {f.path}: it resolves outside {folder}")
        if len(f.content.encode()) > MAX_FILE_BYTES:
            raise UsageError(f"{f.path} is larger than {MAX_FILE_BYTES} bytes")
    _write(folder, files)
    return [f.path for f in files]


def _write(folder: Path, files: list[GeneratedFile]) -> None:
    for f in files:
        target = folder / f.path
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".gen-")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(f.content)
        os.chmod(tmp, 0o755 if f.path.endswith(".sh") else 0o644)  # mkstemp made it 0600
        os.replace(tmp, target)
