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
from typing import Literal

from pydantic import BaseModel, Field

from launchdeck.compose.model import Project, Service
from launchdeck.engine.events import State

MAX_LOG_LINES = 60
MAX_FILE_CHARS = 4_000


class ServiceEvidence(BaseModel):
    """What we know about one service that did not come up."""

    service: str
    state: State
    message: str = ""
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
                 logs: list[str]) -> ServiceEvidence:
    """Assemble the evidence of one failed service (reads its Dockerfile and named files)."""
    root = Path(project.working_dir)
    dockerfile = None
    if service.build and service.build.dockerfile:
        path = Path(service.build.context) / service.build.dockerfile
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
        service=service.name, state=state, message=message, exit_code=exit_code,
        oom_killed=oom_killed, health_output=health_output, logs=logs[-MAX_LOG_LINES:],
        healthcheck=service.healthcheck.test if service.healthcheck else None,
        ports=[p.target for p in service.ports], environment=sorted(service.environment),
        dependencies=sorted(service.depends_on), dockerfile=dockerfile, files=files)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[:MAX_FILE_CHARS]
    except OSError:
        return None


def _all_text(e: ServiceEvidence) -> list[str]:
    return [*e.message.splitlines(), *(e.health_output or "").splitlines(), *e.logs]


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


_STEP = re.compile(r"^Step \d+/\d+ : (.+)$|^#\d+ \[[^\]]+\] (.+)$")
_BUILD_ERROR = re.compile(r"returned a non-zero code|did not complete successfully|"
                          r"error:|ERROR|failed to", re.IGNORECASE)


def build_error(e: ServiceEvidence) -> Finding | None:
    if e.state is not State.BUILD_FAILED:
        return None
    lines = e.message.splitlines()
    step = next((m.group(1) or m.group(2) for line in reversed(lines)
                 if (m := _STEP.match(line.strip()))), None)
    errors = [line.strip() for line in lines if _BUILD_ERROR.search(line)][-3:]
    return Finding(
        service=e.service, detector="build_error", confidence=0.9,
        evidence=[f"failing step: {step}"] * bool(step) + errors,
        cause=f"the image build failed at `{step}`" if step else "the image build failed",
        fix="run that step by hand to see why (a missing file, package or command), fix the "
            "Dockerfile or the files it copies, then deploy again")


_DENIED = re.compile(r"Permission denied|EACCES|operation not permitted", re.IGNORECASE)


def permission_denied(e: ServiceEvidence) -> Finding | None:
    hits = _lines(e, _DENIED)
    if not hits:
        return None
    return Finding(
        service=e.service, detector="permission_denied", confidence=0.85, evidence=hits,
        cause="the app was denied access to a file, directory or port",
        fix="give the image's user access (chown/chmod in the Dockerfile, a writable directory "
            "such as /tmp, an executable entrypoint), or listen on a port above 1024 when "
            "running as a non-root user")


def crash(e: ServiceEvidence) -> Finding | None:
    if e.exit_code in (None, 0) or e.exit_code == 137:
        return None
    tail = [line for line in e.logs if line.strip()][-5:]
    return Finding(
        service=e.service, detector="crash", confidence=0.6,
        evidence=[f"exit code {e.exit_code}", *tail],
        cause=f"the app exited with code {e.exit_code} right after starting",
        fix="read the last log lines for the error it reports; run the image locally with the "
            "same environment to reproduce it")


DETECTORS: list[Detector] = [healthcheck_tool, wrong_port, missing_module, missing_config,
                             out_of_memory, wrong_architecture, connection_refused, build_error,
                             permission_denied]
"""Specific causes; ``crash`` is the fallback when none of them matches."""


def detect(e: ServiceEvidence) -> list[Finding]:
    found = [f for f in (d(e) for d in DETECTORS) if f]
    if not found:
        fallback = crash(e)
        found = [fallback] if fallback else []
    return sorted(found, key=lambda f: -f.confidence)


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
