"""YAML reading that remembers where every key came from, so errors can say file:line.

Documents are read with the YAML 1.2 core schema, as Docker Compose reads them: ``yes``,
``on`` and ``80:80`` stay strings. Mappings and sequences come back as ``Mapping`` and
``Sequence``, plain ``dict``/``list`` subclasses that carry the file and line of each entry
through interpolation and merging. Compose's ``!reset`` and ``!override`` tags become
``RESET`` and ``Override`` markers for the merge step.

The input may be hostile: a file larger than ``MAX_FILE_BYTES`` or aliases that expand past
``MAX_VALUES`` values (a "billion laughs" document) are refused before they can exhaust memory.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass, replace
from pathlib import Path
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

MAX_FILE_BYTES = 1 << 20
"""The largest compose or env file read: real ones are a few kilobytes, and a 1 MB one (some
1,600 services) loads in about two seconds, so a bigger one could take too long."""
MAX_VALUES = 100_000
"""The most values one document may expand to once aliases are followed (a 500-service
project has about 45,000); past it, a document of nested aliases would take gigabytes."""
_MARKERS = ("!reset", "!override")


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
    digits = text.lstrip("+-")
    if len(digits) > 1 and digits[0] == "0" and all(d in "01234567" for d in digits):
        # Compose's YAML library reads a leading 0 as octal (`mode: 0440` is 288), as YAML 1.1 did
        return int(text[:len(text) - len(digits)] + "0o" + digits[1:], 0)
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
    if len(text) > MAX_FILE_BYTES:
        raise ComposeError(Problem(f"the file is larger than {MAX_FILE_BYTES >> 20} MB", file),
                           hint="Split it into several files, or remove what is generated.")
    if "\0" in text:
        line = text.count("\n", 0, text.index("\0")) + 1
        raise ComposeError(Problem("the file contains a NUL character (is it binary?)", file, line))
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        raise ComposeError(_syntax_problem(exc, file, text)) from None
    except yaml.YAMLError as exc:
        raise ComposeError(Problem(f"invalid YAML: {exc}", file)) from None
    if node is None:
        return None
    return _Builder(loader, file).build(node, "")


def _syntax_problem(exc: yaml.MarkedYAMLError, file: str, text: str) -> Problem:
    """The error at the line where the broken token or block starts, not where parsing gave up.

    An unterminated quote or flow collection is only noticed at the end of the file; the
    scanner's or parser's context mark says where it was opened, which is what to fix.
    """
    problem, context = exc.problem_mark, exc.context_mark
    what = exc.problem or exc.context or "syntax error"
    line = (problem or context).line + 1 if (problem or context) else 0
    if context and exc.context and context.line + 1 != line:
        at_end = problem is not None and not text[problem.index:].strip()
        # a quote, flow collection or block scalar left open: the fix is where it was opened
        if at_end or exc.context.startswith("while scanning") or " flow " in exc.context:
            return Problem(f"invalid YAML: {what} ({exc.context} that starts on this line)", file,
                           context.line + 1)
        what += f" ({exc.context} at line {context.line + 1})"
    return Problem(f"invalid YAML: {what}", file, line)


class _Builder:
    def __init__(self, loader: _Loader, file: str) -> None:
        self.loader = loader
        self.file = file
        self.depth = 0
        self.values = 0

    def build(self, node: yaml.Node, path: str, *, in_list: bool = False) -> Any:
        self.values += 1
        if self.values > MAX_VALUES:
            raise ComposeError(
                Problem(f"the document expands to more than {MAX_VALUES:,} values once its "
                        "aliases are followed", self.file, node.start_mark.line + 1, path),
                hint="Use anchors and aliases for small shared blocks, not nested in each other.")
        tag = node.tag
        if tag in _MARKERS:
            return self._marker(node, path, in_list)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            self._enter(node, path)
            out = Sequence()
            for index, item in enumerate(node.value):
                out.append(self.build(item, f"{path}[{index}]", in_list=True))
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

    def _marker(self, node: yaml.Node, path: str, in_list: bool) -> Any:
        """``!reset`` / ``!override`` where Compose's merge can act on them, else an error."""
        line = node.start_mark.line + 1
        wrong = ("inside a list: they act on a key's whole value, so tag the list itself"
                 if in_list else
                 "on services: reset or override each service instead" if path == "services" else
                 "inside an x- extension, which is kept as written" if _in_extension(path) else
                 "on include or extends, which are read before files are merged"
                 if _in_include_or_extends(path) else
                 "at the top of the file" if not path else "")
        if wrong:
            raise ComposeError(Problem(f"{node.tag} cannot be used {wrong}", self.file, line, path))
        if node.tag == "!reset":
            return RESET
        tag, node.tag = node.tag, _default_tag(node)
        try:  # the node may be shared through an alias: restore it for the next use
            return Override(self.build(node, path))
        finally:
            node.tag = tag

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
        self._flatten(node, path, set())
        out = Mapping()
        for key_node, value_node in node.value:
            key = self._key(key_node, path)
            child = f"{path}.{key}" if path else str(key)
            out[key] = self.build(value_node, child)
            out.where[key] = (self.file, key_node.start_mark.line + 1)
        self.depth -= 1
        return out

    def _flatten(self, node: yaml.MappingNode, path: str, visiting: set[int]) -> None:
        """Apply YAML merge keys (``<<: *anchor``), refusing merges of merges that explode.

        PyYAML flattens nested merges recursively and without bound, so each merged mapping
        is flattened (and measured) here first.
        """
        if id(node) in visiting:
            raise ComposeError(Problem("a merge key (<<) refers to the mapping that contains it",
                                       self.file, node.start_mark.line + 1, path))
        visiting.add(id(node))
        for key_node, value_node in node.value:
            if key_node.tag != "tag:yaml.org,2002:merge":
                continue
            merged = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            for sub in merged:
                if isinstance(sub, yaml.MappingNode):
                    self._flatten(sub, path, visiting)
        visiting.discard(id(node))
        try:
            self.loader.flatten_mapping(node)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            raise ComposeError(
                Problem(f"invalid merge key: {exc.problem}", self.file,
                        mark.line + 1 if mark else 0, path)
            ) from None
        if len(node.value) > MAX_VALUES:
            raise ComposeError(
                Problem(f"merge keys (<<) expand this mapping to more than {MAX_VALUES:,} keys",
                        self.file, node.start_mark.line + 1, path))

    def _key(self, node: yaml.Node, path: str) -> str:
        """A mapping key: a string, as Compose requires (``80:`` or ``true:`` must be quoted)."""
        line = node.start_mark.line + 1
        if node.tag in _MARKERS:
            raise ComposeError(Problem(f"{node.tag} cannot tag a key; put it after the colon, "
                                       "on the value", self.file, line, path))
        if not isinstance(node, yaml.ScalarNode):
            raise ComposeError(Problem("mapping keys must be plain values", self.file, line, path))
        value = self.build(node, path)
        if not isinstance(value, str):
            kind = ("null" if value is None else "true or false" if isinstance(value, bool)
                    else "a number")
            shown = f"key {node.value!r}" if node.value else "an empty key"
            raise ComposeError(Problem(f"{shown} is read as {kind}, but keys must be strings; "
                                       f"quote it (\"{node.value}\":)", self.file, line, path))
        return value

    def _enter(self, node: yaml.Node, path: str) -> None:
        self.depth += 1
        if self.depth > 100:  # a recursive alias would otherwise never end
            shown = shorten(path, 80)
            raise ComposeError(
                Problem("YAML nested more than 100 levels deep (an alias inside its own anchor?)",
                        self.file, node.start_mark.line + 1, shown)
            )


