"""Env files named through include and extends (issue 28, item 2): read where Docker Compose
reads them, relative to the file that names them.

The user's own files decide which env files a project reads, as in Compose: an included file in
a subfolder or a shared sibling folder naming its own env file, an include entry's env_file, an
extended file's env_file, an included project's .env, and paths that leave the project folder
give the values the real Docker Compose gives. What a bad line of any such file makes is an
error naming the file and line, never the line's text.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from launchdeck.compose import load
from launchdeck.errors import ComposeError

SECRET = "hunter2-outside-the-project"


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _ours(project: Path) -> dict[str, dict[str, str | None]]:
    loaded = load([], cwd=project, os_environ={})
    return {name: dict(service.environment) for name, service in loaded.project.services.items()}


def _theirs(binary: str, project: Path) -> dict[str, dict[str, str | None]]:
    result = subprocess.run([binary, "config", "--format", "json"], cwd=project,
                            env={"HOME": str(project)}, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return {name: {k: v.replace("$$", "$") if isinstance(v, str) else v
                   for k, v in (service.get("environment") or {}).items()}
            for name, service in json.loads(result.stdout)["services"].items()}


# -- what Compose reads, launchdeck reads ------------------------------------------------------

LEGITIMATE = {
    "include-subfolder-env-file": {
        # an included file's env_file is relative to the included file's folder
        "proj/compose.yaml": "include:\n  - sub/compose.yaml\n",
        "proj/sub/compose.yaml": "services:\n  a:\n    image: x\n    env_file: a.env\n",
        "proj/sub/a.env": "A=from-sub\n",
    },
    "include-entry-env-file": {
        # the entry's env_file is relative to the including file; it gives the included
        # project its variables
        "proj/compose.yaml": "include:\n  - path: sub/compose.yaml\n    env_file: vars.env\n",
        "proj/vars.env": "TAG=from-entry\n",
        "proj/sub/compose.yaml": "services:\n  a:\n    image: x\n    environment: {T: \"${TAG}\"}\n",
    },
    "include-dot-env-of-included-project": {
        "proj/compose.yaml": "include:\n  - sub/compose.yaml\n",
        "proj/sub/.env": "TAG=from-sub-dotenv\n",
        "proj/sub/compose.yaml": "services:\n  a:\n    image: x\n    environment: {T: \"${TAG}\"}\n",
    },
    "include-shared-sibling-folder": {
        # a monorepo's shared folder: its compose file names its own env file and .env
        "proj/compose.yaml": "include:\n  - ../shared/compose.yaml\n"
                             "services:\n  web:\n    image: x\n    depends_on: [cache]\n",
        "shared/compose.yaml": "services:\n  cache:\n    image: x\n    env_file: cache.env\n"
                               "    environment: {V: \"${SHARED_VAR}\"}\n",
        "shared/cache.env": "C=from-shared\n",
        "shared/.env": "SHARED_VAR=from-shared-dotenv\n",
    },
    "include-nested-with-symlink-inside": {
        # a symlink that stays inside the project is followed and read
        "proj/compose.yaml": "include:\n  - a/compose.yaml\n",
        "proj/a/compose.yaml": "include:\n  - b/compose.yaml\n",
        "proj/a/b/compose.yaml": "services:\n  b:\n    image: x\n    env_file: [link.env]\n",
        "proj/common.env": "B=from-common\n",
    },
    "extends-other-folder-env-file": {
        # an extended file's env_file is relative to that file's folder
        "proj/compose.yaml": "services:\n  web:\n    image: x\n"
                             "    extends: {file: base/base.yaml, service: base}\n",
        "proj/base/base.yaml": "services:\n  base:\n    image: x\n    env_file: ../p.env\n",
        "proj/p.env": "P=from-project-folder\n",
    },
}


@pytest.mark.parametrize("case", sorted(LEGITIMATE))
def test_env_files_through_include_and_extends_read_as_compose_reads_them(
        case: str, tmp_path: Path, docker_compose: str) -> None:
    """Each legitimate layout gives every service the environment Docker Compose gives it."""
    _write(tmp_path, LEGITIMATE[case])
    if case == "include-nested-with-symlink-inside":
        (tmp_path / "proj/a/b/link.env").symlink_to("../../common.env")
    project = tmp_path / "proj"
    ours, theirs = _ours(project), _theirs(docker_compose, project)
    assert ours == theirs
    assert any(value and value.startswith("from-") for env in ours.values()
               for value in env.values())


# -- paths out of the project folder: the user's files say so, as in Compose ------------------

OUTSIDE = {
    "absolute": lambda secret: {
        "proj/compose.yaml": f"services:\n  web:\n    image: x\n    env_file: [{secret}]\n"},
    "included-file-dotdot": lambda secret: {
        "proj/compose.yaml": "include:\n  - sub/compose.yaml\n",
        "proj/sub/compose.yaml": "services:\n  web:\n    image: x\n"
                                 "    env_file: ../../elsewhere/shared.env\n"},
    "include-entry-env-file": lambda secret: {
        "proj/compose.yaml": f"include:\n  - path: sub/compose.yaml\n    env_file: {secret}\n",
        "proj/sub/compose.yaml": "services:\n  web:\n    image: x\n"
                                 "    environment: {V: \"${SHARED}\"}\n"},
    "extends-file-dotdot": lambda secret: {
        "proj/compose.yaml": "services:\n  web:\n    image: x\n"
                             "    extends: {file: base/base.yaml, service: b}\n",
        "proj/base/base.yaml": "services:\n  b:\n    image: x\n"
                               "    env_file: ../../elsewhere/shared.env\n"},
}


@pytest.mark.parametrize("case", sorted(OUTSIDE))
def test_env_files_outside_the_project_folder_are_read_as_compose_reads_them(
        case: str, tmp_path: Path, docker_compose: str) -> None:
    """A monorepo's shared env file one folder up is read, as Docker Compose reads it."""
    shared = tmp_path / "elsewhere" / "shared.env"
    shared.parent.mkdir()
    shared.write_text("SHARED=from-elsewhere\n")
    _write(tmp_path, OUTSIDE[case](shared))
    project = tmp_path / "proj"
    ours, theirs = _ours(project), _theirs(docker_compose, project)
    assert ours == theirs
    assert "from-elsewhere" in ours["web"].values()


def test_a_bad_line_of_an_env_file_elsewhere_is_named_by_its_line_not_its_text(tmp_path: Path) -> None:
    """Another project's config store named as an env file: the error gives the file and line
    number, and nothing of what the line holds."""
    store = tmp_path / "other" / "store.json"
    store.parent.mkdir()
    store.write_text('{"DB_PASSWORD": "hunter2-elsewhere"}\n')
    _write(tmp_path, {"proj/compose.yaml": f"services:\n  web:\n    image: x\n    env_file: [{store}]\n"})
    with pytest.raises(ComposeError) as caught:
        load([], cwd=tmp_path / "proj", os_environ={})
    text = str(caught.value) + str(getattr(caught.value, "hint", ""))
    assert "store.json:1:" in text
    assert "hunter2" not in text and "DB_PASSWORD" not in text
