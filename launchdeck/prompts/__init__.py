"""Texts for MCP prompts, resources and instructions, kept as markdown package data."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def text(name: str) -> str:
    """The text of ``<name>.md`` in this package."""
    return resources.files(__package__).joinpath(f"{name}.md").read_text(encoding="utf-8")
