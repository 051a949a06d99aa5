"""Finding, reading, interpolating and merging a project as Docker Compose does."""

from __future__ import annotations

from pathlib import Path

import pytest

from launchdeck.compose import load
from launchdeck.compose.source import parse_yaml
from launchdeck.errors import ComposeError

WEB = "services:\n  web:\n    image: nginx\n"


def test_finds_compose_file_in_a_parent_directory(project) -> None:
    """Run from a subdirectory, the project's compose.yaml is found as Compose finds it."""
    root = project({"docker-compose.yml": WEB, "src/app/main.py": ""})
    loaded = load(cwd=root / "src" / "app", os_environ={})
    assert loaded.project.name == root.name.lower().replace(".", "")
    assert loaded.project.working_dir == str(root)


def test_prefers_compose_yaml_over_docker_compose_yml(project) -> None:
    """compose.yaml wins when several candidate names exist."""
    root = project({"compose.yaml": WEB, "docker-compose.yml": "services:\n  db:\n    image: pg\n"})
    assert list(load(cwd=root, os_environ={}).project.services) == ["web"]


def test_reads_override_file_next_to_the_default(project) -> None:
    """compose.override.yaml is merged over compose.yaml when no -f is given."""
    root = project({"compose.yaml": WEB,
                    "compose.override.yaml": "services:\n  web:\n    image: httpd\n"})
    assert load(cwd=root, os_environ={}).project.services["web"].image == "httpd"


def test_no_compose_file_says_what_to_do(tmp_path: Path) -> None:
    """Without any compose file the error names the directory and how to give one."""
    with pytest.raises(ComposeError) as caught:
        load(cwd=tmp_path, os_environ={})
    assert "no compose file found" in str(caught.value)
    assert "-f" in caught.value.hint


def test_stack_env_file_overrides_dot_env(project) -> None:
    """.env.<stack> is read after .env, so the stack's values win."""
    root = project({"compose.yaml": "services:\n  web:\n    image: nginx:${TAG}\n",
                    ".env": "TAG=1\n", ".env.prod": "TAG=2\n"})
    assert load(cwd=root, stack="prod", os_environ={}).project.services["web"].image == "nginx:2"
    assert load(cwd=root, stack="dev", os_environ={}).project.services["web"].image == "nginx:1"


def test_only_compose_variables_come_from_the_os_environment(project) -> None:
    """A shell variable does not leak into the project; COMPOSE_* ones do."""
    root = project({"compose.yaml": "services:\n  web:\n    image: nginx:${TAG}\n"
                                    "    profiles: [p]\n"})
    loaded = load(cwd=root, os_environ={"TAG": "from-shell", "COMPOSE_PROFILES": "p",
                                        "COMPOSE_PROJECT_NAME": "envname"})
    web = loaded.project.services["web"]
    assert web.image == "nginx:${TAG}"
    assert loaded.project.name == "envname"


def test_undefined_variable_in_environment_is_a_config_reference(project) -> None:
    """${PW} with no definition stays a reference and is listed as required config."""
    root = project({"compose.yaml": "services:\n  web:\n    image: nginx\n    environment:\n"
                                    "      URL: pg://app:${PW}@db/app\n      TOKEN:\n"
                                    "      PLAIN: $$keep\n"})
    web = load(cwd=root, os_environ={}).project.services["web"]
    assert web.environment["URL"] == "pg://app:${PW}@db/app"
    assert web.env_refs == {"URL": ("PW",)}
    assert web.environment["PLAIN"] == "$keep"
    assert web.required_config() == {"PW", "TOKEN"}


def test_references_carry_their_location(project) -> None:
    """Each unresolved reference knows the file and line it was written on."""
    root = project({"compose.yaml": "services:\n  web:\n    image: nginx\n    build:\n"
                                    "      context: .\n      args:\n        KEY: ${SECRET}\n"})
    (ref,) = load(cwd=root, os_environ={}).references
    assert (ref.names, ref.file, ref.line) == (("SECRET",), "compose.yaml", 7)


def test_yaml_is_read_as_yaml_1_2(project) -> None:
    """yes/on/80:80 stay strings, as Compose reads them."""
    doc = parse_yaml("a: yes\nb: on\nc: 80:80\nd: 0o17\ne: 1_000\nf: 2024-01-01\n", "f.yaml")
    assert dict(doc) == {"a": "yes", "b": "on", "c": "80:80", "d": 15, "e": "1_000",
                         "f": "2024-01-01"}


def test_merge_keeps_the_line_of_the_file_that_set_a_key(project) -> None:
    """After a merge, a key's location is in the file that set it last."""
    root = project({"compose.yaml": WEB + "    ports: [\"80\"]\n",
                    "prod.yaml": "services:\n  web:\n    image: httpd\n"})
    loaded = load(["compose.yaml", "prod.yaml"], cwd=root, os_environ={})
    assert loaded.where(("services", "web", "image")) == ("prod.yaml", 3)
    assert loaded.where(("services", "web", "ports", 0)) == ("compose.yaml", 4)


def test_env_file_values_are_merged_under_environment(project) -> None:
    """env_file values come first and environment overrides them."""
    root = project({"compose.yaml": WEB + "    env_file: [a.env]\n    environment: {B: two}\n",
                    "a.env": "A=1\nB=1\n"})
    assert load(cwd=root, os_environ={}).project.services["web"].environment == {"A": "1",
                                                                                 "B": "two"}


def test_extensions_are_kept_and_both_prefixes_accepted(project) -> None:
    """x-launchdeck-* means the same as x-defang-*; unknown x- keys survive."""
    root = project({"compose.yaml": "services:\n  db:\n    image: postgres:16\n"
                                    "    x-launchdeck-postgres: {allow-downtime: true}\n"
                                    "    x-team: payments\nx-anything: 1\n"})
    project_ = load(cwd=root, os_environ={}).project
    db = project_.services["db"]
    assert db.managed_store == "postgres"
    assert db.postgres is not None and db.postgres.allow_downtime is True
    assert db.extensions == {"x-team": "payments"}
    assert project_.to_compose()["x-anything"] == 1


def test_cli_project_name_is_validated(project) -> None:
    """An explicit project name must already be normalised."""
    root = project({"compose.yaml": WEB})
    with pytest.raises(ComposeError, match="invalid project name 'Bad Name'"):
        load(cwd=root, project_name="Bad Name", os_environ={})


def test_extends_from_another_file_rebases_paths_and_keeps_locations(project) -> None:
    """A service extended from another file gets its paths and its file:line locations."""
    root = project({
        "compose.yaml": "services:\n  web:\n    extends: {file: lib/base.yaml, service: base}\n"
                        "    environment: {MODE: prod}\n",
        "lib/base.yaml": "services:\n  base:\n    build: ./app\n    hostname: web1\n"
                         "    environment: {MODE: dev, LEVEL: info}\n",
    })
    loaded = load(cwd=root, os_environ={})
    web = loaded.project.services["web"]
    assert web.build is not None and web.build.context == str(root / "lib" / "app")
    assert web.environment == {"MODE": "prod", "LEVEL": "info"}
    assert loaded.where(("services", "web", "hostname")) == ("lib/base.yaml", 4)
