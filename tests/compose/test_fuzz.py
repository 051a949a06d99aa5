"""Property-based fuzzing of the loader: whatever the input, only launchdeck's own errors escape,
and no input takes more than 5 s or 500 MB.

Each input is loaded (and checked for every provider) in a forked child, so that its time and
its peak memory are its own: the parent reads the child's processor time and peak resident size
from ``wait4`` (processor time, not the wall clock, so that other work on a shared machine does
not count against the input; the wall clock only bounds a hang, at four times as long).
Hypothesis runs derandomized with a fixed number of examples, so
CI sees the same inputs each run and the whole module stays within about a minute.
"""

from __future__ import annotations

import os
import pickle
import resource
import select
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from launchdeck.compose import load
from launchdeck.compose.load import MAX_SERVICES
from launchdeck.compose.source import MAX_FILE_BYTES, MAX_VALUES
from launchdeck.errors import LaunchdeckError
from launchdeck.tools.check import findings

HERE = Path(__file__).parent
CORPUS = sorted(p / "compose.yaml" for p in (HERE / "conformance").iterdir()
                if (p / "compose.yaml").is_file())
MAX_SECONDS = 5.0
MAX_BYTES = 500 << 20
FUZZ = settings(derandomize=True, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))


def _bounded(run: Callable[[], Any]) -> str:
    """Run ``run`` in a forked child; return how it ended, after checking its time and memory.

    "ok", "refused" (a LaunchdeckError) or "crash: <type>: <message>". A child still running
    after the time bound is killed and fails the test.
    """
    read_end, write_end = os.pipe()
    start = time.perf_counter()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.close(read_end)
        try:
            run()
            outcome = "ok"
        except LaunchdeckError:
            outcome = "refused"
        except BaseException as exc:  # noqa: BLE001 - anything else is the bug being hunted
            outcome = f"crash: {type(exc).__name__}: {str(exc)[:300]}"
        os.write(write_end, pickle.dumps(outcome))
        os._exit(0)
    os.close(write_end)
    ready, _, _ = select.select([read_end], [], [], MAX_SECONDS * 4)
    if not ready:
        os.kill(child, signal.SIGKILL)
    data = os.read(read_end, 1 << 16) if ready else b""
    os.close(read_end)
    _, _, usage = os.wait4(child, 0)
    elapsed = usage.ru_utime + usage.ru_stime
    assert ready, f"still running after {MAX_SECONDS * 4:.0f} s ({time.perf_counter() - start:.0f} s)"
    peak = usage.ru_maxrss * 1024 - _BASELINE  # ru_maxrss is in KiB on Linux
    assert elapsed < MAX_SECONDS, f"took {elapsed:.1f} s of processor time"
    assert peak < MAX_BYTES, f"used {peak >> 20} MB"
    return pickle.loads(data)


_BASELINE = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _load_everywhere(root: Path, files: tuple[str, ...] = ()) -> Callable[[], None]:
    def run() -> None:
        loaded = load(list(files), cwd=root, os_environ={})
        for provider in ("local", "aws", "gcp"):
            findings(loaded, provider)
        loaded.project.to_compose()
    return run


def _assert_only_our_errors(outcome: str) -> None:
    assert outcome in ("ok", "refused"), outcome


# -- random values in every position ---------------------------------------------------------

_KEYS = ["services", "web", "db", "image", "build", "context", "ports", "target", "published",
         "volumes", "environment", "env_file", "healthcheck", "test", "interval", "deploy",
         "replicas", "resources", "limits", "memory", "cpus", "depends_on", "condition",
         "networks", "extends", "file", "service", "include", "path", "profiles", "command",
         "provider", "type", "options", "x-defang-postgres", "x-defang-llm", "name", "labels"]
_TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "${", "${A:-${B}}", "$$", "80:80", "1-65535:1-65535", "./x:/y/", "~",
                     "1e400", "99999999999999999999h", "-1", "\0", "a\nb", "*", "&", "!reset",
                     "../../../../etc/passwd", "x" * 300, "service_healthy", "CMD-SHELL"]),
)
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-2, 70000),
                     st.floats(allow_nan=True, allow_infinity=True), _TEXT)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.one_of(st.sampled_from(_KEYS), st.text(max_size=8)),
                                            inner, max_size=4)),
    max_leaves=12,
)


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*path, index))
    return found


