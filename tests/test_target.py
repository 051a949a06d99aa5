"""Knowing where you deploy: the target named first, stacks pinned to their account, whoami,
and a server that cannot change anything."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from launchdeck.errors import UsageError
from launchdeck.providers.aws.api import Aws
from launchdeck.providers.aws.provider import AwsProvider
from launchdeck.tools.deploy import deploy
from launchdeck.tools.project import ProjectRef
from tests.providers.aws.conftest import aws_env, boto, calls, moto_server, strict  # noqa: F401

ACCOUNT = "123456789012"  # moto's
SIMPLE = """\
services:
  web:
    image: nginx
    deploy:
      resources:
        reservations: {memory: 256M}
"""


@pytest.fixture
def app(tmp_path: Path) -> Path:
    folder = tmp_path / "targetapp"
    folder.mkdir()
    (folder / "compose.yaml").write_text(SIMPLE)
    return folder


def _cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "launchdeck", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=300, check=False,
                          env={**os.environ, **(env or {})})


def test_the_cli_names_account_and_region_first(aws_env, app: Path) -> None:  # noqa: F811
    """A plan against AWS starts with the account, the caller and the region."""
    shown = _cli("compose", "plan", "--provider", "aws", cwd=app)
    assert shown.returncode == 0, shown.stderr
    first = shown.stderr.splitlines()[0]
    assert first.startswith("target: aws account 123456789012") and "in us-east-1" in first
    assert "arn:aws:" in first and "credentials: environment variables" in first


def test_a_stack_file_is_read_and_an_overriding_flag_says_so(app: Path) -> None:
    """--stack reads .launchdeck/NAME; a flag that overrides it is named in a note."""
    made = _cli("stack", "new", "staging", "--provider", "aws", "--region", "eu-west-1", cwd=app)
    assert made.returncode == 0, made.stderr
    assert (app / ".launchdeck" / "staging").read_text().splitlines()[1:] == [
        "LAUNCHDECK_PROVIDER=aws", "REGION=eu-west-1"]
    local = _cli("whoami", "--stack", "staging", "--provider", "local", cwd=app)
    assert local.returncode == 0, local.stderr
    assert local.stdout.startswith("local Docker Engine at ")
    assert "provider local (given) overrides aws from .launchdeck/staging" in local.stderr
    listed = _cli("stack", "ls", cwd=app)
    assert listed.stdout.split("\n")[1].split() == ["staging", "aws", "eu-west-1", "-", "-", "affordable"]


def test_a_stack_pinned_to_another_account_is_refused_with_no_change(
        aws_env, boto, calls, app: Path) -> None:  # noqa: F811
    """The stack deployed to 111111111111; moto's credentials reach 123456789012: refused,
    naming both, before any mutating call."""
    (app / ".launchdeck").mkdir()
    (app / ".launchdeck" / "dev").write_text("LAUNCHDECK_PROVIDER=aws\nACCOUNT=111111111111\n")
    ref = _aws_ref(app, boto)
    calls.clear()
    with pytest.raises(UsageError) as caught:
        anyio.run(lambda: deploy(ref))
    assert "111111111111" in str(caught.value) and ACCOUNT in str(caught.value)
    assert calls.mutating() == []


def test_a_first_deploy_records_the_account_in_the_stack(aws_env, boto, app: Path) -> None:  # noqa: F811
    """A stack made with `stack new` learns its account from its first deploy."""
    (app / ".launchdeck").mkdir()
    (app / ".launchdeck" / "dev").write_text("LAUNCHDECK_PROVIDER=aws\n")
    result = anyio.run(lambda: deploy(_aws_ref(app, boto), wait_seconds=60))
    assert result.ok and result.target.startswith(f"aws account {ACCOUNT}")
    assert f"ACCOUNT={ACCOUNT}" in (app / ".launchdeck" / "dev").read_text()


def _aws_ref(app: Path, session: Any) -> ProjectRef:
    ref = ProjectRef(working_directory=str(app))
    ref.__dict__["_provider"] = AwsProvider(Aws(session), poll=0.01)  # the recorded session
    return ref


def test_whoami_without_credentials_says_what_to_do(app: Path, tmp_path: Path) -> None:
    """No credentials anywhere: a clear error with the command to run, exit 1."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
               AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")
    shown = subprocess.run([sys.executable, "-m", "launchdeck", "whoami", "--provider", "aws"],
                           cwd=app, capture_output=True, text=True, timeout=120, env=env,
                           check=False)
    assert shown.returncode == 1
    assert "no AWS credentials found" in shown.stderr and "aws configure" in shown.stderr
    assert "Traceback" not in shown.stderr


