"""The action's logic in launchdeck/ci.py, in-process: masking first, workflow command escaping."""

from __future__ import annotations

import io

import pytest

from launchdeck.ci import escape_data, escape_property, main


def test_values_are_masked_line_by_line_before_anything_else(tmp_path) -> None:
    """Every line of every CONFIG_* value is masked before the first other line is printed."""
    out = io.StringIO()
    code = main({"CONFIG_CERT": "line-one-aaaa\nline-two-bbbb", "CONFIG_TOKEN": "tok-cccc",
                 "INPUT_COMMAND": "explode", "GITHUB_WORKSPACE": str(tmp_path)}, out=out)
    lines = out.getvalue().splitlines()
    assert code == 1
    assert lines[:3] == ["::add-mask::line-one-aaaa", "::add-mask::line-two-bbbb",
                         "::add-mask::tok-cccc"]
    assert lines[3].startswith("::error title=launchdeck::unknown command 'explode'")


@pytest.mark.parametrize(("text", "data", "prop"), [
    ("plain", "plain", "plain"),
    ("50% done\nnext", "50%25 done%0Anext", "50%25 done%0Anext"),
    ("app/compose.yaml:3, web", "app/compose.yaml:3, web", "app/compose.yaml%3A3%2C web"),
])
def test_workflow_command_escaping(text: str, data: str, prop: str) -> None:
    """Messages and properties are escaped as GitHub's runner reads them."""
    assert escape_data(text) == data and escape_property(text) == prop
