"""config set / list / delete: secret values a project reads, kept in the target's store.

Values go to the store and nowhere else: results name config values, never show them. Every
front end writes a value through ``store`` (the CLI, the MCP tool and its forms, the CI
helper), so the same name and value rules hold on every path.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from launchdeck.errors import Action, UsageError
from launchdeck.tools.project import ProjectRef

if TYPE_CHECKING:
    from launchdeck.compose.load import Loaded
    from launchdeck.engine.seams import Provider


class ConfigResult(BaseModel):
    project: str
    stack: str
    provider: str
    target: str | None = None
    names: list[str] = Field(description="Names set, present or deleted; values are never shown.")
    missing: list[str] = Field([], description="Names the project reads that are still unset.")


def check_name(name: str) -> str:
    """``name`` if it can name a config value in every store; else a UsageError with both rules."""
    from launchdeck.compose.validate import config_name_problem

    problem = config_name_problem(name)
    if problem:
        raise UsageError(problem, hint="Choose a name such as DATABASE_PASSWORD.")
    return name


def check_own(name: str) -> str:
    """``name`` if a user may set or delete it: not launchdeck's own digest key."""
    from launchdeck.compose.validate import DIGEST_KEY

    if name == DIGEST_KEY:
        raise UsageError(f"{DIGEST_KEY} is launchdeck's own config name: it keys the digests the "
                         "stack's records keep, and is made by the first deploy",
                         hint="Choose another name; the key goes when the stack's last config "
                              "value is removed.")
    return check_name(name)


def shown(names: list[str]) -> list[str]:
    """The config names to show of ``names``: launchdeck's own key left out."""
    from launchdeck.compose.validate import DIGEST_KEY

    return [name for name in names if name != DIGEST_KEY]


def check_value(name: str, value: str) -> str:
    """``value`` if it can be stored as config ``name``; else a UsageError that says why
    (never quoting the value)."""
    if value == "":
        raise UsageError(f"no value given for {name}", hint="Give a value, or use --random.")
    if "\0" in value:
        raise UsageError(f"the value of {name} contains a NUL character, which no environment "
                         "variable can hold", hint="Give the value without it.")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:  # bytes that were not UTF-8, kept as surrogates
        raise UsageError(f"the value of {name} is not valid UTF-8 text, which no config store "
                         "keeps", hint="Give the value as UTF-8 text (base64 for binary data)."
                         ) from None
    if size > MAX_VALUE:
        raise UsageError(f"the value of {name} is longer than {MAX_VALUE} bytes, the most a "
                         "config value holds", hint="Keep large data in a file or a bucket and put its "
                         "location in config.")
    return value


MAX_VALUE = 32_768
"""Bytes a config value may hold (an environment variable carries it; a store with a lower
limit refuses more itself). Front ends read no more than this and a little from a user."""


async def store(ref: ProjectRef, values: Mapping[str, str], loaded: Loaded | None = None, *,
                stored: Callable[[str], None] | None = None) -> list[str]:
    """Store ``values`` for the project ``ref`` names (loaded here unless given), as ``write``
    does."""
    return await write(ref.target(), (loaded or ref.load()).project.name, ref.stack, values,
                       stored=stored)


async def write(provider: Provider, project: str, stack: str, values: Mapping[str, str], *,
                stored: Callable[[str], None] | None = None) -> list[str]:
    """The one place a config value is written: every name and value checked first (one bad
    pair stores none), then each stored in ``provider``'s config store for (project, stack);
    the names stored, in order. ``stored`` hears of each name as it lands (a failure part-way
    leaves those before it stored)."""
    for name, value in values.items():
        check_own(name)
        check_value(name, value)
    target = provider.config_store(project, stack)
    done = []
    for name, value in values.items():
        await target.set(name, value)
        done.append(name)
        if stored is not None:
            stored(name)
    return done


async def erase(provider: Provider, project: str, stack: str, names: list[str]) -> list[str]:
    """Delete each of ``names`` from ``provider``'s config store for (project, stack); those
    that were set."""
    target = provider.config_store(project, stack)
    return [name for name in names if await target.delete(check_name(name))]


def random_value() -> str:
    """A strong value for passwords and keys: 32 URL-safe characters (192 bits)."""
    return secrets.token_urlsafe(24)


async def _result(ref: ProjectRef, loaded: Loaded, provider: Provider,
                  names: list[str]) -> ConfigResult:
    from launchdeck.engine.deploy import missing_config

    return ConfigResult(project=loaded.project.name, stack=ref.stack, provider=provider.name,
                        target=await ref.line(), names=names,
                        missing=await missing_config(loaded, provider, ref.stack))


async def config_set(ref: ProjectRef, name: str, value: str) -> ConfigResult:
    check_own(name)
    check_value(name, value)
    loaded, provider = ref.load(), ref.target()
    await store(ref, {name: value}, loaded)
    return await _result(ref, loaded, provider, [name])


async def config_list(ref: ProjectRef) -> ConfigResult:
    loaded, provider = ref.load(), ref.target()
    names = await provider.config_store(loaded.project.name, ref.stack).names()
    return await _result(ref, loaded, provider, shown(names))


async def config_delete(ref: ProjectRef, name: str) -> ConfigResult:
    check_own(name)
    loaded, provider = ref.load(), ref.target()
    project = loaded.project.name
    if not await erase(provider, project, ref.stack, [name]):
        raise UsageError(f"config {name} is not set for {project} ({ref.stack})",
                         hint="Listing the config shows the names that are set.",
                         actions=[Action("config_list", {"provider": provider.name,
                                                         "stack": ref.stack})])
    from launchdeck.compose.validate import DIGEST_KEY

    left = await provider.config_store(project, ref.stack).names()
    if left == [DIGEST_KEY]:  # the stack's digest key goes with its last value
        await erase(provider, project, ref.stack, left)
    return await _result(ref, loaded, provider, [name])
