"""Checking a compose file against the upstream compose-spec JSON schema (vendored in schema/).

The schema's own messages ("is not valid under any of the given schemas") do not help a
user, so each error is retold in plain words, at the file and line of the offending key.
"""

from __future__ import annotations

import difflib
import json
from functools import cache
from importlib import resources
from typing import Any

from launchdeck.compose.model import path_label
from launchdeck.compose.source import Mapping, where
from launchdeck.errors import Problem

_TYPE_NAMES = {"string": "a string", "integer": "an integer", "number": "a number",
               "boolean": "true or false", "object": "a mapping", "array": "a list",
               "null": "empty"}


@cache
def _validator() -> Any:
    from jsonschema import Draft7Validator  # imported when first needed: it is slow to import

    schema = json.loads(resources.files(__package__).joinpath("schema/compose-spec.json").read_text())
    return Draft7Validator(schema)


def check(doc: Mapping, file: str) -> list[Problem]:
    """Every way ``doc`` (one file, interpolated) breaks the compose specification."""
    problems = []
    for error in _validator().iter_errors(doc):
        error = _deepest(error)
        path = list(error.absolute_path)
        message, path = _explain(error, path)
        found_file, line = where(doc, tuple(path), (file, 0))
        problems.append(Problem(message, found_file or file, line, path_label(path)))
    return sorted(set(problems), key=lambda p: (p.line, p.path, p.message))


def _deepest(error: Any) -> Any:
    """For oneOf/anyOf, the alternative that got furthest: what the user most likely meant.

    An alternative that failed on its own top-level type is not what the user meant; if
    every alternative failed that way, the error itself (listing the accepted types) is best.
    """
    while error.validator in ("oneOf", "anyOf") and error.context:
        meant = [e for e in error.context if not (e.validator == "type" and not e.relative_path
                                                  and e.relative_schema_path[0] != "items")]
        if not meant:
            return error
        error = max(meant, key=lambda e: len(e.absolute_path))
    return error


def _explain(error: Any, path: list[Any]) -> tuple[str, list[Any]]:
    kind, value, spec = error.validator, error.instance, error.validator_value
    if kind == "additionalProperties":
        allowed = [*error.schema.get("properties", {})]
        extras = [k for k in value if k not in allowed and not _pattern_ok(k, error.schema)]
        key = extras[0] if extras else "?"
        hint = difflib.get_close_matches(str(key), allowed, n=1)
        suffix = f"; did you mean {hint[0]!r}?" if hint else ""
        if isinstance(key, str) and key.startswith("x-"):
            suffix = ""
        return f"unknown key {key!r}{suffix}", [*path, key]
    if kind == "required":
        missing = [k for k in spec if k not in value]
        return f"missing required key {missing[0]!r}", path
    if kind == "type":
        return f"must be {_types(spec)}, not {_describe(value)}", path
    if kind in ("oneOf", "anyOf"):
        types = sorted({s.get("type") for s in spec if isinstance(s.get("type"), str)} |
                       {t for s in spec if isinstance(s.get("type"), list) for t in s["type"]})
        if types:
            return f"must be {_types(types)}, not {_describe(value)}", path
        return f"invalid value {value!r}", path
    if kind == "enum":
        options = ", ".join(repr(v) for v in spec)
        return f"{value!r} is not one of {options}", path
    if kind == "pattern":
        return f"{value!r} does not match the expected format ({spec})", path
    if kind == "uniqueItems":
        return "has duplicate entries", path
    if kind == "minimum":
        return f"must be at least {spec}, not {value}", path
    if kind == "maximum":
        return f"must be at most {spec}, not {value}", path
    if kind == "format":
        return f"{value!r} is not a valid {spec}", path
    return error.message, path


def _pattern_ok(key: Any, schema: dict[str, Any]) -> bool:
    import re

    return any(re.search(p, str(key)) for p in schema.get("patternProperties", {}))


def _types(spec: Any) -> str:
    names = [_TYPE_NAMES.get(t, t) for t in ([spec] if isinstance(spec, str) else spec)]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "empty"
    for kind, name in ((dict, "a mapping"), (list, "a list"), (str, "a string"),
                       (int, "an integer"), (float, "a number")):
        if isinstance(value, kind):
            return name
    return type(value).__name__
