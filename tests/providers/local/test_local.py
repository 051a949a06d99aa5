"""The local provider against the real Docker Engine: deploy, redeploy, ps, logs, destroy."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

import anyio
import pytest

from launchdeck.compose import load
from launchdeck.compose.load import normalize_project_name
from launchdeck.engine import logs, ps
from launchdeck.engine.deploy import deploy
from launchdeck.engine.destroy import destroy
from launchdeck.engine.events import State
from launchdeck.engine.seams import DeployOptions, LogQuery
from launchdeck.errors import ConfigMissing, DeployRefused, EngineUnavailable, ProviderError
from launchdeck.providers.local import spec as S
from launchdeck.providers.local.provider import LocalProvider
from testkit import BUSYBOX, Recorder

SECRET = "tok-5f1e9c0b7a2d4e63"

WEB_DOCKERFILE = f"""\
FROM {BUSYBOX}
COPY www /www
RUN chmod +x /www/cgi-bin/*
CMD ["httpd", "-f", "-v", "-p", "8080", "-h", "/www"]
"""
API_CGI = """#!/bin/sh
echo "Content-Type: text/plain"
echo
wget -qO- http://backend:9000/cgi-bin/data
"""
BACKEND_START = (
    "echo backend starting; mkdir -p /srv/cgi-bin; "
    "printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\nwget -qO- http://store:6379/\\n' "
    "> /srv/cgi-bin/data; chmod +x /srv/cgi-bin/data; exec httpd -f -p 9000 -h /srv"
)
STORE_START = ("[ -f /data/index.html ] || echo \"created $RANDOM$RANDOM\" > /data/index.html; "
               "exec httpd -f -p 6379 -h /data")


def _probe(port: int, path: str = "/") -> list[str]:
    return ["CMD", "wget", "-q", "-O", "/dev/null", f"http://localhost:{port}{path}"]


def three_tier(root: Path, backend_greeting: str = "hello") -> Path:
    """web (built, ingress) → backend (by service name) → store (x-defang-redis, a volume)."""
    (root / "web" / "www" / "cgi-bin").mkdir(parents=True, exist_ok=True)
    (root / "web" / "Dockerfile").write_text(WEB_DOCKERFILE)
    (root / "web" / "www" / "index.html").write_text("<h1>web</h1>\n")
    (root / "web" / "www" / "cgi-bin" / "api").write_text(API_CGI)
    (root / "compose.yaml").write_text(_compose(backend_greeting))
    return root


def _compose(greeting: str) -> str:
    import yaml

    doc = {
        "services": {
            "web": {
                "build": "./web",
                "ports": [{"target": 8080, "mode": "ingress"}],
                "environment": ["API_TOKEN"],
                "healthcheck": {"test": _probe(8080, "/index.html"), "interval": "1s",
                                "timeout": "1s", "retries": 10},
                "depends_on": {"backend": {"condition": "service_healthy"}},
            },
            "backend": {
                "image": BUSYBOX,
                "command": ["sh", "-c", BACKEND_START],
                "environment": {"GREETING": greeting},
                "healthcheck": {"test": _probe(9000, "/cgi-bin/data"), "interval": "1s",
                                "timeout": "1s", "retries": 10},
                "depends_on": ["store"],
            },
            "store": {
                "image": BUSYBOX,
                "x-defang-redis": True,
                "command": ["sh", "-c", STORE_START.replace("$", "$$")],
            },
        }
    }
    return yaml.safe_dump(doc, sort_keys=False)


@pytest.fixture
def provider(docker_api, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory):
    """A local provider with a private state directory (outside the project, which is a build
    context); removes the test's objects afterwards."""
    made = LocalProvider(state_root=tmp_path_factory.mktemp("state"))
    yield made
    _remove_everything(docker_api, normalize_project_name(tmp_path.name))


def _remove_everything(api, project: str) -> None:
    label = {"label": [f"{S.PROJECT}={project}"]}
    for c in api.containers(all=True, filters=label):
        api.remove_container(c["Id"], force=True, v=True)
    for n in api.networks(filters=label):
        api.remove_network(n["Id"])
    for v in api.volumes(filters=label).get("Volumes") or []:
        api.remove_volume(v["Name"], force=True)
    for image in api.images(filters=label):
        api.remove_image(image["Id"], force=True)


def _deploy(provider: LocalProvider, root: Path, **options) -> tuple:
    recorder = Recorder()
    loaded = load(cwd=root, os_environ={})
    result = anyio.run(lambda: deploy(loaded, provider, stack="dev", sink=recorder,
                                      options=DeployOptions(wait_timeout=60, **options)))
    return result, recorder


def _set(provider: LocalProvider, root: Path, name: str, value: str) -> None:
    project = load(cwd=root, os_environ={}).project.name
    anyio.run(provider.config_store(project, "dev").set, name, value)


def _containers(api, project: str, service: str | None = None) -> dict[str, str]:
    """Container name → id for the project (or one service)."""
    found = api.containers(all=True, filters=S.owner_filter(project, "dev", service))
    return {c["Names"][0].lstrip("/"): c["Id"] for c in found}


def _get(url: str) -> str:
    deadline = time.monotonic() + 10
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture
def tier(provider, tmp_path: Path):
    """The three-tier project, deployed once with its config set."""
    root = three_tier(tmp_path)
    _set(provider, root, "API_TOKEN", SECRET)
    result, recorder = _deploy(provider, root)
    assert result.ok, result.model_dump_json(indent=1)
    return root, result, recorder


def test_three_services_come_up_and_answer_on_loopback(tier) -> None:
    """web answers on 127.0.0.1 and reaches backend and store by their service names."""
    _, result, recorder = tier
    web = next(s for s in result.services if s.name == "web")
    assert web.endpoints and web.endpoints[0].startswith("http://127.0.0.1:")
    assert "<h1>web</h1>" in _get(web.endpoints[0] + "/index.html")
    assert _get(web.endpoints[0] + "/cgi-bin/api").startswith("created ")
    assert recorder.states("web")[:2] == [State.BUILD_QUEUED, State.BUILD_RUNNING]
    assert recorder.states("web")[-1] is State.SERVICE_DEPLOYMENT_COMPLETED
    order = [e.service for e in recorder.events if e.state is State.SERVICE_DEPLOYMENT_COMPLETED]
    assert order == ["store", "backend", "web"]  # depends_on order


def test_ps_reports_states_and_endpoints(tier, provider) -> None:
    """ps lists every service as deployed, with replicas, health and the web endpoint."""
    root, result, _ = tier
    statuses = {s.name: s for s in anyio.run(ps.ps, provider, load(cwd=root, os_environ={}).project,
                                             "dev")}
    assert {s.state for s in statuses.values()} == {State.SERVICE_DEPLOYMENT_COMPLETED}
    assert statuses["web"].health == "healthy" and statuses["store"].health is None
    assert (statuses["web"].replicas_running, statuses["web"].replicas_desired) == (1, 1)
    assert statuses["web"].endpoints == next(s for s in result.services if s.name == "web").endpoints
    assert statuses["backend"].deployment_id == result.deployment_id


def test_logs_hold_what_services_printed(tier, provider) -> None:
    """logs merge every service's output in time order; filters narrow them."""
    root, _, _ = tier
    name = load(cwd=root, os_environ={}).project.name
    lines = anyio.run(logs.read, provider, name, "dev", LogQuery())
    assert any(line.service == "backend" and line.text == "backend starting" for line in lines)
    assert [line.at for line in lines] == sorted(line.at for line in lines)
    only = anyio.run(logs.read, provider, name, "dev", LogQuery(services=("backend",), tail=1))
    assert [(line.service, line.text) for line in only] == [("backend", "backend starting")]


def test_second_deploy_recreates_nothing(tier, provider, docker_api) -> None:
    """Deploying an unchanged project plans all-NOOP and keeps every container."""
    root, first, _ = tier
    name = load(cwd=root, os_environ={}).project.name
    before = _containers(docker_api, name)
    result, recorder = _deploy(provider, root)
    assert result.ok
    assert {c.action for c in result.changes} == {"NOOP"}
    assert _containers(docker_api, name) == before
    assert not any(e.state is State.SERVICE_DEPLOYMENT_PENDING for e in recorder.events)


def test_one_service_change_recreates_only_that_service(tier, provider, docker_api) -> None:
    """Changing backend's environment replaces backend and nothing else; store data stays."""
    root, _, _ = tier
    name = load(cwd=root, os_environ={}).project.name
    web_before = _containers(docker_api, name, "web")
    store_before = _containers(docker_api, name, "store")
    data_before = _get(tier[1].services[0].endpoints[0] + "/cgi-bin/api")
    (root / "compose.yaml").write_text(_compose("changed"))
    result, _ = _deploy(provider, root)
    assert result.ok
    assert {c.service: c.action for c in result.changes} == {
        "backend": "REPLACE", "store": "NOOP", "web": "NOOP"}
    assert _containers(docker_api, name, "web") == web_before
    assert _containers(docker_api, name, "store") == store_before
    assert _get(result.services[0].endpoints[0] + "/cgi-bin/api") == data_before


def test_store_data_survives_a_forced_redeploy(tier, provider) -> None:
    """Recreating every container (--force) keeps the managed store's data volume."""
    root, result, _ = tier
    endpoint = next(s for s in result.services if s.name == "web").endpoints[0]
    before = _get(endpoint + "/cgi-bin/api")
    again, _ = _deploy(provider, root, force=True)
    assert again.ok and {c.action for c in again.changes} == {"REPLACE"}
    after = _get(next(s for s in again.services if s.name == "web").endpoints[0] + "/cgi-bin/api")
    assert after == before


def test_config_value_reaches_the_container_and_no_output(tier, provider, docker_api) -> None:
    """API_TOKEN is in web's environment, and in no event, result or label."""
    root, result, recorder = tier
    name = load(cwd=root, os_environ={}).project.name
    (web,) = _containers(docker_api, name, "web").values()
    exec_id = docker_api.exec_create(web, ["sh", "-c", "echo $API_TOKEN"])["Id"]
    assert docker_api.exec_start(exec_id).decode().strip() == SECRET
    assert SECRET not in result.model_dump_json()
    assert all(SECRET not in repr(e) for e in recorder.events)
    assert SECRET not in repr(docker_api.inspect_container(web)["Config"]["Labels"])


def test_destroy_leaves_nothing_but_the_store_volume(tier, provider, docker_api) -> None:
    """destroy removes containers and network; the store's volume stays unless asked."""
    root, _, _ = tier
    name = load(cwd=root, os_environ={}).project.name
    label = {"label": [f"{S.PROJECT}={name}"]}
    teardown = anyio.run(lambda: destroy(provider, name, "dev", volumes=False, sink=Recorder()))
    assert docker_api.containers(all=True, filters=label) == []
    assert docker_api.networks(filters=label) == []
    kept = [v["Name"] for v in docker_api.volumes(filters=label)["Volumes"] or []]
    assert kept == teardown.kept == [S.store_volume(name, "dev", "store")]
    assert len(teardown.removed) == 4  # three containers and the network
    teardown = anyio.run(lambda: destroy(provider, name, "dev", volumes=True, sink=Recorder()))
    assert not docker_api.volumes(filters=label)["Volumes"]
    assert teardown.removed == kept and teardown.kept == []


def test_missing_config_is_refused_before_anything_starts(provider, tmp_path, docker_api) -> None:
    """Unset config stops the deploy with every missing name, and no container is made."""
    root = three_tier(tmp_path)
    compose = (root / "compose.yaml").read_text().replace("- API_TOKEN", "- API_TOKEN\n    - DB_URL")
    (root / "compose.yaml").write_text(compose)
    with pytest.raises(ConfigMissing) as caught:
        _deploy(provider, root)
    assert caught.value.names == ["API_TOKEN", "DB_URL"]
    assert [(a.operation, a.args["name"]) for a in caught.value.actions] == [
        ("config_set", "API_TOKEN"), ("config_set", "DB_URL")]
    assert _containers(docker_api, load(cwd=root, os_environ={}).project.name) == {}


def test_failing_healthcheck_fails_with_the_reason(provider, tmp_path) -> None:
    """An app that never gets healthy ends SERVICE_DEPLOYMENT_FAILED with its log lines."""
    (tmp_path / "compose.yaml").write_text(f"""\
services:
  app:
    image: {BUSYBOX}
    command: ["sh", "-c", "echo 'app: cannot open /config/app.toml'; sleep 600"]
    healthcheck:
      test: ["CMD", "sh", "-c", "echo probe: nothing listens on 8080; exit 1"]
      interval: 1s
      timeout: 1s
      retries: 2
""")
    result, recorder = _deploy(provider, tmp_path)
    (app,) = result.services
    assert app.state is State.SERVICE_DEPLOYMENT_FAILED and not result.ok
    assert "healthcheck failed" in app.message
    assert "probe: nothing listens on 8080" in app.message
    assert "app: cannot open /config/app.toml" in app.message
    assert recorder.states("app")[-1] is State.SERVICE_DEPLOYMENT_FAILED


def test_crash_fails_and_dependents_do_not_start(provider, tmp_path, docker_api) -> None:
    """A service that exits fails with its exit code; services depending on it never start."""
    (tmp_path / "compose.yaml").write_text(f"""\
services:
  db:
    image: {BUSYBOX}
    command: ["sh", "-c", "echo 'FATAL: password authentication failed'; exit 3"]
  api:
    image: {BUSYBOX}
    command: ["sleep", "600"]
    depends_on:
      db: {{condition: service_healthy}}
""")
    result, _ = _deploy(provider, tmp_path)
    states = {s.name: s for s in result.services}
    assert states["db"].state is State.SERVICE_DEPLOYMENT_FAILED
    assert "exited with code 3" in states["db"].message
    assert "FATAL: password authentication failed" in states["db"].message
    assert states["api"].message == "dependency db failed"
    assert _containers(docker_api, normalize_project_name(tmp_path.name), "api") == {}


def test_completed_job_unblocks_its_dependents(provider, tmp_path) -> None:
    """service_completed_successfully waits for the job to exit 0 before starting the next."""
    (tmp_path / "compose.yaml").write_text(f"""\
services:
  migrate:
    image: {BUSYBOX}
    command: ["sh", "-c", "sleep 1; echo migrated"]
  api:
    image: {BUSYBOX}
    command: ["sleep", "600"]
    depends_on:
      migrate:
        condition: service_completed_successfully
""")
    result, recorder = _deploy(provider, tmp_path)
    assert result.ok, result.model_dump_json(indent=1)
    done = [e.service for e in recorder.events if e.state is State.SERVICE_DEPLOYMENT_COMPLETED]
    assert done == ["migrate", "api"]


def test_build_failure_reports_the_failing_step(provider, tmp_path) -> None:
    """A Dockerfile step that fails ends BUILD_FAILED with that step in the message."""
    (tmp_path / "Dockerfile").write_text(f"FROM {BUSYBOX}\nRUN echo compiling && exit 7\n")
    (tmp_path / "compose.yaml").write_text("services:\n  app:\n    build: .\n")
    result, recorder = _deploy(provider, tmp_path)
    (app,) = result.services
    assert app.state is State.BUILD_FAILED
    assert "RUN echo compiling && exit 7" in app.message
    assert "exit code: 7" in app.message and "compiling" in app.message  # the step's output
    assert State.BUILD_FAILED in recorder.states("app")


def test_replicas_are_replaced_one_at_a_time(provider, tmp_path, docker_api) -> None:
    """With 2 replicas, a new replica is healthy before an old one is removed."""
    def write(version: str) -> None:
        (tmp_path / "compose.yaml").write_text(f"""\
services:
  web:
    image: {BUSYBOX}
    command: ["httpd", "-f", "-p", "8080", "-h", "/"]
    environment: {{VERSION: "{version}"}}
    ports: [{{target: 8080, mode: ingress}}]
    healthcheck: {{test: {_probe(8080, "/bin/sh")}, interval: 1s, timeout: 1s, retries: 5}}
    deploy: {{replicas: 2}}
""")
    write("1")
    first, _ = _deploy(provider, tmp_path)
    assert first.ok and first.services[0].replicas_running == 2
    since = int(time.time()) - 1
    write("2")
    second, _ = _deploy(provider, tmp_path)
    assert second.ok and second.services[0].replicas_running == 2
    project = normalize_project_name(tmp_path.name)
    events = list(docker_api.events(since=since, until=int(time.time()) + 1, decode=True,
                                    filters={"type": "container",
                                             "label": [f"{S.PROJECT}={project}", f"{S.SERVICE}=web"]}))
    healthy = [e["time"] for e in events if e.get("status", "").endswith(": healthy")]
    destroyed = [e["time"] for e in events if e.get("status") == "destroy"]
    assert len(destroyed) == 2 and healthy
    assert min(healthy) <= min(destroyed)  # never fewer healthy replicas than before


def test_error_findings_refuse_the_deploy(provider, tmp_path) -> None:
    """A project with an error finding for the target is refused with that finding."""
    (tmp_path / "compose.yaml").write_text("services:\n  app:\n    environment: [A]\n")
    with pytest.raises(DeployRefused, match="neither image nor build"):
        _deploy(provider, tmp_path)


def test_no_engine_is_a_clear_error(tmp_path, monkeypatch) -> None:
    """With nothing at DOCKER_HOST, deploy says no engine answers and how to start one."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing.sock")
    (tmp_path / "compose.yaml").write_text(f"services:\n  app:\n    image: {BUSYBOX}\n")
    with pytest.raises(EngineUnavailable) as caught:
        _deploy(LocalProvider(state_root=tmp_path), tmp_path)
    assert "no Docker Engine answers" in str(caught.value)
    assert "DOCKER_HOST" in caught.value.hint


def test_build_honours_args_target_and_dockerignore(provider, tmp_path, docker_api) -> None:
    """Build args and target reach the build, .dockerignore keeps files out; limits apply."""
    (tmp_path / "Dockerfile").write_text(f"""\
FROM {BUSYBOX} AS base
ARG FLAVOUR
COPY . /src
RUN echo "flavour=$FLAVOUR" > /flavour
FROM base AS release
RUN echo release > /stage
FROM base AS debug
RUN echo debug > /stage
""")
    (tmp_path / ".dockerignore").write_text("secret.txt\n")
    (tmp_path / "secret.txt").write_text("do not ship\n")
    (tmp_path / "compose.yaml").write_text("""\
services:
  app:
    build:
      context: .
      target: release
      args: {FLAVOUR: vanilla}
    command: ["sleep", "600"]
    restart: on-failure:2
    deploy:
      resources:
        limits: {cpus: "0.5", memory: 64M}
""")
    result, _ = _deploy(provider, tmp_path)
    assert result.ok, result.model_dump_json(indent=1)
    (app,) = _containers(docker_api, normalize_project_name(tmp_path.name), "app").values()

    def sh(command: str) -> str:
        exec_id = docker_api.exec_create(app, ["sh", "-c", command])["Id"]
        return docker_api.exec_start(exec_id).decode().strip()

    assert sh("cat /flavour /stage") == "flavour=vanilla\nrelease"
    assert sh("ls /src") == "Dockerfile\ncompose.yaml"
    host = docker_api.inspect_container(app)["HostConfig"]
    assert (host["NanoCpus"], host["Memory"]) == (500_000_000, 64 << 20)
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}


def test_interrupted_deploy_is_repaired_by_the_next(provider, tmp_path) -> None:
    """A deploy cancelled midway leaves nothing the next deploy cannot bring to healthy."""
    three_tier(tmp_path)
    _set(provider, tmp_path, "API_TOKEN", SECRET)
    loaded = load(cwd=tmp_path, os_environ={})

    async def interrupted() -> None:
        with anyio.move_on_after(1.5):  # stops after the first containers are created
            await deploy(loaded, provider, stack="dev", options=DeployOptions(wait_timeout=60))

    anyio.run(interrupted)
    halfway = {s.name: s.state for s in anyio.run(ps.ps, provider, loaded.project, "dev")}
    assert halfway["web"] is not State.SERVICE_DEPLOYMENT_COMPLETED
    result, _ = _deploy(provider, tmp_path)
    assert result.ok, result.model_dump_json(indent=1)
    statuses = anyio.run(ps.ps, provider, loaded.project, "dev")
    assert {s.state for s in statuses} == {State.SERVICE_DEPLOYMENT_COMPLETED}
    assert all(s.replicas_running == 1 for s in statuses)


def test_follow_yields_new_lines(provider, tmp_path) -> None:
    """follow streams lines as services print them."""
    (tmp_path / "compose.yaml").write_text(f"""\
services:
  ticker:
    image: {BUSYBOX}
    command: ["sh", "-c", "i=0; while true; do echo tick $$i; i=$$((i+1)); sleep 0.3; done"]
""")
    result, _ = _deploy(provider, tmp_path)
    assert result.ok
    name = normalize_project_name(tmp_path.name)

    async def collect() -> list[str]:
        seen: list[str] = []
        with anyio.move_on_after(10):
            async for line in logs.follow(provider, name, "dev", LogQuery()):
                seen.append(line.text)
                if len(seen) >= 8:
                    break
        return seen

    seen = anyio.run(collect)
    assert len(seen) >= 8
    numbers = [int(text.split()[1]) for text in seen]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)


def test_service_removed_from_the_file_is_deleted(provider, tmp_path, docker_api) -> None:
    """A service dropped from the compose file is removed by the next deploy."""
    both = f"services:\n  a:\n    image: {BUSYBOX}\n    command: [sleep, '600']\n" \
           f"  b:\n    image: {BUSYBOX}\n    command: [sleep, '600']\n"
    (tmp_path / "compose.yaml").write_text(both)
    assert _deploy(provider, tmp_path)[0].ok
    (tmp_path / "compose.yaml").write_text(both.split("  b:")[0])
    result, _ = _deploy(provider, tmp_path)
    assert {c.service: c.action for c in result.changes} == {"a": "NOOP", "b": "DELETE"}
    assert _containers(docker_api, normalize_project_name(tmp_path.name), "b") == {}


def test_concurrent_deploys_of_one_stack_are_refused(provider, tmp_path) -> None:
    """While one deploy holds the (project, stack), a second fails saying who holds it."""
    (tmp_path / "compose.yaml").write_text(
        f"services:\n  slow:\n    image: {BUSYBOX}\n    command: [sleep, '600']\n"
        "    healthcheck: {test: [CMD, 'false'], interval: 1s, retries: 3}\n")
    loaded = load(cwd=tmp_path, os_environ={})
    errors: list[str] = []

    async def both() -> None:
        async def first() -> None:
            await deploy(loaded, provider, stack="dev", options=DeployOptions(wait_timeout=3))

        async def second() -> None:
            await anyio.sleep(0.5)
            try:
                await deploy(loaded, provider, stack="dev")
            except ProviderError as exc:
                errors.append(str(exc))
                offered.extend(action.operation for action in exc.actions)

        async with anyio.create_task_group() as group:
            group.start_soon(first)
            group.start_soon(second)

    offered: list[str] = []
    anyio.run(both)
    assert len(errors) == 1 and "another deploy of" in errors[0] and "deployment " in errors[0]
    assert offered == ["ps"]  # the refusal offers to follow the running deploy
    assert _deploy(provider, tmp_path)[0].deployment_id  # the lock is free again
