"""Which deployments the portal knows, how config values are kept out of what it shows, and how
`launchdeck portal` refuses to start."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from launchdeck.engine.events import State
from launchdeck.engine.status import DeployResult, ServiceStatus
from launchdeck.portal.catalog import Catalog, OnDisk, UnknownTarget, recorded
from launchdeck.portal.view import scrub
from launchdeck.redact import HIDDEN
from launchdeck.testing import BUSYBOX


def _record(root: Path, project: str, stack: str) -> None:
    path = root / "deployments" / project / f"{stack}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    result = DeployResult(project=project, stack=stack, provider="local", deployment_id="abc",
                          services=[ServiceStatus(name="web", state=State.STOPPED)])
    path.write_text('{"result": ' + result.model_dump_json() + "}")


def test_local_records_are_listed(tmp_path: Path) -> None:
    """Every <project>/<stack>.json under the state directory's deployments is a target."""
    _record(tmp_path, "shop", "dev")
    _record(tmp_path, "shop", "prod")
    _record(tmp_path, "blog", "dev")
    (tmp_path / "deployments" / "blog" / "notes.txt").write_text("not a record")
    assert [(p, s) for p, s, _ in recorded("local", tmp_path)] == \
        [("blog", "dev"), ("shop", "dev"), ("shop", "prod")]


@pytest.mark.parametrize("provider", ["aws", "gcp"])
def test_other_providers_list_nothing(provider: str, tmp_path: Path) -> None:
    """A provider without a listing seam lists no records, whatever the folder holds."""
    _record(tmp_path, "shop", "dev")
    assert recorded(provider, tmp_path) == []


def test_project_on_disk_comes_first_once(tmp_path: Path) -> None:
    """The project on disk is listed first, once, even when it also has a record."""
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "compose.yaml").write_text(f"services:\n  web:\n    image: {BUSYBOX}\n")
    state = tmp_path / "state"
    _record(state, "blog", "dev")
    _record(state, "shop", "dev")
    catalog = Catalog(["local"], "dev", OnDisk(str(folder)), state_root=state)
    targets = [(t.project, t.stack, t.on_disk, t.recorded_at is not None) for t in catalog.targets()]
    assert targets == [("shop", "dev", True, True), ("blog", "dev", False, True)]


def test_unknown_target_is_refused(tmp_path: Path) -> None:
    """A deployment the catalog did not list cannot be looked up (nor acted on)."""
    _record(tmp_path, "shop", "dev")
    catalog = Catalog(["local"], "dev", state_root=tmp_path)
    assert catalog.find("local", "shop", "dev").project == "shop"
    with pytest.raises(UnknownTarget):
        catalog.find("local", "shop", "prod")


def test_scrub_replaces_values_everywhere() -> None:
    """Every config value in every text of a model becomes the placeholder, the longest first."""
    status = ServiceStatus(name="web", state=State.SERVICE_DEPLOYMENT_FAILED,
                           message="password hunter2-long-one was refused",
                           endpoints=["http://u:hunter2-long@127.0.0.1:8080"],
                           health_output="hunter2-long")
    clean = scrub(status, ["hunter2-long-one", "hunter2-long"])
    assert clean.message == f"password {HIDDEN} was refused"
    assert clean.endpoints == [f"http://u:{HIDDEN}@127.0.0.1:8080"]
    assert clean.health_output == HIDDEN
    assert "hunter2" not in clean.model_dump_json()


def _portal(*args: str, cwd: Path, state: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "launchdeck", "portal", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "LAUNCHDECK_STATE_DIR": str(state)})


def test_busy_port_is_refused_in_words(tmp_path: Path) -> None:
    """A port already in use stops the portal with what to do, not a traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        done = _portal("--port", str(taken.getsockname()[1]), cwd=tmp_path, state=tmp_path)
    assert done.returncode == 1
    assert "cannot listen on 127.0.0.1" in done.stderr and "another port" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_broken_compose_file_is_refused_before_serving(tmp_path: Path) -> None:
    """A project directory whose compose file cannot load stops the portal with the problem."""
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    imagee: busybox\n")
    done = _portal("-C", str(tmp_path), cwd=tmp_path, state=tmp_path)
    assert done.returncode == 1
    assert "imagee" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""
