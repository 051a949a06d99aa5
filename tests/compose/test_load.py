"""Finding, reading, interpolating and merging a project as Docker Compose does."""

from __future__ import annotations

from pathlib import Path

import pytest

from launchdeck.compose import load
from launchdeck.compose.model import split_words
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


def test_a_variable_is_one_config_value_only_when_nothing_else_is_in_it(project) -> None:
    """`config_ref`: TOKEN: and ${KEY} alone are those config values; mixed or plain text is none."""
    root = project({"compose.yaml": "services:\n  web:\n    image: nginx\n    environment:\n"
                                    "      TOKEN:\n      KEY: ${API_KEY}\n      URL: pg://app:${PW}@db/app\n"
                                    "      PLAIN: text\n      TWO: ${A}${B}\n"})
    web = load(cwd=root, os_environ={}).project.services["web"]
    assert {key: web.config_ref(key) for key in web.environment} == {
        "TOKEN": "TOKEN", "KEY": "API_KEY", "URL": None, "PLAIN": None, "TWO": None}


def test_a_healthcheck_names_the_local_path_it_fetches_on_a_port(project) -> None:
    """`local_path`: the path of a localhost URL on that port (no port: 80), else None."""
    root = project({"compose.yaml": "services:\n  web:\n    image: nginx\n    healthcheck:\n"
                                    "      test: [CMD, curl, -f, 'http://localhost:8080/up?x=1',"
                                    " 'http://127.0.0.1']\n"})
    health = load(cwd=root, os_environ={}).project.services["web"].healthcheck
    assert (health.local_path(8080), health.local_path(80), health.local_path(9000)) == ("/up?x=1", "/", None)


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


def test_null_top_level_entries_load(project) -> None:
    """`volumes: {db-data: }` and friends take every default, as in Compose."""
    root = project({"compose.yaml": "services:\n  db:\n    image: postgres\n"
                                    "    volumes: [db-data:/var/lib/postgresql/data]\n"
                                    "    networks: [back]\nvolumes:\n  db-data:\nnetworks:\n"
                                    "  back:\n  default:\nsecrets:\n  token:\nconfigs:\n  conf:\n"})
    project_ = load(cwd=root, os_environ={}).project
    assert project_.volumes["db-data"].name == f"{project_.name}_db-data"
    assert project_.networks["back"].name == f"{project_.name}_back"
    assert (project_.secrets, project_.configs) == ({"token": {}}, {"conf": {}})


def test_a_null_entry_in_a_later_file_resets_a_volume(project) -> None:
    """A volume or network left empty by the override file takes every default again, as
    the merged entry is null before it is filled."""
    root = project({"compose.yaml": "services:\n  db:\n    image: postgres\n"
                                    "    volumes: [data:/d]\n    networks: [back]\n"
                                    "volumes:\n  data:\n    driver: nfs\n"
                                    "networks:\n  back:\n    driver: overlay\n",
                    "compose.override.yaml": "volumes:\n  data:\nnetworks:\n  back:\n"})
    project_ = load(cwd=root, os_environ={}).project
    assert "driver" not in (project_.volumes["data"].model_extra or {})
    assert "driver" not in (project_.networks["back"].model_extra or {})


def test_model_provider_service_is_modelled(project) -> None:
    """provider: {type: model} is typed, names its model, and keeps its x- keys."""
    root = project({"compose.yaml": "services:\n  ai-runner:\n    provider:\n      type: model\n"
                                    "      options: {model: ai/smollm2, context-size: 1024}\n"
                                    "    x-defang-llm: true\n"
                                    "  chat:\n    image: chat\n    depends_on: [ai-runner]\n"})
    project_ = load(cwd=root, os_environ={}).project
    runner = project_.services["ai-runner"]
    assert runner.model_provider == "ai/smollm2"
    assert runner.provider is not None and runner.provider.options["context-size"] == ["1024"]
    assert runner.llm is not None and runner.networks == {}
    assert project_.services["chat"].model_provider is None


