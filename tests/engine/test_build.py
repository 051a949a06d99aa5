"""The remote build loop, on a builder that plays a script: skip, upload, phases, failure, deadline."""

from __future__ import annotations

import hashlib
from pathlib import Path

import anyio
import pytest

from launchdeck.compose.model import Build, Service
from launchdeck.engine import build, build_context
from launchdeck.engine.build import Phase
from launchdeck.engine.events import State
from launchdeck.errors import BuildError

IMAGE = "registry.example/shop/web"


class ScriptedBuilder:
    """A RemoteBuilder whose registry, storage and builds live in memory; each build answers
    its polls with the next phase of ``script`` (the last one for ever)."""

    name = "Scripted Build"

    def __init__(self, script: list[Phase], *, archive: build_context.Archive = "tar.gz",
                 log: list[str] | None = None) -> None:
        self.script, self.archive, self.log = script, archive, log or []
        self.registry: set[str] = set()
        self.stored: dict[str, bytes] = {}
        self.started: list[tuple[str, str, str]] = []
        self.polls = 0

    async def has(self, image: str) -> bool:
        return image in self.registry

    async def upload(self, key: str, data: bytes) -> None:
        self.stored.setdefault(key, data)

    async def start(self, key: str, image: str, service: Service) -> str:
        self.started.append((key, image, service.name))
        return f"scripted:{len(self.started):08d}-0000"

    async def poll(self, build_id: str) -> Phase:
        phase = self.script[min(self.polls, len(self.script) - 1)]
        self.polls += 1
        if phase.state == "succeeded":
            self.registry.add(self.started[-1][1])
        return phase

    async def log_tail(self, build_id: str, lines: int) -> list[str]:
        return self.log[-lines:]


@pytest.fixture
def web(tmp_path: Path) -> tuple[Service, build_context.Source]:
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY app.py /\n")
    (tmp_path / "app.py").write_text("print('hi')\n")
    service = Service(name="web", build=Build(context=str(tmp_path), dockerfile="Dockerfile"))
    return service, build_context.source(service)


def _run(builder: ScriptedBuilder, web: tuple[Service, build_context.Source],
         **options: float) -> tuple[str, list[tuple[State | None, str]]]:
    service, source = web
    said: list[tuple[State | None, str]] = []

    def progress(state: State | None, message: str, *, log: bool = False) -> None:
        said.append((state, f"output: {message}" if log else message))

    image = anyio.run(lambda: build.image(builder, service, source, f"{IMAGE}:{source.digest}",
                                          progress, interval=0.001, **options))
    return image, said


BUILT = [Phase("queued"), Phase("running", "provisioning"), Phase("running", "build"),
         Phase("succeeded", "completed")]


def test_an_image_the_registry_has_is_not_built(web) -> None:
    """A tag the registry already has: nothing is packed, uploaded or started."""
    builder = ScriptedBuilder(BUILT)
    builder.registry.add(f"{IMAGE}:{web[1].digest}")
    image, said = _run(builder, web)
    assert image == f"{IMAGE}:{web[1].digest}"
    assert builder.stored == {} and builder.started == []
    assert said == [(None, f"image {web[1].digest[:12]} is up to date")]


def test_a_build_reports_queued_then_running_then_each_step(web) -> None:
    """BUILD_QUEUED with the build's id, BUILD_RUNNING at the first step, then each new step once."""
    image, said = _run(ScriptedBuilder(BUILT), web)
    assert image == f"{IMAGE}:{web[1].digest}"
    assert said[1:] == [(State.BUILD_QUEUED, "Scripted Build 00000001"),
                        (State.BUILD_RUNNING, "provisioning"), (None, "build"), (None, "completed")]


@pytest.mark.parametrize("archive", ["zip", "tar.gz"])
def test_the_context_is_uploaded_under_its_archives_digest(web, archive: build_context.Archive) -> None:
    """The archive the builder reads goes to contexts/<its sha256>.<format>, and the build starts from it."""
    builder = ScriptedBuilder(BUILT, archive=archive)
    _run(builder, web)
    [(key, data)] = builder.stored.items()
    assert key == f"contexts/{hashlib.sha256(data).hexdigest()}.{archive}"
    assert builder.started == [(key, f"{IMAGE}:{web[1].digest}", "web")]


def test_a_failed_build_names_its_step_its_reason_and_its_last_log_lines(web) -> None:
    """A BuildError with the failing step, the builder's reason, the log's last lines, and the fix."""
    log = [f"line {n}" for n in range(30)] + ["npm ERR! missing script: build"]
    builder = ScriptedBuilder([Phase("queued"), Phase("failed", "build", "exit status 1")], log=log)
    with pytest.raises(BuildError) as caught:
        _run(builder, web)
    message = caught.value.message
    assert message.startswith("image build failed at build: exit status 1; last log lines:\n")
    assert message.endswith("npm ERR! missing script: build")
    assert "line 10" not in message and f"line {30 - build.LOG_LINES + 1}" in message
    assert caught.value.service == "web" and "Dockerfile" in caught.value.hint


def test_a_builds_log_is_reported_as_output_once_it_ends(web) -> None:
    """Succeeded or failed, the build's log lines come as the unit's output after its steps
    (what the deployment's history keeps as its build lines)."""
    log = ["Step 1/2 : FROM busybox", "Successfully built"]
    _, said = _run(ScriptedBuilder(BUILT, log=log), web)
    assert [m for _, m in said[-2:]] == [f"output: {line}" for line in log]
    output: list[str] = []

    def progress(state: State | None, message: str, *, log: bool = False) -> None:
        if log:
            output.append(message)

    failing = ScriptedBuilder([Phase("queued"), Phase("failed", "build", "exit 1")], log=log)
    with pytest.raises(BuildError):
        anyio.run(lambda: build.image(failing, web[0], web[1], f"{IMAGE}:x", progress,
                                      interval=0.001))
    assert output == log


def test_a_build_that_fails_before_running_still_reports_running_first(web) -> None:
    """QUEUED, RUNNING, then the failure: the states come in the order every target reports."""
    said: list[tuple[State | None, str]] = []
    builder = ScriptedBuilder([Phase("failed", "fetch source", "not a gzipped tar archive")])
    with pytest.raises(BuildError, match="failed at fetch source: not a gzipped tar archive"):
        service, source = web
        anyio.run(lambda: build.image(builder, service, source, f"{IMAGE}:x",
                                      lambda s, m: said.append((s, m)), interval=0.001))
    assert [s for s, _ in said if s] == [State.BUILD_QUEUED, State.BUILD_RUNNING]


def test_a_build_past_its_deadline_fails_naming_the_builder(web) -> None:
    """A build still queued at the deadline is a BuildError that says where to look."""
    builder = ScriptedBuilder([Phase("queued")])
    with pytest.raises(BuildError, match="did not finish in 0.05 seconds") as caught:
        _run(builder, web, timeout=0.05)
    assert "Scripted Build console" in caught.value.hint and "00000001" in caught.value.hint
    assert builder.polls >= 2
