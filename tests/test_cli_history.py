"""The history from the command line, on the real Docker Engine: deployments, rollback and the
logs of one deployment by kind, after v1, v2 (a changed image) and v3 (an image whose service
fails its health check)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from launchdeck.compose.load import normalize_project_name
from launchdeck.providers.local import spec as S
from testkit import BUSYBOX

SECRET = "tok-9d3b27c4e1f05a68"

COMPOSE = f"""\
services:
  web:
    build: ./web
    ports:
      - target: 8080
        mode: ingress
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://localhost:8080/index.html"]
      interval: 1s
      retries: 3
  worker:
    image: {BUSYBOX}
    environment: [TOKEN]
    command: ["sh", "-c", "echo worker has $$TOKEN; sleep 600"]
"""


def run(*args: str, cwd: Path, stdin: str | None = None):
    """The CLI in the module's project, with its own state directory (beside the folder)."""
    env = {**os.environ, "LAUNCHDECK_STATE_DIR": str(_state(cwd))}
    return subprocess.run([sys.executable, "-m", "launchdeck", *args], cwd=cwd, input=stdin or "",
                          capture_output=True, text=True, timeout=300, check=False, env=env)


def _state(root: Path) -> Path:
    return root.parent / f"{root.name}-state"


def _version(root: Path, page: str) -> None:
    (root / "web" / "Dockerfile").write_text(
        f"FROM {BUSYBOX}\nRUN mkdir /site && echo {page} > /site/{page}.html\n"
        'CMD ["httpd", "-f", "-p", "8080", "-h", "/site"]\n')


def _json(*args: str, cwd: Path) -> dict:
    done = run(*args, "--format", "json", cwd=cwd)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory, docker_api):
    """v1, v2 and v3 deployed (v3's web fails its health check); (folder, ids, outputs)."""
    root = tmp_path_factory.mktemp("hist")
    (root / "web").mkdir()
    (root / "compose.yaml").write_text(COMPOSE)
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "-c", "user.email=t@example.com", "-c", "user.name=t",
                    "commit", "-q", "--allow-empty", "-m", "start"], check=True)
    done = run("config", "set", "TOKEN", cwd=root, stdin=SECRET + "\n")
    assert done.returncode == 0, done.stderr
    outputs: list[str] = [done.stdout, done.stderr]
    ids = []
    for page in ("index", "index", "other"):
        _version(root, page)
        (root / "web" / "version").write_text(str(len(ids)))  # a new image each time
        (root / "web" / "Dockerfile").write_text((root / "web" / "Dockerfile").read_text()
                                                 + f"COPY version /version{len(ids)}\n")
        done = run("compose", "up", "-d", "--wait-timeout", "20", cwd=root)
        outputs += [done.stdout, done.stderr]
        assert done.returncode == (1 if page == "other" else 0), done.stderr
        ids.append(_json("deployments", "show", "latest", cwd=root)["deployment"]["id"])
    yield root, ids, outputs
    run("compose", "down", cwd=root)
    for image in docker_api.images(filters={"label": f"{S.PROJECT}="
                                            f"{normalize_project_name(root.name)}"}):
        docker_api.remove_image(image["Id"], force=True)


def _web_image(docker_api, root: Path) -> str:
    project = normalize_project_name(root.name)
    found = docker_api.containers(filters={"label": [f"{S.PROJECT}={project}",
                                                     f"{S.SERVICE}=web"]})
    return found[0]["Image"]


def test_deployments_lists_three_with_outcomes_commits_and_images(deployed) -> None:
    """Newest first: failed, succeeded, succeeded; each with the commit and web's own image."""
    root, ids, _ = deployed
    listed = _json("deployments", "ls", cwd=root)["deployments"]
    head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    assert [d["id"] for d in listed] == ids[::-1]
    assert [d["outcome"] for d in listed] == ["failed", "succeeded", "succeeded"]
    assert {d["commit"] for d in listed} == {head}
    assert len({d["images"]["web"] for d in listed}) == 3


def test_logs_of_a_deployment_by_type(deployed) -> None:
    """v3's deploy lines are its timeline; v2's build lines are its build; v1's run lines hold
    what worker printed then (its config value hidden), v2's do not."""
    root, ids, _ = deployed
    timeline = run("logs", "--deployment", ids[2], "--type", "deploy", cwd=root).stdout
    assert "web" in timeline and "SERVICE_DEPLOYMENT_FAILED" in timeline
    assert "SERVICE_DEPLOYMENT_FAILED" not in run("logs", "--deployment", ids[1], "--type",
                                                  "deploy", cwd=root).stdout
    build = run("logs", "--deployment", ids[1], "--type", "build", cwd=root).stdout
    assert "COPY version /version1" in build and "/version2" not in build
    done = run("logs", "--deployment", ids[0], "--type", "run", "worker", cwd=root)
    first = done.stdout + done.stderr
    assert "worker has [config value]" in first
    assert "worker has" not in run("logs", "--deployment", ids[1], "--type", "run", "worker",
                                   cwd=root).stdout


def test_a_dry_run_rollback_shows_the_plan_and_changes_nothing(deployed, docker_api) -> None:
    """rollback --dry-run names web to replace and v1's image, and the history stays at three."""
    root, ids, _ = deployed
    before = _web_image(docker_api, root)
    shown = run("rollback", ids[0], "--dry-run", cwd=root)
    assert shown.returncode == 0, shown.stderr
    assert "web" in shown.stderr and "REPLACE" in shown.stdout + shown.stderr
    assert len(_json("deployments", "ls", cwd=root)["deployments"]) == 3
    assert _web_image(docker_api, root) == before


