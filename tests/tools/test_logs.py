"""Times for log filters: RFC 3339 or a duration before now."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from launchdeck.errors import UsageError
from launchdeck.tools.logs import parse_time

NOW = datetime(2026, 1, 2, 15, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10m", datetime(2026, 1, 2, 14, 50, tzinfo=UTC)),
        ("2h", datetime(2026, 1, 2, 13, 0, tzinfo=UTC)),
        ("1d", datetime(2026, 1, 1, 15, 0, tzinfo=UTC)),
        ("30s", datetime(2026, 1, 2, 14, 59, 30, tzinfo=UTC)),
        ("2026-01-02T10:00:00Z", datetime(2026, 1, 2, 10, 0, tzinfo=UTC)),
        ("2026-01-02T10:00:00+02:00", datetime(2026, 1, 2, 8, 0, tzinfo=UTC)),
        ("2026-01-02T10:00:00", datetime(2026, 1, 2, 10, 0, tzinfo=UTC)),
    ],
)
def test_parse_time(text: str, expected: datetime) -> None:
    """Durations count back from now; times without a zone are UTC."""
    assert parse_time(text, now=NOW) == expected


def test_unreadable_time_says_what_works() -> None:
    """A time that is neither form is a usage error with examples."""
    with pytest.raises(UsageError) as caught:
        parse_time("yesterday", now=NOW)
    assert "10m" in caught.value.hint and "RFC 3339" in caught.value.hint
