"""The deployments and rollback tools, and logs by deployment and type, over MCP (stdio, the
SDK's client) on the real Docker Engine."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from launchdeck.compose.load import normalize_project_name
from testkit import BUSYBOX, DEBIAN
from tests.server.test_mcp import Seen, _data, _text, connect

SECRET = "mcp-hist-3c9e1a7f55d2"


def _write(root: Path, worker: str) -> None:
    (root / "compose.yaml").write_text(f"""\
services:
  worker:
    image: {worker}
    environment: [TOKEN]
    command: ["sh", "-c", "echo worker has $$TOKEN; sleep 600"]
""")


@pytest.fixture
def project(tmp_path: Path, docker_api, debian_image) -> Path:
    root = tmp_path / "app"
    root.mkdir()
    yield root
    label = {"label": [f"dev.launchdeck.project={normalize_project_name(root.name)}"]}
    for c in docker_api.containers(all=True, filters=label):
        docker_api.remove_container(c["Id"], force=True, v=True)
    for n in docker_api.networks(filters=label):
        docker_api.remove_network(n["Id"])


def _two_deploys(client, project: Path, where: dict):
    """v1 runs busybox, v2 the Debian image; their deployment ids."""
    async def run() -> list[str]:
        _write(project, BUSYBOX)
        assert _data(await client.call_tool("config_set", {**where, "name": "TOKEN",
                                                           "value": SECRET}))
        ids = []
        for image in (BUSYBOX, DEBIAN):
            _write(project, image)
            deployed = _data(await client.call_tool("deploy", {**where, "wait_seconds": 60}))
            assert deployed["ok"], deployed
            ids.append(deployed["deployment_id"])
        return ids
    return run()


def test_deployments_lists_and_shows_over_mcp(project: Path, tmp_path: Path) -> None:
    """deployments lists both deploys newest first and shows one with its timeline; logs
    gives a deployment's timeline and what its services printed (config value hidden)."""
    seen = Seen()
    where = {"working_directory": str(project)}

    async def scenario() -> None:
        async with connect("stdio", "legacy", seen, tmp_path / "state", None) as client:
            ids = await _two_deploys(client, project, where)
            listed = _data(await client.call_tool("deployments", where))
            assert [d["id"] for d in listed["deployments"]] == ids[::-1]
            shown = _data(await client.call_tool("deployments", {**where, "deployment": ids[0]}))
            assert shown["deployment"]["id"] == ids[0]
            assert any(m["state"] == "SERVICE_DEPLOYMENT_COMPLETED"
                       for m in shown["deployment"]["timeline"])
            timeline = _data(await client.call_tool("logs", {**where, "deployment_id": ids[0],
                                                             "type": "deploy"}))
            assert any("SERVICE_DEPLOYMENT_COMPLETED" in line["text"]
                       for line in timeline["lines"])
            run = _data(await client.call_tool("logs", {**where, "deployment_id": ids[1],
                                                        "type": "run"}))
            assert [line["text"] for line in run["lines"]] == ["worker has [config value]"]

    anyio.run(scenario)
    assert SECRET not in seen.text().replace(f'"value":"{SECRET}"', "")


def test_rollback_needs_the_users_yes_then_runs_the_earlier_image(project: Path,
                                                                  tmp_path: Path) -> None:
    """Without elicitation, rollback asks to confirm with the id; dry_run changes nothing;
    confirmed, the worker runs v1's image again and the history has three entries."""
    seen = Seen()
    where = {"working_directory": str(project)}

    async def scenario() -> None:
        async with connect("stdio", "legacy", seen, tmp_path / "state", None) as client:
            ids = await _two_deploys(client, project, where)
            unconfirmed = await client.call_tool("rollback", where)
            assert unconfirmed.is_error and f"confirm='{ids[0]}'" in _text(unconfirmed)
            preview = _data(await client.call_tool("rollback", {**where, "dry_run": True}))
            assert preview["preview"]["to"] == ids[0]
            assert {c["service"]: c["action"] for c in preview["preview"]["plan"]["changes"]} == \
                {"worker": "REPLACE"}
            assert len(_data(await client.call_tool("deployments", where))["deployments"]) == 2
            done = _data(await client.call_tool("rollback", {**where, "confirm": ids[0]}))
            assert done["ok"] and done["services"] == {"worker": "SERVICE_DEPLOYMENT_COMPLETED"}
            listed = _data(await client.call_tool("deployments", where))["deployments"]
            assert [(d["operation"], d["rollback_of"]) for d in listed] == \
                [("rollback", ids[0]), ("deploy", None), ("deploy", None)]
            assert listed[0]["images"]["worker"] == listed[2]["images"]["worker"]

    anyio.run(scenario)


def test_a_declined_rollback_changes_nothing(project: Path, tmp_path: Path) -> None:
    """With a client that asks the user, a no leaves the history as it was."""
    seen = Seen()
    where = {"working_directory": str(project)}

    async def scenario() -> None:
        async with connect("stdio", "legacy", seen, tmp_path / "state", None,
                           answer={"confirm": False}) as client:
            await _two_deploys(client, project, where)
            refused = await client.call_tool("rollback", where)
            assert refused.is_error and "did not confirm" in _text(refused)
            assert len(_data(await client.call_tool("deployments", where))["deployments"]) == 2

    anyio.run(scenario)
    assert any("Roll back" in m and "worker (REPLACE)" in m for m in seen.elicitations)