def test_model_environment_of_a_dependent_service(project) -> None:
    """A service depending on a model service gets <NAME>_URL and <NAME>_MODEL, `-` made `_`."""
    root = project({"compose.yaml": "services:\n  ai-runner:\n    provider:\n      type: model\n"
                                    "      options: {model: ai/smollm2}\n"
                                    "  chat:\n    image: chat\n    depends_on: [ai-runner]\n"
                                    "  other:\n    image: x\n"})
    project_ = load(cwd=root, os_environ={}).project
    endpoints = {"ai-runner": "http://gateway:4000/v1/"}
    assert project_.model_environment("chat", endpoints) == {
        "AI_RUNNER_URL": "http://gateway:4000/v1/", "AI_RUNNER_MODEL": "ai/smollm2"}
    assert project_.model_environment("other", endpoints) == {}
    assert project_.model_environment("chat", {}) == {}


@pytest.mark.parametrize("name", ["ok\n", "ok\n\n", "Ok", "-ok", "ok name"])
def test_project_name_must_match_whole(project, name: str) -> None:
    """A project name with a trailing newline (or any other stray character) is refused."""
    root = project({"compose.yaml": WEB})
    with pytest.raises(ComposeError, match="invalid project name"):
        load(cwd=root, project_name=name, os_environ={})


def test_include_short_syntax_reads_the_included_project(project) -> None:
    """An included file's services join the project; its paths and .env are its own."""
    root = project({
        "compose.yaml": "include:\n  - lib/compose.yaml\nservices:\n  web:\n    image: nginx:${TAG}\n"
                        "    depends_on: [api]\n",
        ".env": "TAG=main\n",
        "lib/compose.yaml": "services:\n  api:\n    build: ./app\n    image: api:${TAG}-${LIB}\n"
                            "    env_file: api.env\n    volumes: [./data:/data, cache:/cache]\n"
                            "volumes:\n  cache:\n",
        "lib/.env": "TAG=lib\nLIB=one\n",
        "lib/api.env": "X=1\n",
    })
    loaded = load(cwd=root, os_environ={})
    api = loaded.project.services["api"]
    assert api.image == "api:main-one"  # the including project's variables win
    assert api.build is not None and api.build.context == str(root / "lib" / "app")
    assert api.volumes[0].source == str(root / "lib" / "data")
    assert api.environment == {"X": "1"}
    assert "cache" in loaded.project.volumes
    assert loaded.where(("services", "api", "image")) == ("lib/compose.yaml", 4)


def test_include_long_syntax_with_project_directory_and_env_file(project) -> None:
    """path lists merge in order; project_directory anchors paths; env_file gives variables."""
    root = project({
        "compose.yaml": "include:\n  - path: [db/base.yaml, db/prod.yaml]\n"
                        "    project_directory: db\n    env_file: db.env\n"
                        "services:\n  web:\n    image: nginx\n",
        "db.env": "PG=16\n",
        "db/base.yaml": "services:\n  db:\n    image: postgres:${PG}\n    volumes: [./init:/init]\n",
        "db/prod.yaml": "services:\n  db:\n    restart: always\n",
    })
    db = load(cwd=root, os_environ={}).project.services["db"]
    assert (db.image, db.restart) == ("postgres:16", "always")
    assert db.volumes[0].source == str(root / "db" / "init")


def test_include_of_an_identical_definition_is_no_conflict(project) -> None:
    """A resource defined the same way in both files is fine, as in Compose."""
    root = project({"compose.yaml": "include: [other.yaml]\nservices:\n  web:\n    image: nginx\n"
                                    "volumes:\n  data:\n",
                    "other.yaml": "services:\n  api:\n    image: x\n    volumes: [data:/d]\n"
                                  "volumes:\n  data:\n"})
    assert set(load(cwd=root, os_environ={}).project.services) == {"web", "api"}


def test_merge_keys_of_merge_keys_stay_bounded(project) -> None:
    """Twenty levels of `<<: [*a, *a]` load (PyYAML would otherwise double them at each level)."""
    levels = "".join(f"x-{i + 1}: &l{i + 1} {{<<: [*l{i}, *l{i}], k{i + 1}: v}}\n" for i in range(20))
    root = project({"compose.yaml": "x-0: &l0 {k0: v}\n" + levels + WEB})
    assert load(cwd=root, os_environ={}).project.to_compose()["x-20"]["k0"] == "v"


