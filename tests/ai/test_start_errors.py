"""Containers the engine cannot start are classified from the engine's own words, and the
evidence is always shown, also when no detector knows the cause."""

from __future__ import annotations

import io
import struct
import tarfile
from typing import Any

import pytest

from launchdeck import redact
from launchdeck.ai import debug as dbg
from launchdeck.engine.events import State
from testkit import BUSYBOX


def _arm64_elf() -> bytes:
    """A minimal 64-bit ELF header for AArch64: the kernel refuses to run it on this host."""
    header = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    return header + struct.pack("<HHIQQQIHHHHHH", 2, 183, 1, 0x400000, 64, 0, 0, 64, 56, 0, 64,
                                0, 0)


def _engine_says(api: Any, *, files: dict[str, bytes] | None = None,
                 mounts: list[Any] | None = None, **create: Any) -> dict[str, Any]:
    """Run the busybox image as asked; what the engine reported: the start error (the create
    or start call's error, else the container's State.Error), exit code and log lines."""
    import docker.errors

    host_config = api.create_host_config(mounts=mounts) if mounts else None
    try:
        container = api.create_container(BUSYBOX, host_config=host_config, **create)
    except docker.errors.APIError as exc:
        return {"start_error": exc.explanation, "exit_code": None, "logs": []}
    try:
        if files:
            archive = io.BytesIO()
            with tarfile.open(fileobj=archive, mode="w") as tar:
                for name, data in files.items():
                    info = tarfile.TarInfo(name)
                    info.size, info.mode = len(data), 0o755
                    tar.addfile(info, io.BytesIO(data))
            api.put_archive(container["Id"], "/", archive.getvalue())
        error = None
        try:
            api.start(container["Id"])
            api.wait(container["Id"], timeout=60)
        except docker.errors.APIError as exc:
            error = exc.explanation
        state = api.inspect_container(container["Id"])["State"]
        logs = api.logs(container["Id"]).decode("utf-8", "replace").splitlines()
        return {"start_error": state.get("Error") or error, "exit_code": state.get("ExitCode"),
                "logs": logs}
    finally:
        api.remove_container(container["Id"], force=True)


