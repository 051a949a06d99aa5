"""generate never writes outside its folder, refuses bad input with a clear message, and lands
whole or not at all."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from launchdeck.ai import generate as gen
from launchdeck.errors import UsageError
from launchdeck.tools.generate import generate

FILES = [gen.GeneratedFile(path="compose.yaml", content="services: {}\n"),
         gen.GeneratedFile(path="app/main.py", content="print('new')\n"),
         gen.GeneratedFile(path="run.sh", content="#!/bin/sh\n")]


def _tree(root: Path) -> dict[str, str]:
    """Every path under ``root`` with its content (or what a symlink points at)."""
    out = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            out[key] = "-> " + os.readlink(path)
        elif path.is_file():
            out[key] = path.read_text()
        else:
            out[key] = "/"
    return out


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Path]:
    """A folder whose whole tree must be exactly the same after a refused write (and /etc)."""
    root = tmp_path / "sandbox"
    (root / "nonempty").mkdir(parents=True)
    (root / "nonempty" / "keep.txt").write_text("mine")
    (root / "outside").mkdir()
    (root / "a-file").write_text("not a folder")
    before, etc = _tree(root), sorted(os.listdir("/etc"))
    yield root
    assert _tree(root) == before, "a refused write changed files"
    assert sorted(os.listdir("/etc")) == etc


@pytest.mark.parametrize("overwrite", [False, True])
def test_dotdot_through_a_missing_folder_never_reaches_etc(sandbox: Path, overwrite: bool) -> None:
    """/x/missing/../../../etc resolves to /etc before any check, and /etc is refused."""
    folder = str(sandbox / "missing") + "/.." * (len(sandbox.parts) + 2) + "/etc"
    with pytest.raises(UsageError) as caught:
        gen.write(folder, FILES, overwrite=overwrite)
    assert caught.value.message == f"{folder} (that is /etc) is a system folder, not a place " \
                                   "for a project"


def test_dotdot_into_a_non_empty_folder_is_refused(sandbox: Path) -> None:
    """/x/missing/../nonempty is the non-empty folder, refused without overwrite."""
    folder = f"{sandbox}/missing/../nonempty"
    with pytest.raises(UsageError) as caught:
        anyio.run(lambda: generate("a REST API", folder))
    assert caught.value.message == f"{folder} (that is {sandbox / 'nonempty'}) is not empty"
    assert "--overwrite" in caught.value.hint


@pytest.mark.parametrize(("path", "problem"), [
    ("../escape.txt", "paths must stay inside the project folder"),
    ("app/../../escape.txt", "paths must stay inside the project folder"),
    ("/tmp/absolute.txt", "absolute paths are not allowed"),
    ("C:/absolute.txt", "absolute paths are not allowed"),
    ("app\\..\\..\\escape.txt", "paths must stay inside the project folder"),
    ("", "a file needs a name"),
    ("bad\0name", "not a valid file name"),
    ("x" * 256, "not a valid file name"),
], ids=["dotdot", "nested-dotdot", "absolute", "drive", "backslash", "empty", "nul", "too-long"])
def test_bad_file_names_write_nothing(path: str, problem: str, sandbox: Path) -> None:
    """A file name that is absolute, climbs out or is no name refuses the whole project."""
    files = [*FILES, gen.GeneratedFile(path=path, content="pwned")]
    with pytest.raises(UsageError) as caught:
        gen.write(sandbox / "outside" / "new", files, overwrite=False)
    assert caught.value.message.startswith("refusing to write outside the project folder: ")
    assert problem in caught.value.message


def test_symlink_inside_pointing_out_writes_nothing(sandbox: Path, tmp_path: Path) -> None:
    """A symlink in the folder that leads out of it refuses the project, nothing written."""
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "app").symlink_to(sandbox / "outside")
    (folder / "compose.yaml").write_text("old")
    with pytest.raises(UsageError) as caught:
        gen.write(folder, FILES, overwrite=True)
    assert "refusing to write app/main.py: it resolves outside" in caught.value.message
    assert _tree(folder) == {"app": f"-> {sandbox / 'outside'}", "compose.yaml": "old"}


@pytest.mark.parametrize(("name", "message"), [
    ("a-file", "exists and is not a folder"),
    ("a-file/sub", "cannot be made: {sandbox}/a-file is a file, not a folder"),
    ("nonempty", "is not empty"),
], ids=["file", "through-a-file", "non-empty"])
def test_unusable_folders_are_refused(name: str, message: str, sandbox: Path) -> None:
    """A file, a path through a file, or a folder with files in it is refused as the target."""
    with pytest.raises(UsageError) as caught:
        gen.check_target(sandbox / name, overwrite=False)
    assert message.format(sandbox=sandbox) in caught.value.message


@pytest.mark.parametrize("folder", ["/", "/usr", "/etc/app", "/usr/lib/app", "/proc/self",
                                    "~/../../var"])
def test_system_folders_are_refused_even_with_overwrite(folder: str) -> None:
    """Folders of the operating system are never a project's, whatever overwrite says."""
    with pytest.raises(UsageError, match="is a system folder"):
        gen.check_target(folder, overwrite=True)


