"""The Action's preview mode, in-process, on recorded pull_request events: a stack per pull
request on the real Docker Engine (and on the moto server), one comment kept on the pull
request through a local GitHub REST API that checks every request, gc of expired stacks, forks."""

from __future__ import annotations

import io
import json
import re
import secrets
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest

from launchdeck.ci import main
from launchdeck.github import Comments, GitHubError
from launchdeck.preview import is_preview, preview_number, stack_name
from launchdeck.providers.local.provider import LocalProvider
from launchdeck.providers.local.spec import PROJECT, STACK
from testkit import BUSYBOX
from testkit.github import GitHubApi
from tests.ci.runner import _read_pairs
from tests.ci.test_action import _run, installed  # noqa: F401 (fixture)
from tests.providers.aws.conftest import aws_env, moto_server  # noqa: F401 (fixtures)

EVENTS = Path(__file__).parent / "events"
TOKEN = "ghs_" + "t0k3n" * 7
GREETING = "hello-preview-5e1d9c3a7b"
REPOSITORY = "acme/shop"


@dataclass
class Step:
    code: int
    out: str
    err: str
    summary: str
    outputs: dict[str, str]

    def annotations(self, level: str) -> list[str]:
        return [line for line in self.out.splitlines() if line.startswith(f"::{level} ")]


def _event(tmp_path: Path, name: str, **changes: object) -> Path:
    """A recorded event payload, with ``changes`` to its pull request (e.g. another number)."""
    data = json.loads((EVENTS / name).read_text())
    for key, value in changes.items():
        data["pull_request"][key] = value
        if key == "number":
            data["number"] = value
    path = tmp_path / f"event-{secrets.token_hex(3)}.json"
    path.write_text(json.dumps(data))
    return path


def _step(workspace: Path, event: Path, api: GitHubApi | None, *, token: str = TOKEN,
          config: dict[str, str] | None = None, **inputs: str) -> Step:
    """One run of the action's preview step, as the runner would start it for ``event``."""
    files = workspace.parent / f"step-{secrets.token_hex(3)}"
    files.mkdir()
    env = {"GITHUB_WORKSPACE": str(workspace), "GITHUB_EVENT_NAME": "pull_request",
           "GITHUB_EVENT_PATH": str(event), "GITHUB_API_URL": api.url if api else "",
           "GITHUB_REPOSITORY": REPOSITORY, "GITHUB_OUTPUT": str(files / "output"),
           "GITHUB_STEP_SUMMARY": str(files / "summary"), "INPUT_COMMAND": "preview",
           "INPUT_PROVIDER": "local", "INPUT_GITHUB_TOKEN": token,
           **{f"CONFIG_{k}": v for k, v in (config if config is not None
                                            else {"GREETING": GREETING}).items()},
           **{f"INPUT_{k.upper()}": v for k, v in inputs.items()}}
    out, err = io.StringIO(), io.StringIO()
    code = main(env, out=out, err=err)
    read = {name: (files / name).read_text() if (files / name).exists() else ""
            for name in ("output", "summary")}
    return Step(code, out.getvalue(), err.getvalue(), read["summary"], _read_pairs(read["output"]))


def _compose(name: str, version: str) -> str:
    return f"""\
name: {name}
services:
  web:
    image: {BUSYBOX}
    command: ["sh", "-c", "echo {version} > /index.html; exec httpd -f -p 8080 -h /"]
    ports:
      - target: 8080
        mode: ingress
    environment:
      - GREETING
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://localhost:8080/index.html"]
      interval: 1s
      retries: 20
"""


@pytest.fixture
def app(tmp_path: Path, state: Path, docker_api):
    """A one-service project reading config GREETING, in a git checkout; whatever any stack of
    it left on the Docker Engine is removed after."""
    name = f"pv-{secrets.token_hex(4)}"
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "compose.yaml").write_text(_compose(name, "v1"))
    yield workspace
    label = {"label": [f"{PROJECT}={name}"]}
    for c in docker_api.containers(all=True, filters=label):
        docker_api.remove_container(c["Id"], force=True, v=True)
    for n in docker_api.networks(filters=label):
        docker_api.remove_network(n["Id"])
    for v in docker_api.volumes(filters=label).get("Volumes") or []:
        docker_api.remove_volume(v["Name"], force=True)


