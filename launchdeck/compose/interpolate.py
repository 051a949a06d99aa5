"""Variable substitution with Docker Compose's syntax, keeping unknown variables as references.

Supported: ``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?error}``,
``${VAR?error}``, ``${VAR:+alt}``, ``${VAR+alt}`` (defaults and alternatives may nest) and
``$$`` for a literal dollar. Unlike Compose, a variable no source defines does not become an
empty string: it stays in the result as ``${VAR}``, a reference to a config value that a
provider fills in from its secret store. Such a result is a template (its literal dollars are
escaped as ``$$``) and ``substitute`` resolves it again once the config values are known.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

_NAME_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_NAME_CHARS = _NAME_START | frozenset("0123456789")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")
MAX_NESTING = 32
"""How deeply defaults may nest (``${A:-${B:-...}}``); real files use two or three levels."""
MAX_LENGTH = 1 << 20
"""The longest value substitution may make: ``B=${A}${A}``, ``C=${B}${B}``... doubles at
each line, and forty lines would ask for a terabyte."""


class InterpolationError(ValueError):
    """A malformed expression, or a ``${VAR?error}`` whose variable is not set."""


@dataclass(frozen=True, slots=True)
class Substitution:
    """The result of substituting one string."""

    value: str
    """Plain text, or a template when ``refs`` is not empty."""
    refs: tuple[str, ...] = ()
    """Variables that no source defined, in order of first use."""


class Template(str):
    """A string that still refers to variables no source defined (see ``Substitution``)."""

    __slots__ = ("refs",)

    def __new__(cls, value: str, refs: tuple[str, ...]) -> Template:
        made = super().__new__(cls, value)
        made.refs = refs
        return made


def substitute(text: str, env: Mapping[str, str]) -> Substitution:
    """Substitute the variables of ``env`` into ``text``; see the module docstring."""
    if "$" not in text:
        return Substitution(text)
    parts: list[tuple[bool, str]] = []  # (is_reference, text)
    _scan(text, env, parts, 0)
    if sum(len(t) for _, t in parts) > MAX_LENGTH:  # measured before anything is joined
        raise InterpolationError(f"the value is longer than {MAX_LENGTH >> 20} MB once its "
                                 "variables are substituted")
    refs = tuple(dict.fromkeys(t for is_ref, t in parts if is_ref))
    if not refs:
        return Substitution("".join(t for _, t in parts))
    template = "".join("${" + t + "}" if is_ref else t.replace("$", "$$") for is_ref, t in parts)
    return Substitution(template, refs)


def references(text: str) -> tuple[str, ...]:
    """The variables a template still refers to."""
    return substitute(text, {}).refs if "$" in text else ()


def _scan(text: str, env: Mapping[str, str], out: list[tuple[bool, str]], depth: int) -> None:
    if depth > MAX_NESTING:
        raise InterpolationError(f"interpolation nested more than {MAX_NESTING} levels deep")
    i, n, start = 0, len(text), 0
    while i < n:
        if text[i] != "$":
            i += 1
            continue
        if i > start:
            out.append((False, text[start:i]))
        nxt = text[i + 1] if i + 1 < n else ""
        if nxt == "$":
            out.append((False, "$"))
            i += 2
        elif nxt == "{":
            end = _closing_brace(text, i + 2)
            if end < 0:
                raise InterpolationError(_invalid(text[i:]))
            _braced(text[i + 2 : end], text[i : end + 1], env, out, depth)
            i = end + 1
        elif nxt in _NAME_START:
            j = i + 1
            while j < n and text[j] in _NAME_CHARS:
                j += 1
            _lookup(text[i + 1 : j], env, out)
            i = j
        else:  # a lone "$" (before a digit, a space, the end) is kept, as Compose does
            out.append((False, "$"))
            i += 1
        start = i
    if start < n:
        out.append((False, text[start:]))


def _closing_brace(text: str, i: int) -> int:
    depth = 1
    while i < len(text):
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _braced(body: str, whole: str, env: Mapping[str, str], out: list[tuple[bool, str]],
            depth: int) -> None:
    j = 0
    if not body or body[0] not in _NAME_START:
        raise InterpolationError(_invalid(whole))
    while j < len(body) and body[j] in _NAME_CHARS:
        j += 1
    name, rest = body[:j], body[j:]
    if not rest:
        _lookup(name, env, out)
        return
    op = next((o for o in _OPERATORS if rest.startswith(o)), None)
    if op is None:
        raise InterpolationError(_invalid(whole))
    arg = rest[len(op) :]
    value = env.get(name)
    empty = value is None or (op[0] == ":" and value == "")
    if op in (":-", "-"):
        if empty:
            _scan(arg, env, out, depth + 1)
        else:
            out.append((False, value))
    elif op in (":+", "+"):
        if not empty:
            _scan(arg, env, out, depth + 1)
    elif empty:  # ":?" and "?"
        detail = _detail(arg, env, depth)
        message = f"required variable {name} is missing a value"
        raise InterpolationError(f"{message}: {detail}" if detail else message)
    else:
        out.append((False, value))


def _detail(arg: str, env: Mapping[str, str], depth: int) -> str:
    parts: list[tuple[bool, str]] = []
    _scan(arg, env, parts, depth + 1)
    return "".join("${" + t + "}" if is_ref else t for is_ref, t in parts)


def _lookup(name: str, env: Mapping[str, str], out: list[tuple[bool, str]]) -> None:
    value = env.get(name)
    out.append((True, name) if value is None else (False, value))


def _invalid(expression: str) -> str:
    return f"invalid interpolation format {expression!r}; write a literal $ as $$"