def test_symlink_loop_is_refused(tmp_path: Path) -> None:
    """A folder path that loops through symlinks is refused in words, not with a traceback."""
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(UsageError, match="cannot be resolved"):
        gen.check_target(tmp_path / "loop" / "proj", overwrite=False)


@pytest.mark.parametrize("description", ["", "   \n"], ids=["empty", "blank"])
def test_empty_description_asks_for_one(description: str, sandbox: Path) -> None:
    """An empty description is refused with a request for one, and nothing is written."""
    with pytest.raises(UsageError) as caught:
        anyio.run(lambda: generate(description, str(sandbox / "outside" / "new")))
    assert caught.value.message == "the description is empty"
    assert "Say what the project should do" in caught.value.hint


@pytest.mark.parametrize(("files", "problem"), [
    ([gen.GeneratedFile(path="a.txt", content="1"), gen.GeneratedFile(path="./a.txt", content="2")],
     "a.txt is given twice"),
    ([gen.GeneratedFile(path="app", content="1"), gen.GeneratedFile(path="app/x", content="2")],
     "app is given as a file, but app/x needs it as a folder"),
    ([gen.GeneratedFile(path="big", content="x" * (gen.MAX_FILE_BYTES + 1))],
     f"big is larger than {gen.MAX_FILE_BYTES} bytes"),
], ids=["twice", "file-and-folder", "too-large"])
def test_inconsistent_files_write_nothing(files: list, problem: str, sandbox: Path) -> None:
    """Files that cannot all be written as given refuse the project before anything is written."""
    with pytest.raises(UsageError) as caught:
        gen.write(sandbox / "outside" / "new", files, overwrite=False)
    assert problem in caught.value.message
    assert problem in gen.check(files)


def test_relative_folder_resolves_against_cwd(tmp_path: Path) -> None:
    """A relative folder is taken from the given working directory, and returned resolved."""
    (tmp_path / "work").mkdir()
    assert gen.check_target("../proj", overwrite=False, cwd=tmp_path / "work") == tmp_path / "proj"


def test_new_folder_appears_whole_and_leaves_nothing_beside(tmp_path: Path) -> None:
    """A new folder (and its missing parents) holds every file; no staging folder is left."""
    written = gen.write(tmp_path / "a" / "b" / "proj", FILES, overwrite=False)
    assert written == ["compose.yaml", "app/main.py", "run.sh"]
    assert _tree(tmp_path) == {"a": "/", "a/b": "/", "a/b/proj": "/",
                               "a/b/proj/app": "/", "a/b/proj/app/main.py": "print('new')\n",
                               "a/b/proj/compose.yaml": "services: {}\n",
                               "a/b/proj/run.sh": "#!/bin/sh\n"}
    assert os.stat(tmp_path / "a/b/proj/run.sh").st_mode & 0o777 == 0o755