@pytest.fixture
def github():
    with GitHubApi(REPOSITORY, TOKEN) as api:
        yield api
    assert api.problems == [], api.problems


def _containers(docker_api, project: str, stack: str) -> list[dict]:
    return docker_api.containers(filters={"label": [f"{PROJECT}={project}", f"{STACK}={stack}"]})


def _name(workspace: Path) -> str:
    return (workspace / "compose.yaml").read_text().split("\n", 1)[0].removeprefix("name: ")


def test_a_pull_request_gets_one_preview_that_follows_it(app: Path, github: GitHubApi, tmp_path,
                                                         docker_api) -> None:
    """opened deploys pr-42 and writes one comment; synchronize updates the stack and edits that
    comment; closed removes the stack and its config and says so; every request carries the
    token, and no body holds the config value."""
    name = _name(app)
    subprocess.run(["git", "init", "-q", str(app)], check=True)
    subprocess.run(["git", "-C", str(app), "-c", "user.name=t", "-c", "user.email=t@e", "commit",
                    "-q", "--allow-empty", "-m", "start"], check=True)
    someone = github.add(42, "Looks good to me, once the preview is up.")

    opened = _step(app, _event(tmp_path, "pull_request.opened.json"), github)
    assert opened.code == 0, opened.out + opened.err
    assert opened.outputs["result"] == "deployed" and opened.outputs["stack"] == "pr-42"
    running = _containers(docker_api, name, "pr-42")
    assert len(running) == 1
    env = docker_api.inspect_container(running[0]["Id"])["Config"]["Env"]
    assert f"GREETING={GREETING}" in env
    assert any("not at the pull request's head a1f3c5e7b9d1" in w for w in opened.annotations("warning"))
    [ours] = [c for c in github.comments[42] if c["id"] != someone]
    assert [r.method for r in github.writes()] == ["POST"]
    assert github.writes()[0].path == f"/repos/{REPOSITORY}/issues/42/comments"
    first = ours["body"]
    assert first.startswith("<!-- launchdeck-preview local/pr-42/. -->\n")
    assert "`pr-42` (local): deployed" in first and "`a1f3c5e7b9d1`" in first
    assert opened.outputs["url"] in first and opened.outputs["deployment-id"] in first
    assert "| web | service | CREATE |" in first
    assert "#### Estimated cost" in first and "costs nothing" in first
    assert "launchdeck stack gc" in first and "7d after this push" in first

    (app / "compose.yaml").write_text(_compose(name, "v2"))
    synced = _step(app, _event(tmp_path, "pull_request.synchronize.json"), github)
    assert synced.code == 0, synced.out + synced.err
    assert synced.outputs["deployment-id"] != opened.outputs["deployment-id"]
    [after] = _containers(docker_api, name, "pr-42")
    assert "echo v2" in " ".join(docker_api.inspect_container(after["Id"])["Config"]["Cmd"])
    assert [r.method for r in github.writes()] == ["POST", "PATCH"]
    assert github.writes()[1].path == f"/repos/{REPOSITORY}/issues/comments/{ours['id']}"
    assert len(github.comments[42]) == 2  # someone's and ours, edited
    second = ours["body"]
    assert "`c4e6a8b0d2f4`" in second and synced.outputs["deployment-id"] in second
    assert "| web | service | REPLACE | command changed |" in second, second

    closed = _step(app, _event(tmp_path, "pull_request.closed.json"), github)
    assert closed.code == 0, closed.out + closed.err
    assert closed.outputs["result"] == "removed"
    assert _containers(docker_api, name, "pr-42") == []
    assert anyio.run(LocalProvider().config_store(name, "pr-42").names) == []
    assert [r.method for r in github.writes()] == ["POST", "PATCH", "PATCH"]
    assert "): removed" in ours["body"] and "was merged" in ours["body"]
    assert "1 config value(s)" in ours["body"]

    assert {r.authorization for r in github.requests} == {f"Bearer {TOKEN}"}
    for request in github.writes():
        assert GREETING not in json.dumps(request.body)
    for step in (opened, synced, closed):
        assert GREETING not in step.summary and GREETING not in json.dumps(step.outputs)


