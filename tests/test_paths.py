"""Writing a file whole: the mode it is made with, and nothing left behind when it fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from launchdeck.paths import write_atomic


def test_a_private_file_is_replaced_whole_and_stays_private(tmp_path: Path) -> None:
    target = tmp_path / "store.json"
    target.write_text("old")
    write_atomic(target, '{"A": "1"}', 0o600)
    assert target.read_text() == '{"A": "1"}'
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["store.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "dev.json"
    target.write_text("old")
    with pytest.raises(UnicodeEncodeError):
        write_atomic(target, "half \udc80 written")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["dev.json"]
