"""Config values kept out of everything launchdeck shows: results, events, logs, evidence.

A service may print its own secrets, and a failure's reason may quote its last log lines;
before any of that leaves the engine or a tool, each config value (four characters or more:
shorter ones would blank ordinary words) is replaced by ``[config value]``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel

HIDDEN = "[config value]"
M = TypeVar("M", bound=BaseModel)


def secrets(values: Iterable[str]) -> list[str]:
    """The values worth hiding, longest first (a value that contains another goes whole).
    A value of several lines (a PEM key) is hidden whole, line by line (a log shows one line
    at a time) and in its escaped forms (``\\n``, ``\\x00``, JSON's ``\\u0000``)."""
    found: set[str] = set()
    for value in values:
        found.add(value)
        found.update(line.strip() for line in value.splitlines())
        found.add(value.encode("unicode_escape").decode("ascii"))
        found.add(json.dumps(value)[1:-1])
        found.add(json.dumps(value, ensure_ascii=False)[1:-1])
    return sorted({v for v in found if len(v) >= 4}, key=len, reverse=True)


async def of_store(store: Any) -> list[str]:
    """The values a config store holds, ready for ``text`` and ``model``."""
    return secrets((await store.values(await store.names())).values())


def text(value: str, hidden: Sequence[str]) -> str:
    for secret in hidden:
        value = value.replace(secret, HIDDEN)
    return value


def model(found: M, hidden: Sequence[str]) -> M:
    """``found`` with every config value replaced, in every text it holds."""
    if not hidden:
        return found
    return type(found).model_validate(_data(found.model_dump(mode="json"), hidden))


def _data(data: Any, hidden: Sequence[str]) -> Any:
    if isinstance(data, str):
        return text(data, hidden)
    if isinstance(data, dict):
        return {key: _data(value, hidden) for key, value in data.items()}
    if isinstance(data, list):
        return [_data(item, hidden) for item in data]
    return data
