"""Stacks that remember their target: a small file per stack in the project, kept with the code.

``.launchdeck/<stack>`` holds the stack's provider, region, credentials profile and mode
(engine/modes.py: affordable, balanced, high_availability) as ``KEY=value`` lines, and after
the first deploy the account or project it deployed to. No
secret goes in it. Every command that names the stack reads it; flags and the environment
override it, and the target line says so. A deploy or destroy whose credentials reach
another account than the one recorded is refused before any change.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from launchdeck.engine.modes import DEFAULT as DEFAULT_MODE
from launchdeck.engine.modes import Mode, parse
from launchdeck.errors import UsageError
from launchdeck.paths import write_atomic

FOLDER = ".launchdeck"
_KEYS = {"provider": "LAUNCHDECK_PROVIDER", "region": "REGION", "profile": "AWS_PROFILE",
         "account": "ACCOUNT", "mode": "MODE"}
_LINE = re.compile(r"([A-Z_]+)=(.*)")


@dataclass(frozen=True)
class Stack:
    """What a stack file says (every field optional)."""

    name: str
    provider: str | None = None
    region: str | None = None
    profile: str | None = None
    account: str | None = None
    """The account (or project) the stack deployed to; set by its first deploy."""
    mode: str | None = None
    """The stack's mode (None: the default, affordable); every deploy of the stack uses it."""
    path: Path | None = None


@dataclass(frozen=True)
class Settings:
    """Where a command acts: the stack's file, then the environment, then flags, in that
    order of strength; ``notes`` say where a flag or the environment overrode the file."""

    provider: str
    region: str | None = None
    profile: str | None = None
    stack: Stack | None = None
    notes: tuple[str, ...] = field(default=())
    mode: Mode = DEFAULT_MODE
    """The mode in force: the one given (a deploy records it in the stack's file), else the file's."""


def path(project_dir: str | Path, stack: str) -> Path:
    return Path(project_dir) / FOLDER / stack


def read(project_dir: str | Path, stack: str) -> Stack | None:
    """The stack's file, if the project has one."""
    where = path(project_dir, stack)
    try:
        text = where.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise UsageError(f"cannot read the stack file {where}: {exc.strerror}",
                         hint="Fix its permissions, or remove it and create the stack again.") from exc
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.fullmatch(line)
        if not match or match.group(1) not in _KEYS.values():
            raise UsageError(f"{where}:{number}: cannot read {line[:60]!r}",
                             hint=f"Each line is KEY=value, with KEY one of "
                                  f"{', '.join(_KEYS.values())}.")
        values[match.group(1)] = match.group(2).strip()
    if values.get("MODE"):
        try:
            values["MODE"] = parse(values["MODE"]).value
        except UsageError as exc:
            raise UsageError(f"{where}: {exc.message}", hint=exc.hint) from None
    fields = {name: values.get(key) or None for name, key in _KEYS.items()}
    return Stack(name=stack, path=where, **fields)


def write(project_dir: str | Path, stack: Stack) -> Path:
    """Write the stack's file (whole or not at all)."""
    where = path(project_dir, stack.name)
    where.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# launchdeck stack: where this stack deploys (no secrets here; commit it)"]
    lines += [f"{key}={getattr(stack, name)}" for name, key in _KEYS.items()
              if getattr(stack, name)]
    write_atomic(where, "\n".join(lines) + "\n")
    return where


def listed(project_dir: str | Path) -> list[Stack]:
    """Every stack the project has a file for, by name."""
    folder = Path(project_dir) / FOLDER
    if not folder.is_dir():
        return []
    found = (read(project_dir, p.name) for p in sorted(folder.iterdir())
             if p.is_file() and not p.name.startswith("."))
    return [s for s in found if s is not None]


def remove(project_dir: str | Path, stack: str) -> bool:
    where = path(project_dir, stack)
    if not where.is_file():
        return False
    where.unlink()
    return True


def resolve(project_dir: str | Path, stack: str, *, provider: str | None = None,
            region: str | None = None, profile: str | None = None,
            mode: str | None = None) -> Settings:
    """The provider, region and profile a command uses for ``stack``: flags, else the
    environment, else the stack's file, else the defaults; the mode: the one given, else the
    file's, else affordable."""
    from launchdeck.providers import default, description

    found = read(project_dir, stack)
    notes = []

    def pick(name: str, flag: str | None, env: str | None, label: str) -> str | None:
        saved = getattr(found, name) if found else None
        chosen = flag or env or saved
        if saved and chosen != saved:
            origin = "given" if flag else "from the environment"
            notes.append(f"{label} {chosen} ({origin}) overrides {saved} from "
                         f"{FOLDER}/{stack}")
        return chosen

    chosen_provider = pick("provider", provider, os.environ.get("LAUNCHDECK_PROVIDER"),
                           "provider") or default()
    described = description(chosen_provider)
    chosen_region = pick("region", region, _env(described.region_variables), "region")
    chosen_profile = pick("profile", profile, _env((described.profile_variable,)), "profile") \
        if described.profile_variable else None
    chosen_mode = parse(mode or (found.mode if found else None))
    return Settings(chosen_provider, chosen_region, chosen_profile, found, tuple(notes), chosen_mode)


def _env(variables: tuple[str | None, ...]) -> str | None:
    """The first of ``variables`` set in the environment."""
    return next((os.environ[v] for v in variables if v and os.environ.get(v)), None)


def check_account(stack: Stack | None, account: str | None) -> None:
    """Refuse credentials that reach another account than the stack recorded."""
    if stack is None or account is None or not stack.account or stack.account == account:
        return
    raise UsageError(
        f"stack {stack.name} deployed to {stack.account}, but these credentials reach "
        f"{account}; nothing was changed",
        hint=f"Use the credentials of {stack.account} (e.g. the profile in "
             f"{FOLDER}/{stack.name}), or allow the new account (--allow-new-account) if "
             "the stack moves on purpose.")


def record_mode(project_dir: str | Path, name: str, mode: Mode) -> bool:
    """Keep ``mode`` in the stack's file (made if the stack has none), so every later deploy
    of the stack uses it; False when the file says it already (or it is the default and the
    stack has no file)."""
    stack = read(project_dir, name)  # as it is now: a first deploy may have added its account
    if (stack.mode if stack else DEFAULT_MODE.value) == mode.value:
        return False
    write(project_dir, replace(stack, mode=mode.value) if stack else Stack(name=name, mode=mode.value))
    return True


def record_account(project_dir: str | Path, stack: Stack | None, account: str | None) -> None:
    """Record the account a stack deploys to: on its first deploy, or when it moved."""
    if stack is None or account is None or stack.account == account:
        return
    write(stack.path.parent.parent if stack.path else project_dir, replace(stack, account=account))
