"""Hostile input through the command line (issue 28): each case a real `launchdeck` process
given what an attacker or an unlucky user would give it, and the clear refusal it must answer."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest

from launchdeck.compose.load import normalize_project_name
from testkit import BUSYBOX

PEM = ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"
       "bm90LWEtcmVhbC1rZXktYnV0LWxvbmc=\n-----END PRIVATE KEY-----")


def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
        stdin: bytes | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "launchdeck", *args], cwd=cwd, input=stdin,
                          capture_output=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    return subprocess.CompletedProcess(done.args, done.returncode,
                                       done.stdout.decode("utf-8", "replace"),
                                       done.stderr.decode("utf-8", "replace"))


def _no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, \
        result.stderr


@pytest.fixture
def cleanup(docker_api):
    """Names of projects whose containers and networks go after the test."""
    names: list[str] = []
    yield names
    for name in names:
        label = {"label": [f"dev.launchdeck.project={name}"]}
        for c in docker_api.containers(all=True, filters=label):
            docker_api.remove_container(c["Id"], force=True, v=True)
        for n in docker_api.networks(filters=label):
            docker_api.remove_network(n["Id"])


# -- 1, 12: a Dockerfile outside its context, or not a regular file ---------------------------

@pytest.mark.parametrize("dockerfile", ["/etc/passwd", "STORE", "../outside/Dockerfile",
                                        "link-out"])
def test_a_dockerfile_outside_its_context_is_refused(project, tmp_path_factory, dockerfile: str,
                                                     ) -> None:
    """A Dockerfile named outside the build context (absolute, `..`, a symlink out, another
    project's config store) is a located error, and no line of that file is shown."""
    store = tmp_path_factory.mktemp("elsewhere") / "config" / "other" / "dev.json"
    store.parent.mkdir(parents=True)
    store.write_text('{"DB_PASSWORD": "hunter2-other-project"}')
    root = project({"outside/Dockerfile": "FROM scratch-outside-secret\n", "Dockerfile": "FROM x\n"})
    (root / "link-out").symlink_to(store)
    named = str(store) if dockerfile == "STORE" else dockerfile
    (root / "compose.yaml").write_text(f"services:\n  web:\n    build:\n      context: .\n"
                                       f"      dockerfile: {named}\n")
    for command in (("compose", "config"), ("compose", "plan")):
        result = run(*command, cwd=root)
        assert result.returncode == 1, result.stderr
        assert "compose.yaml:5: " in result.stderr
        assert "services.web.build.dockerfile: Dockerfile" in result.stderr
        assert "is outside the build context" in result.stderr
        for leaked in ("hunter2", "root:x:0", "scratch-outside-secret"):
            assert leaked not in result.stderr + result.stdout
        _no_traceback(result)


@pytest.mark.parametrize("special", ["/dev/zero", "fifo", "folder"])
def test_a_dockerfile_that_is_not_a_regular_file_is_refused_at_once(project, special: str) -> None:
    """A device, a FIFO or a folder as the Dockerfile is refused in seconds, never read."""
    root = project({"compose.yaml": ""})
    os.mkfifo(root / "fifo")
    (root / "folder").mkdir()
    if special == "/dev/zero":
        (root / "zero").symlink_to("/dev/zero")
        special = "zero"
    (root / "compose.yaml").write_text(f"services:\n  web:\n    build: {{context: ., "
                                       f"dockerfile: {special}}}\n")
    started = time.monotonic()
    result = run("compose", "plan", cwd=root, timeout=60)
    assert result.returncode == 1
    assert f"Dockerfile '{special}' is not a regular file" in result.stderr or \
        special == "zero" and "Dockerfile 'zero' is outside the build context" in result.stderr
    assert time.monotonic() - started < 30
    _no_traceback(result)


@pytest.mark.parametrize("what", ["fifo", "/dev/zero"])
def test_compose_and_env_files_that_are_not_regular_files_are_refused(project, what: str) -> None:
    """A FIFO or a device given as a compose file or an env file is refused, never read."""
    root = project({"compose.yaml": "services:\n  web:\n    image: x\n    env_file: [e.env]\n"})
    os.mkfifo(root / "fifo")
    target = str(root / "fifo") if what == "fifo" else what
    (root / "e.env").symlink_to(target)
    as_env = run("compose", "config", cwd=root, timeout=60)
    as_compose = run("compose", "config", "-f", target, cwd=root, timeout=60)
    for result in (as_env, as_compose):
        assert result.returncode == 1
        assert "not a regular file" in result.stderr
        _no_traceback(result)


# -- 2: env_file errors name the line, not its content ----------------------------------------

def test_env_file_errors_name_the_line_not_its_content(project) -> None:
    """An env_file that is another project's JSON config store is refused by line number; not
    a character of its values is printed."""
    root = project({"store.json": '{\n  "DB_PASSWORD": "hunter2-in-a-store"\n}\n',
                    "quoted.env": 'A=1\nB="hunter2-unterminated\n',
                    "compose.yaml": "services:\n  web:\n    image: x\n    env_file: [store.json]\n"})
    result = run("compose", "config", cwd=root)
    assert result.returncode == 1
    assert "store.json:1:" in result.stderr
    assert "hunter2" not in result.stderr and "DB_PASSWORD" not in result.stderr
    (root / "compose.yaml").write_text("services:\n  web:\n    image: x\n    env_file: [quoted.env]\n")
    result = run("compose", "config", cwd=root)
    assert result.returncode == 1 and "quoted.env:2: unterminated quoted value" in result.stderr
    assert "hunter2" not in result.stderr


# -- 5, 9, 12: config values a store cannot hold -----------------------------------------------

@pytest.mark.parametrize(("value", "says"), [
    (b"hunter2\x00tail", "contains a NUL character"),
    (b"hunter2\xff\xfe", "is not valid UTF-8 text"),
    (b"x" * 40_000, "is longer than 32768 bytes"),
])
def test_config_set_refuses_what_no_store_keeps(project, state: Path, value: bytes,
                                                says: str) -> None:
    """NUL, bytes that are not UTF-8 and oversized values are refused by name, stored nowhere,
    and never echoed."""
    root = project({"compose.yaml": "services:\n  web:\n    image: x\n    environment: [PW]\n"})
    result = run("config", "set", "PW", cwd=root, stdin=value)
    assert result.returncode == 1
    assert f"the value of PW {says}" in result.stderr
    assert "hunter2" not in result.stderr and "xxxxxxxx" not in result.stderr
    assert not list(state.rglob("*.json"))
    _no_traceback(result)


def test_config_set_from_dev_zero_is_bounded(project, state: Path) -> None:
    """`config set < /dev/zero` reads a bounded amount and refuses, in seconds."""
    root = project({"compose.yaml": "services:\n  web:\n    image: x\n"})
    with open("/dev/zero", "rb") as zero:
        done = subprocess.run([sys.executable, "-m", "launchdeck", "config", "set", "PW"],
                              cwd=root, stdin=zero, capture_output=True, timeout=60)
    assert done.returncode == 1
    assert b"NUL" in done.stderr or b"longer than" in done.stderr


# -- 14: concurrent writes -----------------------------------------------------------------

def test_concurrent_config_set_loses_nothing(project, state: Path) -> None:
    """Twelve `config set` processes at once each store their value; none is lost."""
    root = project({"compose.yaml": "services:\n  web:\n    image: x\n"})
    names = [f"VALUE_{i}" for i in range(12)]
    processes = [subprocess.Popen([sys.executable, "-m", "launchdeck", "config", "set", name],
                                  cwd=root, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE) for name in names]
    for index, process in enumerate(processes):
        process.stdin.write(f"value-{index}-abcdef".encode())
        process.stdin.close()
    assert [p.wait(timeout=120) for p in processes] == [0] * 12
    (store,) = state.rglob("dev.json")
    assert json.loads(store.read_text()) == {n: f"value-{i}-abcdef" for i, n in enumerate(names)}


# -- 8: image references ----------------------------------------------------------------------

@pytest.mark.parametrize(("image", "says"), [
    ("Busybox:1.36", "repository name must be lowercase"),
    ("'a b'", "not a valid image reference"),
    ("'x::y'", "not a valid image reference"),
])
def test_an_invalid_image_reference_is_a_located_finding(project, image: str, says: str) -> None:
    """An image Docker would not parse is an error at its line in `compose config` and `plan`,
    never an internal error."""
    root = project({"compose.yaml": f"services:\n  web:\n    image: {image}\n"})
    for command in (("compose", "config"), ("compose", "plan")):
        result = run(*command, cwd=root)
        assert result.returncode == 1
        assert "compose.yaml:3: " in result.stderr and "services.web.image: image" in result.stderr
        assert says in result.stderr
        _no_traceback(result)


# -- 9, 13: loader inputs that used to crash or never end ------------------------------------

def test_a_chain_of_a_thousand_includes_is_refused(project) -> None:
    """Includes nested a thousand files deep are refused at the include that goes too deep."""
    files = {f"f{i}.yaml": (f"include: [f{i + 1}.yaml]\n" if i < 999 else "")
             + f"services:\n  s{i}:\n    image: x\n" for i in range(1000)}
    root = project({**files, "compose.yaml": "include: [f0.yaml]\nservices:\n  web:\n    image: x\n"})
    result = run("compose", "config", cwd=root)
    assert result.returncode == 1
    assert "include: includes nest more than 40 files deep" in result.stderr
    _no_traceback(result)


def test_an_include_diamond_loads_in_seconds(project) -> None:
    """Twenty-five levels of includes that each include both files below load quickly."""
    files = {}
    for level in range(25):
        below = f"include: [a{level + 1}.yaml, b{level + 1}.yaml]\n" if level < 24 else ""
        for side in "ab":
            files[f"{side}{level}.yaml"] = below + f"services:\n  {side}{level}:\n    image: x\n"
    root = project({**files, "compose.yaml": "include: [a0.yaml, b0.yaml]\n"
                                             "services:\n  web:\n    image: x\n"})
    started = time.monotonic()
    result = run("compose", "config", "--format", "json", cwd=root, timeout=60)
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["services"]) == 51
    assert time.monotonic() - started < 30