def _replaced(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = dict(doc) if isinstance(doc, dict) else list(doc)
    copy[path[0]] = _replaced(doc[path[0]], path[1:], value)
    return copy


_BASES = [yaml.safe_load(p.read_text()) for p in CORPUS if "include" not in p.parent.name]


@settings(FUZZ, max_examples=300)
@given(data=st.data())
def test_random_value_in_any_position(tmp_path_factory: pytest.TempPathFactory, data: Any) -> None:
    """Any YAML value put anywhere in a real project gives a result or a launchdeck error."""
    base = data.draw(st.sampled_from(_BASES))
    path = data.draw(st.sampled_from(_paths(base)))
    doc = _replaced(base, path, data.draw(_VALUES))
    root = tmp_path_factory.mktemp("fuzz")
    (root / "compose.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    _assert_only_our_errors(_bounded(_load_everywhere(root)))


# -- mutations of the corpus files -----------------------------------------------------------

_FRAGMENTS = ["!reset ", "!override ", "&a ", "*a", "<<: *a\n", "${", "}", ":", "- ", "[", "]",
              "{", "}", '"', "'", "\t", "\0", "\n", "  ", "~", "null", "!!binary ", "? ",
              "1-1000000000", "9" * 30, "include: [compose.yaml]\n", "extends: x\n", "\ufeff"]


@settings(FUZZ, max_examples=300)
@given(data=st.data())
def test_mutated_corpus_file(tmp_path_factory: pytest.TempPathFactory, data: Any) -> None:
    """A real compose file with bytes deleted, repeated or inserted never crashes the loader."""
    source = data.draw(st.sampled_from(CORPUS))
    text = source.read_text()
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        kind = data.draw(st.sampled_from(["delete", "insert", "repeat"]))
        if kind == "delete":
            text = text[:at] + text[at + data.draw(st.integers(1, 20)):]
        elif kind == "insert":
            text = text[:at] + data.draw(st.sampled_from(_FRAGMENTS)) + text[at:]
        else:
            line_start = text.rfind("\n", 0, at) + 1
            line_end = text.find("\n", at) + 1 or len(text)
            text = text[:line_end] + text[line_start:line_end] + text[line_end:]
    root = tmp_path_factory.mktemp("mutated")
    for other in source.parent.rglob("*"):  # the files it includes, extends or reads
        if other.is_file() and other != source:
            target = root / other.relative_to(source.parent)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(other.read_bytes())
    (root / "compose.yaml").write_text(text, encoding="utf-8")
    _assert_only_our_errors(_bounded(_load_everywhere(root)))


# -- alias bombs and huge files --------------------------------------------------------------

@settings(FUZZ, max_examples=20)
@given(depth=st.integers(2, 12), width=st.integers(2, 12), kind=st.sampled_from(["seq", "map"]))
def test_alias_bombs_are_refused_quickly(tmp_path_factory: pytest.TempPathFactory, depth: int,
                                         width: int, kind: str) -> None:
    """Nested aliases load when small and are refused when they would expand too far."""
    lines = ["x-0: &a0 [lol, lol, lol]"]
    for level in range(1, depth + 1):
        refs = [f"*a{level - 1}"] * width
        body = ("[" + ", ".join(refs) + "]" if kind == "seq" else
                "{" + ", ".join(f"k{i}: {ref}" for i, ref in enumerate(refs)) + "}")
        lines.append(f"x-{level}: &a{level} {body}")
    root = tmp_path_factory.mktemp("bomb")
    (root / "compose.yaml").write_text("\n".join(lines) + "\nservices:\n  web:\n    image: x\n")
    values = 4  # x-0: the list and its three items
    expanded = values
    for _ in range(depth):
        values = 1 + width * (values + (kind == "map"))  # a mapping's keys are values too
        expanded += values
    outcome = _bounded(_load_everywhere(root))
    if expanded < MAX_VALUES // 2:
        assert outcome == "ok"
    elif expanded > MAX_VALUES * 2:
        assert outcome == "refused"


_SERVICE = """\
  svc{i}:
    image: registry.example.com/svc{i}:${{TAG:-1.0}}
    command: ["serve", "--port", "{port}"]
    ports:
      - target: {port}
        mode: ingress
    environment: [SERVICE=svc{i}, "LOG_LEVEL=${{LOG_LEVEL:-info}}", DATABASE_PASSWORD]
    healthcheck:
      test: ["CMD", "wget", "-q", "--spider", "http://localhost:{port}/health"]
      interval: 10s
    deploy:
      resources:
        reservations: {{cpus: "0.25", memory: 256M}}
"""


@pytest.mark.parametrize(("shape", "expected"), [
    ("most-services", "ok"), ("padded-past-the-limit", "refused"),
    ("flow-list-at-the-limit", "refused"), ("long-command", "ok"), ("deep-nesting", "refused"),
    ("many-port-ranges", "refused"), ("env-file-at-the-limit", "ok"),
    ("env-file-growing-lines", "refused"), ("dotenv-doubling", "refused"),
    ("one-big-value-many-times", "refused"),
])
def test_huge_files_stay_within_bounds(tmp_path: Path, shape: str, expected: str) -> None:
    """The largest inputs the limits let through load, and larger ones are refused, in bounds."""
    limit = MAX_FILE_BYTES
    env = {
        "env-file-at-the-limit": ("a.env", "".join(f"KEY_{i}=v{i}\n" for i in range(60_000))),
        "env-file-growing-lines": ("a.env", "K0=v\n" + "".join(f"K{i}=v${{K{i - 1}}}\n"
                                                               for i in range(1, 55_000))),
        "dotenv-doubling": (".env", "K0=xx\n" + "".join(f"K{i}=${{K{i - 1}}}${{K{i - 1}}}\n"
                                                        for i in range(1, 41))),
        "one-big-value-many-times": (".env", "BIG=" + "x" * (limit - 100) + "\n"),
    }.get(shape)
    if env:
        (tmp_path / env[0]).write_text(env[1])
        assert len(env[1]) <= limit
        text = ("services:\n  web:\n    image: x:${K40:-1}\n    env_file: [{path: a.env, required: false}]\n"
                "    environment:\n" + "".join(f"      A{i}: x${{BIG:-}}\n" for i in range(50)))
    elif shape == "most-services":
        text = "services:\n" + "".join(_SERVICE.format(i=i, port=8000 + i)
                                       for i in range(MAX_SERVICES))
    elif shape == "padded-past-the-limit":
        text = "services: {web: {image: x}}\n" + ("# " + "x" * 97 + "\n") * (limit // 100 + 1)
    elif shape == "flow-list-at-the-limit":
        text = "x-a: [" + "1," * (limit // 2 - 40) + "1]\nservices: {web: {image: x}}\n"
    elif shape == "long-command":
        text = "services:\n  web:\n    image: x\n    command: " + "a" * (limit - 60) + "\n"
    elif shape == "deep-nesting":
        text = "x-a: " + "[" * 100_000 + "]" * 100_000 + "\nservices: {web: {image: x}}\n"
    else:
        text = "services:\n  web:\n    image: x\n    ports:\n" + '      - "1-65535"\n' * 2000
    assert len(text.encode()) <= limit or shape == "padded-past-the-limit"
    (tmp_path / "compose.yaml").write_text(text)
    assert _bounded(_load_everywhere(tmp_path)) == expected


def test_too_many_services_are_refused(tmp_path: Path) -> None:
    """One service past MAX_SERVICES is refused at the services key, before any checking."""
    services = "".join(f"  s{i}: {{image: x}}\n" for i in range(MAX_SERVICES + 1))
    (tmp_path / "compose.yaml").write_text("name: big\nservices:\n" + services)
    with pytest.raises(LaunchdeckError, match=f"more than launchdeck loads \\({MAX_SERVICES}\\)"):
        load(cwd=tmp_path, os_environ={})


# -- paths to special files, include diamonds, image references, odd bytes in values ---------

_SPECIAL = ["/dev/zero", "/dev/urandom", "fifo", "folder", "/proc/self/mem"]
_NAMING = {
    "dockerfile": "services:\n  web:\n    build: {{context: ., dockerfile: '{path}'}}\n",
    "env_file": "services:\n  web:\n    image: x\n    env_file: ['{path}']\n",
    "include": "include: ['{path}']\nservices:\n  web:\n    image: x\n",
    "extends": "services:\n  web:\n    extends: {{file: '{path}', service: a}}\n",
    "compose file": None,
}


@pytest.mark.parametrize("special", _SPECIAL)
@pytest.mark.parametrize("field", list(_NAMING))
def test_paths_to_special_files_are_refused_in_bounds(tmp_path: Path, field: str,
                                                      special: str) -> None:
    """A device, a FIFO or a folder named where a file belongs is refused, never read."""
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "folder").mkdir()
    path = special if special.startswith("/") else str(tmp_path / special)
    if _NAMING[field] is None:
        outcome = _bounded(_load_everywhere(tmp_path, (path,)))
        assert outcome == "refused"
        return
    (tmp_path / "compose.yaml").write_text(_NAMING[field].format(path=path))

    def run() -> None:
        loaded = load([], cwd=tmp_path, os_environ={})
        found = [f for p in ("local", "aws", "gcp") for f in findings(loaded, p)
                 if f.field.endswith("dockerfile") and f.severity == "error"]
        if not found:
            raise AssertionError("no finding for the Dockerfile")

    # a Dockerfile is the builder's to read: the project loads, and the check refuses it
    assert _bounded(run) == ("ok" if field == "dockerfile" else "refused")


@settings(FUZZ, max_examples=8)
@given(depth=st.integers(2, 30), width=st.integers(2, 3))
def test_include_diamonds_load_each_file_once(tmp_path_factory: pytest.TempPathFactory,
                                              depth: int, width: int) -> None:
    """Includes where every file of a level includes every file of the next load in bounds."""
    root = tmp_path_factory.mktemp("diamond")
    for level in range(depth):
        below = "".join(f"  - l{level + 1}-{j}.yaml\n" for j in range(width)) \
            if level + 1 < depth else ""
        for i in range(width):
            (root / f"l{level}-{i}.yaml").write_text(
                (f"include:\n{below}" if below else "")
                + f"services:\n  s{level}-{i}:\n    image: x\n")
    (root / "compose.yaml").write_text(
        "include:\n" + "".join(f"  - l0-{j}.yaml\n" for j in range(width))
        + "services:\n  web:\n    image: x\n")
    assert _bounded(_load_everywhere(root)) in ("ok", "refused")


@settings(FUZZ, max_examples=200)
@given(image=st.one_of(st.text(max_size=40), st.sampled_from(
    ["Busybox:1.36", "a b", "x::y", "x:", ":x", "x@", "x@sha256:", "/x", "x/", "x//y",
     "[::1]/x", "a" * 300, "x:" + "t" * 200, "localhost:99999999999999999999/x"])))
def test_any_image_reference_is_checked(tmp_path_factory: pytest.TempPathFactory,
                                        image: str) -> None:
    """Any image text loads and is checked: an invalid reference is a finding, not a crash."""
    from launchdeck.compose.validate import image_reference_problem

    root = tmp_path_factory.mktemp("image")
    (root / "compose.yaml").write_text(yaml.safe_dump({"services": {"web": {"image": image}}},
                                                      allow_unicode=True), encoding="utf-8")
    assert _bounded(_load_everywhere(root)) in ("ok", "refused")
    assert image_reference_problem(image) is None or image_reference_problem(image)


@settings(FUZZ, max_examples=100)
@given(raw=st.binary(max_size=64), where=st.sampled_from(["env_file", ".env"]))
def test_non_utf8_and_nul_bytes_in_values(tmp_path_factory: pytest.TempPathFactory, raw: bytes,
                                          where: str) -> None:
    """Values of any bytes (not UTF-8, NUL) in an env file or .env are read or refused."""
    root = tmp_path_factory.mktemp("bytes")
    (root / ("a.env" if where == "env_file" else ".env")).write_bytes(b"A=" + raw + b"\nB=x\n")
    (root / "compose.yaml").write_text("services:\n  web:\n    image: x\n"
                                       + ("    env_file: [a.env]\n" if where == "env_file"
                                          else "    environment: [A]\n"))
    assert _bounded(_load_everywhere(root)) in ("ok", "refused")


@settings(FUZZ, max_examples=200)
@given(value=st.text(alphabet=st.characters(exclude_categories=()), max_size=40))
def test_any_config_value_is_stored_or_refused_by_name(value: str) -> None:
    """Any value (NUL, lone surrogates from bytes that were not UTF-8) is accepted or refused
    with an error that names the config and never quotes the value."""
    from launchdeck.tools.config import check_value

    try:
        check_value("DB_PASSWORD", value)
    except LaunchdeckError as exc:
        assert "DB_PASSWORD" in str(exc)
        assert len(value) < 4 or value not in str(exc)