def test_a_rollback_without_a_terminal_asks_for_yes(deployed) -> None:
    """Off a terminal, rollback refuses to go on without --yes."""
    root, ids, _ = deployed
    done = run("rollback", ids[0], cwd=root)
    assert done.returncode == 1 and "--yes" in done.stderr


def test_rollback_runs_v1s_image_without_building(deployed, docker_api) -> None:
    """Back to v1: web runs v1's image, nothing was built, the history has four entries; then
    with v1's image removed, a rollback to it is refused and changes nothing."""
    root, ids, outputs = deployed
    v1 = _json("deployments", "show", ids[0], cwd=root)["deployment"]
    done = run("rollback", ids[0], "--yes", "--wait-timeout", "30", cwd=root)
    outputs += [done.stdout, done.stderr]
    assert done.returncode == 0, done.stderr
    image = next(u["image"] for u in v1["units"] if u["name"] == "web")
    assert _web_image(docker_api, root) == image
    latest = _json("deployments", "show", "latest", cwd=root)["deployment"]
    assert (latest["operation"], latest["rollback_of"]) == ("rollback", ids[0])
    assert not [m for m in latest["timeline"] if (m["state"] or "").startswith("BUILD")]
    assert len(_json("deployments", "ls", cwd=root)["deployments"]) == 4

    v2_image = next(u["image"] for u in _json("deployments", "show", ids[1], cwd=root)
                    ["deployment"]["units"] if u["name"] == "web")
    docker_api.remove_image(v2_image, force=True)
    refused = run("rollback", ids[1], "--yes", cwd=root)
    assert refused.returncode == 1 and "no longer on local" in refused.stderr
    assert _web_image(docker_api, root) == image
    assert len(_json("deployments", "ls", cwd=root)["deployments"]) == 4


def test_no_config_value_in_records_or_output(deployed) -> None:
    """The config value is in no file the target keeps besides its store, and in no output."""
    root, ids, outputs = deployed
    state = _state(root)
    shown = [run("deployments", "show", i, cwd=root).stdout for i in ids]
    for text in [*outputs, *shown]:
        assert SECRET not in text
    kept = [p for p in (state / "deployments").rglob("*.json")]
    assert kept and all(SECRET not in p.read_text() for p in kept)


def test_stack_gc_removes_only_the_expired_stacks(tmp_path: Path, docker_api) -> None:
    """A stack deployed with --ttl 1s is removed by `stack gc` once it has passed, with its
    config values (as the Action's gc removes them: one rule); a stack without one stays with
    its values, and a second gc finds nothing."""
    root = tmp_path / "gcapp"
    root.mkdir()
    (root / "compose.yaml").write_text(f"services:\n  worker:\n    image: {BUSYBOX}\n"
                                       '    command: ["sleep", "600"]\n    environment: [TOKEN]\n')
    project = normalize_project_name(root.name)
    try:
        for stack in ("preview", "dev"):
            assert run("config", "set", "TOKEN", "--stack", stack, cwd=root,
                       stdin=SECRET + "\n").returncode == 0
        assert run("compose", "up", "-d", "--stack", "preview", "--ttl", "1s", cwd=root) \
            .returncode == 0
        assert run("compose", "up", "-d", cwd=root).returncode == 0
        time.sleep(1.5)
        listed = _json("stack", "gc", "--dry-run", cwd=root)
        assert [(e["stack"], e["config"]) for e in listed["expired"]] == [("preview", ["TOKEN"])]
        assert _names(root, "preview") == ["TOKEN"]
        removed = run("stack", "gc", cwd=root)
        assert removed.returncode == 0, removed.stderr
        assert f"removed: {project} (preview)" in removed.stderr
        assert "its config values too: TOKEN" in removed.stderr and SECRET not in removed.stderr
        stacks = {c["Labels"].get(S.STACK) for c in docker_api.containers(
            filters={"label": f"{S.PROJECT}={project}"})}
        assert stacks == {"dev"}
        assert _names(root, "preview") == []
        assert _names(root, "dev") == ["TOKEN"]
        assert _json("stack", "gc", cwd=root)["expired"] == []
    finally:
        run("compose", "down", "--stack", "preview", cwd=root)
        run("compose", "down", cwd=root)


def _names(root: Path, stack: str) -> list[str]:
    """The config names `config ls` lists for ``stack``."""
    done = run("config", "ls", "--stack", stack, cwd=root)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_a_ttl_that_cannot_be_read_is_refused(tmp_path: Path) -> None:
    """--ttl soon says what it takes, and nothing is deployed."""
    root = tmp_path / "ttlapp"
    root.mkdir()
    (root / "compose.yaml").write_text(f"services:\n  worker:\n    image: {BUSYBOX}\n")
    done = run("compose", "up", "-d", "--ttl", "soon", cwd=root)
    assert done.returncode == 1 and "3d" in done.stderr and "Traceback" not in done.stderr


def test_debug_reads_a_failed_deployment_by_id(deployed) -> None:
    """debug --deployment v3 explains web from v3's own lines; v1 had nothing failing."""
    root, ids, _ = deployed
    failed = _json("debug", "--deployment", ids[2], cwd=root)
    web = [e for e in failed["evidence"] if e["service"] == "web"]
    assert web and web[0]["state"] == "SERVICE_DEPLOYMENT_FAILED"
    assert any("SERVICE_DEPLOYMENT_FAILED" in line for line in web[0]["logs"])
    assert _json("debug", "--deployment", ids[0], cwd=root)["evidence"] == []