def test_an_empty_compose_path_separator_is_the_default(project) -> None:
    """COMPOSE_PATH_SEPARATOR set but empty splits COMPOSE_FILE as if it were unset."""
    root = project({"one.yaml": "services:\n  web:\n    image: x\n"})
    result = run("compose", "config", "--format", "json", cwd=root,
                 env={"COMPOSE_FILE": "one.yaml", "COMPOSE_PATH_SEPARATOR": ""})
    assert result.returncode == 0, result.stderr
    assert list(json.loads(result.stdout)["services"]) == ["web"]


def test_generate_refuses_a_folder_name_too_long_for_a_file_system(tmp_path: Path) -> None:
    """A folder name part over 255 bytes is refused by name, not an OSError."""
    folder = tmp_path / ("é" * 200)
    result = run("generate", "an api", "--template", "rest-api", "--folder", str(folder))
    assert result.returncode != 0
    assert "folder: the name" in result.stderr and "255 bytes" in result.stderr
    _no_traceback(result)


# -- 9, 11: logs arguments ---------------------------------------------------------------------

def test_logs_since_before_1970_reads_from_the_start(tmp_path: Path, state: Path,
                                                     cleanup: list[str]) -> None:
    """--since before 1970 reads every line of a running service, and a time it cannot read
    names --since."""
    name = f"early-{secrets.token_hex(4)}"
    cleanup.append(name)
    root = tmp_path / name
    root.mkdir()
    (root / "compose.yaml").write_text(f"services:\n  web:\n    image: {BUSYBOX}\n"
                                       "    command: [sh, -c, 'echo first-line; exec sleep 100000']\n")
    up = run("compose", "up", "--detach", "--wait-timeout", "60", cwd=root, timeout=180)
    assert up.returncode == 0, up.stderr
    for _ in range(40):
        early = run("logs", "--since", "1960-01-01T00:00:00Z", cwd=root)
        if "first-line" in early.stdout:
            break
        time.sleep(0.5)
    assert early.returncode == 0, early.stderr
    assert "web | first-line" in early.stdout
    unreadable = run("logs", "--since", "99999999999h", cwd=root)
    assert unreadable.returncode == 1 and "since: cannot read the time" in unreadable.stderr
    _no_traceback(early)
    _no_traceback(unreadable)


