"""Images build through the engine's BuildKit, as `docker compose build` does; classic only as a
last resort, and never for a Dockerfile that needs BuildKit."""

from __future__ import annotations

import contextlib
import platform
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from launchdeck.compose import load
from launchdeck.providers.local.build import (
    BuildFailed,
    BuildRequest,
    build_image,
    buildkit_features,
    find_client,
    request_for,
)
from launchdeck.providers.local.daemon import resolve_endpoint
from testkit import BUSYBOX

ARCH = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(),
                                                                     platform.machine())

BUILDKIT_ONLY = f"""\
FROM {BUSYBOX} AS app
ARG TARGETARCH
ARG GREETING=hello
RUN --mount=type=cache,target=/var/cache/app echo "greeting=$GREETING" && \\
    echo "$TARGETARCH" > /var/cache/app/arch && cp /var/cache/app/arch /arch
LABEL built.arch=$TARGETARCH
COPY . /src
RUN ls /src

FROM app AS broken
RUN echo never built: the target stops before this stage && exit 9
"""


@pytest.fixture
def images(docker_api) -> Iterator[list[str]]:
    """Tags the test builds; removed afterwards."""
    tags: list[str] = []
    yield tags
    import docker.errors

    for tag in tags:
        with contextlib.suppress(docker.errors.ImageNotFound):  # a failed build made none
            docker_api.remove_image(tag, force=True)


def _build(request: BuildRequest, **kwargs) -> tuple[str, list[str]]:
    lines: list[str] = []
    image = anyio.run(lambda: build_image(request, resolve_endpoint(), lines.append, **kwargs))
    return image, lines


def _context(tmp_path: Path, dockerfile: str, **files: str) -> Path:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(dockerfile)
    for name, text in files.items():
        (context / name.replace("__", ".")).write_text(text)
    return context


def test_a_buildkit_client_is_found() -> None:
    """This machine has a client that drives BuildKit: a CLI with buildx, or one before 23.0."""
    client = find_client()
    assert client is not None
    if client.kind == "buildx":
        assert subprocess.run([client.path, "buildx", "version"], check=False).returncode == 0
    else:
        assert int(client.version.split(".")[0]) < 23


def test_buildkit_only_dockerfile_builds(tmp_path: Path, images: list[str], docker_api) -> None:
    """RUN --mount=type=cache, $TARGETARCH and a multi-stage target build on this engine."""
    context = _context(tmp_path, BUILDKIT_ONLY, app__txt="x")
    images.append("launchdeck-test-build/buildkit:1")
    image, lines = _build(BuildRequest(context=context, tag=images[-1], target="app"))
    inspected = docker_api.inspect_image(images[-1])
    assert inspected["Id"] == image
    assert inspected["Config"]["Labels"]["built.arch"] == ARCH
    assert not any("never built" in line for line in lines)


def test_build_arg_reaches_the_build(tmp_path: Path, images: list[str]) -> None:
    """A build arg's value is what the RUN step sees, and its output streams line by line."""
    context = _context(tmp_path, BUILDKIT_ONLY)
    images.append("launchdeck-test-build/args:1")
    greeting = f"bonjour-{uuid.uuid4().hex}"  # new each run, so the step is not cached
    _, lines = _build(BuildRequest(context=context, tag=images[-1], target="app",
                                   args={"GREETING": greeting}))
    assert any(line.endswith(f"greeting={greeting}") for line in lines), lines
    assert all("\n" not in line and line.strip() for line in lines)


def test_labels_land_on_the_image(tmp_path: Path, images: list[str], docker_api) -> None:
    """The labels asked for are on the built image, next to the Dockerfile's own."""
    context = _context(tmp_path, BUILDKIT_ONLY)
    images.append("launchdeck-test-build/labels:1")
    labels = {"dev.launchdeck.project": "shop", "dev.launchdeck.service": "web"}
    _build(BuildRequest(context=context, tag=images[-1], target="app", labels=labels))
    found = docker_api.inspect_image(images[-1])["Config"]["Labels"]
    assert labels.items() <= found.items() and found["built.arch"] == ARCH


