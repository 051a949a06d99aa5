"""The yes/no schema check (schema._conforms) answers as jsonschema does, so only files that break
the schema pay for importing jsonschema."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from launchdeck.compose import schema
from launchdeck.compose.source import parse_yaml

HERE = Path(__file__).parent
FILES = sorted([*(HERE / "conformance").glob("*/*.yaml"), *(HERE / "malformed").glob("*.yaml")])


def _doc(path: Path) -> Any:
    try:
        return parse_yaml(path.read_text(), path.name)
    except Exception:  # a file the reader refuses never reaches the schema
        return None


DOCS = [(path, doc) for path in FILES if isinstance(doc := _doc(path), dict)]


def _jsonschema_valid(doc: Any) -> bool:
    return not any(True for _ in schema._validator().iter_errors(doc))


def test_vendored_schema_compiles() -> None:
    """Every keyword the vendored compose-spec schema uses is one the yes/no check knows."""
    compiler = schema._Compiler(schema._schema())
    assert compiler.compile(schema._schema()) is not schema._unsure
    for definition in schema._schema()["definitions"].values():
        compiler.compile(definition)  # raises _Unsure on a keyword it does not know


@pytest.mark.parametrize(("path", "doc"), DOCS, ids=[f"{p.parent.name}/{p.name}" for p, _ in DOCS])
def test_agrees_on_the_corpus(path: Path, doc: Any) -> None:
    """On every conformance and malformed file, the yes/no check and jsonschema agree."""
    assert schema._conforms(doc) == _jsonschema_valid(doc)


_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 70000),
                     st.floats(allow_nan=False, allow_infinity=False),
                     st.sampled_from(["", "x", "1", "80:80", "on_failure", "service_healthy",
                                      "tcp", "host", "ingress", "1g", "0.5", "x-a", "always"]))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.sampled_from(["image", "ports", "target", "x-y", "build", "context",
                                     "condition", "mode", "cpus", "1", "Bad Key"]),
                    inner, max_size=3)), max_leaves=6)
_VALID = [doc for path, doc in DOCS if _jsonschema_valid(doc)]


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*path, index))
    return found


@settings(max_examples=300, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_agrees_on_mutated_files(data: st.DataObject) -> None:
    """A valid file with one value replaced by anything gets the same answer from both."""
    doc = copy.deepcopy(data.draw(st.sampled_from(_VALID)))
    path = data.draw(st.sampled_from(_paths(doc)[1:]))
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = data.draw(_VALUES)
    assert schema._conforms(doc) == _jsonschema_valid(doc)


@pytest.mark.parametrize("value", [{1: "a"}, [True, 1], [1, 1.0], [{"a": 1}, {"a": 1.0}]])
def test_unsure_goes_to_jsonschema(value: Any) -> None:
    """Values where Python and JSON Schema equality differ never get a yes without jsonschema."""
    doc = {"services": {"web": {"image": "x", "dns": value, "labels": value}}}
    assert schema._conforms(doc) <= _jsonschema_valid(doc)