# -- 16: what a newcomer types ----------------------------------------------------------------

def test_compose_logs_is_logs(project, state: Path) -> None:
    """`launchdeck compose logs` exists and reads the same logs as `launchdeck logs`."""
    root = project({"compose.yaml": "services:\n  web:\n    image: x\n"})
    result = run("compose", "logs", "web", cwd=root)
    assert result.returncode == 0, result.stderr
    assert "No such command" not in result.stderr


def test_portal_takes_the_project_from_the_current_directory(project, state: Path) -> None:
    """`launchdeck portal` run inside a project plans that project, as every command does."""
    import httpx2

    root = project({"compose.yaml": "name: portal-here\nservices:\n  web:\n    image: x\n"})
    process = subprocess.Popen([sys.executable, "-m", "launchdeck", "portal"], cwd=root,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "LAUNCHDECK_STATE_DIR": str(state)})
    try:
        line = process.stdout.readline().strip()
        base, _, token = line.partition("/?token=")
        listing = httpx2.get(f"{base}/api/targets", params={"token": token}, timeout=30).json()
        plan = httpx2.get(f"{base}/api/targets/local/portal-here/dev/plan",
                          params={"token": token}, timeout=60).json()
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert listing["project_on_disk"] == "portal-here"
    assert "no compose files" not in json.dumps(plan)


