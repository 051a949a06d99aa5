"""Our normalised project agrees with the real Docker Compose v2 on every field we model."""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from launchdeck.compose import Loaded, load, required_config

HERE = Path(__file__).parent
REPO = HERE.parent.parent
CASES = sorted(p for p in (HERE / "conformance").iterdir() if p.is_dir())
EXAMPLES = sorted(p for p in (REPO / "examples").iterdir() if (p / "compose.yaml").is_file())

SERVICE_FIELDS = {
    "image", "build", "command", "entrypoint", "environment", "ports", "expose", "healthcheck",
    "depends_on", "deploy", "restart", "networks", "network_mode", "domainname", "hostname",
    "volumes", "volumes_from", "dns", "dns_search", "group_add", "privileged", "profiles",
    "labels", "working_dir", "user", "platform", "provider",
}
BUILD_FIELDS = {"context", "dockerfile", "args", "target"}
MOUNT_FIELDS = {"type", "source", "target", "read_only"}


def _args(case: Path) -> list[str]:
    path = case / "args.txt"
    return shlex.split(path.read_text()) if path.is_file() else []


def _load(case: Path) -> Loaded:
    parser = argparse.ArgumentParser()
    parser.add_argument("-f", dest="files", action="append", default=[])
    parser.add_argument("-p", dest="project_name")
    parser.add_argument("--profile", dest="profiles", action="append", default=[])
    options = parser.parse_args(_args(case))
    return load(options.files, cwd=case, project_name=options.project_name,
                profiles=options.profiles, os_environ={})


def _config(case: Path) -> dict[str, str]:
    """A stand-in value for each config the project reads, as `config:NAME`."""
    return {name: f"config:{name}" for name in required_config(_load(case))}


def _ours(case: Path) -> dict[str, Any]:
    """Our output, with config references filled in as a provider fills them at deploy time."""
    loaded = _load(case)
    data = loaded.project.to_compose()
    config = _config(case)
    for name, service in loaded.project.services.items():
        if "environment" in data["services"][name]:
            data["services"][name]["environment"] = {
                k: v.replace("$", "$$") for k, v in service.resolved_environment(config).items()}
    return data


def _theirs(binary: str, case: Path, fmt: str) -> Any:
    # Compose reads variables from the shell: give it the stand-in config values there.
    result = subprocess.run(
        [binary, *_args(case), "config", "--format", fmt], cwd=case,
        env={"HOME": str(case), **_config(case)}, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if fmt == "json" else yaml.safe_load(result.stdout)


def _project(data: dict[str, Any]) -> dict[str, Any]:
    """The fields of a `compose config` document that launchdeck models, in one form."""
    return {
        "name": data["name"],
        "services": {name: _service(svc) for name, svc in data.get("services", {}).items()},
        "networks": {k: v.get("name") for k, v in (data.get("networks") or {}).items()},
        "volumes": {k: v.get("name") for k, v in (data.get("volumes") or {}).items()},
    }


def _service(svc: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in svc.items() if k in SERVICE_FIELDS and v not in (None, [], {})}
    if "build" in out:
        out["build"] = {k: v for k, v in out["build"].items() if k in BUILD_FIELDS}
    if "volumes" in out:
        out["volumes"] = [{k: v for k, v in m.items() if k in MOUNT_FIELDS} for m in out["volumes"]]
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


def _extensions(data: dict[str, Any]) -> dict[str, Any]:
    return {name: {k: v for k, v in svc.items() if k.startswith("x-")}
            for name, svc in data.get("services", {}).items()}


@pytest.mark.parametrize("case", CASES + EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_agrees_with_docker_compose(case: Path, docker_compose: str) -> None:
    """`launchdeck compose config` and `docker compose config` agree on every modelled field."""
    ours = _ours(case)
    assert _project(ours) == _project(_theirs(docker_compose, case, "json"))
    # Compose's JSON output drops service-level x- keys; its YAML output keeps them.
    assert _extensions(ours) == _extensions(_theirs(docker_compose, case, "yaml"))


def test_corpus_is_broad() -> None:
    """The corpus holds at least 75 projects, so every modelled field is compared somewhere."""
    assert len(CASES) >= 75
    seen = set()
    for case in CASES:
        for service in _load(case).project.to_compose().get("services", {}).values():
            seen |= set(service)
    assert seen >= SERVICE_FIELDS