def _in_extension(path: str) -> bool:
    parts = [part.split("[", 1)[0] for part in path.split(".")]
    if len(parts) > 1 and parts[0] in ("services", "volumes", "networks", "secrets", "configs"):
        del parts[1]  # a service may well be named x-ray
    return any(part.startswith("x-") for part in parts)


def _in_include_or_extends(path: str) -> bool:
    parts = [part.split("[", 1)[0] for part in path.split(".")]
    return parts[0] == "include" or (len(parts) >= 3 and parts[0] == "services"
                                     and parts[2] == "extends")


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


class BadPath(Exception):
    """A path that cannot name a file to read; the message says why, in a user's words."""


_ERRNO_WORDS = {errno.EACCES: "permission denied", errno.EPERM: "permission denied",
                errno.ELOOP: "a symlink loop", errno.ENAMETOOLONG: "the path is too long",
                errno.EISDIR: "it is a directory", errno.ENOTDIR: "a part of the path is not a "
                "directory", errno.ENOENT: "it does not exist"}


def shorten(text: str, limit: int, *, middle: bool = False) -> str:
    """``text`` for a message, at most ``limit`` characters: cut at the end with "...", or
    (``middle``) in the middle, keeping both ends (a path's folder and file name); a value
    quoted in a message may be a megabyte long."""
    if len(text) <= limit:
        return text
    if middle:
        head = limit // 2
        return text[:head] + "..." + text[head + 3 - limit:]
    return text[:limit - 3] + "..."


