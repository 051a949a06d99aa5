"""A build context packed for a remote builder: what goes in, and the same bytes every time."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from launchdeck.compose.model import Build
from launchdeck.engine import build_context


def _names(packed: build_context.Packed, archive: build_context.Archive) -> list[str]:
    if archive == "zip":
        with zipfile.ZipFile(io.BytesIO(packed.data)) as found:
            return sorted(found.namelist())
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(packed.data))) as found:
        return sorted(found.getnames())


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "app.py").write_text("print('hi')\n")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "big.txt").write_text("x" * 1000)
    (tmp_path / ".dockerignore").write_text("notes/\n")
    return tmp_path


def _pack(folder: Path, archive: build_context.Archive) -> build_context.Packed:
    source = build_context.scan(Build(context=str(folder), dockerfile="Dockerfile"), "web")
    return build_context.pack(source, archive)


@pytest.mark.parametrize("archive", ["zip", "tar.gz"])
def test_an_archive_leaves_out_what_dockerignore_names(folder: Path, archive: build_context.Archive) -> None:
    """Ignored files stay out of the archive a builder gets."""
    assert _names(_pack(folder, archive), archive) == [".dockerignore", "Dockerfile", "app.py"]


@pytest.mark.parametrize("archive", ["zip", "tar.gz"])
def test_packing_is_reproducible_and_follows_the_content(folder: Path,
                                                         archive: build_context.Archive) -> None:
    """Packing twice gives the same digest, whatever the files' times; a changed file a new one."""
    first = _pack(folder, archive)
    os.utime(folder / "app.py", (1_000_000, 1_000_000))
    assert _pack(folder, archive).digest == first.digest
    (folder / "app.py").write_text("print('changed')\n")
    assert _pack(folder, archive).digest != first.digest
