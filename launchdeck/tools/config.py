"""config set / list / delete: secret values a project reads, kept in the target's store.

Values go to the store and nowhere else: results name config values, never show them.
"""

from __future__ import annotations

import secrets

from pydantic import BaseModel

from launchdeck.compose.validate import CONFIG_NAME
from launchdeck.errors import UsageError
from launchdeck.tools.project import ProjectRef


class ConfigResult(BaseModel):
    project: str
    stack: str
    provider: str
    names: list[str]
    """The names set (config_set), present (config_list) or deleted (config_delete)."""
    missing: list[str] = []
    """Names the project reads that are not set."""


def check_name(name: str) -> str:
    if not CONFIG_NAME.match(name):
        raise UsageError(f"invalid config name {name!r}",
                         hint="Use letters, digits and _, not starting with a digit "
                              "(e.g. DATABASE_PASSWORD).")
    return name


def random_value() -> str:
    """A strong value for passwords and keys: 32 URL-safe characters (192 bits)."""
    return secrets.token_urlsafe(24)


async def _wanted(ref: ProjectRef) -> tuple[str, list[str]]:
    from launchdeck.compose.validate import required_config

    loaded = ref.load()
    return loaded.project.name, required_config(loaded)


async def config_set(ref: ProjectRef, name: str, value: str) -> ConfigResult:
    check_name(name)
    if value == "":
        raise UsageError(f"no value given for {name}", hint="Give a value, or use --random.")
    project, wanted = await _wanted(ref)
    provider = ref.target()
    store = provider.config_store(project, ref.stack)
    await store.set(name, value)
    present = set(await store.names())
    return ConfigResult(project=project, stack=ref.stack, provider=provider.name, names=[name],
                        missing=[n for n in wanted if n not in present])


async def config_list(ref: ProjectRef) -> ConfigResult:
    project, wanted = await _wanted(ref)
    provider = ref.target()
    present = await provider.config_store(project, ref.stack).names()
    return ConfigResult(project=project, stack=ref.stack, provider=provider.name, names=present,
                        missing=[n for n in wanted if n not in present])


async def config_delete(ref: ProjectRef, name: str) -> ConfigResult:
    check_name(name)
    project, wanted = await _wanted(ref)
    provider = ref.target()
    store = provider.config_store(project, ref.stack)
    if not await store.delete(name):
        raise UsageError(f"config {name} is not set for {project} ({ref.stack})",
                         hint="`launchdeck config ls` lists the names that are set.")
    present = set(await store.names())
    return ConfigResult(project=project, stack=ref.stack, provider=provider.name, names=[name],
                        missing=[n for n in wanted if n not in present])