@pytest.mark.parametrize("target", ["compose.yaml", "app.env", "base.yaml"])
def test_symlink_loops_are_located_errors(project, target: str) -> None:
    """A compose file, env_file or extends file that is a symlink loop gives a clear error."""
    files = {"compose.yaml": WEB, "app.env": "A=1\n", "base.yaml": WEB}
    if target == "app.env":
        files["compose.yaml"] = WEB + "    env_file: app.env\n"
    if target == "base.yaml":
        files["compose.yaml"] = "services:\n  web:\n    extends: {file: base.yaml, service: web}\n"
    root = project({k: v for k, v in files.items() if k != target})
    (root / target).symlink_to(root / "loop")
    (root / "loop").symlink_to(root / target)
    with pytest.raises(ComposeError) as caught:
        load(["compose.yaml"], cwd=root, os_environ={})
    assert "symlink loop" in str(caught.value)
    assert target == "compose.yaml" or "compose.yaml:" in str(caught.value)


def test_working_directory_symlink_loop(tmp_path: Path) -> None:
    """-C naming a symlink loop says so and what to do."""
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(ComposeError) as caught:
        load(cwd=tmp_path / "a", os_environ={})
    assert "symlink loop" in str(caught.value) and "-C" in caught.value.hint


@pytest.mark.parametrize(("name", "reason"), [("a\0b.yaml", "NUL character"),
                                              ("c" * 300 + ".yaml", "too long")])
def test_bad_compose_file_names(project, name: str, reason: str) -> None:
    """-f with a NUL byte or an over-long name is refused with the reason."""
    root = project({"compose.yaml": WEB})
    with pytest.raises(ComposeError, match=reason):
        load([name], cwd=root, os_environ={})


_AS_NOBODY = """
import os, sys
from launchdeck.compose import load, schema
from launchdeck.errors import LaunchdeckError
schema._validator()  # everything imported first: nobody may not read the interpreter's files
os.setgid(65534); os.setuid(65534)
try:
    load(sys.argv[2:], cwd=sys.argv[1], os_environ={})
except LaunchdeckError as exc:
    print(exc); sys.exit(1)
print("loaded")
"""


@pytest.mark.parametrize(("locked", "files", "reason"), [
    ("compose.yaml", [], "compose.yaml: cannot read the file: permission denied"),
    ("app.env", [], "compose.yaml:4: services.web.env_file[0]: cannot read env file app.env: "
                    "permission denied"),
    ("sub", ["sub/compose.yaml"], "cannot use compose file sub/compose.yaml: permission denied"),
    (".", [], "cannot look for compose.yaml in"),
])
def test_unreadable_files_and_directories(project, locked: str, files: list[str],
                                          reason: str) -> None:
    """Run as nobody (tests run as root), a file or directory it cannot read is a clear error."""
    import subprocess
    import sys

    root = project({"compose.yaml": WEB + "    env_file: app.env\n", "app.env": "A=1\n",
                    "sub/compose.yaml": WEB})
    root.chmod(0o755)
    for parent in root.parents:  # nobody must reach the project to be refused inside it
        if parent.stat().st_mode & 0o001 == 0:
            parent.chmod(parent.stat().st_mode | 0o001)
    (root / locked).chmod(0o000)
    result = subprocess.run([sys.executable, "-c", _AS_NOBODY, str(root), *files],
                            capture_output=True, text=True, timeout=60,
                            cwd=Path(__file__).parent.parent.parent)
    assert result.returncode == 1, result.stdout + result.stderr
    assert reason in result.stdout
    assert "Traceback" not in result.stderr


def test_merge_tags_work_in_a_service_named_like_an_extension(project) -> None:
    """A service named x-ray is a service, not an extension: !reset works in it."""
    root = project({"compose.yaml": "services:\n  x-ray:\n    image: x\n    ports: ['80']\n",
                    "prod.yaml": "services:\n  x-ray:\n    ports: !reset []\n"})
    assert load(["compose.yaml", "prod.yaml"], cwd=root, os_environ={}).project.services[
        "x-ray"].ports == []


# Compose as Compose reads it (issue 27): one regression test per kind of difference.

def test_a_bare_environment_key_takes_its_value_from_dot_env(project) -> None:
    """`environment: [POSTGRES_USER]` with POSTGRES_USER in .env (or .env.<stack>) is that
    value, as Compose passes it; a key neither defines stays a config reference."""
    root = project({"compose.yaml": WEB + "    environment: [POSTGRES_USER, STACKED, TOKEN]\n",
                    ".env": "POSTGRES_USER=app\n", ".env.prod": "STACKED=prod-only\n"})
    web = load(cwd=root, stack="prod", os_environ={"COMPOSE_X": "shell"}).project.services["web"]
    assert web.environment == {"POSTGRES_USER": "app", "STACKED": "prod-only", "TOKEN": None}
    assert web.required_config() == {"TOKEN"}


