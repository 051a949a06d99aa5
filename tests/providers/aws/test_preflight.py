"""What AWS would refuse, found from the project and its config before anything is created."""

from __future__ import annotations

import shutil

import pytest

from launchdeck.compose.load import load
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
    image: redis:7.2
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


def test_check_refuses_naming_every_problem(project) -> None:
    loaded = load(cwd=str(project({"compose.yaml": REFUSED})), os_environ={})
    with pytest.raises(DeployRefused, match="4 problem\\(s\\) stop demo deploying to aws") as caught:
        preflight.check(loaded.project, "dev", {"POSTGRES_PASSWORD": "bad@password"})
    assert len(caught.value.findings) == 4 and "nothing was created" in caught.value.hint


def test_a_project_aws_accepts_has_no_finding(tmp_path) -> None:
    shutil.copytree(SHOP, tmp_path / "shop")
    loaded = load(cwd=str(tmp_path / "shop"), os_environ={})
    assert preflight.findings(loaded.project, "dev", SECRETS, loaded.where) == []
    preflight.check(loaded.project, "dev", SECRETS)
