"""Why did a deploy fail? Evidence, deterministic detectors, and (optionally) an LLM's reading.

Detectors are pure functions over the evidence of one service; each names the cause, the
lines that show it and a concrete fix. The LLM, when there is one, sees the evidence and the
detectors' findings, never a config value, and may confirm, correct or add. Nothing here
changes a file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from launchdeck.engine.events import State

if TYPE_CHECKING:
    from launchdeck.compose.model import Project, Service

MAX_LOG_LINES = 60
MAX_FILE_CHARS = 4_000


class ServiceEvidence(BaseModel):
    """What we know about one service that did not come up."""

    service: str
    state: State
    message: str = ""
    start_error: str | None = Field(None, description="What the engine (or the cloud) said when "
                                                      "it could not start the container.")
    exit_code: int | None = None
    oom_killed: bool = False
    health_output: str | None = None
    logs: list[str] = []
    healthcheck: list[str] | None = None
    ports: list[int] = []
    environment: list[str] = Field([], description="Environment keys (never values).")
    dependencies: list[str] = []
    dockerfile: str | None = None
    files: dict[str, str] = Field({}, description="Files of the project that the logs name.")


class Finding(BaseModel):
    service: str
    cause: str
    evidence: list[str]
    fix: str
    patch: str | None = None
    confidence: float = Field(ge=0, le=1)
    source: Literal["detector", "llm"] = "detector"
    detector: str | None = None


def evidence_for(project: Project, service: Service, *, state: State, message: str,
                 exit_code: int | None, oom_killed: bool, health_output: str | None,
                 logs: list[str], start_error: str | None = None) -> ServiceEvidence:
    """Assemble the evidence of one failed service (reads its Dockerfile and named files)."""
    root = Path(project.working_dir)
    dockerfile = None
    if service.build and service.build.dockerfile:
        context = Path(service.build.context)
        path = (context / service.build.dockerfile).resolve()
        # evidence never quotes a file outside the project and the build context (a compose
        # file may name /etc/passwd or another project's config store as its Dockerfile)
        if _inside(path, context) and _inside(path, root):
            dockerfile = _read(path)
    files = {}
    for name in sorted(set(re.findall(r"[\w./-]+\.(?:py|js|mjs|ts|go|sh|toml|json|ya?ml)\b",
                                      "\n".join(logs))))[:5]:
        for base in ([Path(service.build.context)] if service.build else []) + [root]:
            candidate = (base / name.lstrip("/")).resolve()
            if candidate.is_file() and candidate.is_relative_to(root.resolve()):
                text = _read(candidate)
                if text is not None:
                    files[str(candidate.relative_to(root.resolve()))] = text
                break
    return ServiceEvidence(
        service=service.name, state=state, message=message, start_error=start_error or None,
        exit_code=exit_code,
        oom_killed=oom_killed, health_output=health_output, logs=logs[-MAX_LOG_LINES:],
        healthcheck=service.healthcheck.test if service.healthcheck else None,
        ports=[p.target for p in service.ports], environment=sorted(service.environment),
        dependencies=sorted(service.depends_on), dockerfile=dockerfile, files=files)


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path.is_relative_to(folder.resolve())
    except (OSError, RuntimeError):
        return False


def _read(path: Path) -> str | None:
    """The start of a regular file (never a device or a FIFO, which would never end)."""
    from launchdeck.paths import read_regular

    try:
        data = read_regular(path, what=path.name, limit=1_000_000)
    except (OSError, ValueError):
        return None
    return data.decode("utf-8", errors="replace")[:MAX_FILE_CHARS]


def _all_text(e: ServiceEvidence) -> list[str]:
    return [*(e.start_error or "").splitlines(), *e.message.splitlines(),
            *(e.health_output or "").splitlines(), *e.logs]


def _start_text(e: ServiceEvidence) -> list[str]:
    """Lines that can tell why the container's own process did not start: the start error,
    the failure message and the logs, but not what a health probe's exec printed."""
    return [line for line in [*(e.start_error or "").splitlines(), *e.message.splitlines(),
                              *e.logs]
            if "runtime exec failed" not in line and not line.startswith("healthcheck failed")]


def _lines(e: ServiceEvidence, pattern: re.Pattern[str]) -> list[str]:
    return list(dict.fromkeys(line.strip() for line in _all_text(e) if pattern.search(line)))[:5]


Detector = Callable[[ServiceEvidence], Finding | None]

_PROBE_TOOL = re.compile(r"\b(curl|wget)\b.*(not found|no such file)|"
                         r"exec: \"?(curl|wget)\"?: executable file not found", re.IGNORECASE)