def test_the_mcp_deploy_result_and_plan_name_the_account(aws_env, app: Path, tmp_path: Path) -> None:  # noqa: F811
    """Over MCP the plan and the deploy carry the target, and the first progress names it."""
    progress: list[str] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    async def scenario() -> tuple[dict, dict]:
        server = StdioServerParameters(command=sys.executable, args=["-m", "launchdeck", "mcp", "serve"],
                                       env={**os.environ, "LAUNCHDECK_STATE_DIR": str(tmp_path / "s")})
        async with Client(server, mode="legacy", read_timeout_seconds=120) as client:
            where = {"working_directory": str(app), "provider": "aws"}
            planned = await client.call_tool("deploy", {**where, "dry_run": True})
            done = await client.call_tool("deploy", where, progress_callback=on_progress)
            return planned.structured_content or {}, done.structured_content or {}

    planned, done = anyio.run(scenario)
    assert planned["target"].startswith(f"aws account {ACCOUNT}") and "us-east-1" in planned["target"]
    assert done["target"] == planned["target"] and done["ok"], done
    assert progress and progress[0] == f"target: {planned['target']}"


def test_a_read_only_server_offers_no_write_tool(app: Path, tmp_path: Path) -> None:
    """--read-only lists only tools that change nothing; a write tool is unknown; plan answers."""
    async def scenario() -> tuple[set[str], Any, Any]:
        server = StdioServerParameters(
            command=sys.executable, args=["-m", "launchdeck", "mcp", "serve", "--read-only"],
            env={**os.environ, "LAUNCHDECK_STATE_DIR": str(tmp_path / "s")})
        async with Client(server, mode="legacy", read_timeout_seconds=120) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            refused = [await client.call_tool(name, {"working_directory": str(app)})
                       for name in ("deploy", "destroy", "config_set")]
            planned = await client.call_tool("plan", {"working_directory": str(app)})
            return names, refused, planned

    names, refused, planned = anyio.run(scenario)
    assert names == {"ps", "logs", "config_list", "debug_failure", "plan", "estimate", "check",
                     "deployments"}
    assert all(r.is_error and "unknown tool" in r.content[0].text.lower() for r in refused)
    assert not planned.is_error
    assert [c["action"] for c in planned.structured_content["changes"]] == ["CREATE"]


def test_setup_writes_a_read_only_server(tmp_path: Path) -> None:
    """mcp setup --read-only adds --read-only to the server's arguments."""
    from launchdeck.server.setup import setup

    result = setup("cursor", home=tmp_path, read_only=True, argv=["launchdeck", "mcp", "serve"])
    data = json.loads(result.path.read_text())
    assert data["mcpServers"]["launchdeck"]["args"] == ["mcp", "serve", "--read-only"]


def test_the_stacks_resource_lists_the_project_stacks(app: Path, tmp_path: Path) -> None:
    """An agent can read which stacks a project has, and where each deploys, before acting."""
    (app / ".launchdeck").mkdir()
    (app / ".launchdeck" / "prod").write_text("LAUNCHDECK_PROVIDER=aws\nREGION=eu-west-1\n"
                                              "ACCOUNT=111111111111\n")

    async def scenario() -> list[dict]:
        server = StdioServerParameters(command=sys.executable, args=["-m", "launchdeck", "mcp", "serve"],
                                       env={**os.environ, "LAUNCHDECK_STATE_DIR": str(tmp_path / "s")})
        async with Client(server, mode="legacy", read_timeout_seconds=120) as client:
            read = await client.read_resource(f"launchdeck://stacks{app}")
            return json.loads(read.contents[0].text)

    (prod,) = anyio.run(scenario)
    assert (prod["name"], prod["provider"], prod["region"], prod["account"]) == (
        "prod", "aws", "eu-west-1", "111111111111")
