"""The guided `launchdeck generate`: the questions asked on a terminal when no description is given.

As the platform's CLI does: the language, a sample from the catalog or a project generated from
a description, the description, the folder; each with a default. Answers are checked as they
come (a folder that cannot take a project is asked again). Nothing is written until every
answer is in, and a Ctrl-C at any point, writing included, leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from launchdeck.ai import generate as gen
from launchdeck.errors import LaunchdeckError

LANGUAGES = {"nodejs": "Node.js", "golang": "Go", "python": "Python"}
DEFAULT_LANGUAGE = "python"
_STAGING = ".launchdeck-"
"""What the folders a project is staged in have in their names (ai/generate.py)."""

Ask = Callable[[str, str], str]
"""Show a question with its default; return the answer (the default when left empty)."""
Say = Callable[[str], None]


@dataclass(frozen=True)
class Answers:
    language: str
    template: str | None
    """The catalog sample, or None for a project generated from the description."""
    description: str
    folder: Path


def _menu(ask: Ask, say: Say, title: str, options: list[tuple[str, str]], default: str) -> str:
    """A numbered choice; returns the key of the option picked."""
    say(title)
    for index, (_, label) in enumerate(options, 1):
        say(f"  {index}) {label}")
    keys = [key for key, _ in options]
    while True:
        answer = ask("Choose", str(keys.index(default) + 1)).strip()
        if answer.isdigit() and 1 <= int(answer) <= len(options):
            return keys[int(answer) - 1]
        if answer in keys:
            return answer
        say(f"Please answer with a number from 1 to {len(options)}.")


def questions(ask: Ask, say: Say, *, model: str | None, cwd: Path) -> Answers:
    """Ask for everything a project needs; ``model``: the LLM that would write it, if any."""
    language = _menu(ask, say, "? Language:", [(k, v) for k, v in LANGUAGES.items()],
                     DEFAULT_LANGUAGE)
    generated = f"a project generated from your description (by {model})" if model else \
        "a project chosen from your description (no model is set: the catalog sample that fits)"
    start = _menu(ask, say, "? Start from:", [("sample", "a sample from the catalog"),
                                             ("generate", generated)],
                  "generate" if model else "sample")
    template = None
    if start == "sample":
        template = _menu(ask, say, "? Sample:", [(k, f"{k}: {v}") for k, v in gen.KINDS.items()],
                         "rest-api")
        description = gen.KINDS[template]
    else:
        description = ""
        while not description:
            description = ask("? Describe the project (what it should do)", "").strip()
            if not description:
                say('Say what it should do, e.g. "a todo API that stores items in postgres".')
    default = template or gen.choose(description, language, None).template
    while True:
        folder = ask("? Folder (new or empty)", f"./{default}").strip()
        try:
            target = gen.check_target(folder, overwrite=False, cwd=cwd)
        except LaunchdeckError as exc:
            say(f"{exc.message}. {exc.hint}".strip())
            continue
        return Answers(language, template, description, target)


@contextlib.contextmanager
def nothing_left_on_interrupt(target: Path) -> Iterator[None]:
    """On Ctrl-C (or any error that escapes), remove what writing ``target`` had made so far:
    the folder and any parent folders made for it, and the staging folders beside it; in an
    existing (empty) folder, whatever appeared in it."""
    anchor = next(p for p in [target, *target.parents] if p.exists())
    before = set(anchor.iterdir())
    try:
        yield
    except BaseException:
        for path in set(anchor.iterdir()) - before:
            ours = anchor == target or path == target or path in target.parents or \
                path.name.startswith(f".{target.name}{_STAGING}")
            if ours:
                shutil.rmtree(path, ignore_errors=True) if path.is_dir() and not path.is_symlink() \
                    else path.unlink(missing_ok=True)
        raise
