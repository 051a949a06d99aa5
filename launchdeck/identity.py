"""Names that identify a deployment target: (provider, project, stack), and each deploy's id."""

from __future__ import annotations

import re
import secrets

from launchdeck.errors import UsageError

DEFAULT_STACK = "dev"
_STACK = re.compile(r"[a-z][a-z0-9-]{0,31}")


def check_stack(name: str) -> str:
    """``name`` if it can name a stack (it appears in file and cloud resource names)."""
    if not _STACK.fullmatch(name):
        from launchdeck.compose.source import shorten

        raise UsageError(f"invalid stack name {shorten(name, 40)!r}",
                         hint="Use up to 32 lowercase letters, digits and dashes, "
                              "starting with a letter (e.g. dev, staging, prod).")
    return name


def check_provider(name: str) -> str:
    from launchdeck.providers import names

    if name not in names():
        raise UsageError(f"unknown provider {name!r}", hint=f"Use one of: {', '.join(names())}.")
    return name


def new_deployment_id() -> str:
    """A short, unique id for one deploy (the etag in labels and tags)."""
    return secrets.token_hex(6)
