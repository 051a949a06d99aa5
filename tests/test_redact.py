"""Config values kept out of what launchdeck shows, in every form a log may print them."""

from __future__ import annotations

import json

import pytest

from launchdeck import redact

PEM = ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"
       "-----END PRIVATE KEY-----")


@pytest.mark.parametrize("shown", [
    PEM,
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
    "key: -----END PRIVATE KEY-----",
    json.dumps({"key": PEM}),
    PEM.replace("\n", "\\n"),
    repr("pw\x00hunter2-tail")[1:-1],
    json.dumps("pw\x00hunter2-tail"),
])
def test_every_line_and_escaped_form_of_a_value_is_hidden(shown: str) -> None:
    """Each line of a multi-line value, the value whole, and its escaped forms (\\n, \\x00,
    JSON's \\u0000) are replaced."""
    hidden = redact.secrets([PEM, "pw\x00hunter2-tail"])
    text = redact.text(shown, hidden)
    assert redact.HIDDEN in text
    for part in ("MIIEvQ", "BEGIN PRIVATE", "END PRIVATE", "hunter2"):
        assert part not in text


def test_short_lines_of_a_value_are_not_hidden_alone() -> None:
    """A line under four characters would blank ordinary words: it is hidden only within the
    whole value."""
    hidden = redact.secrets(["abc\nlonger-line"])
    assert redact.text("abc is a word", hidden) == "abc is a word"
    assert redact.text("abc\nlonger-line", hidden) == redact.HIDDEN
