"""The check tool: the findings and the verdict every front end shows, from the CLI too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from launchdeck.tools.check import check
from launchdeck.tools.project import ProjectRef

HOSTNAME = "services:\n  web:\n    image: nginx\n    hostname: web.internal\n"


def _project(tmp_path: Path) -> Path:
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "compose.yaml").write_text(HOSTNAME)
    return folder


def test_the_verdict_follows_the_errors(tmp_path: Path) -> None:
    """A field a cloud refuses is an error there (not ok); the same file is fine locally."""
    folder = _project(tmp_path)
    cloud = check(ProjectRef(working_directory=str(folder), provider="gcp"))
    local = check(ProjectRef(working_directory=str(folder), provider="local"))
    assert not cloud.ok and cloud.errors == len(cloud.refused) >= 1
    assert [f.line for f in cloud.refused if f.field == "services.web.hostname"] == [4]
    assert local.ok and local.errors == 0


def test_compose_config_prints_the_check_and_fails_on_its_verdict(tmp_path: Path) -> None:
    """`compose config` shows the check tool's findings and exits 1 when it refuses."""
    folder = _project(tmp_path)
    expected = check(ProjectRef(working_directory=str(folder), provider="aws"))
    done = subprocess.run([sys.executable, "-m", "launchdeck", "compose", "config", "--provider",
                           "aws", "-C", str(folder)], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 1
    assert f"{expected.errors} error(s): the project cannot deploy to aws" in done.stderr
    assert "compose.yaml:4: services.web.hostname" in done.stderr
    assert done.stdout.startswith("name: app")