def test_overwrite_replaces_named_files_and_keeps_others(tmp_path: Path) -> None:
    """With overwrite, the project's files replace theirs; other files stay; nothing is left over."""
    folder = tmp_path / "proj"
    (folder / "app").mkdir(parents=True)
    (folder / "app" / "main.py").write_text("old")
    (folder / "notes.txt").write_text("mine")
    gen.write(folder, FILES, overwrite=True)
    assert _tree(folder) == {"app": "/", "app/main.py": "print('new')\n",
                             "compose.yaml": "services: {}\n", "notes.txt": "mine",
                             "run.sh": "#!/bin/sh\n"}


_FILE_SIZE_LIMIT = """
import resource, signal, sys
from launchdeck.ai import generate as gen
from launchdeck.errors import UsageError
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
files = [gen.GeneratedFile(path="compose.yaml", content="services: {}"),
         gen.GeneratedFile(path="data/big.txt", content="x" * 10000)]
try:
    gen.write(sys.argv[1], files, overwrite=False)
except UsageError as exc:
    print(exc.message)
    sys.exit(3)
"""


def test_new_folder_is_not_left_half_written(tmp_path: Path) -> None:
    """When the kernel refuses a write halfway (a file size limit), no folder appears at all."""
    done = subprocess.run([sys.executable, "-c", _FILE_SIZE_LIMIT, str(tmp_path / "a" / "proj")],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 3, done.stderr
    assert done.stdout.startswith(f"cannot write the project into {tmp_path / 'a' / 'proj'}: ")
    assert _tree(tmp_path) == {}


def test_existing_folder_is_put_back_when_a_move_fails(tmp_path: Path) -> None:
    """When a file cannot be moved into place (an immutable folder), replaced files come back."""
    folder = tmp_path / "proj"
    (folder / "app").mkdir(parents=True)
    (folder / "compose.yaml").write_text("old compose")
    (folder / "run.sh").write_text("old run")
    before = _tree(folder)
    subprocess.run(["chattr", "+i", str(folder / "app")], check=True)
    try:
        with pytest.raises(UsageError) as caught:
            gen.write(folder, FILES, overwrite=True)  # compose.yaml is moved before app/main.py
    finally:
        subprocess.run(["chattr", "-i", str(folder / "app")], check=True)
    assert "nothing was changed" in caught.value.message
    assert _tree(folder) == before


# -- the same refusals through the two front ends -------------------------------------------

BAD_INPUTS = {
    "etc": ("a REST API", "{sandbox}/missing/../../../../../../../../../../etc",
            "(that is /etc) is a system folder"),
    "non-empty": ("a REST API", "{sandbox}/missing/../nonempty",
                  "(that is {sandbox}/nonempty) is not empty"),
    "empty-description": ("", "{sandbox}/outside/new", "the description is empty"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_cli_refuses_bad_input(case: str, sandbox: Path) -> None:
    """`launchdeck generate` prints the message (no traceback), exits 1, and writes nothing."""
    description, folder, message = (part.format(sandbox=sandbox) for part in BAD_INPUTS[case])
    argv = ["generate", description, "--folder", folder, *(["--overwrite"] * (case == "etc"))]
    done = subprocess.run([sys.executable, "-m", "launchdeck", *argv], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 1, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_mcp_refuses_bad_input(case: str, sandbox: Path, tmp_path: Path) -> None:
    """generate_project over MCP answers with the message as an error, and writes nothing."""
    from tests.server.test_mcp import Seen, _text, connect

    description, folder, message = (part.format(sandbox=sandbox) for part in BAD_INPUTS[case])

    async def scenario():
        async with connect("stdio", "legacy", Seen(), tmp_path / "state", None) as client:
            return await client.call_tool("generate_project", {
                "description": description, "folder": folder, "overwrite": case == "etc"})

    result = anyio.run(scenario)
    assert result.is_error and message in _text(result), _text(result)
