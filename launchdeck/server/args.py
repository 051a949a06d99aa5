"""The arguments tools take: their types, the project they point at, and checks in our words.

Arguments are checked strictly (no unknown names, no "yes" for true) before a tool runs, and
a mistake is answered with which argument and what it allows, never a validator's text.
Schemas are published lean: no generated titles, no ``null`` branches for optional values.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError

from launchdeck.paths import project_dir
from launchdeck.providers import names
from launchdeck.tools.project import ProjectRef

# What these mean is said once, in the server's instructions, rather than in every tool.
WorkingDirectory = Annotated[str, Field(description="Absolute project path.")]
ComposeFiles = list[str] | None
ProjectName = str | None
ProviderName = Literal[names()] | None  # type: ignore[valid-type]
StackName = str | None
ModeName = Annotated[Literal["affordable", "balanced", "high_availability"] | None, Field(
    description="The stack's mode (kept for its later deploys); default: the stack's, else "
                "affordable.")]


def ref(working_directory: str, compose_files: list[str] | None, project_name: str | None,
        provider: str | None, stack: str | None) -> ProjectRef:
    """The project and target the common arguments name (UsageError when they cannot)."""
    folder = project_dir(working_directory, absolute=True, argument="working_directory")
    for file in compose_files or ():
        _inside(folder, file)
    found = ProjectRef(working_directory=str(folder), compose_files=tuple(compose_files or ()),
                       project_name=project_name)
    if provider:
        found = replace(found, provider=provider)
    if stack:
        found = replace(found, stack=stack)
    return found


def _inside(folder: Path, file: str) -> None:
    """A compose file an agent names lies in ``working_directory`` (the files it includes or
    extends follow Compose's rules): ``../other/compose.yaml`` could be another project's."""
    from launchdeck.compose.source import shorten
    from launchdeck.errors import UsageError

    shown = shorten(file, 80, middle=True).encode("unicode_escape").decode("ascii")
    try:
        path = (folder / file).resolve() if "\0" not in file else None
    except (OSError, RuntimeError):
        path = None
    if path is None or not path.is_relative_to(folder):
        raise UsageError(f"compose_files: '{shown}' is not inside working_directory",
                         hint="Name compose files by their path inside the project directory.")


# -- checking arguments -----------------------------------------------------------------------

_KINDS = {"bool_type": "true or false", "string_type": "a string", "int_type": "a whole number",
          "int_parsing": "a whole number", "int_from_float": "a whole number",
          "float_type": "a number", "float_parsing": "a number", "list_type": "a list",
          "dict_type": "an object", "model_type": "an object"}


def problems(error: ValidationError, tool: str) -> str:
    """A validator's complaint about a tool's arguments' types, in our words (unknown
    arguments and ranges are checked before and after it, by the server)."""
    lines = []
    for item in error.errors(include_url=False):
        where = ".".join(str(p) for p in item["loc"]) or "arguments"
        kind, ctx = item["type"], item.get("ctx") or {}
        if kind == "missing":
            lines.append(f"{where}: required")
        elif kind == "literal_error":
            lines.append(f"{where}: must be one of {ctx.get('expected', '')}")
        elif kind in _KINDS:
            lines.append(f"{where}: must be {_KINDS[kind]}")
        else:
            lines.append(f"{where}: not a valid value")
    return f"invalid arguments for {tool}: " + "; ".join(lines)


def lean(schema: Any, *, output: bool = False) -> Any:
    """A JSON schema without generated titles. In an input schema ``X | None`` is plain ``X``
    (an optional argument is one left out); in an output schema it is ``"type": [X, "null"]``,
    and defaults and descriptions go: the tools' descriptions and the field names say what
    the data is, and every client reads the schema on every list."""
    if isinstance(schema, list):
        return [lean(item, output=output) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if output and (key == "default" or key == "description" and isinstance(value, str)):
            continue
        if output and key == "type" and value == "object" and "properties" in schema:
            continue  # implied by properties
        if key in ("properties", "$defs") and isinstance(value, dict):
            out[key] = {name: lean(prop, output=output) for name, prop in value.items()}
            continue
        out[key] = lean(value, output=output)
    branches = out.get("anyOf")
    if isinstance(branches, list) and {"type": "null"} in branches:
        rest = [b for b in branches if b != {"type": "null"}]
        if output:
            if len(rest) == 1 and set(rest[0]) <= {"type", "items", "enum"} and \
                    isinstance(rest[0].get("type"), str):
                out.pop("anyOf")
                out = {**rest[0], **out, "type": [rest[0]["type"], "null"]}
                if "enum" in out:
                    out["enum"] = [*out["enum"], None]
            return out
        out.pop("anyOf")
        if out.get("default", "") is None:
            out.pop("default")
        if len(rest) == 1:
            out = {**rest[0], **out}
        else:
            out["anyOf"] = rest
    return out
