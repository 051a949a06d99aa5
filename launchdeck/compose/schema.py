"""Checking a compose file against the upstream compose-spec JSON schema (vendored in schema/).

The schema's own messages ("is not valid under any of the given schemas") do not help a
user, so each error is retold in plain words, at the file and line of the offending key.

Most files are valid, and importing and building jsonschema's validator costs more than the
rest of ``compose config`` together; so a file is first checked by ``_conforms``, a small
yes/no validator compiled from the same schema, and jsonschema runs only to explain a file
that fails it. ``_conforms`` gives jsonschema's Draft 7 answer for every keyword the schema
uses; on anything it is unsure of it says no, which costs only the slower path.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

from launchdeck.compose.model import path_label
from launchdeck.compose.source import Mapping, where
from launchdeck.errors import Problem

_TYPE_NAMES = {"string": "a string", "integer": "an integer", "number": "a number",
               "boolean": "true or false", "object": "a mapping", "array": "a list",
               "null": "empty"}


_SCHEMA = Path(__file__).parent / "schema" / "compose-spec.json"


@cache
def _schema() -> dict[str, Any]:
    return json.loads(_SCHEMA.read_text(encoding="utf-8"))


@cache
def _validator() -> Any:
    from jsonschema import Draft7Validator  # imported only to explain an invalid file

    return Draft7Validator(_schema())


def check(doc: Mapping, file: str) -> list[Problem]:
    """Every way ``doc`` (one file, interpolated) breaks the compose specification."""
    if _conforms(doc):
        return []
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


# The yes/no validator. Each schema node compiles to a function of the instance; semantics
# follow jsonschema's Draft7Validator (its _keywords, _types and _utils modules), keyword by
# keyword. The vendored schema uses only the keywords below; one it does not know makes
# _Compiler.compile raise _Unsure, and then every file goes to jsonschema
# (tests/compose/test_schema.py checks that the vendored schema compiles, and that the two agree).
# Being unsure must raise rather than answer no: inside a oneOf, a wrong no can make a yes.

Check = Callable[[Any], bool]
_ANNOTATIONS = {"description", "title", "default", "deprecated", "examples", "$comment",
                "$schema", "$id", "definitions", "format"}  # format: not asserted by default
_JSON_TYPES = (dict, list, str, int, float, type(None))  # bool is an int


class _Unsure(Exception):
    """A value or schema the yes/no validator leaves to jsonschema."""


def _conforms(doc: Any) -> bool:
    """Whether jsonschema would find no error in ``doc``; False when unsure."""
    try:
        return _root()(doc)
    except (_Unsure, RecursionError):
        return False


@cache
def _root() -> Check:
    try:
        return _Compiler(_schema()).compile(_schema())
    except _Unsure:
        return _unsure


def _unsure(value: Any) -> bool:
    raise _Unsure


def _is_type(value: Any, name: str) -> bool:
    if not isinstance(value, _JSON_TYPES):
        raise _Unsure  # a YAML timestamp or other object: leave it to jsonschema
    if isinstance(value, dict):
        _object(value)  # a mapping is checked for odd keys wherever it is met
    if name == "string":
        return isinstance(value, str)
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    if isinstance(value, bool):
        return False
    if name == "number":
        return isinstance(value, (int, float))
    if name == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    raise _Unsure  # an unknown type name: jsonschema raises for it


def _object(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    if not all(isinstance(key, str) for key in value):
        raise _Unsure  # jsonschema's pattern matching fails on such a key: let it
    return True


def _equal(one: Any, two: Any) -> bool:
    """jsonschema's ``_utils.equal``: 1 == 1.0 but True != 1, through lists and mappings."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return one == two
    if isinstance(one, list) and isinstance(two, list):
        return len(one) == len(two) and all(_equal(i, j) for i, j in zip(one, two, strict=True))
    if isinstance(one, dict) and isinstance(two, dict):
        return len(one) == len(two) and all(key in two and _equal(one[key], two[key])
                                            for key in one)
    if not _plain(one) or not _plain(two):
        raise _Unsure
    return _unbool(one) == _unbool(two)


_TRUE, _FALSE = object(), object()


def _plain(value: Any) -> bool:
    return isinstance(value, _JSON_TYPES) or value is _TRUE or value is _FALSE


def _unbool(value: Any) -> Any:
    return _TRUE if value is True else _FALSE if value is False else value