# -- 3, 15: what a failed deploy shows --------------------------------------------------------

def test_each_line_of_a_multi_line_value_is_hidden_in_logs(tmp_path: Path, state: Path,
                                                           cleanup: list[str]) -> None:
    """A PEM key a service prints line by line is hidden on every line in `logs`."""
    name = f"pem-{secrets.token_hex(4)}"
    cleanup.append(name)
    root = tmp_path / name
    root.mkdir()
    (root / "compose.yaml").write_text(f"""\
services:
  web:
    image: {BUSYBOX}
    command: ["sh", "-c", "echo \\"$$CERT\\"; echo printed; exec sleep 100000"]
    environment: [CERT]
""")
    assert run("config", "set", "CERT", cwd=root, stdin=PEM.encode()).returncode == 0
    up = run("compose", "up", "--detach", "--wait-timeout", "60", cwd=root, timeout=180)
    assert up.returncode == 0, up.stderr
    for _ in range(40):
        logs = run("logs", cwd=root)
        if "printed" in logs.stdout:
            break
        time.sleep(0.5)
    assert "printed" in logs.stdout, logs.stdout
    assert logs.stdout.count("[config value]") == 4
    for line in PEM.splitlines():
        assert line not in logs.stdout, logs.stdout


def test_debug_reads_the_last_failed_deployment(tmp_path: Path, state: Path,
                                                cleanup: list[str]) -> None:
    """A one-shot script on an ingress port fails the deploy and then stands STOPPED (exit 0):
    debug still diagnoses it from the last deployment."""
    name = f"oneshot-{secrets.token_hex(4)}"
    cleanup.append(normalize_project_name(name))
    root = tmp_path / name
    root.mkdir()
    (root / "compose.yaml").write_text(f"""\
services:
  job:
    image: {BUSYBOX}
    command: ["sh", "-c", "echo migrated; exit 0"]
    ports:
      - target: 8080
        mode: ingress
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://localhost:8080/"]
      interval: 1s
      retries: 3
""")
    up = run("compose", "up", "--detach", "--wait-timeout", "30", cwd=root, timeout=180)
    assert up.returncode == 1 and "SERVICE_DEPLOYMENT_FAILED" in up.stderr + up.stdout
    debug = run("debug", "--format", "json", cwd=root, timeout=120)
    assert debug.returncode in (0, 1), debug.stderr
    found = json.loads(debug.stdout)
    assert [e["service"] for e in found["evidence"]] == ["job"]
    assert "No service is failing" not in found["next_step"]
