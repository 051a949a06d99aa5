"""Durations and sizes read as Compose reads them and print as Compose prints them."""

from __future__ import annotations

import pytest

from launchdeck.compose.quantity import format_duration, parse_bytes, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds", "printed"),
    [
        ("30s", 30, "30s"),
        ("90s", 90, "1m30s"),
        ("1m30s", 90, "1m30s"),
        ("1h", 3600, "1h0m0s"),
        ("1h2m3s", 3723, "1h2m3s"),
        ("500ms", 0.5, "500ms"),
        ("1.5s", 1.5, "1.5s"),
        ("1500ms", 1.5, "1.5s"),
        ("2us", 2e-6, "2µs"),
        ("0", 0, "0s"),
        (10, 10, "10s"),
    ],
)
def test_duration_round_trip(text: str | int, seconds: float, printed: str) -> None:
    """A duration parses to seconds and prints in Go's form."""
    assert parse_duration(text) == pytest.approx(seconds)
    assert format_duration(parse_duration(text)) == printed


@pytest.mark.parametrize("text", ["", "10", "10 seconds", "s", "1x", "1m30"])
def test_bad_duration(text: str) -> None:
    """A duration without a unit or with a wrong one is refused with an example."""
    with pytest.raises(ValueError, match="like 30s"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "size"),
    [("512", 512), ("1k", 1024), ("256M", 256 << 20), ("1g", 1 << 30), ("1gb", 1 << 30),
     ("1.5g", 3 << 29), ("2048kb", 2 << 20), (4096, 4096)],
)
def test_bytes(text: str | int, size: int) -> None:
    """Sizes use powers of 1024 and accept Compose's unit spellings."""
    assert parse_bytes(text) == size


def test_bad_bytes() -> None:
    """An unknown unit is refused with an example."""
    with pytest.raises(ValueError, match="like 512m"):
        parse_bytes("12 parsecs")
