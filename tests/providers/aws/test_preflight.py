"""What AWS would refuse, found from the project and its config before anything is created."""

from __future__ import annotations

import shutil

import anyio
import pytest

from launchdeck.compose.load import load
from launchdeck.engine import deploy as engine
from launchdeck.errors import DeployRefused
from launchdeck.providers.aws import preflight
from tests.providers.aws.conftest import SECRETS, SHOP

REFUSED = """\
name: demo
services:
  Web:
    image: nginx
    ports: ["80:8080"]
  web:
    image: nginx
    ports: ["81:8080"]
  db:
    image: postgres:16
    x-defang-postgres: true
    environment:
      POSTGRES_USER: admin
      POSTGRES_PASSWORD:
  cache:
    image: redis:4
    x-defang-redis: true
"""


def test_every_refusal_is_found_at_once_located_and_with_its_fix(project) -> None:
    loaded = load(cwd=str(project({"compose.yaml": REFUSED})), os_environ={})
    found = preflight.findings(loaded.project, "dev", {"POSTGRES_PASSWORD": "bad@password"}, loaded.where)
    assert [(f.field, f.line) for f in found] == [
        ("services.web", 6),
        ("services.db.environment.POSTGRES_USER", 13),
        ("services.db.environment.POSTGRES_PASSWORD", 14),
        ("services.cache.image", 16),
    ]
    assert all(f.severity == "error" and f.fix and f.file.endswith("compose.yaml") for f in found)
    assert "bad@password" not in "".join(str(f) for f in found)


def test_a_deploy_is_refused_naming_every_problem(project, provider) -> None:
    """The engine's preflight asks the provider for these findings and refuses with all of them
    (the clash of Web and web is the compose checks' to find, before)."""
    text = REFUSED.replace("  Web:\n    image: nginx\n    ports: [\"80:8080\"]\n", "")
    loaded = load(cwd=str(project({"compose.yaml": text})), os_environ={})
    anyio.run(provider.config_store("demo", "dev").set, "POSTGRES_PASSWORD", "bad@password")
    with pytest.raises(DeployRefused, match="3 problem\\(s\\) stop demo deploying to aws") as caught:
        anyio.run(lambda: engine.preflight(loaded, provider, stack="dev"))
    refused = [f for f in caught.value.findings if f.severity == "error"]
    assert len(refused) == 3 and "nothing was changed" in caught.value.hint
    assert "bad@password" not in str(caught.value)


def test_a_project_aws_accepts_has_no_finding(tmp_path) -> None:
    shutil.copytree(SHOP, tmp_path / "shop")
    loaded = load(cwd=str(tmp_path / "shop"), os_environ={})
    assert preflight.findings(loaded.project, "dev", SECRETS, loaded.where) == []