def healthcheck_tool(e: ServiceEvidence) -> Finding | None:
    probe = " ".join(e.healthcheck or [])
    hits = _lines(e, _PROBE_TOOL)
    if not hits:
        return None
    tool = "curl" if "curl" in " ".join(hits) else "wget"
    return Finding(
        service=e.service, detector="healthcheck_tool", confidence=0.95, evidence=hits,
        cause=f"the healthcheck runs {tool}, which the image does not have, so every probe "
              "fails",
        fix=f"probe with a tool the image has (python3 -c 'import urllib.request; ...', "
            f"node -e 'fetch(...)', wget on busybox images), or install {tool} in the "
            f"Dockerfile. Current test: {probe}")


_LISTEN = re.compile(r"(?:listen|running|serving|started|bound|started server)\w*\b[^\n]*?"
                     r"(?:port\s*[:=]?\s*|:)(\d{2,5})\b", re.IGNORECASE)


def wrong_port(e: ServiceEvidence) -> Finding | None:
    if not e.ports:
        return None
    heard = {}
    for line in _all_text(e):
        match = _LISTEN.search(line)
        if match:
            heard.setdefault(int(match.group(1)), line.strip())
    wrong = {p: line for p, line in heard.items() if p not in e.ports}
    if not wrong or set(heard) & set(e.ports):
        return None
    port, line = next(iter(wrong.items()))
    target = e.ports[0]
    return Finding(
        service=e.service, detector="wrong_port", confidence=0.9, evidence=[line],
        cause=f"the app listens on port {port}, but the compose file sends traffic (and the "
              f"healthcheck) to port {target}",
        fix=f"make them agree: set the port's target to {port} in compose.yaml, or make the "
            f"app listen on {target} (often through a PORT environment variable)",
        patch=f"-      - target: {target}\n+      - target: {port}")


_MODULE = re.compile(r"ModuleNotFoundError: No module named '?([\w.]+)'?|"
                     r"ImportError: No module named '?([\w.]+)'?|"
                     r"Cannot find module ['\"]([^'\"]+)['\"]|cannot find package \"([^\"]+)\"|"
                     r"no required module provides package ([\w./-]+)")


def missing_module(e: ServiceEvidence) -> Finding | None:
    for line in _all_text(e):
        match = _MODULE.search(line)
        if match:
            name = next(g for g in match.groups() if g)
            top = name.split(".")[0] if not name.startswith(".") else name
            if "Cannot find module" in line:
                where = "package.json dependencies (then rebuild)"
            elif "package" in line and "Module" not in line:
                where = "go.mod (go get, go mod tidy)"
            else:
                where = "requirements.txt, installed by the Dockerfile (pip install -r)"
            return Finding(
                service=e.service, detector="missing_module", confidence=0.95,
                evidence=[line.strip()],
                cause=f"the app imports {name}, which is not installed in the image",
                fix=f"add {top} to {where}, and check the Dockerfile copies and installs it "
                    "before the app runs")
    return None


_ENV_MISSING = re.compile(
    r"KeyError: '([A-Z][A-Z0-9_]{2,})'|"
    r"\b([A-Z][A-Z0-9_]{2,})\b[^\n]{0,40}(?:is not set|must be set|is required|not defined|"
    r"is missing|parameter not set|environment variable)", re.IGNORECASE)


def missing_config(e: ServiceEvidence) -> Finding | None:
    for line in _all_text(e):
        match = _ENV_MISSING.search(line)
        if not match:
            continue
        name = next(g for g in match.groups() if g)
        if not name.isupper():
            continue
        listed = name in e.environment
        fix = (f"set it: `launchdeck config set {name}` (or config_set)" if listed else
               f"add `- {name}` to the service's environment in compose.yaml, then set it with "
               f"`launchdeck config set {name}` (a secret) or give it a value there")
        return Finding(service=e.service, detector="missing_config", confidence=0.9,
                       evidence=[line.strip()],
                       cause=f"the app needs the environment variable {name}, which it does "
                             "not get", fix=fix)
    return None


def out_of_memory(e: ServiceEvidence) -> Finding | None:
    if not (e.oom_killed or e.exit_code == 137):
        return None
    return Finding(
        service=e.service, detector="out_of_memory", confidence=0.95 if e.oom_killed else 0.7,
        evidence=[f"exit code {e.exit_code}" + (" (OOMKilled)" if e.oom_killed else "")],
        cause="the container ran out of memory and was killed (exit 137)",
        fix="raise deploy.resources.limits.memory (and reservations.memory), or make the app "
            "use less memory")