def test_a_value_a_failing_service_prints_stays_out_of_the_comment(
        app: Path, github: GitHubApi, tmp_path: Path) -> None:
    """A service that prints its config value and fails: the comment says it failed, names
    the service, and shows no value."""
    name = _name(app)
    (app / "compose.yaml").write_text(_compose(name, "v1").replace(
        'exec httpd -f -p 8080 -h /', 'echo \\"greeting is $$GREETING\\"; exit 3'))
    step = _step(app, _event(tmp_path, "pull_request.opened.json"), github)
    assert step.code == 1 and step.outputs["result"] == "failed"
    [comment] = github.comments[42]
    assert "failed (web)" in comment["body"] and "**web**: SERVICE_DEPLOYMENT_FAILED" in comment["body"]
    assert GREETING not in comment["body"] and GREETING not in step.summary


def test_an_expired_preview_is_collected_and_a_fresh_one_kept(app: Path, github: GitHubApi,
                                                              tmp_path: Path, docker_api) -> None:
    """pr-42 and pr-43 deployed with a ttl of 2s, pr-44 with 7d: after 2s, gc removes pr-42 and
    pr-43 (with their config values) and keeps pr-44. pr-42's comment is edited to say that its
    preview expired and was removed; pr-43's, deleted by someone, is not written again; pr-44's
    is left as it was."""
    name = _name(app)
    old = _step(app, _event(tmp_path, "pull_request.opened.json"), github, ttl="2s")
    gone = _step(app, _event(tmp_path, "pull_request.opened.json", number=43), github, ttl="2s")
    fresh = _step(app, _event(tmp_path, "pull_request.opened.json", number=44), github)
    assert old.code == 0 and gone.code == 0 and fresh.code == 0, old.out + gone.out + fresh.out
    assert len(_containers(docker_api, name, "pr-42")) == 1
    [comment] = github.comments[42]
    github.comments[43].clear()
    kept = github.bodies(44)
    writes = len(github.writes())
    time.sleep(2.5)
    gc = _step(app, _event(tmp_path, "pull_request.opened.json"), github, command="gc")
    assert gc.code == 0, gc.out + gc.err
    assert sorted(json.loads(gc.outputs["stacks"])) == ["pr-42", "pr-43"]
    assert gc.outputs["result"] == "removed"
    assert "removed pr-42" in gc.summary and "its config values too: GREETING" in gc.summary
    assert "the comment on #42 says so" in gc.summary and "#43" not in gc.summary
    assert _containers(docker_api, name, "pr-42") == []
    assert _containers(docker_api, name, "pr-43") == []
    assert len(_containers(docker_api, name, "pr-44")) == 1
    store = LocalProvider().config_store
    assert anyio.run(store(name, "pr-42").names) == []
    assert anyio.run(store(name, "pr-43").names) == []
    # the fresh one keeps its value, and the digest key its deploy made (engine/plan.py)
    assert sorted(anyio.run(store(name, "pr-44").names)) == ["GREETING", "LAUNCHDECK_DIGEST_KEY"]
    assert [(r.method, r.path) for r in github.writes()[writes:]] == [
        ("PATCH", f"/repos/{REPOSITORY}/issues/comments/{comment['id']}")]
    body = comment["body"]
    assert body.startswith("<!-- launchdeck-preview local/pr-42/. -->\n")
    assert "`pr-42` (local): expired and removed" in body
    assert old.outputs["deployment-id"] in body and "with 1 config value(s)" in body
    assert "Push to the pull request to deploy a new preview." in body
    assert GREETING not in body
    assert github.comments[43] == [] and github.bodies(44) == kept
    again = _step(app, _event(tmp_path, "pull_request.opened.json"), github, command="gc")
    assert again.outputs["result"] == "nothing-expired" and "has expired" in again.summary
    assert len(github.writes()) == writes + 1