def test_failing_step_is_reported_with_its_output(tmp_path: Path, images: list[str]) -> None:
    """A failing RUN is named as the failing step, with the lines it printed and its exit code."""
    context = _context(tmp_path, f"FROM {BUSYBOX}\nRUN echo preparing\n"
                                 "RUN echo 'cannot reach the package index' && exit 7\n")
    images.append("launchdeck-test-build/fails:1")
    with pytest.raises(BuildFailed) as caught:
        _build(BuildRequest(context=context, tag=images[-1], service="web"))
    failure = caught.value
    assert failure.step is not None and failure.step.endswith(
        "RUN echo 'cannot reach the package index' && exit 7")
    assert failure.output == ["cannot reach the package index"]
    assert "exit code: 7" in failure.error
    assert failure.message.startswith("the image build of web failed at step `")
    assert failure.service == "web" and "cannot reach the package index" in failure.report


@pytest.mark.parametrize("ignore_file", [".dockerignore", "Dockerfile.dockerignore"])
def test_dockerignore_is_honoured(ignore_file: str, tmp_path: Path, images: list[str]) -> None:
    """Files that .dockerignore (or the Dockerfile's own ignore file) names never reach the build."""
    context = _context(tmp_path, f"FROM {BUSYBOX}\nCOPY . /src\nRUN ls -a /src\n",
                       secret__env="TOKEN=1",
                       main__py=f"print({uuid.uuid4().hex!r})")  # new each run: not cached
    (context / ignore_file).write_text("secret.env\n")
    images.append("launchdeck-test-build/ignore:1")
    _, lines = _build(BuildRequest(context=context, tag=images[-1]))
    listed = [line.rsplit(" ", 1)[-1] for line in lines]
    assert "main.py" in listed and "secret.env" not in listed


def test_inline_dockerfile_builds(tmp_path: Path, images: list[str], docker_api) -> None:
    """A compose `dockerfile_inline` builds with the context's files, written nowhere in it."""
    context = _context(tmp_path, "unused", app__txt="hi")
    images.append("launchdeck-test-build/inline:1")
    _build(BuildRequest(context=context, tag=images[-1], dockerfile=None,
                        dockerfile_inline=f"FROM {BUSYBOX}\nCOPY app.txt /\nLABEL inline=yes\n"))
    assert docker_api.inspect_image(images[-1])["Config"]["Labels"]["inline"] == "yes"
    assert sorted(p.name for p in context.iterdir()) == ["Dockerfile", "app.txt"]


def test_compose_service_becomes_a_request(tmp_path: Path) -> None:
    """A service's build section maps onto the request: context, file, target, args, platform."""
    (tmp_path / "compose.yaml").write_text(
        "services:\n  web:\n    platform: linux/amd64\n    build:\n      context: ./app\n"
        "      dockerfile: docker/Dockerfile.prod\n      target: runtime\n"
        "      args: {GREETING: hi, DEBUG: true, FROM_SHELL: null}\n")
    service = load(cwd=tmp_path, os_environ={}).project.services["web"]
    request = request_for(service, tag="shop/web:dev", labels={"a": "b"})
    assert (request.context, request.dockerfile, request.target, request.platform) == (
        tmp_path / "app", "docker/Dockerfile.prod", "runtime", "linux/amd64")
    assert dict(request.args) == {"GREETING": "hi", "DEBUG": "true"} and request.service == "web"


def test_frontend_features_follow_the_engine(tmp_path: Path, images: list[str], docker_api) -> None:
    """COPY --link builds on engines from 23.0; before, the error names the engine it needs."""
    context = _context(tmp_path, f"FROM {BUSYBOX}\nCOPY --link app.txt /app.txt\n", app__txt="x")
    images.append("launchdeck-test-build/link:1")
    engine = int(docker_api.version()["Version"].split(".")[0])
    if engine >= 23:
        assert _build(BuildRequest(context=context, tag=images[-1]))[0].startswith("sha256:")
        return
    with pytest.raises(BuildFailed) as caught:
        _build(BuildRequest(context=context, tag=images[-1]))
    assert caught.value.step == "Dockerfile line 2: COPY --link app.txt /app.txt"
    assert "COPY --link (line 2) needs Docker Engine 23.0 or later" in caught.value.hint


# -- the classic builder: only without a BuildKit client, never for BuildKit syntax ----------