_EXEC_FORMAT = re.compile(r"exec format error", re.IGNORECASE)


def wrong_architecture(e: ServiceEvidence) -> Finding | None:
    hits = _lines(e, _EXEC_FORMAT)
    if not hits:
        return None
    return Finding(
        service=e.service, detector="wrong_architecture", confidence=0.95, evidence=hits,
        cause="the image's program is built for another CPU architecture than the host's",
        fix="build for the target platform (e.g. `platform: linux/amd64` on the service, or "
            "GOARCH/--platform in the Dockerfile), or use a multi-arch base image")


_REFUSED = re.compile(r"ECONNREFUSED|Connection refused|can't connect to remote host|"
                      r"connect: connection refused|could not connect to server", re.IGNORECASE)


def connection_refused(e: ServiceEvidence) -> Finding | None:
    hits = _lines(e, _REFUSED)
    if not hits:
        return None
    named = [d for d in e.dependencies if any(d in line for line in hits + e.logs)]
    target = named[0] if named else (e.dependencies[0] if e.dependencies else "a dependency")
    return Finding(
        service=e.service, detector="connection_refused", confidence=0.8, evidence=hits,
        cause=f"the app could not connect to {target}: it was not listening (yet, or on that "
              "port)",
        fix=f"check the host and port the app uses for {target} match its compose ports; give "
            f"{target} a healthcheck and depend on it with condition: service_healthy; retry "
            "connections at start")


_STEP = re.compile(r"^Step \d+/\d+ : (.+)$|^#\d+ \[[^\]]+\] (.+)$|failed at step `(.+?)`(?::|$)")
_BUILD_ERROR = re.compile(r"returned a non-zero code|did not complete successfully|"
                          r"error:|ERROR|failed to", re.IGNORECASE)


def build_error(e: ServiceEvidence) -> Finding | None:
    if e.state is not State.BUILD_FAILED:
        return None
    lines = e.message.splitlines()
    step = next((next(g for g in m.groups() if g) for line in reversed(lines)
                 if (m := _STEP.search(line.strip()))), None)
    errors = [line.strip() for line in lines if _BUILD_ERROR.search(line)][-3:]
    return Finding(
        service=e.service, detector="build_error", confidence=0.9,
        evidence=[f"failing step: {step}"] * bool(step) + errors,
        cause=f"the image build failed at `{step}`" if step else "the image build failed",
        fix="run that step by hand to see why (a missing file, package or command), fix the "
            "Dockerfile or the files it copies, then deploy again")


# -- a container the engine (or the cloud) could not start ----------------------------------

_USER = re.compile(r"unable to find (user|group) ([^\s:]+): no matching entries in "
                   r"(passwd|group) file")


def missing_user(e: ServiceEvidence) -> Finding | None:
    for line in _start_text(e):
        match = _USER.search(line)
        if match:
            kind, name, table = match.groups()
            return Finding(
                service=e.service, detector="missing_user", confidence=0.95,
                evidence=[line.strip()],
                cause=f"the container runs as the {kind} {name}, which the image does not "
                      f"define (its /etc/{table} has no {name})",
                fix=f"use numeric ids, which need no entry (user: \"65534:65534\" is nobody "
                    f"everywhere), or create the {kind} in the Dockerfile (RUN adduser -D -H "
                    f"{name} on Alpine/busybox, useradd --system {name} on Debian), or drop "
                    f"`user:` from the service (and USER from the Dockerfile)")
    return None


_NOT_IN_PATH = re.compile(r'exec: "([^"]+)": executable file not found in \$PATH')
_NO_FILE = re.compile(r'exec: "([^"]+)": stat [^:]+: no such file or directory')
_NO_INTERPRETER = re.compile(r"^exec (\S+): no such file or directory$|"
                             r"exec user process caused:? \"?no such file or directory")


