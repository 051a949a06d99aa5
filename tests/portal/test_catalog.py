"""Which deployments the portal knows, how config values are kept out of what it shows, and how
`launchdeck portal` refuses to start."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from launchdeck import stacks
from launchdeck.engine.events import State
from launchdeck.engine.results import DeployResult, ServiceStatus
from launchdeck.errors import UsageError
from launchdeck.portal.catalog import Catalog, OnDisk, UnknownTarget
from launchdeck.portal.view import Secrets, View, scrub, view
from launchdeck.portal.watch import Watch
from launchdeck.providers.aws.provider import AwsProvider
from launchdeck.providers.local.provider import FileBlobs
from launchdeck.redact import HIDDEN
from testkit import BUSYBOX


def _record(root: Path, project: str, stack: str) -> None:
    path = root / "deployments" / project / f"{stack}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    result = DeployResult(project=project, stack=stack, provider="local", deployment_id="abc",
                          services=[ServiceStatus(name="web", state=State.STOPPED)])
    path.write_text('{"result": ' + result.model_dump_json() + "}")


def test_local_records_are_listed(state: Path) -> None:
    """Every <project>/<stack>.json under the state directory's deployments is a target."""
    _record(state, "shop", "dev")
    _record(state, "shop", "prod")
    _record(state, "blog", "dev")
    (state / "deployments" / "blog" / "notes.txt").write_text("not a record")
    assert [(p, s) for p, s, _ in Catalog(["local"], "dev").recorded("local")] == \
        [("blog", "dev"), ("shop", "dev"), ("shop", "prod")]


@pytest.mark.parametrize("provider", ["aws", "gcp"])
def test_other_providers_list_nothing(provider: str, state: Path) -> None:
    """A provider without a listing seam lists no records, whatever the folder holds."""
    _record(state, "shop", "dev")
    assert Catalog([provider], "dev").recorded(provider) == []


def _shop(tmp_path: Path) -> Path:
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "compose.yaml").write_text(f"services:\n  web:\n    image: {BUSYBOX}\n")
    return folder


def test_project_on_disk_comes_first_once(tmp_path: Path, state: Path) -> None:
    """The project on disk is listed first, once, even when it also has a record."""
    folder = _shop(tmp_path)
    _record(state, "blog", "dev")
    _record(state, "shop", "dev")
    catalog = Catalog(["local"], "dev", OnDisk(str(folder)))
    targets = [(t.project, t.stack, t.on_disk, t.recorded_at is not None) for t in anyio.run(catalog.targets)]
    assert targets == [("shop", "dev", True, True), ("blog", "dev", False, True)]


def test_the_project_on_disk_has_one_provider_in_its_stack_files_region(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the page shows and what plan and redeploy act on go through one provider, made in
    the stack file's region; a change to the stack's file makes a new one."""
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    folder = _shop(tmp_path)
    stacks.write(folder, stacks.Stack(name="dev", region="eu-west-3"))
    catalog = Catalog(["aws"], "dev", OnDisk(str(folder)))
    provider = catalog.provider("aws")
    assert isinstance(provider, AwsProvider) and provider._region == "eu-west-3"
    assert catalog.provider("aws") is provider is catalog.ref("aws").target()
    stacks.write(folder, stacks.Stack(name="dev", region="eu-west-3", account="123456789012"))
    assert catalog.ref("aws").settings.stack.account == "123456789012"
    assert catalog.provider("aws") is not provider


def test_a_broken_stack_file_stops_the_portal_at_start(tmp_path: Path) -> None:
    folder = _shop(tmp_path)
    (folder / ".launchdeck").mkdir()
    (folder / ".launchdeck" / "dev").write_text("not a setting\n")
    with pytest.raises(UsageError, match="cannot read"):
        Catalog(["local"], "dev", OnDisk(str(folder)))


def test_unknown_target_is_refused(state: Path) -> None:
    """A deployment the catalog did not list cannot be looked up (nor acted on)."""
    _record(state, "shop", "dev")
    catalog = Catalog(["local"], "dev")
    assert anyio.run(catalog.find, "local", "shop", "dev").project == "shop"
    with pytest.raises(UnknownTarget):
        anyio.run(catalog.find, "local", "shop", "prod")


def test_a_view_reads_the_deployment_record_once(state: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The page's view is read every second: ps is given the record the view read (for a
    cloud target each read is a request)."""
    _record(state, "shop", "dev")
    reads = []
    read = FileBlobs.read

    async def counted(self: FileBlobs, key: str) -> tuple[bytes, str] | None:
        reads.append(key)
        return await read(self, key)

    monkeypatch.setattr(FileBlobs, "read", counted)
    catalog = Catalog(["local"], "dev")

    async def shown() -> View:
        async with anyio.create_task_group() as tasks:
            return await view(catalog, Watch(tasks, catalog), Secrets(catalog),
                              await catalog.find("local", "shop", "dev"))

    got = anyio.run(shown)
    assert got.deployment is not None and got.deployment.id == "abc"
    assert [(s.name, s.state) for s in got.services] == [("web", State.NOT_DEPLOYED)]
    assert reads == ["deployments/shop/dev.json"]


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
