"""config set / list / delete: secret values a project reads, kept in the target's store.

Values go to the store and nowhere else: results name config values, never show them.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from launchdeck.errors import Action, UsageError
from launchdeck.tools.project import ProjectRef

if TYPE_CHECKING:
    from launchdeck.compose.load import Loaded
    from launchdeck.providers.base import Provider


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
    check_name(name)
    if value == "":
        raise UsageError(f"no value given for {name}", hint="Give a value, or use --random.")
    loaded, provider = ref.load(), ref.target()
    await provider.config_store(loaded.project.name, ref.stack).set(name, value)
    return await _result(ref, loaded, provider, [name])


async def config_list(ref: ProjectRef) -> ConfigResult:
    loaded, provider = ref.load(), ref.target()
    names = await provider.config_store(loaded.project.name, ref.stack).names()
    return await _result(ref, loaded, provider, names)


async def config_delete(ref: ProjectRef, name: str) -> ConfigResult:
    check_name(name)
    loaded, provider = ref.load(), ref.target()
    if not await provider.config_store(loaded.project.name, ref.stack).delete(name):
        raise UsageError(f"config {name} is not set for {loaded.project.name} ({ref.stack})",
                         hint="Listing the config shows the names that are set.",
                         actions=[Action("config_list", {"provider": provider.name,
                                                         "stack": ref.stack})])
    return await _result(ref, loaded, provider, [name])