def test_a_bare_environment_key_is_never_read_from_the_shell(project) -> None:
    """A bare COMPOSE_* key that only the shell defines stays a config reference."""
    root = project({"compose.yaml": WEB + "    environment: [COMPOSE_X]\n"})
    web = load(cwd=root, os_environ={"COMPOSE_X": "shell"}).project.services["web"]
    assert web.environment == {"COMPOSE_X": None}


def test_a_compose_file_of_comments_only_is_an_empty_part(project) -> None:
    """An override file holding only comments loads as nothing, as Compose reads it; a
    project made only of such files is still refused."""
    root = project({"compose.yaml": WEB, "compose.override.yaml": "# services:\n#   web: {}\n",
                    "empty/compose.yaml": "# nothing yet\n"})
    assert list(load(cwd=root, os_environ={}).project.services) == ["web"]
    with pytest.raises(ComposeError, match="the file is empty"):
        load(cwd=root / "empty", os_environ={})


def test_an_empty_service_of_an_extended_file_is_an_empty_service(project) -> None:
    """`cpu:` with nothing under it, in a file used through extends, extends to nothing."""
    root = project({"compose.yaml": "services:\n  ml:\n    image: ml\n"
                                    "    extends: {file: hwaccel.yml, service: cpu}\n",
                    "hwaccel.yml": "services:\n  cpu:\n  cuda:\n    devices: [/dev/nvidia0]\n"})
    ml = load(cwd=root, os_environ={}).project.services["ml"]
    assert ml.image == "ml"
    assert "extends" not in (ml.model_extra or {})


@pytest.mark.parametrize(("args", "env", "written", "name"), [
    ([], {}, "name: Stack_One\n", "stack_one"),
    (["-p", "flag"], {}, "name: Stack_One\n", "flag"),
    ([], {"COMPOSE_PROJECT_NAME": "from-env"}, "name: Stack_One\n", "from-env"),
    ([], {}, "", "from-dir"),
])
def test_compose_project_name_is_set_before_interpolation(project, args: list[str],
                                                          env: dict[str, str], written: str,
                                                          name: str) -> None:
    """${COMPOSE_PROJECT_NAME} is the project's name, from -p, the variable, `name:`
    (normalised as Compose does) or the directory, before the files are interpolated."""
    root = project({"from-dir/compose.yaml": written + WEB
                    + "    labels: {group: '${COMPOSE_PROJECT_NAME}#grafana'}\n"}) / "from-dir"
    loaded = load(cwd=root, project_name=args[1] if args else None, os_environ=env)
    assert loaded.project.name == name
    assert loaded.project.services["web"].labels == {"group": f"{name}#grafana"}


@pytest.mark.parametrize(("command", "words"), [
    ("echo first && echo second", ["echo", "first"]),
    ('sh -c "echo a && echo b"', ["sh", "-c", "echo a && echo b"]),
    ("printf \"a\\tb\" 'c\\d'", ["printf", "atb", "c\\d"]),
    ("run --verbose 2>&1", ["run", "--verbose"]),
    ("sh -c $(cat /x) `date +%s`", ["sh", "-c", "$(cat /x)", "`date +%s`"]),
    ("run \"\" ''", ["run", "", ""]),
])
def test_a_string_command_is_split_as_compose_splits_it(command: str, words: list[str]) -> None:
    """go-shellwords' rules, as Compose runs them: `&&` ends the command, a backslash escapes
    inside double quotes, `2>` drops the descriptor, $(...) and backquotes stay whole."""
    assert split_words(command) == words


def test_a_command_compose_cannot_split_is_refused(project) -> None:
    """A bare `(` is refused, as Compose refuses it, at the command's line."""
    root = project({"compose.yaml": WEB + "    command: echo (x)\n"})
    with pytest.raises(ComposeError, match=r"compose.yaml:4: services.web.command: cannot split"):
        load(cwd=root, os_environ={})


