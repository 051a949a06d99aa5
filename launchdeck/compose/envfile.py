"""``.env`` and ``env_file`` text read exactly as Docker Compose reads it.

A port of compose-go's ``dotenv`` parser (``dotenv/parser.go``): ``KEY=VALUE`` or
``KEY: VALUE`` lines, an optional ``export``, ``#`` comments (inside an unquoted value only
after a space), a bare ``KEY`` that takes a value already known, single quotes kept as
written, double quotes with ``\\n``-style escapes (``\\$`` is a literal dollar), and values that
span lines inside quotes. Unquoted and double-quoted values are interpolated as Compose does:
``$NAME`` and ``${NAME:-default}`` from what is known, and a variable nothing defines is an
empty string (not a config reference: an env file defines values, it does not ask for them).
Positions are indices into the text, so a long file is read in linear time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from launchdeck.compose.interpolate import InterpolationError, substitute

_EXPORT = re.compile(r"export\s+")
_ESCAPE = re.compile(r"\\(?:[abcfnrtv$\"\\]|0[0-9]{0,3})")
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
            '"': '"', "\\": "\\", "$": "$$"}
_SPACE = frozenset("\t\v\f\r \x85\xa0")  # what the parser skips: not a line break
_KEY_PUNCTUATION = frozenset("_.-[]")


class EnvFileError(ValueError):
    """A line Compose cannot read; ``line`` is 1-based."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


Lookup = Callable[[str], str | None]


def parse(text: str, lookup: Lookup) -> Iterator[tuple[str, str, int]]:
    """(key, value, line) for each variable ``text`` defines, in order. ``lookup`` gives the
    value of a variable known before this file (None: unknown); what the file defined earlier
    is known after it. Raises EnvFileError on what Compose refuses."""
    values: dict[str, str] = {}

    def known(name: str) -> str | None:
        found = lookup(name)
        return values.get(name) if found is None else found

    n, pos, line, counted = len(text), 0, 1, 0
    while True:
        pos = _statement_start(text, pos)
        if pos >= n:
            return
        line += text.count("\n", counted, pos)  # counted once: a file may have 60,000 lines
        counted = pos
        key, pos, inherited = _key(text, pos, line)
        if key is None:  # a last line with neither "=" nor a line break: Compose defines nothing
            return
        if " " in key:
            raise EnvFileError("key cannot contain a space", line)
        if inherited:
            found = known(key)
            if found is not None:
                values[key] = found
                yield key, found, line
            continue
        try:
            value, pos = _value(text, pos, known, line)
        except InterpolationError:  # its text quotes the value: name the line only
            raise EnvFileError("invalid interpolation format in the value; write a literal $ "
                               "as $$", line) from None
        values[key] = value
        yield key, value, line


def _statement_start(text: str, pos: int) -> int:
    n = len(text)
    while True:
        while pos < n and text[pos].isspace():
            pos += 1
        if pos >= n or text[pos] != "#":
            return pos
        end = text.find("\n", pos)
        if end < 0:
            return n
        pos = end


def _key(text: str, pos: int, line: int) -> tuple[str | None, int, bool]:
    export = _EXPORT.match(text, pos)
    if export:
        pos += len("export")
        while pos < len(text) and text[pos] in _SPACE:
            pos += 1
    start = pos
    for i in range(pos, len(text)):
        char = text[i]
        if char in _SPACE:
            continue
        if char in "=:\n":
            key = text[start:i].rstrip()
            end = i + 1
            while end < len(text) and text[end] in _SPACE:
                end += 1
            return key, end, char == "\n"
        if char in _KEY_PUNCTUATION or char.isalpha() or char.isnumeric():
            continue
        # the line is not quoted: the file named may be anything (another project's secrets)
        raise EnvFileError(f"unexpected character {char!r} in a variable name", line)
    return None, len(text), False


def _value(text: str, pos: int, known: Lookup, line: int) -> tuple[str, int]:
    n = len(text)
    quote = text[pos] if pos < n and text[pos] in "'\"" else ""
    if not quote:
        end = text.find("\n", pos)
        end = n if end < 0 else end
        value = text[pos:end].split(" #", 1)[0].rstrip()
        return _expand(value, known), end + 1
    chars: list[str] = []
    escaped = False
    for i in range(pos + 1, n):
        char = text[i]
        if char != quote:
            if not escaped and char == "\\":
                escaped = True
                continue
            if escaped:
                escaped = False
                chars.append("\\")
            chars.append(char)
            continue
        if escaped:  # \" (or \') is the quote itself
            escaped = False
            chars.append(char)
            continue
        value = "".join(chars)
        if quote == '"':
            value = _expand(_ESCAPE.sub(_unescape, value), known)
        return value, i + 1
    raise EnvFileError("unterminated quoted value", line)


def _unescape(match: re.Match[str]) -> str:
    """One escape of a double-quoted value, as Go's ``strconv.UnquoteChar`` reads it; an octal
    escape is ``\\0`` and three digits (``\\0101`` is ``A``), anything else stays as written."""
    found = match.group()
    if found[1] != "0":
        return _ESCAPES[found[1]]
    digits = found[2:]
    if len(digits) == 3 and all(d in "01234567" for d in digits) and int(digits, 8) < 256:
        return chr(int(digits, 8))
    return found


class _Known(dict):
    """The mapping ``substitute`` reads, answering from a lookup function."""

    def __init__(self, known: Lookup) -> None:
        super().__init__()
        self.known = known

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        found = self.known(key)
        return default if found is None else found


def _expand(value: str, known: Lookup) -> str:
    """``value`` interpolated; a variable nothing defines is empty, as Compose makes it."""
    if "$" not in value:
        return value
    result = substitute(value, _Known(known))
    if not result.refs:
        return result.value
    return substitute(result.value, dict.fromkeys(result.refs, "")).value
