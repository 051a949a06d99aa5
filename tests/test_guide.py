"""The guided `launchdeck generate`, driven through a real terminal (pexpect), and its guard that
leaves nothing behind on Ctrl-C."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from launchdeck.ai import generate as gen
from launchdeck.guide import nothing_left_on_interrupt

CHOOSE = r"Choose \[(\d)\]: "
FOLDER = r"Folder \(new or empty\) \[(.*)\]: "


def _spawn(cwd: Path) -> pexpect.spawn:
    env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    return pexpect.spawn(sys.executable, ["-m", "launchdeck", "generate"], cwd=str(cwd), env=env,
                         encoding="utf-8", timeout=60, dimensions=(40, 200))


def _finish(child: pexpect.spawn) -> int:
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus if child.exitstatus is not None else -child.signalstatus


def test_a_sample_with_the_defaults(tmp_path: Path) -> None:
    """Node.js, then the offered defaults (a catalog sample), the postgres sample, the default
    folder: the project lands in ./postgres and the config it reads is named."""
    child = _spawn(tmp_path)
    child.expect("Language:")
    child.expect(CHOOSE)
    assert child.match.group(1) == "3"  # Python by default
    child.sendline("1")
    child.expect("Start from:")
    child.expect(CHOOSE)
    child.sendline("")
    child.expect("Sample:")
    child.expect(CHOOSE)
    child.sendline("2")
    child.expect(FOLDER)
    assert child.match.group(1) == "./postgres"
    child.sendline("")
    child.expect("it reads config POSTGRES_PASSWORD")
    child.expect("next: launchdeck compose up")
    assert _finish(child) == 0
    assert (tmp_path / "postgres" / "package.json").is_file()
    assert "x-defang-postgres" in (tmp_path / "postgres" / "compose.yaml").read_text()


def test_from_a_description_with_a_taken_folder_asked_again(tmp_path: Path) -> None:
    """A description picks the sample; a folder with files in it is refused and asked again."""
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    child = _spawn(tmp_path)
    child.expect(CHOOSE)
    child.sendline("")  # Python
    child.expect(CHOOSE)
    child.sendline("2")  # from a description
    child.expect(r"Describe the project \(what it should do\): ")
    child.sendline("")
    child.expect("Say what it should do")
    child.sendline("a worker that takes jobs from a queue")
    child.expect(FOLDER)
    assert child.match.group(1) == "./redis-worker"
    child.sendline("taken")
    child.expect("is not empty")
    child.expect(FOLDER)
    child.sendline("fresh")
    assert _finish(child) == 0
    assert "x-defang-redis" in (tmp_path / "fresh" / "compose.yaml").read_text()
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in (tmp_path / "taken").iterdir()) == ["notes.txt"]


def test_a_wrong_number_is_asked_again(tmp_path: Path) -> None:
    """An answer outside the menu says what is allowed and asks again."""
    child = _spawn(tmp_path)
    child.expect(CHOOSE)
    child.sendline("7")
    child.expect("a number from 1 to 3")
    child.expect(CHOOSE)
    child.sendintr()
    assert _finish(child) == 130


@pytest.mark.parametrize("answers", [[], ["2"], ["2", "1"], ["2", "1", "3"]],
                         ids=["at-language", "at-start", "at-sample", "at-folder"])
def test_ctrl_c_leaves_nothing(tmp_path: Path, answers: list[str]) -> None:
    """Ctrl-C at any question stops with status 130 and writes nothing."""
    child = _spawn(tmp_path)
    for answer in answers:
        child.expect(CHOOSE)
        child.sendline(answer)
    child.expect([CHOOSE, FOLDER])
    child.sendintr()
    assert _finish(child) == 130
    assert list(tmp_path.iterdir()) == []


def test_without_a_terminal_a_description_is_asked_for(tmp_path: Path) -> None:
    """With no terminal and no description, a clear error asks for one; nothing is written."""
    done = subprocess.run([sys.executable, "-m", "launchdeck", "generate"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                          check=False)
    assert done.returncode == 1
    assert "no description was given" in done.stderr and "a todo API" in done.stderr
    assert "Traceback" not in done.stderr and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("where", ["new", "new/deeper", "empty"])
def test_an_interrupted_write_is_undone(tmp_path: Path, where: str) -> None:
    """Ctrl-C while the files are written removes the folder, the parents made for it, the
    staging folders, and whatever appeared in an existing empty folder."""
    (tmp_path / "empty").mkdir()
    target = tmp_path / where
    files = gen.render(gen.choose("a rest api", "python", None), "demo")

    class Interrupted(KeyboardInterrupt):
        pass

    with pytest.raises(Interrupted), nothing_left_on_interrupt(target):
        gen.write(target, files, overwrite=False)
        staging = target / ".generate.launchdeck-0000" if where == "empty" else \
            target.parent / f".{target.name}.launchdeck-0000"
        staging.mkdir()  # as a write cut short leaves it
        raise Interrupted
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]
    assert list((tmp_path / "empty").iterdir()) == []
