"""Names that identify a deployment target: (provider, project, stack)."""

from __future__ import annotations

import re

from launchdeck.errors import UsageError

PROVIDERS = ("local", "aws", "gcp")
DEFAULT_STACK = "dev"
_STACK = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


def check_stack(name: str) -> str:
    """``name`` if it can name a stack (it appears in file and cloud resource names)."""
    if not _STACK.match(name):
        raise UsageError(f"invalid stack name {name!r}",
                         hint="Use up to 32 lowercase letters, digits and dashes, "
                              "starting with a letter (e.g. dev, staging, prod).")
    return name


def check_provider(name: str) -> str:
    if name not in PROVIDERS:
        raise UsageError(f"unknown provider {name!r}", hint=f"Use one of: {', '.join(PROVIDERS)}.")
    return name