def test_a_comment_gc_may_not_edit_is_a_warning(app: Path, github: GitHubApi,
                                                tmp_path: Path, docker_api) -> None:
    """gc whose token may not write comments still removes the expired preview; the refusal
    is a warning that names the permission, and the step succeeds."""
    name = _name(app)
    old = _step(app, _event(tmp_path, "pull_request.opened.json"), github, ttl="1s")
    assert old.code == 0, old.out + old.err
    github.writable = False
    time.sleep(1.5)
    gc = _step(app, _event(tmp_path, "pull_request.opened.json"), github, command="gc")
    assert gc.code == 0, gc.out + gc.err
    assert json.loads(gc.outputs["stacks"]) == ["pr-42"]
    assert _containers(docker_api, name, "pr-42") == []
    [warning] = [w for w in gc.annotations("warning") if "pull request comment" in w]
    assert "pull-requests: write" in warning and gc.annotations("error") == []
    assert "could not be written (GitHub answered 403)" in gc.summary
    assert "says so" not in gc.summary


@pytest.mark.parametrize("writable", [False, True], ids=["read-only token", "token may comment"])
def test_a_fork_deploys_nothing(app: Path, tmp_path: Path, state: Path, docker_api,
                                writable: bool) -> None:
    """A fork's pull request (no secrets: CONFIG_* empty) deploys and stores nothing; the
    summary says why, and so does a comment when the token may write one."""
    with GitHubApi(REPOSITORY, TOKEN, writable=writable) as github:
        step = _step(app, _event(tmp_path, "pull_request.opened.fork.json"), github,
                     config={"GREETING": ""})
    assert step.code == 0, step.out + step.err
    assert step.outputs["result"] == "skipped" and step.outputs["stack"] == "pr-43"
    assert "comes from the fork `mallory/shop`" in step.summary and "no secrets" in step.summary
    assert docker_api.containers(all=True, filters={"label": [f"{PROJECT}={_name(app)}"]}) == []
    assert not state.exists() or not any(state.rglob("*.json"))
    if writable:
        [comment] = github.comments[43]
        assert "not deployed" in comment["body"] and "mallory/shop" in comment["body"]
        assert step.annotations("warning") == []
    else:
        assert github.comments.get(43, []) == [] and [r.status for r in github.writes()] == [403]
        assert "GitHub answered 403" in step.summary
        assert any("pull-requests: write" in w for w in step.annotations("warning"))
    assert step.annotations("error") == []


@pytest.mark.parametrize(("token", "writable", "repository", "status", "says"), [
    ("ghs_not-the-token", True, REPOSITORY, 401, "The token is not valid"),
    (TOKEN, False, REPOSITORY, 403, "permissions: pull-requests: write"),
    (TOKEN, True, "acme/another", 404, "cannot see this repository or pull request"),
])
def test_a_refused_comment_says_which_permission_to_add(app: Path, tmp_path: Path, state: Path,
                                                        token: str, writable: bool,
                                                        repository: str, status: int,
                                                        says: str) -> None:
    """A token GitHub refuses fails the step with an annotation that says what to change (no
    traceback); closing a pull request that has no preview writes nothing."""
    with GitHubApi(repository, TOKEN, writable=writable) as github:
        github.add(42, "<!-- launchdeck-preview local/pr-42/. -->\nold")
        step = _step(app, _event(tmp_path, "pull_request.closed.json"), github, token=token)
    expected = {401: [f"GET /repos/{REPOSITORY}/issues/42/comments: Authorization 'Bearer ghs_n'"],
                403: [], 404: [f"unexpected GET /repos/{REPOSITORY}/issues/42/comments"]}
    assert github.problems == expected[status]
    assert step.code == 1
    [error] = step.annotations("error")
    assert f"({status}" in error and says in error
    assert "Traceback" not in step.out + step.err
    assert github.bodies(42) == ["<!-- launchdeck-preview local/pr-42/. -->\nold"]


