"""Interpolation follows Compose's syntax and keeps undefined variables as config references."""

from __future__ import annotations

import pytest

from launchdeck.compose.interpolate import InterpolationError, references, substitute

ENV = {"A": "a", "EMPTY": "", "URL": "http://x"}


@pytest.mark.parametrize(
    ("text", "value", "refs"),
    [
        ("plain", "plain", ()),
        ("$A", "a", ()),
        ("${A}", "a", ()),
        ("x${A}y$A", "xaya", ()),
        ("${MISSING:-dflt}", "dflt", ()),
        ("${EMPTY:-dflt}", "dflt", ()),
        ("${EMPTY-dflt}", "", ()),
        ("${MISSING-dflt}", "dflt", ()),
        ("${A:+alt}", "alt", ()),
        ("${EMPTY:+alt}", "", ()),
        ("${EMPTY+alt}", "alt", ()),
        ("${MISSING+alt}", "", ()),
        ("${MISSING:-${A}/x}", "a/x", ()),
        ("$$A", "$A", ()),
        ("$${A}", "${A}", ()),
        ("cost $5", "cost $5", ()),
        ("trailing $", "trailing $", ()),
        ("${EMPTY:?}", None, None),
        ("$MISSING", "${MISSING}", ("MISSING",)),
        ("${MISSING}", "${MISSING}", ("MISSING",)),
        ("pg://u:${PW}@db/${A}", "pg://u:${PW}@db/a", ("PW",)),
        ("$$lit ${PW}", "$$lit ${PW}", ("PW",)),
        ("${X}${Y}${X}", "${X}${Y}${X}", ("X", "Y")),
        ("${MISSING:-${PW}}", "${PW}", ("PW",)),
    ],
)
def test_substitute(text: str, value: str | None, refs: tuple[str, ...] | None) -> None:
    """Each expression resolves as Compose resolves it; undefined variables stay references."""
    if value is None:
        with pytest.raises(InterpolationError, match="required variable EMPTY"):
            substitute(text, ENV)
        return
    result = substitute(text, ENV)
    assert (result.value, result.refs) == (value, refs)


@pytest.mark.parametrize("text", ["${", "${A", "${}", "${1A}", "${A!x}", "${A:x}"])
def test_malformed_expression(text: str) -> None:
    """A malformed expression is an error that says how to write a literal dollar."""
    with pytest.raises(InterpolationError, match=r"invalid interpolation format .*\$\$"):
        substitute(text, ENV)


def test_required_variable_message() -> None:
    """${VAR:?message} fails with the author's message."""
    with pytest.raises(InterpolationError, match="required variable DB is missing a value: set DB"):
        substitute("${DB:?set DB}", ENV)


def test_template_resolves_once_config_is_known() -> None:
    """A template substituted again with the config values gives the final text."""
    template = substitute("pg://u:${PW}@db $$5", {}).value
    assert references(template) == ("PW",)
    assert substitute(template, {"PW": "s3cret"}).value == "pg://u:s3cret@db $5"