def os_reason(exc: OSError) -> str:
    """An OSError in a user's words, without Python's ``[Errno N]`` decoration."""
    return _ERRNO_WORDS.get(exc.errno or 0, (exc.strerror or str(exc)).lower())


def resolved(path: Path) -> Path:
    """``path`` made absolute with its symlinks followed; BadPath when that cannot be done."""
    if "\0" in str(path):
        raise BadPath("the path contains a NUL character")
    try:
        return path.resolve()
    except RuntimeError:  # Python 3.11 reports a symlink loop this way
        raise BadPath("the path is a symlink loop") from None
    except OSError as exc:
        raise BadPath(os_reason(exc)) from None


def is_file(path: Path, *, named: bool = False) -> bool:
    """Whether ``path`` is a file; BadPath when it cannot be told (no permission, a loop), or
    (``named``: a user named this very file) when it is there but is no regular file (a
    device, a FIFO, a folder), which is never read."""
    try:
        mode = path.stat().st_mode
        if named and not stat.S_ISREG(mode):
            raise BadPath("it is not a regular file")
        return stat.S_ISREG(mode)
    except FileNotFoundError:
        return False
    except NotADirectoryError:
        return False
    except OSError as exc:
        raise BadPath(os_reason(exc)) from None
    except ValueError:
        raise BadPath("the path contains a NUL character") from None


def file_at(path: Path, problem: Problem, *, resolve: bool = True,
            hint: str = "") -> tuple[Path, bool]:
    """``path`` (with ``resolve``, absolute with its symlinks followed) and whether it is a
    file; when that cannot be told, a ComposeError of ``problem`` with the reason after its
    message."""
    try:
        if resolve:
            path = resolved(path)
        return path, is_file(path, named=True)
    except BadPath as exc:
        raise ComposeError(replace(problem, message=f"{problem.message}{exc}"), hint=hint) from None


def read_text(path: Path) -> str:
    """A UTF-8 text file of at most ``MAX_FILE_BYTES``, or BadPath saying why not. Only a
    regular file is read: a device (/dev/zero) or a FIFO is refused before any read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise BadPath("it is not a regular file")
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise BadPath(os_reason(exc)) from None
    except ValueError:
        raise BadPath("the path contains a NUL character") from None
    if len(data) > MAX_FILE_BYTES:
        raise BadPath(f"it is larger than {MAX_FILE_BYTES >> 20} MB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise BadPath(f"it is not UTF-8 text (line {line})") from None
