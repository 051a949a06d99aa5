"""The model launchdeck builds equals Docker Compose's, field by field, on every corpus project.

Each project of conformance/ (and of examples/) is loaded by launchdeck and by the real Docker
Compose v2 (`docker compose config`, one process per project), and every service is compared
field by field. Config references (a variable nothing defines) are launchdeck's one deliberate
difference in a model: Compose makes such a variable empty (and leaves a bare key without a
value), so launchdeck's references are read that way before the two are compared.
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from launchdeck.compose import Loaded, load
from launchdeck.compose.interpolate import substitute
from launchdeck.compose.model import split_words
from launchdeck.compose.source import parse_yaml

HERE = Path(__file__).parent
REPO = HERE.parent.parent
CASES = sorted(p for p in (HERE / "conformance").iterdir() if p.is_dir())
EXAMPLES = sorted(p for p in (REPO / "examples").iterdir() if (p / "compose.yaml").is_file())

COMPARED = {
    "image", "build", "command", "entrypoint", "environment", "ports", "expose", "healthcheck",
    "depends_on", "deploy", "restart", "networks", "network_mode", "domainname", "hostname",
    "volumes", "volumes_from", "dns", "dns_search", "group_add", "privileged", "profiles",
    "labels", "working_dir", "user", "platform", "provider", "secrets", "configs", "attach",
    "read_only", "init",
}
"""The service fields compared: every field launchdeck models, and the ones the issue of
conformance names. Compose's other fields (logging, ulimits, cap_add...) launchdeck keeps as
written and passes on; they are not part of the model."""
BUILD_FIELDS = {"context", "dockerfile", "args", "target"}
MOUNT_FIELDS = {"type", "source", "target", "read_only", "bind", "volume", "tmpfs"}


def _args(case: Path) -> list[str]:
    path = case / "args.txt"
    return shlex.split(path.read_text()) if path.is_file() else []


@functools.cache
def _load(case: Path) -> Loaded:
    parser = argparse.ArgumentParser()
    parser.add_argument("-f", dest="files", action="append", default=[])
    parser.add_argument("-p", dest="project_name")
    parser.add_argument("--profile", dest="profiles", action="append", default=[])
    options = parser.parse_args(_args(case))
    return load(options.files, cwd=case, project_name=options.project_name,
                profiles=options.profiles, os_environ={})


def _ours(case: Path) -> dict[str, Any]:
    """Our output, with each config reference read as Compose reads an undefined variable:
    ``${PW}`` is empty and a bare key has no value."""
    loaded = _load(case)
    data = loaded.project.to_compose()
    for name, service in loaded.project.services.items():
        if "environment" in data["services"][name]:
            data["services"][name]["environment"] = {
                key: None if value is None else _undefined_empty(
                    value, service.env_refs.get(key, ())).replace("$", "$$")
                for key, value in service.environment.items()}
    return data


def _undefined_empty(value: str, refs: tuple[str, ...]) -> str:
    return substitute(value, dict.fromkeys(refs, "")).value if refs else value


@functools.cache
def _theirs(binary: str, case: Path) -> Any:
    """`docker compose config` of ``case``, run once. Its YAML, not its JSON: the JSON drops
    service-level x- keys. Read as YAML 1.2, as Compose writes it."""
    result = subprocess.run(
        [binary, *_args(case), "config", "--format", "yaml"], cwd=case,
        env={"HOME": str(case)}, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return parse_yaml(result.stdout, "docker compose config")


def _project(data: dict[str, Any]) -> dict[str, Any]:
    """The fields of a `compose config` document that launchdeck models, in one form."""
    return {
        "name": data["name"],
        "services": {name: _service(svc) for name, svc in data.get("services", {}).items()},
        "networks": {k: v.get("name") for k, v in (data.get("networks") or {}).items()},
        "volumes": {k: v.get("name") for k, v in (data.get("volumes") or {}).items()},
    }


def _service(svc: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in svc.items()
           if (k in COMPARED or k.startswith("x-")) and v not in (None, [], {})}
    if "build" in out:
        out["build"] = {k: v for k, v in out["build"].items() if k in BUILD_FIELDS}
    if "volumes" in out:
        out["volumes"] = [{k: v for k, v in m.items() if k in MOUNT_FIELDS and v != {}}
                          for m in out["volumes"]]
    if "deploy" in out:
        deploy = out["deploy"]
        out["deploy"] = {
            "replicas": deploy.get("replicas"),
            "resources": {
                kind: {k: spec[k] for k in ("cpus", "memory", "pids") if k in spec}
                for kind, spec in (deploy.get("resources") or {}).items()
            },
        }
    if "networks" in out:
        out["networks"] = {k: (v or {}).get("aliases") for k, v in out["networks"].items()}
    return out


@pytest.mark.parametrize("case", CASES + EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_agrees_with_docker_compose(case: Path, docker_compose: str) -> None:
    """launchdeck's model and `docker compose config` agree on every compared field."""
    ours, theirs = _project(_ours(case)), _project(_theirs(docker_compose, case))
    assert ours["name"] == theirs["name"]
    assert ours["networks"] == theirs["networks"]
    assert ours["volumes"] == theirs["volumes"]
    assert set(ours["services"]) == set(theirs["services"])
    for name, service in theirs["services"].items():
        for field in sorted(set(service) | set(ours["services"][name])):
            assert ours["services"][name].get(field) == service.get(field), f"{name}.{field}"


def test_corpus_is_broad() -> None:
    """The corpus holds at least 75 projects, and every compared field appears in one."""
    assert len(CASES) >= 75
    seen = set()
    for case in CASES:
        for service in _load(case).project.to_compose().get("services", {}).values():
            seen |= set(service)
    assert seen >= COMPARED


_COMMAND_CHARACTERS = "ab \t\n'\"\\$();&|<>`12#"


def test_commands_split_as_docker_compose_splits_them(docker_compose: str,
                                                      tmp_path: Path) -> None:
    """A string command is split into the words Compose gives (or refused where it refuses),
    on 600 random commands of quotes, escapes, operators and groups, in one Compose run."""
    rng = random.Random(27)
    commands = ["".join(rng.choice(_COMMAND_CHARACTERS) for _ in range(rng.randint(1, 12)))
                for _ in range(600)]
    ours: dict[str, list[str] | None] = {}
    for index, command in enumerate(commands):
        try:
            ours[f"s{index}"] = split_words(command)
        except ValueError:
            ours[f"s{index}"] = None
    splittable = {key: commands[int(key[1:])] for key, words in ours.items() if words is not None}
    (tmp_path / "compose.yaml").write_text(json.dumps({"services": {
        key: {"image": "x", "command": command.replace("$", "$$")}
        for key, command in splittable.items()}}))
    result = subprocess.run([docker_compose, "config", "--format", "json"], cwd=tmp_path,
                            env={"HOME": str(tmp_path)}, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    theirs = {key: [word.replace("$$", "$") for word in svc.get("command") or []]
              for key, svc in json.loads(result.stdout)["services"].items()}
    assert theirs == {key: ours[key] for key in splittable}
    refused = [commands[int(key[1:])] for key, words in ours.items() if words is None]
    assert refused  # and Compose refuses each of them too, in one more run
    (tmp_path / "compose.yaml").write_text(json.dumps({"services": {
        f"r{index}": {"image": "x", "command": command.replace("$", "$$")}
        for index, command in enumerate(refused)}}))
    result = subprocess.run([docker_compose, "config", "--format", "json"], cwd=tmp_path,
                            env={"HOME": str(tmp_path)}, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode != 0
    assert all(f"services[r{index}].command" in result.stderr for index in range(len(refused)))
