"""Builds a service's image through the engine's BuildKit, as `docker compose build` does.

About one Dockerfile in five in public compose projects uses syntax only BuildKit reads
(``RUN --mount``, ``COPY --link``, ``# syntax=``, ``$TARGETARCH``), which the Docker SDK's
classic builder refuses or silently gets wrong. So the build runs through a Docker CLI that
talks BuildKit to the engine: ``docker buildx build`` when the buildx plugin is installed, else
the BuildKit client built into Docker CLIs before 23.0 (``DOCKER_BUILDKIT=1 docker build``).
Only when neither exists does it fall back to the classic builder, and then it refuses a
Dockerfile that needs BuildKit, naming the lines, instead of building something else.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import anyio
import anyio.from_thread
import anyio.to_thread

from launchdeck.errors import BuildError
from launchdeck.providers.local.containers import reason
from launchdeck.providers.local.daemon import Endpoint, connect

if TYPE_CHECKING:
    from launchdeck.compose.model import Service

OUTPUT_TAIL = 20
"""Lines of output a build failure carries."""

OnLine = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class BuildRequest:
    """One image to build: what ``docker build`` is given."""

    context: Path
    tag: str
    dockerfile: str | None = "Dockerfile"
    """Relative to ``context``, or absolute (it may lie outside the context)."""
    dockerfile_inline: str | None = None
    target: str | None = None
    args: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    platform: str | None = None
    service: str | None = None
    """For error messages only."""


def request_for(service: Service, *, tag: str, labels: Mapping[str, str]) -> BuildRequest:
    """The build of a compose service (its ``build`` section, which must be set)."""
    build = service.build
    if build is None:
        raise ValueError(f"service {service.name} has no build section")
    platforms = build.platforms or []
    # the engine's image store holds one platform per tag: the service's, or the only one listed
    platform = service.platform or (platforms[0] if len(platforms) == 1 else None)
    return BuildRequest(
        context=Path(build.context), tag=tag, dockerfile=build.dockerfile,
        dockerfile_inline=build.dockerfile_inline, target=build.target,
        args={k: v for k, v in build.args.items() if v is not None},
        labels=dict(labels), platform=platform, service=service.name)


class BuildFailed(BuildError):
    """An image build failed; ``step`` is the Dockerfile step that failed, when known, and
    ``output`` its last lines of output (else the build's)."""

    def __init__(self, message: str, *, service: str | None, step: str | None = None,
                 error: str = "", output: list[str] | None = None, hint: str = "") -> None:
        super().__init__(message, service=service or "", hint=hint)
        self.step = step
        self.error = error
        self.output = output or []

    @property
    def report(self) -> str:
        """The message and the output lines, as one text for an event or a deploy record."""
        return "\n".join([self.message, *self.output, *([self.hint] if self.hint else [])])

    def __str__(self) -> str:
        return self.report


# -- which BuildKit client ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BuildClient:
    """A Docker CLI that can drive the engine's BuildKit, and how."""

    path: str
    kind: Literal["buildx", "builtin"]
    """buildx: ``docker buildx build``; builtin: ``DOCKER_BUILDKIT=1 docker build`` (CLI < 23)."""
    version: str


def find_client(environ: Mapping[str, str] | None = None) -> BuildClient | None:
    """The best BuildKit client on this machine: any Docker CLI with buildx, else a Docker CLI
    older than 23.0 (whose BuildKit client is built in), else None."""
    env = os.environ if environ is None else environ
    return _find_client(env.get("PATH", os.defpath), env.get("DOCKER_CONFIG", ""),
                        env.get("HOME", ""))


@functools.cache
def _find_client(search_path: str, docker_config: str, home: str) -> BuildClient | None:
    candidates: list[str] = []
    for folder in [*search_path.split(os.pathsep), "/usr/bin", "/usr/local/bin"]:
        path = os.path.join(folder or ".", "docker")
        if os.access(path, os.X_OK) and os.path.isfile(path):
            real = os.path.realpath(path)
            if real not in (os.path.realpath(c) for c in candidates):
                candidates.append(path)
    env = {**os.environ, "PATH": search_path}
    if docker_config:
        env["DOCKER_CONFIG"] = docker_config
    versions = {path: _cli_version(path, env) for path in candidates}
    for path in candidates:
        if versions[path] and _has_buildx(path, env):
            return BuildClient(path=path, kind="buildx", version=versions[path] or "")
    for path in candidates:
        version = versions[path]
        if version and _major(version) < 23:
            return BuildClient(path=path, kind="builtin", version=version)
    return None


def _cli_version(path: str, env: Mapping[str, str]) -> str | None:
    try:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=20,
                              env=dict(env), check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"version (\d+\.\d+[\w.+~-]*)", done.stdout)
    return match.group(1).rstrip(",") if done.returncode == 0 and match else None