def missing_executable(e: ServiceEvidence) -> Finding | None:
    for line in _start_text(e):
        text = line.strip()
        if match := _NOT_IN_PATH.search(text):
            program = match.group(1)
            cause = f"the command {program} is not in the image: no file by that name on its PATH"
            fix = (f"install {program} in the Dockerfile (apt-get, apk, pip, npm), or call it by "
                   "its full path, or correct the command/entrypoint (the service's `command:` "
                   "and `entrypoint:`, the Dockerfile's CMD and ENTRYPOINT)")
        elif match := _NO_FILE.search(text):
            program = match.group(1)
            cause = f"the program {program} does not exist in the image"
            fix = (f"make the Dockerfile COPY or build it to exactly {program} (mind WORKDIR and "
                   "the stage it is copied from), or correct the command/entrypoint to where it "
                   "is")
        elif match := _NO_INTERPRETER.search(text):
            program = match.group(1) or "the entrypoint"
            cause = (f"{program} exists, but what runs it does not: its first line (#!) names an "
                     "interpreter the image lacks, or it has Windows line endings (CRLF), or it "
                     "is a program linked against a C library the image does not have")
            fix = ("make the #! line name an interpreter the image has (#!/bin/sh on Alpine and "
                   "busybox images, which have no bash), save scripts with LF line endings (or "
                   "RUN sed -i 's/\\r$//' on them), and build Go programs with CGO_ENABLED=0 "
                   "for minimal images")
        else:
            continue
        return Finding(service=e.service, detector="missing_executable", confidence=0.95,
                       evidence=[text], cause=cause, fix=fix)
    return None


_EXEC_DENIED = re.compile(r'exec: "([^"]+)": permission denied|^exec (\S+): permission denied$|'
                          r"exec user process caused:? \"?permission denied")


def exec_permission(e: ServiceEvidence) -> Finding | None:
    for line in _start_text(e):
        match = _EXEC_DENIED.search(line.strip())
        if match:
            program = match.group(1) or match.group(2) or "the entrypoint"
            return Finding(
                service=e.service, detector="exec_permission", confidence=0.95,
                evidence=[line.strip()],
                cause=f"{program} cannot be run: it is not executable (no x permission), or "
                      "it is a folder",
                fix=f"make it executable in the image: RUN chmod +x {program} (or COPY "
                    "--chmod=755 with BuildKit; a file checked out on Windows loses the bit: "
                    f"`git update-index --chmod=+x`), or run it through its interpreter "
                    f"(command: [\"sh\", \"{program}\"])")
    return None


_MOUNT_SOURCE = re.compile(r"bind source path does not exist: (\S+)|"
                           r"error while creating mount source path '([^']+)'|"
                           r'error mounting "([^"]+)" to rootfs')


def missing_mount(e: ServiceEvidence) -> Finding | None:
    for line in _start_text(e):
        match = _MOUNT_SOURCE.search(line)
        if match:
            source = next(g for g in match.groups() if g)
            return Finding(
                service=e.service, detector="missing_mount", confidence=0.95,
                evidence=[line.strip()],
                cause=f"a bind mount's source, {source}, does not exist on the host (or "
                      "cannot be mounted there)",
                fix=f"create it (mkdir -p {source}) or correct the path in the service's "
                    "`volumes:` (a relative path starts at the compose file's folder), or use "
                    "a named volume when the data need not come from the host; in the cloud "
                    "there is no host folder: copy the files into the image instead")
    return None


def start_failed(e: ServiceEvidence) -> Finding | None:
    """The engine's start error, when no detector knows it: still the first thing to read."""
    if not e.start_error:
        return None
    first = e.start_error.strip().splitlines()[0] if e.start_error.strip() else ""
    return Finding(
        service=e.service, detector="start_failed", confidence=0.5, evidence=[first],
        cause="the engine could not start the container, so the app never ran",
        fix="read the start error: it names what the engine tried (the user, the command, a "
            "mount, a device, a port); correct that in the service's settings or the image")


_DENIED = re.compile(r"Permission denied|EACCES|operation not permitted", re.IGNORECASE)


def permission_denied(e: ServiceEvidence) -> Finding | None:
    hits = [line for line in _lines(e, _DENIED) if not _EXEC_DENIED.search(line)]
    if not hits:
        return None
    return Finding(
        service=e.service, detector="permission_denied", confidence=0.85, evidence=hits,
        cause="the app was denied access to a file, directory or port",
        fix="give the image's user access (chown/chmod in the Dockerfile, a writable directory "
            "such as /tmp, an executable entrypoint), or listen on a port above 1024 when "
            "running as a non-root user")


def crash(e: ServiceEvidence) -> Finding | None:
    if e.exit_code in (None, 0) or e.exit_code == 137 or e.start_error:
        return None  # a container that never started did not crash
    tail = [line for line in e.logs if line.strip()][-5:]
    return Finding(
        service=e.service, detector="crash", confidence=0.6,
        evidence=[f"exit code {e.exit_code}", *tail],
        cause=f"the app exited with code {e.exit_code} right after starting",
        fix="read the last log lines for the error it reports; run the image locally with the "
            "same environment to reproduce it")