def test_an_undefined_build_arg_is_built_empty(project) -> None:
    """${APP_VERSION} in build.args that nothing defines is empty, as Compose passes it, and
    stays listed as a reference for validation to judge."""
    root = project({"compose.yaml": "services:\n  app:\n    build:\n      context: .\n"
                                    "      args: {VERSION: '${APP_VERSION}', REV: 'r-${SHA}'}\n"})
    loaded = load(cwd=root, os_environ={})
    assert loaded.project.services["app"].build.args == {"VERSION": "", "REV": "r-"}
    assert {r.names for r in loaded.references} == {("APP_VERSION",), ("SHA",)}


def test_selinux_and_propagation_options_are_kept_on_every_mount(project) -> None:
    """`:z`, `:Z` and propagation are kept on named volumes as on bind mounts, as Compose
    keeps them; `rw` is the default, so it writes no read_only."""
    root = project({"compose.yaml": WEB + "    volumes: ['data:/d:z', 'logs:/l:ro,Z', "
                                          "'./c:/c:rw,rshared', 'cache:/x:nocopy']\n"
                                          "volumes: {data: , logs: , cache: }\n"})
    mounts = load(cwd=root, os_environ={}).project.to_compose()["services"]["web"]["volumes"]
    assert [(m.get("bind"), m.get("volume"), m.get("read_only")) for m in mounts] == [
        ({"selinux": "z"}, {}, None), ({"selinux": "Z"}, {}, True),
        ({"propagation": "rshared", "create_host_path": True}, None, None),
        (None, {"nocopy": True}, None)]


@pytest.mark.parametrize(("written", "field", "value"), [
    ("read_only: '${RO:-false}'", "read_only", False),
    ("privileged: '${PRIV:-yes}'", "privileged", True),
    ("init: 'true'", "init", True),
    ("deploy: {replicas: '${N:-3}'}", "deploy", {"replicas": 3}),
])
def test_interpolated_booleans_and_numbers_are_cast(project, written: str, field: str,
                                                    value: object) -> None:
    """Where Compose casts an interpolated string (read_only, privileged, init, replicas...),
    it becomes a boolean or a number, not the text."""
    root = project({"compose.yaml": WEB + f"    {written}\n"})
    out = load(cwd=root, os_environ={}).project.to_compose()["services"]["web"]
    assert out.get(field, False) == value


def test_a_cast_that_fails_is_located(project) -> None:
    """`read_only: maybe` is refused at its line, saying what it must be."""
    root = project({"compose.yaml": WEB + "    read_only: '${RO:-maybe}'\n"})
    with pytest.raises(ComposeError,
                       match="compose.yaml:4: services.web.read_only: must be true or false, "
                             "not 'maybe'"):
        load(cwd=root, os_environ={})


def test_attach_false_is_kept(project) -> None:
    """`attach: false` (and `init: false`) stay in the model's output, as Compose prints them."""
    root = project({"compose.yaml": WEB + "    attach: false\n    init: false\n"
                                          "    privileged: false\n"})
    out = load(cwd=root, os_environ={}).project.to_compose()["services"]["web"]
    assert (out.get("attach"), out.get("init"), "privileged" in out) == (False, False, False)


@pytest.mark.parametrize(("line", "value"), [
    ("A=https://$BASE/x", "https://example.com/x"),
    ('A="${BASE}\\$HOME\\tend"', "example.com$HOME\tend"),
    ("A='$BASE'", "$BASE"),
    ("A=${PORT:-80}_${BASE:+set}", "80_set"),
    ("A=$$BASE", "$BASE"),
    ("A=a${UNDEFINED}b", "ab"),
    ("A=value # comment", "value"),
    ("A: yaml-style", "yaml-style"),
    ("export A=exported", "exported"),
    ('A="two\nlines"', "two\nlines"),
])
def test_dot_env_values_expand_as_compose_expands_them(project, line: str, value: str) -> None:
    """A `$NAME` in a .env value is what Compose makes of it: earlier values, defaults,
    escapes in double quotes, nothing in single quotes, and empty when nothing defines it."""
    root = project({"compose.yaml": WEB, ".env": f"BASE=example.com\n{line}\n"})
    assert load(cwd=root, os_environ={}).variables["A"] == value


def test_a_bad_dot_env_line_is_located(project) -> None:
    """A line Compose cannot read is refused at its line, saying why."""
    root = project({"compose.yaml": WEB, ".env": "A=1\n\nB C=2\n"})
    with pytest.raises(ComposeError, match=r"\.env:3: key cannot contain a space"):
        load(cwd=root, os_environ={})