def _has_buildx(path: str, env: Mapping[str, str]) -> bool:
    try:
        done = subprocess.run([path, "buildx", "version"], capture_output=True, text=True,
                              timeout=20, env=dict(env), check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _major(version: str) -> int:
    try:
        return int(version.split(".")[0])
    except ValueError:
        return 0


# -- what a Dockerfile needs ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Feature:
    """BuildKit-only syntax found in a Dockerfile."""

    name: str
    line: int
    since: str | None
    """The first Docker Engine whose built-in Dockerfile frontend reads it; None when only a
    ``# syntax=`` frontend newer than any engine's built-in one does."""

    def __str__(self) -> str:
        return f"{self.name} (line {self.line})"


_FLAG_SINCE = {
    ("RUN", "mount"): "20.10", ("RUN", "network"): "20.10", ("RUN", "security"): None,
    ("COPY", "chmod"): "20.10", ("ADD", "chmod"): "20.10",
    ("COPY", "link"): "23.0", ("ADD", "link"): "23.0",
    ("COPY", "parents"): None, ("COPY", "exclude"): None, ("ADD", "exclude"): None,
    ("ADD", "checksum"): None, ("ADD", "keep-git-dir"): None,
}
_HEREDOC = re.compile(r"<<-?\s*([\"']?)[A-Za-z_][A-Za-z0-9_]*\1")
_PLATFORM_ARG = re.compile(r"\$\{?((?:TARGET|BUILD)(?:PLATFORM|OS|ARCH|VARIANT))\b")
_DIRECTIVE = re.compile(r"^#\s*(syntax|escape)\s*=\s*(\S+)\s*$", re.IGNORECASE)


def buildkit_features(dockerfile: str, args: Mapping[str, str] | None = None) -> list[Feature]:
    """The BuildKit-only syntax a Dockerfile uses, each with its line (``args``: build args
    given explicitly, which stand in for the automatic platform ones)."""
    given = set(args or {})
    found: list[Feature] = []
    escape = "\\"
    lines = dockerfile.splitlines()
    for number, text in enumerate(lines, 1):  # parser directives: only before anything else
        match = _DIRECTIVE.match(text.strip())
        if not match:
            break
        if match.group(1).lower() == "syntax":
            found.append(Feature("a `# syntax=` frontend", number, "18.09"))
        else:
            escape = match.group(2)[:1] or escape
    for start, instruction in _instructions(lines, escape):
        words = instruction.split()
        if not words:
            continue
        keyword = words[0].upper()
        for word in words[1:]:
            if not word.startswith("--"):
                break
            flag = word[2:].split("=", 1)[0].lower()
            if (keyword, flag) in _FLAG_SINCE:
                found.append(Feature(f"{keyword} --{flag}", start, _FLAG_SINCE[keyword, flag]))
        if keyword in ("RUN", "COPY", "ADD") and _HEREDOC.search(instruction):
            found.append(Feature(f"a heredoc in {keyword}", start, "23.0"))
        for match in _PLATFORM_ARG.finditer(instruction):
            if match.group(1) not in given:
                found.append(Feature(f"${match.group(1)}", start, "18.09"))
    return list(dict.fromkeys(found))


def _instructions(lines: list[str], escape: str) -> list[tuple[int, str]]:
    """Logical instructions (continuation lines joined), each with its first line's number;
    the body of a heredoc is skipped, since it is not Dockerfile syntax."""
    out: list[tuple[int, str]] = []
    current: list[str] = []
    start = 0
    heredoc: str | None = None
    for number, raw in enumerate(lines, 1):
        text = raw.rstrip()
        if heredoc is not None:
            if text.strip() == heredoc:
                heredoc = None
            continue
        if not current and (not text.strip() or text.lstrip().startswith("#")):
            continue
        if not current:
            start = number
        if text.endswith(escape):
            current.append(text[:-1])
            continue
        current.append(text)
        instruction = " ".join(current)
        out.append((start, instruction))
        current = []
        match = _HEREDOC.search(instruction)
        if match and instruction.split()[0].upper() in ("RUN", "COPY", "ADD"):
            heredoc = re.sub(r"^<<-?\s*[\"']?|[\"']$", "", match.group(0))
    if current:
        out.append((start, " ".join(current)))
    return out


# -- building -------------------------------------------------------------------------------


async def build_image(request: BuildRequest, endpoint: Endpoint, on_line: OnLine, *,
                      client: BuildClient | None | Literal["find"] = "find",
                      api: Any = None) -> str:
    """Build ``request`` on the engine at ``endpoint``; return the image id (sha256:...).

    Every line of output goes to ``on_line`` as it comes (in the event loop's thread).
    ``client`` is the BuildKit client to use ("find": the best one here; None: the classic
    builder, through ``api`` or a docker SDK client connected to ``endpoint``).
    Raises BuildFailed with the failing step and the last lines of output."""
    if client == "find":
        client = await anyio.to_thread.run_sync(find_client)
    with tempfile.TemporaryDirectory(prefix="launchdeck-build-") as scratch:
        dockerfile = _dockerfile_path(request, Path(scratch))
        text = _read(dockerfile)
        if client is None:
            return await _build_classic(request, endpoint, dockerfile, text, on_line, api)
        assert not isinstance(client, str)
        return await _build_buildkit(request, endpoint, client, dockerfile, text,
                                     Path(scratch), on_line)


def _dockerfile_path(request: BuildRequest, scratch: Path) -> Path:
    if request.dockerfile_inline is not None:
        path = scratch / "Dockerfile"  # outside the context: both builders accept that
        path.write_text(request.dockerfile_inline, encoding="utf-8")
        return path
    return request.context / (request.dockerfile or "Dockerfile")


def _read(dockerfile: Path) -> str:
    from launchdeck.paths import read_regular

    try:  # a regular file of bounded size only: /dev/zero or a FIFO would never end
        return read_regular(dockerfile, what="the Dockerfile").decode("utf-8", errors="replace")
    except (OSError, ValueError):
        return ""  # the builder reports a missing Dockerfile in its own words


async def _build_buildkit(request: BuildRequest, endpoint: Endpoint, client: BuildClient,
                          dockerfile: Path, text: str, scratch: Path, on_line: OnLine) -> str:
    iidfile = scratch / "image-id"
    argv = [client.path, *(["buildx", "build", "--load"] if client.kind == "buildx" else ["build"]),
            "--progress=plain", "--iidfile", str(iidfile), "--tag", request.tag,
            "--file", str(dockerfile)]
    if request.target:
        argv += ["--target", request.target]
    if request.platform:
        argv += ["--platform", request.platform]
    for key, value in request.args.items():
        argv += ["--build-arg", f"{key}={value}"]
    for key, value in request.labels.items():
        argv += ["--label", f"{key}={value}"]
    argv.append(str(request.context))
    env = endpoint.cli_environment(os.environ)
    env.update(BUILDKIT_PROGRESS="plain", DOCKER_CLI_HINTS="false",
               BUILDX_NO_DEFAULT_ATTESTATIONS="1")
    if client.kind == "builtin":
        env["DOCKER_BUILDKIT"] = "1"
    progress = _Progress()
    try:
        process = await anyio.open_process(argv, stdin=subprocess.DEVNULL,
                                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                           env=env)
    except OSError as exc:
        raise BuildFailed(f"could not run the BuildKit client {client.path}: {exc.strerror}",
                          service=request.service,
                          hint="Check the Docker CLI is installed and executable.") from exc
    try:
        assert process.stdout is not None
        pending = b""
        async for chunk in process.stdout:
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for raw in complete:
                _emit(raw, progress, on_line)
        if pending:
            _emit(pending, progress, on_line)
        code = await process.wait()
    finally:
        if process.returncode is None:  # cancelled: the CLI cancels the build when it stops
            process.terminate()
            with anyio.CancelScope(shield=True):
                await process.wait()
        await process.aclose()
    image_id = iidfile.read_text(encoding="utf-8").strip() if iidfile.is_file() else ""
    if code != 0 or not image_id:
        raise _failure(request, progress, text)
    return image_id


def _emit(raw: bytes, progress: _Progress, on_line: OnLine) -> None:
    line = raw.decode("utf-8", "replace").rstrip("\r")
    if progress.take(line):
        on_line(line)


_VERTEX = re.compile(r"^#(\d+) (.*)$")
_TIMED = re.compile(r"^\d+\.\d+ (.*)$")
_NOISE = re.compile(r"^(sha256:[0-9a-f]{64}|DONE [\d.]+s|CACHED)$")
_PARSE_ERROR = re.compile(r"dockerfile parse error (?:on )?line (\d+)", re.IGNORECASE)


class _Progress:
    """Reads BuildKit's plain progress: which step each ``#N`` is, its output, its error."""

    def __init__(self) -> None:
        self.steps: dict[str, str] = {}
        self.logs: dict[str, list[str]] = {}
        self.failed: tuple[str, str] | None = None
        self.tail: list[str] = []

    def take(self, line: str) -> bool:
        """Record one line; False for lines not worth showing (digests, blank lines)."""
        if not line.strip():
            return False
        match = _VERTEX.match(line)
        if match:
            vertex, rest = match.groups()
            if _NOISE.match(rest):
                return not rest.startswith("sha256:")
            if rest.startswith("ERROR:") or rest.startswith("ERROR "):
                self.failed = (vertex, rest.split(":", 1)[1].strip() if ":" in rest else rest)
            elif (timed := _TIMED.match(rest)) is not None:
                log = self.logs.setdefault(vertex, [])
                log.append(timed.group(1))
                del log[:-OUTPUT_TAIL]
            else:
                self.steps.setdefault(vertex, rest)
        self.tail.append(line)
        del self.tail[:-OUTPUT_TAIL * 3]
        return True

    def final_error(self) -> str:
        for line in reversed(self.tail):
            text = line.strip()
            if text and not text.startswith(("#", "------", ">", "View build details")) \
                    and not re.match(r"^\d+ \|", text) and not text.startswith("Dockerfile:"):
                return re.sub(r"^(ERROR|error):\s*", "", text)
        return "the build failed"


def _failure(request: BuildRequest, progress: _Progress, dockerfile: str) -> BuildFailed:
    error = progress.final_error()
    step = None
    output: list[str]
    if progress.failed is not None:
        vertex, error = progress.failed
        step = progress.steps.get(vertex)
        output = progress.logs.get(vertex, [])[-OUTPUT_TAIL:]
    else:
        output = [line for line in progress.tail if not line.startswith("#")
                  and error not in line][-OUTPUT_TAIL:]
        step = _parse_error_step(error, dockerfile)
    return BuildFailed(_message(request, step, error), service=request.service, step=step,
                       error=error, output=output, hint=_hint(error, dockerfile, request.args))


def _parse_error_step(error: str, dockerfile: str) -> str | None:
    match = _PARSE_ERROR.search(error)
    if not match:
        return None
    number = int(match.group(1))
    lines = dockerfile.splitlines()
    text = lines[number - 1].strip() if 0 < number <= len(lines) else ""
    return f"Dockerfile line {number}: {text}" if text else f"Dockerfile line {number}"


def _message(request: BuildRequest, step: str | None, error: str) -> str:
    what = f"the image build of {request.service}" if request.service else \
        f"the image build of {request.tag}"
    return f"{what} failed at step `{step}`: {error}" if step else f"{what} failed: {error}"


def _hint(error: str, dockerfile: str, args: Mapping[str, str]) -> str:
    features = buildkit_features(dockerfile, args)
    syntax = [f for f in features if f.name.startswith("a `# syntax=`")]
    if syntax and re.search(r"docker/dockerfile|frontend gateway|resolve image config", error):
        return (f"The Dockerfile's `# syntax=` line (line {syntax[0].line}) asks for a Dockerfile "
                "frontend image, which the engine could not pull: remove that line to use the "
                "engine's built-in frontend, or let the engine reach the registry.")
    if _PARSE_ERROR.search(error) or "unknown instruction" in error.lower() \
            or "unknown flag" in error.lower():
        newer = [f for f in features if f.since != "18.09" and f.since != "20.10"]
        if newer:
            needs = ", ".join(f"{f} needs Docker Engine {f.since} or later" if f.since else
                              f"{f} needs a newer Dockerfile frontend (`# syntax=docker/dockerfile:1`)"
                              for f in newer)
            return (f"{needs}: this engine's built-in Dockerfile frontend is older. Upgrade the "
                    "engine, or write those lines without it.")
    return "Fix that step (its output shows why), then deploy again."


# -- the classic builder, when no BuildKit client exists ------------------------------------

_STEP = re.compile(r"^Step \d+/\d+ : (.+)$")


async def _build_classic(request: BuildRequest, endpoint: Endpoint, dockerfile: Path, text: str,
                         on_line: OnLine, api: Any) -> str:
    needs = buildkit_features(text, request.args)
    if needs:
        raise BuildFailed(
            f"the Dockerfile of {request.service or request.tag} needs BuildKit, and no BuildKit "
            f"client was found, so the classic builder would build it wrong or not at all: it "
            f"lacks {', '.join(str(f) for f in needs)}",
            service=request.service,
            hint="Install Docker's buildx plugin (Docker's docker-buildx-plugin package, or "
                 "Debian's docker-buildx), or a Docker CLI before 23.0, which has BuildKit built "
                 "in; then deploy again.")
    on_line("no BuildKit client here (docker buildx, or a Docker CLI before 23.0): building with "
            "the engine's classic builder")
    import docker.errors

    steps: list[str] = []
    output: list[str] = []

    def run() -> str | None:
        low = api if api is not None else connect(endpoint).api
        stream = low.build(
            path=str(request.context), dockerfile=str(dockerfile), tag=request.tag,
            target=request.target, buildargs=dict(request.args), labels=dict(request.labels),
            platform=request.platform, rm=True, forcerm=True, decode=True)
        image_id = None
        for chunk in stream:
            if "error" in chunk:
                raise _ClassicError(str(chunk["error"]).strip())
            for line in str(chunk.get("stream", "")).splitlines():
                if not line.strip():
                    continue
                step = _STEP.match(line.strip())
                if step:
                    steps.append(step.group(1))
                    output.clear()
                elif not line.startswith((" ---> ", "Removing intermediate")):
                    output.append(line.rstrip())
                anyio.from_thread.run_sync(on_line, line.rstrip())
            if isinstance(chunk.get("aux"), dict) and "ID" in chunk["aux"]:
                image_id = chunk["aux"]["ID"]
        return image_id or low.inspect_image(request.tag)["Id"]

    try:
        image_id = await anyio.to_thread.run_sync(run)
    except _ClassicError as exc:
        step = steps[-1] if steps else None
        raise BuildFailed(_message(request, step, exc.text), service=request.service, step=step,
                          error=exc.text, output=output[-OUTPUT_TAIL:],
                          hint=_hint(exc.text, text, request.args)) from exc
    except docker.errors.DockerException as exc:
        error = reason(exc)
        step = _parse_error_step(error, text) or (steps[-1] if steps else None)
        raise BuildFailed(_message(request, step, error), service=request.service, step=step,
                          error=error, output=output[-OUTPUT_TAIL:],
                          hint=_hint(error, text, request.args)) from exc
    if not image_id:
        raise BuildFailed(_message(request, None, "the engine named no image"),
                          service=request.service, output=output[-OUTPUT_TAIL:])
    return str(image_id)


class _ClassicError(Exception):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text