DETECTORS: list[Detector] = [missing_user, missing_executable, exec_permission, missing_mount,
                             healthcheck_tool, wrong_port, missing_module, missing_config,
                             out_of_memory, wrong_architecture, connection_refused, build_error,
                             permission_denied]
"""Specific causes; ``start_failed`` and ``crash`` are the fallbacks when none matches."""


def detect(e: ServiceEvidence) -> list[Finding]:
    found = [f for f in (d(e) for d in DETECTORS) if f]
    if not found:
        fallback = start_failed(e) or crash(e)
        found = [fallback] if fallback else []
    return sorted(found, key=lambda f: -f.confidence)


# -- showing it ------------------------------------------------------------------------------

_LINE_CHARS = 240


def render_evidence(e: ServiceEvidence, *, log_lines: int = 10) -> str:
    """What was gathered about one service, as a few short lines for people and agents."""
    head = f"{e.service}: {e.state.value}"
    if e.exit_code is not None:
        head += f", exit code {e.exit_code}"
    if e.oom_killed:
        head += " (out of memory)"
    out = [head]
    if e.start_error:
        out.append(f"  start error: {' '.join(e.start_error.split())}")
    message = [line for line in e.message.splitlines() if line.strip()
               and line.strip() != "last log lines:" and line.strip() not in e.logs]
    joined = " ".join(line.strip() for line in message)
    start = " ".join((e.start_error or "").split())
    if message and not (start and (start in joined or joined in start)):  # said once is enough
        out.append(f"  reported: {message[0].strip()}")
        out += [f"    {line.strip()}" for line in message[1:4]]
    if e.health_output:
        out.append(f"  last health probe: {' '.join(e.health_output.split())}")
    if e.healthcheck:
        out.append(f"  healthcheck: {' '.join(e.healthcheck)}")
    shown = [line for line in e.logs if line.strip()][-log_lines:] if log_lines > 0 else []
    if shown:
        out.append(f"  last {len(shown)} log lines:" if len(shown) > 1 else "  last log line:")
        out += [f"    | {line.rstrip()}" for line in shown]
    else:
        out.append("  no log lines (the app printed nothing, or never ran)")
    return "\n".join(_cut(line) for line in out)


def render(findings: list[Finding], evidence: list[ServiceEvidence]) -> str:
    """Findings and the evidence behind them, per service: what the CLI prints and the MCP
    tool's text says. Evidence is always shown, so a service no detector explains still has
    something to read."""
    blocks = []
    for e in evidence:
        lines = []
        for f in (f for f in findings if f.service == e.service):
            lines.append(f"{f.service}: {f.cause}  [{f.source}, confidence {f.confidence:.0%}]")
            lines += [_cut(f"    | {line}") for line in f.evidence[:5]]
            lines.append(f"  fix: {f.fix}")
            if f.patch:
                lines.append("  patch:")
                lines += [f"    {p}" for p in f.patch.splitlines()]
        if not lines:
            lines.append(f"{e.service}: no known cause matched; the evidence:")
        lines.append(render_evidence(e, log_lines=5 if len(lines) > 1 else 10))
        blocks.append("\n".join(lines))
    blocks += [f"{f.service}: {f.cause}  [{f.source}]\n  fix: {f.fix}" for f in findings
               if f.service not in {e.service for e in evidence}]
    return "\n\n".join(blocks)


def _cut(text: str) -> str:
    return text if len(text) <= _LINE_CHARS else text[:_LINE_CHARS - 1] + "…"


def llm_prompt(project: str, stack: str, provider: str, evidence: list[ServiceEvidence],
               findings: list[Finding]) -> tuple[str, str]:
    """(system, user) texts for a model: evidence and detector findings, no config values."""
    from launchdeck.prompts import text

    return (text("debug_system"),
            text("debug_user").format(
                project=project, stack=stack, provider=provider,
                evidence=json.dumps([e.model_dump(mode="json") for e in evidence], indent=1),
                findings=json.dumps([f.model_dump(mode="json") for f in findings], indent=1)))


def parse_llm(answer: str) -> list[Finding]:
    """The findings in a model's answer; nothing when it cannot be read."""
    from launchdeck.ai.llm import json_object

    try:
        raw = json_object(answer).get("findings", [])
    except ValueError:
        return []
    out = []
    for item in raw if isinstance(raw, list) else []:
        try:
            out.append(Finding.model_validate({**item, "source": "llm", "detector": None,
                                               "confidence": min(max(float(
                                                   item.get("confidence", 0.5)), 0), 1)}))
        except (ValueError, TypeError):
            continue
    return out