def test_comments_are_found_across_pages() -> None:
    """The marked comment is found on a later page (GitHub's Link header), and edited there."""

    async def put() -> int | None:
        async with Comments(REPOSITORY, TOKEN, api=github.url) as comments:
            return await comments.put(7, "<!-- mark -->", "new")

    with GitHubApi(REPOSITORY, TOKEN) as github:
        for index in range(120):
            github.add(7, f"comment {index}")
        marked = github.add(7, "<!-- mark -->\nold")
        assert anyio.run(put) == marked
    assert github.bodies(7)[-1] == "<!-- mark -->\nnew" and len(github.bodies(7)) == 121
    assert [r.query.get("page") for r in github.requests if r.method == "GET"] == \
        [None, ["2"]]
    assert github.problems == []


def test_an_unreachable_api_is_a_clear_error() -> None:
    """No answer from GITHUB_API_URL is a GitHubError naming it, not an httpx traceback."""

    async def put() -> None:
        async with Comments(REPOSITORY, TOKEN, api="http://127.0.0.1:9") as comments:
            await comments.put(7, "<!-- mark -->", "new")

    with pytest.raises(GitHubError, match="did not answer") as caught:
        anyio.run(put)
    assert "GITHUB_API_URL" in caught.value.hint


@pytest.mark.parametrize(("template", "number", "stack"), [
    ("pr-{number}", 42, "pr-42"), ("preview-{number}-web", 7, "preview-7-web"),
    ("pr{number}-{number}", 5, "pr5-5")])
def test_each_pull_request_has_its_own_stack(template: str, number: int, stack: str) -> None:
    """The preview-stack input names one stack per number, and gc knows them by it (and
    which pull request's comment to edit)."""
    assert stack_name(template, number) == stack
    assert is_preview(template, stack) and not is_preview(template, "dev")
    assert stack_name(template, number + 1) != stack
    assert preview_number(template, stack) == number
    assert preview_number(template, "dev") is None and preview_number("dev", "dev") is None
    assert preview_number(template, stack + "0x") is None


@pytest.mark.parametrize(("inputs", "says"), [
    ({"preview_stack": "previews"}, "has no {number}"),
    ({"preview_stack": "PR_{number}"}, "invalid stack name"),
    ({"ttl": "forever"}, "cannot read the time to live"),
])
def test_bad_preview_inputs_are_refused_before_anything(app: Path, tmp_path: Path, state: Path,
                                                         inputs: dict[str, str], says: str) -> None:
    """A stack name every pull request would share, or a bad ttl: an error, nothing done."""
    step = _step(app, _event(tmp_path, "pull_request.opened.json"), None, **inputs)
    assert step.code == 1 and any(says in e for e in step.annotations("error")), step.out
    assert not state.exists() or not any(state.rglob("*.json"))


def test_preview_outside_a_pull_request_is_refused(app: Path, tmp_path: Path) -> None:
    """On a push event, preview says to run it on pull_request."""
    event = tmp_path / "push.json"
    event.write_text(json.dumps({"ref": "refs/heads/main"}))
    out = io.StringIO()
    code = main({"GITHUB_WORKSPACE": str(app), "GITHUB_EVENT_NAME": "push",
                 "GITHUB_EVENT_PATH": str(event), "INPUT_COMMAND": "preview",
                 "INPUT_PROVIDER": "local"}, out=out, err=io.StringIO())
    assert code == 1 and "preview runs on pull_request events, not on 'push'" in out.getvalue()



API_KEY = "sk-preview-2b4d6f8a0c1e"


