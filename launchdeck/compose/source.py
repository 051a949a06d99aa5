"""YAML reading that remembers where every key came from, so errors can say file:line.

Documents are read with the YAML 1.2 core schema, as Docker Compose reads them: ``yes``,
``on`` and ``80:80`` stay strings. Mappings and sequences come back as ``Mapping`` and
``Sequence``, plain ``dict``/``list`` subclasses that carry the file and line of each entry
through interpolation and merging. Compose's ``!reset`` and ``!override`` tags become
``RESET`` and ``Override`` markers for the merge step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from launchdeck.errors import ComposeError, Problem

try:  # libyaml parses several times faster; the pure-Python parser is the fallback
    from yaml.cyaml import CParser as _Parser
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml.composer import Composer
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Parser(Reader, Scanner, Parser, Composer):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            Composer.__init__(self)


Where = tuple[str, int]
"""A file and a 1-based line."""


class Mapping(dict):
    """A YAML mapping that knows the file and line of each of its keys (``where``)."""

    __slots__ = ("where",)

    def __init__(self, *args: Any, where: dict[Any, Where] | None = None) -> None:
        super().__init__(*args)
        self.where: dict[Any, Where] = where if where is not None else {}


class Sequence(list):
    """A YAML sequence that knows the file and line of each of its items (``where``)."""

    __slots__ = ("where",)

    def __init__(self, *args: Any, where: list[Where] | None = None) -> None:
        super().__init__(*args)
        self.where: list[Where] = where if where is not None else []


class _Reset:
    def __repr__(self) -> str:
        return "RESET"


RESET = _Reset()
"""A value tagged ``!reset``: the merge removes the key."""


@dataclass(frozen=True, slots=True)
class Override:
    """A value tagged ``!override``: the merge replaces instead of merging."""

    value: Any


class _Resolver(yaml.resolver.BaseResolver):
    """Implicit tags of the YAML 1.2 core schema (what Compose's Go YAML library uses)."""


_Resolver.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in [
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+.0123456789",
    ),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:merge", r"^<<$", "<"),
]:
    _Resolver.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))


class _Loader(_Parser, yaml.constructor.SafeConstructor, _Resolver):
    def __init__(self, stream: str) -> None:
        _Parser.__init__(self, stream)
        yaml.constructor.SafeConstructor.__init__(self)
        _Resolver.__init__(self)


def _int(text: str) -> int:
    if text[:2] == "0o":
        return int(text[2:], 8)
    if text[:2] == "0x":
        return int(text[2:], 16)
    return int(text)


def _float(text: str) -> float:
    lowered = text.lower()
    if lowered.endswith("inf"):
        return float("-inf") if text.startswith("-") else float("inf")
    if lowered == ".nan":
        return float("nan")
    return float(text)


_SCALARS = {
    "tag:yaml.org,2002:null": lambda text: None,
    "tag:yaml.org,2002:bool": lambda text: text.lower() == "true",
    "tag:yaml.org,2002:int": _int,
    "tag:yaml.org,2002:float": _float,
    "tag:yaml.org,2002:str": str,
}


def parse_yaml(text: str, file: str) -> Any:
    """Parse one YAML document into Mapping/Sequence/scalars, raising ComposeError."""
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        what = exc.problem or exc.context or "syntax error"
        if exc.context and exc.context_mark and exc.context_mark.line + 1 != line:
            what += f" ({exc.context} at line {exc.context_mark.line + 1})"
        raise ComposeError(Problem(f"invalid YAML: {what}", file, line)) from None
    except yaml.YAMLError as exc:
        raise ComposeError(Problem(f"invalid YAML: {exc}", file)) from None
    if node is None:
        return None
    return _Builder(loader, file).build(node, "")


class _Builder:
    def __init__(self, loader: _Loader, file: str) -> None:
        self.loader = loader
        self.file = file
        self.depth = 0

    def build(self, node: yaml.Node, path: str) -> Any:
        tag = node.tag
        if tag == "!reset":
            return RESET
        if tag == "!override":
            node.tag = _default_tag(node)
            return Override(self.build(node, path))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            self._enter(node, path)
            out = Sequence()
            for index, item in enumerate(node.value):
                out.append(self.build(item, f"{path}[{index}]"))
                out.where.append((self.file, item.start_mark.line + 1))
            self.depth -= 1
            return out
        construct = _SCALARS.get(tag)
        if construct is None:
            shown = tag.replace("tag:yaml.org,2002:", "!!")
            raise ComposeError(
                Problem(f"unsupported YAML tag {shown}", self.file, node.start_mark.line + 1, path)
            )
        try:
            return construct(node.value)
        except ValueError:
            raise ComposeError(
                Problem(f"{node.value!r} is not a valid {tag.rsplit(':', 1)[-1]}", self.file,
                        node.start_mark.line + 1, path)
            ) from None

    def _mapping(self, node: yaml.MappingNode, path: str) -> Mapping:
        self._enter(node, path)
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self._key(key_node, path)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ComposeError(
                    Problem(f"key {key!r} is defined twice (first at line {seen[key]})",
                            self.file, line, path)
                )
            seen[key] = line
        try:
            self.loader.flatten_mapping(node)  # YAML merge keys (<<: *anchor)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            raise ComposeError(
                Problem(f"invalid merge key: {exc.problem}", self.file,
                        mark.line + 1 if mark else 0, path)
            ) from None
        out = Mapping()
        for key_node, value_node in node.value:
            key = self._key(key_node, path)
            child = f"{path}.{key}" if path else str(key)
            out[key] = self.build(value_node, child)
            out.where[key] = (self.file, key_node.start_mark.line + 1)
        self.depth -= 1
        return out

    def _key(self, node: yaml.Node, path: str) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise ComposeError(
                Problem("mapping keys must be plain values", self.file,
                        node.start_mark.line + 1, path)
            )
        value = self.build(node, path)
        return str(value) if isinstance(value, (int, float, bool)) else value

    def _enter(self, node: yaml.Node, path: str) -> None:
        self.depth += 1
        if self.depth > 100:  # a recursive alias would otherwise never end
            raise ComposeError(
                Problem("YAML nested too deeply (recursive anchor?)", self.file,
                        node.start_mark.line + 1, path)
            )


def _default_tag(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "tag:yaml.org,2002:map"
    if isinstance(node, yaml.SequenceNode):
        return "tag:yaml.org,2002:seq"
    return _Resolver().resolve(yaml.ScalarNode, node.value, (True, False))


def where(root: Any, path: tuple[Any, ...], default: Where = ("", 0)) -> Where:
    """The file and line of ``path`` in a tree of Mapping/Sequence, or of its nearest ancestor."""
    found, node = default, root
    for step in path:
        if isinstance(node, Mapping) and step in node:
            found = node.where.get(step, found)
        elif isinstance(node, Sequence) and isinstance(step, int) and step < len(node):
            found = node.where[step] if step < len(node.where) else found
        else:
            break
        node = node[step]
    return found