CASES = {
    "missing-user": ({"user": "appuser", "command": ["true"]}, "missing_user",
                     "runs as the user appuser"),
    "missing-group": ({"user": "nobody:staff", "command": ["true"]}, "missing_user",
                      "runs as the group staff"),
    "not-in-path": ({"command": ["gunicorn", "app:app"]}, "missing_executable",
                    "the command gunicorn is not in the image"),
    "no-such-program": ({"command": ["/app/server"]}, "missing_executable",
                        "the program /app/server does not exist"),
    "missing-interpreter": ({"command": ["/start.sh"],
                             "files": {"start.sh": b"#!/bin/bash\necho hi\n"}},
                            "missing_executable", "/start.sh exists, but what runs it does not"),
    "crlf-script": ({"command": ["/start.sh"], "files": {"start.sh": b"#!/bin/sh\r\necho hi\r\n"}},
                    "missing_executable", "Windows line endings"),
    "not-executable": ({"command": ["/etc/passwd"]}, "exec_permission",
                       "/etc/passwd cannot be run"),
    "wrong-architecture": ({"command": ["/app"], "files": {"app": _arm64_elf()}},
                           "wrong_architecture", "another CPU architecture"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_engine_start_errors_are_classified(case: str, docker_api) -> None:
    """What the real engine reports for a container it cannot start names the cause and a fix."""
    create, detector, cause = CASES[case]
    said = _engine_says(docker_api, **create)
    evidence = dbg.ServiceEvidence(service="app", state=State.SERVICE_DEPLOYMENT_FAILED, **said)
    top = dbg.detect(evidence)[0]
    assert (top.detector, top.confidence) == (detector, 0.95), (said, top)
    assert cause in top.cause and top.fix
    assert any(line in (said["start_error"] or "") or line in said["logs"]
               for line in top.evidence)


def test_missing_mount_source_is_classified(docker_api, tmp_path) -> None:
    """A bind mount whose source is not on the host is named, with the path."""
    import docker.types

    missing = tmp_path / "data"
    said = _engine_says(docker_api, command=["true"],
                        mounts=[docker.types.Mount("/data", str(missing), type="bind")])
    finding = dbg.detect(dbg.ServiceEvidence(service="db", state=State.SERVICE_DEPLOYMENT_FAILED,
                                             **said))[0]
    assert finding.detector == "missing_mount" and str(missing) in finding.cause
    assert f"mkdir -p {missing}" in finding.fix


@pytest.mark.parametrize(("reported", "detector"), [
    ("CannotStartContainerError: Error response from daemon: failed to create shim task: OCI "
     "runtime create failed: runc create failed: unable to start container process: exec: "
     "\"/app/entrypoint.sh\": permission denied: unknown", "exec_permission"),
    ("CannotStartContainerError: Error response from daemon: unable to find user app: no "
     "matching entries in passwd file", "missing_user"),
    ("exec /usr/local/bin/server: exec format error", "wrong_architecture"),
    ("standard_init_linux.go:228: exec user process caused: no such file or directory",
     "missing_executable"),
], ids=["ecs-permission", "ecs-user", "cloud-run-arch", "older-runc-interpreter"])
def test_cloud_start_errors_are_classified(reported: str, detector: str) -> None:
    """The same causes in the words ECS and Cloud Run (and older engines) report them."""
    evidence = dbg.ServiceEvidence(service="api", state=State.SERVICE_DEPLOYMENT_FAILED,
                                   start_error=reported)
    assert dbg.detect(evidence)[0].detector == detector


def test_probe_exec_error_is_not_a_start_error() -> None:
    """A health probe's missing curl is the healthcheck's problem, not the container's command."""
    probe = ("OCI runtime exec failed: exec failed: unable to start container process: exec: "
             "\"curl\": executable file not found in $PATH: unknown")
    evidence = dbg.ServiceEvidence(
        service="web", state=State.SERVICE_DEPLOYMENT_FAILED, health_output=probe,
        message=f"healthcheck failed (exit -1): {probe}", healthcheck=["CMD", "curl", "-f", "x"])
    assert [f.detector for f in dbg.detect(evidence)] == ["healthcheck_tool"]


def test_unknown_start_error_still_names_it() -> None:
    """A start error no detector knows is the finding itself, not a crash of an app never run."""
    evidence = dbg.ServiceEvidence(
        service="gpu", state=State.SERVICE_DEPLOYMENT_FAILED, exit_code=128,
        start_error="could not select device driver \"nvidia\" with capabilities: [[gpu]]")
    (finding,) = dbg.detect(evidence)
    assert finding.detector == "start_failed"
    assert finding.evidence == ['could not select device driver "nvidia" with capabilities: '
                                '[[gpu]]']


# -- the evidence as text -------------------------------------------------------------------


def test_evidence_text_of_a_container_that_never_started(docker_api) -> None:
    """The text shows state, exit code and the engine's start error, and that nothing logged."""
    said = _engine_says(docker_api, user="nobody:staff", command=["true"])
    text = dbg.render_evidence(dbg.ServiceEvidence(
        service="app", state=State.SERVICE_DEPLOYMENT_FAILED, **said))
    assert text.splitlines() == [
        f"app: SERVICE_DEPLOYMENT_FAILED, exit code {said['exit_code']}",
        "  start error: unable to find group staff: no matching entries in group file",
        "  no log lines (the app printed nothing, or never ran)"]


def test_evidence_is_shown_when_nothing_matches() -> None:
    """With no finding, the report still shows everything gathered, under a plain heading."""
    evidence = dbg.ServiceEvidence(
        service="worker", state=State.SERVICE_DEPLOYMENT_PENDING, health_output="probe: 503",
        healthcheck=["CMD", "wget", "-q", "http://localhost:9000/ready"],
        logs=["booting", "waiting for the queue", "still waiting"])
    assert dbg.detect(evidence) == []
    assert dbg.render([], [evidence]).splitlines() == [
        "worker: no known cause matched; the evidence:",
        "worker: SERVICE_DEPLOYMENT_PENDING",
        "  last health probe: probe: 503",
        "  healthcheck: CMD wget -q http://localhost:9000/ready",
        "  last 3 log lines:",
        "    | booting",
        "    | waiting for the queue",
        "    | still waiting"]


def test_report_puts_findings_before_their_evidence() -> None:
    """A finding's cause, evidence and fix come first, then the service's evidence, shorter."""
    evidence = dbg.ServiceEvidence(service="api", state=State.SERVICE_DEPLOYMENT_FAILED,
                                   exit_code=3, logs=[f"line {i}" for i in range(30)])
    text = dbg.render(dbg.detect(evidence), [evidence])
    lines = text.splitlines()
    assert lines[0].startswith("api: the app exited with code 3 right after starting")
    assert lines.index("api: SERVICE_DEPLOYMENT_FAILED, exit code 3") > lines.index(
        next(line for line in lines if line.startswith("  fix: ")))
    assert "  last 5 log lines:" in lines and "    | line 24" not in lines


@pytest.mark.parametrize("field", ["logs", "health_output", "message"])
def test_evidence_text_is_bounded(field: str) -> None:
    """However much a service printed, the text stays short: few lines, each cut."""
    long = "x" * 5000
    values: dict[str, Any] = {"logs": [long] * 500, "health_output": long,
                              "message": "\n".join([long] * 50)}
    text = dbg.render_evidence(dbg.ServiceEvidence(service="s", state=State.STOPPED,
                                                   **{field: values[field]}))
    assert len(text.splitlines()) <= 12 and max(len(line) for line in text.splitlines()) <= 240


def test_redact_covers_the_start_error() -> None:
    """A config value in the engine's start error is replaced like everywhere else."""
    evidence = dbg.ServiceEvidence(service="s", state=State.SERVICE_DEPLOYMENT_FAILED,
                                   start_error="mount /srv/hunter2-secret-path: no such file",
                                   logs=["using hunter2-secret-path"])
    clean = redact.model(evidence, redact.secrets(["hunter2-secret-path"]))
    assert "hunter2" not in clean.model_dump_json()
    assert clean.start_error == "mount /srv/[config value]: no such file"