def test_classic_builder_when_no_buildkit_client(tmp_path: Path, images: list[str],
                                                 docker_api) -> None:
    """Without a BuildKit client, a plain Dockerfile builds classically, and that is said."""
    context = _context(tmp_path, f"FROM {BUSYBOX}\nARG GREETING\nRUN echo \"greeting=$GREETING\"\n")
    images.append("launchdeck-test-build/classic:1")
    greeting = f"hej-{uuid.uuid4().hex}"
    image, lines = _build(BuildRequest(context=context, tag=images[-1], args={"GREETING": greeting},
                                       labels={"dev.launchdeck.service": "web"}), client=None)
    assert "classic builder" in lines[0]
    assert f"greeting={greeting}" in lines
    assert docker_api.inspect_image(image)["Config"]["Labels"]["dev.launchdeck.service"] == "web"


def test_classic_builder_reports_the_failing_step(tmp_path: Path, images: list[str]) -> None:
    """A classic build failure names its step and carries the step's output."""
    context = _context(tmp_path, f"FROM {BUSYBOX}\nRUN echo 'disk full' && exit 4\n")
    images.append("launchdeck-test-build/classic-fails:1")
    with pytest.raises(BuildFailed) as caught:
        _build(BuildRequest(context=context, tag=images[-1]), client=None)
    assert caught.value.step == "RUN echo 'disk full' && exit 4"
    assert "disk full" in caught.value.output and "non-zero code: 4" in caught.value.error


@pytest.mark.parametrize(("line", "feature"), [
    ("RUN --mount=type=cache,target=/root/.cache pip install -r requirements.txt", "RUN --mount"),
    ("COPY --link . /app", "COPY --link"),
    ("COPY --chmod=755 entrypoint.sh /", "COPY --chmod"),
    ("RUN echo building for $TARGETARCH", "$TARGETARCH"),
    ("RUN <<EOF\necho hi\nEOF", "a heredoc in RUN"),
], ids=["mount", "link", "chmod", "targetarch", "heredoc"])
def test_classic_builder_refuses_buildkit_syntax(line: str, feature: str, tmp_path: Path) -> None:
    """With no BuildKit client, BuildKit-only syntax is refused by name and line, unbuilt."""
    context = _context(tmp_path, f"FROM {BUSYBOX}\n{line}\n")
    seen: list[str] = []
    with pytest.raises(BuildFailed) as caught:
        anyio.run(lambda: build_image(BuildRequest(context=context, tag="never:built",
                                                   service="api"),
                                      resolve_endpoint(), seen.append, client=None))
    assert f"{feature} (line 2)" in caught.value.message
    assert "needs BuildKit" in caught.value.message and "buildx" in caught.value.hint
    assert seen == []


@pytest.mark.parametrize(("dockerfile", "args", "expected"), [
    ("# syntax=docker/dockerfile:1\nFROM alpine\n", {}, ["a `# syntax=` frontend (line 1)"]),
    ("FROM --platform=$BUILDPLATFORM golang AS build\nARG TARGETOS TARGETARCH\n"
     "RUN GOOS=$TARGETOS GOARCH=${TARGETARCH} go build\n", {},
     ["$BUILDPLATFORM (line 1)", "$TARGETOS (line 3)", "$TARGETARCH (line 3)"]),
    ("ARG TARGETARCH\nRUN echo $TARGETARCH\n", {"TARGETARCH": "arm64"}, []),
    ("RUN apt-get update && \\\n    apt-get install -y --no-install-recommends curl\n", {}, []),
    ("COPY <<EOF /etc/app.conf\nRUN --mount=type=cache,target=/x is text here\nEOF\n"
     "RUN --network=none make\n", {},
     ["a heredoc in COPY (line 1)", "RUN --network (line 4)"]),
    ("# escape=`\nFROM alpine\nRUN `\n    --mount=type=cache,target=/x make\n", {},
     ["RUN --mount (line 3)"]),
    ("FROM alpine\n# syntax=docker/dockerfile:1\nADD --checksum=sha256:0 https://x /x\n", {},
     ["ADD --checksum (line 3)"]),
], ids=["syntax", "platform-args", "platform-arg-given", "continuation", "heredoc-body",
        "escape", "late-syntax-is-a-comment"])
def test_buildkit_features_table(dockerfile: str, args: dict[str, str],
                                 expected: list[str]) -> None:
    """BuildKit-only syntax is found by line; text that only looks like it is not."""
    assert [str(f) for f in buildkit_features(dockerfile, args)] == expected
