"""generate_project: scaffold a deployable project in a folder, from a template or an LLM."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from launchdeck.ai import generate as gen
from launchdeck.ai.llm import LLM
from launchdeck.errors import UsageError

MAX_REPAIRS = 2


class GenerateResult(BaseModel):
    folder: str
    language: str
    source: Literal["template", "llm"]
    template: str | None = Field(None, description="The catalog template used, if any.")
    files: list[str]
    repairs: int = Field(0, description="Rounds in which the LLM fixed what the checks found.")
    notes: list[str] = []
    model: str | None = Field(None, description="The model that wrote the project, if any.")
    config: list[str] = Field([], description="The config values the project reads (deploy "
                                              "asks for them).")
    next_step: str


def check_folder(folder: str, *, overwrite: bool = False, absolute: bool = False) -> Path:
    """The folder a project goes in, resolved and checked (a new or empty folder, or one
    whose files may be replaced; never a system folder); ``absolute``: it must be given so."""
    if absolute and not Path(folder).expanduser().is_absolute():
        raise UsageError(f"folder must be an absolute path, not {folder!r}",
                         hint="Pass the full path of the folder to create the project in.")
    return gen.check_target(folder, overwrite=overwrite)


class Attempt:
    """The LLM conversation of one generation, one answer at a time (no I/O here)."""

    def __init__(self, description: str, language: str, name: str) -> None:
        self.system, self.prompt = gen.llm_prompt(description, language, name)
        self.rounds = 0
        self.files: list[gen.GeneratedFile] | None = None
        self.problems: list[str] = []
        self.next_prompt: str | None = self.prompt

    def take(self, answer: str) -> str | None:
        """Read one answer: None when it passes the checks, else the repair prompt to send."""
        self.rounds += 1
        try:
            files = gen.parse(answer)
        except ValueError as exc:
            files, self.problems = [], [str(exc)]
        else:
            self.problems = gen.check(files)
        if not self.problems:
            self.files = files
            self.next_prompt = None
        else:
            self.next_prompt = gen.repair_prompt(files, self.problems)
        return self.next_prompt

    @property
    def more(self) -> bool:
        return self.files is None and self.rounds <= MAX_REPAIRS


def replay(description: str, language: str | None, folder: Path,
           answers: list[str]) -> Attempt:
    """The attempt after these answers, rebuilt (answers come back one protocol round at a
    time when the MCP client's model writes the project)."""
    choice = gen.choose(description, language, None)
    attempt = Attempt(description, choice.language, gen.project_name(folder))
    for answer in answers:
        if attempt.take(answer) is None:
            break
    return attempt


def finish(folder: Path, description: str, language: str | None, template: str | None,
           overwrite: bool, attempt: Attempt | None, *, model: str | None = None) -> GenerateResult:
    """Write the LLM's checked files, or the catalog template when there is none."""
    choice = gen.choose(description, language, template)
    notes = []
    if attempt is not None and attempt.files is not None:
        written = gen.write(folder, attempt.files, overwrite=overwrite)
        names = config_needed(folder)
        return GenerateResult(folder=str(folder), language=choice.language, source="llm",
                              files=written, repairs=attempt.rounds - 1, model=model,
                              config=names, next_step=_next(folder, names))
    if attempt is not None:
        notes.append("the LLM's project kept failing the checks ("
                     + "; ".join(attempt.problems[:3]) + "); wrote the catalog template instead")
    files = gen.render(choice, gen.project_name(folder))
    written = gen.write(folder, files, overwrite=overwrite)
    notes.append(f"template {choice.language}/{choice.template} ({choice.reason})")
    names = config_needed(folder)
    return GenerateResult(folder=str(folder), language=choice.language, source="template",
                          template=choice.template, files=written,
                          repairs=max(attempt.rounds - 1, 0) if attempt else 0, notes=notes,
                          config=names, next_step=_next(folder, names))


def config_needed(folder: str | Path) -> list[str]:
    """The config values the project in ``folder`` reads (the deploy asks for them)."""
    from launchdeck.compose.load import load
    from launchdeck.compose.validate import required_config
    from launchdeck.errors import LaunchdeckError

    try:
        return required_config(load((), cwd=str(folder)))
    except LaunchdeckError:  # written and checked already; a project that will not load says so
        return []             # at deploy


def _next(folder: Path, names: list[str]) -> str:
    asks = (f" It reads config {', '.join(names)}: deploy asks the user for the values, or call "
            "config_set for each first (random=true makes a strong password)." if names else
            " It reads no config values.")
    return f"Deploy it: call deploy with working_directory {folder}.{asks}"


async def generate(description: str, folder: str, *, language: str | None = None,
                   template: str | None = None, overwrite: bool = False,
                   llm: LLM | None = None) -> GenerateResult:
    """Scaffold the project: with ``llm`` (and no template named) the LLM writes it, checked
    and repaired a bounded number of times; otherwise from the template catalog."""
    choice = gen.choose(description, language, template)  # validates language and template
    path = check_folder(folder, overwrite=overwrite)  # before asking a model for anything
    attempt = None
    if llm is not None and template is None:
        attempt = Attempt(description, choice.language, gen.project_name(path))
        prompt = attempt.prompt
        while attempt.more:
            answer = await llm.complete(attempt.system, prompt, max_tokens=8000)
            repair = attempt.take(answer)
            if repair is None:
                break
            prompt = repair
    return finish(path, description, language, template, overwrite, attempt,
                  model=llm.name if llm is not None else None)
