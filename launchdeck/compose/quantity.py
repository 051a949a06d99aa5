"""Durations and byte sizes as Compose writes them (``1m30s``, ``512m``), to numbers and back."""

from __future__ import annotations

import re

from launchdeck.compose.source import shorten

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_NANOS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 10**9,
          "m": 60 * 10**9, "h": 3600 * 10**9}
_BYTES = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?\s*$", re.IGNORECASE)
_BYTE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_INT64 = (1 << 63) - 1  # Compose (Go) keeps durations in nanoseconds and sizes in bytes as int64
_MAX_SECONDS = _INT64 // 10**9


def parse_duration(value: str | int | float, *, days: bool = False) -> float:
    """Seconds from a Go duration string (``1m30s``, ``500ms``); a bare number is seconds.
    With ``days``, ``2d`` (and ``1d12h``) count days too, as log filters write them."""
    if days and isinstance(value, str):
        whole, unit, rest = value.strip().partition("d")
        if unit and whole.replace(".", "", 1).isdigit():
            return float(whole) * 86400 + (parse_duration(rest) if rest else 0.0)
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}: use a value like 30s or 1m30s")
    if isinstance(value, (int, float)):
        return _bounded_seconds(value, value)
    text = value.strip()
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    if body == "0":
        return 0.0
    total, pos = 0, 0
    for match in _DURATION_PART.finditer(body):
        if match.start() != pos:
            break
        part = float(match.group(1)) * _NANOS[match.group(2)]
        if part > _INT64:  # also infinity, from hundreds of digits
            raise ValueError(_too_long(value))
        total += round(part)
        pos = match.end()
    if not body or pos != len(body):
        raise ValueError(f"invalid duration {value!r}: use a value like 30s, 1m30s or 500ms")
    if total > _INT64:
        raise ValueError(_too_long(value))
    return sign * total / 1e9


def _bounded_seconds(seconds: float, value: object) -> float:
    if seconds != seconds or abs(seconds) > _MAX_SECONDS:  # NaN, infinity, or past int64 ns
        raise ValueError(_too_long(value))
    return float(seconds)


def _too_long(value: object) -> str:
    return (f"duration {shorten(repr(value), 40)} is out of range: at most {_MAX_SECONDS // 3600}h "
            "(about 292 years)")


def format_duration(seconds: float) -> str:
    """The Go ``time.Duration.String()`` form of a number of seconds, as Compose prints it."""
    nanos = round(seconds * 1e9)
    if nanos == 0:
        return "0s"
    sign, nanos = ("-", -nanos) if nanos < 0 else ("", nanos)
    if nanos < 10**9:
        for unit, size in (("ms", 10**6), ("µs", 10**3), ("ns", 1)):
            if nanos >= size:
                return sign + _decimal(nanos, size) + unit
    hours, rest = divmod(nanos, 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    text = _decimal(rest, 10**9) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{text}"
    if minutes:
        return f"{sign}{minutes}m{text}"
    return sign + text


def _decimal(value: int, unit: int) -> str:
    whole, frac = divmod(value, unit)
    if not frac:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}.{str(frac).rjust(digits, '0').rstrip('0')}"


def parse_bytes(value: str | int | float) -> int:
    """Bytes from a size like ``512m``, ``1.5g`` or ``1024`` (units are powers of 1024)."""
    if isinstance(value, bool):
        raise ValueError(f"invalid size {value!r}: use a value like 512m or 1g")
    if isinstance(value, (int, float)):
        size = value
    else:
        match = _BYTES.match(value)
        if not match:
            raise ValueError(f"invalid size {value!r}: use a value like 512m or 1g")
        size = float(match.group(1)) * _BYTE_UNITS[match.group(2).lower()]
    if size != size or abs(size) > _INT64:  # NaN, infinity, or past what Compose can hold
        raise ValueError(f"size {shorten(repr(value), 40)} is out of range: at most 8 EiB ({_INT64} bytes)")
    return int(size)