def _unique(items: list[Any]) -> bool:
    """jsonschema's ``_utils.uniq``, its sorted shortcut included, so answers agree."""
    try:
        ordered = sorted(_unbool(item) for item in items)
        return not any(_equal(i, j) for i, j in pairwise(ordered))
    except (NotImplementedError, TypeError):
        seen: list[Any] = []
        for item in items:
            item = _unbool(item)
            if any(_equal(other, item) for other in seen):
                return False
            seen.append(item)
        return True


class _Compiler:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.refs: dict[str, Check] = {}

    def compile(self, schema: Any) -> Check:
        if schema is True:
            return lambda value: True
        if schema is False:
            return lambda value: False
        if not isinstance(schema, dict):
            raise _Unsure
        if "$ref" in schema:  # Draft 7: a $ref's siblings are ignored
            return self._ref(schema["$ref"])
        checks = [self._keyword(word, spec, schema) for word, spec in schema.items()
                  if word not in _ANNOTATIONS]
        checks = [c for c in checks if c is not None]
        if len(checks) == 1:
            return checks[0]
        return lambda value: all(check(value) for check in checks)

    def _ref(self, ref: str) -> Check:
        if not ref.startswith("#/definitions/"):
            raise _Unsure
        name = ref.removeprefix("#/definitions/")
        if name not in self.root.get("definitions", {}):
            raise _Unsure
        if name not in self.refs:
            built: list[Check] = []  # compiled on first use: definitions refer to each other

            def lazy(value: Any) -> bool:
                if not built:
                    built.append(self.compile(self.root["definitions"][name]))
                return built[0](value)

            self.refs[name] = lazy
        return self.refs[name]

    def _keyword(self, word: str, spec: Any, schema: dict[str, Any]) -> Check | None:
        if word == "type":
            names = [spec] if isinstance(spec, str) else list(spec)
            return lambda value: any(_is_type(value, name) for name in names)
        if word == "properties":
            props = {name: self.compile(sub) for name, sub in spec.items()}
            return lambda value: not _object(value) or all(
                check(value[name]) for name, check in props.items() if name in value)
        if word == "patternProperties":
            pats = [(pattern, self.compile(sub)) for pattern, sub in spec.items()]
            return lambda value: not _object(value) or all(
                check(v) for pattern, check in pats for k, v in value.items()
                if re.search(pattern, k))
        if word == "additionalProperties":
            return self._additional(spec, schema)
        if word == "required":
            names = list(spec)
            return lambda value: not _object(value) or all(n in value for n in names)
        if word == "items":
            if not isinstance(spec, (dict, bool)):
                raise _Unsure  # the tuple form
            item = self.compile(spec)
            return lambda value: not isinstance(value, list) or all(item(v) for v in value)
        if word == "oneOf":
            subs = [self.compile(sub) for sub in spec]
            return lambda value: sum(1 for sub in subs if sub(value)) == 1
        if word == "anyOf":
            subs = [self.compile(sub) for sub in spec]
            return lambda value: any(sub(value) for sub in subs)
        if word == "allOf":
            subs = [self.compile(sub) for sub in spec]
            return lambda value: all(sub(value) for sub in subs)
        if word == "enum":
            options = list(spec)
            return lambda value: any(_equal(option, value) for option in options)
        if word == "uniqueItems":
            if not spec:
                return None
            return lambda value: not isinstance(value, list) or _unique(value)
        if word == "pattern":
            return lambda value: not isinstance(value, str) or re.search(spec, value) is not None
        if word == "minimum":
            return lambda value: not _is_type(value, "number") or not value < spec
        if word == "maximum":
            return lambda value: not _is_type(value, "number") or not value > spec
        raise _Unsure

    def _additional(self, spec: Any, schema: dict[str, Any]) -> Check:
        props = schema.get("properties", {})
        patterns = "|".join(schema.get("patternProperties", {}))  # as jsonschema joins them

        def extras(value: dict[Any, Any]) -> list[Any]:
            return [k for k in value
                    if k not in props and not (patterns and re.search(patterns, k))]

        if spec is False:
            return lambda value: not _object(value) or not extras(value)
        if spec is True:
            return lambda value: True
        extra = self.compile(spec)
        return lambda value: not _object(value) or all(
            extra(value[k]) for k in extras(value))