def test_a_preview_on_aws_is_priced_updated_and_removed(aws_env, tmp_path: Path) -> None:  # noqa: F811
    """Against moto: opened deploys pr-42 (its API_KEY in SSM) and the comment carries the load
    balancer's URL and a priced estimate; synchronize updates the service in place and edits
    the comment; closed removes the stack and its parameters."""
    from launchdeck.providers.aws import names
    from testkit import aws as T

    workspace = tmp_path / "workspace"
    workspace.mkdir()
    compose = workspace / "compose.yaml"
    text = ("name: tiny\nservices:\n  api:\n    image: nginx:1.27\n"
            "    ports: [{target: 80, mode: ingress}]\n    environment: [API_KEY]\n")
    compose.write_text(text)
    with GitHubApi(REPOSITORY, TOKEN) as github:
        opened = _step(workspace, _event(tmp_path, "pull_request.opened.json"), github,
                       config={"API_KEY": API_KEY}, provider="aws")
        assert opened.code == 0, opened.out + opened.err
        session = T.session()
        ssm, ecs = session.client("ssm"), session.client("ecs")
        stored = ssm.get_parameter(Name="/launchdeck/tiny/pr-42/API_KEY", WithDecryption=True)
        assert stored["Parameter"]["Value"] == API_KEY
        [comment] = github.comments[42]
        assert "`pr-42` (aws): deployed" in comment["body"]
        assert opened.outputs["url"] and opened.outputs["url"] in comment["body"]
        assert re.search(r"About \*\*\d+\.\d\d USD a month\*\* in us-east-1", comment["body"])

        compose.write_text(text.replace("nginx:1.27", "nginx:1.28"))
        synced = _step(workspace, _event(tmp_path, "pull_request.synchronize.json"), github,
                       config={"API_KEY": API_KEY}, provider="aws")
        assert synced.code == 0, synced.out + synced.err
        assert "| api | service | UPDATE |" in comment["body"], comment["body"]
        api = names.Names.fresh("tiny", "pr-42").service("api")  # pr-42 has a dash: a marked name
        [service] = ecs.describe_services(cluster="launchdeck", services=[api])["services"]
        image = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])[
            "taskDefinition"]["containerDefinitions"][0]["image"]
        assert image == "nginx:1.28"

        closed = _step(workspace, _event(tmp_path, "pull_request.closed.json"), github,
                       config={"API_KEY": API_KEY}, provider="aws")
        assert closed.code == 0, closed.out + closed.err
        assert "): removed" in comment["body"] and len(github.comments[42]) == 1
    assert ssm.get_parameters_by_path(Path="/launchdeck/tiny/pr-42", Recursive=True)["Parameters"] == []
    active = ecs.describe_services(cluster="launchdeck", services=[api])["services"]
    assert all(s["status"] != "ACTIVE" for s in active)
    for step in (opened, synced, closed):
        assert API_KEY not in step.summary + json.dumps(step.outputs)
    assert all(API_KEY not in json.dumps(r.body) for r in github.requests)


def test_action_yml_hands_the_preview_inputs_and_the_job_token_over(installed: Path,  # noqa: F811
                                                                    app: Path, tmp_path: Path) -> None:
    """Through action.yml's steps in the simulated runner: preview-stack reaches the step, and
    github-token defaults to the job's token (the comment is written with it)."""
    with GitHubApi(REPOSITORY, TOKEN) as github:
        run = _run(installed, app, {"command": "preview", "provider": "local",
                                    "preview-stack": "preview-{number}-web"},
                   env={"GITHUB_TOKEN": TOKEN, "GITHUB_EVENT_NAME": "pull_request",
                        "GITHUB_EVENT_PATH": str(_event(tmp_path, "pull_request.opened.fork.json")),
                        "GITHUB_API_URL": github.url, "CONFIG_GREETING": ""})
    assert run.ok, run.log
    assert run.outputs["result"] == "skipped" and run.outputs["stack"] == "preview-43-web"
    assert [(r.method, r.authorization) for r in github.requests] == \
        [("GET", f"Bearer {TOKEN}"), ("POST", f"Bearer {TOKEN}")]
    assert "`preview-43-web` (local): not deployed" in github.bodies(43)[0]
    assert github.problems == []


def test_a_body_longer_than_github_takes_is_cut_short() -> None:
    """A comment over GitHub's 65536 characters is cut, saying where the rest is; the marker
    stays first, so the next run still finds it."""

    async def put() -> int | None:
        async with Comments(REPOSITORY, TOKEN, api=github.url) as comments:
            return await comments.put(7, "<!-- mark -->", "| x |\n" * 20_000)

    with GitHubApi(REPOSITORY, TOKEN) as github:
        anyio.run(put)
        anyio.run(put)
    [body] = github.bodies(7)
    assert len(body) == 65_536 and body.startswith("<!-- mark -->\n")
    assert body.endswith("(cut short: the job's summary has the rest)\n")
    assert [r.method for r in github.writes()] == ["POST", "PATCH"]
