"""Compose service → container settings, checked without an engine."""

from __future__ import annotations

from launchdeck.compose.model import Project
from launchdeck.providers.local import spec as S


def _project(**service) -> Project:
    return Project.model_validate({"name": "shop", "working_dir": "/src",
                                   "services": {"web": {"image": "nginx", **service}},
                                   "volumes": {"data": {}}},
                                  context={"working_dir": "/src"})


def _spec(project: Project, replica: int = 0) -> S.ContainerSpec:
    return S.container_spec(project, "dev", project.services["web"], image="sha256:i",
                            env={}, etag="e1", config_hash="h1", replica=replica)


def test_ingress_ports_publish_on_loopback_and_host_ports_stay_inside() -> None:
    """An ingress port is published (its fixed port on replica 0 only); a host port is not."""
    project = _project(ports=[{"target": 80, "published": "8080", "mode": "ingress"},
                              {"target": 9000, "mode": "host"}])
    assert _spec(project).ports == {"80/tcp": "8080"}
    assert _spec(project, replica=1).ports == {"80/tcp": None}
    assert _spec(project).exposed == ["80/tcp", "9000/tcp"]


def test_labels_name_the_owner() -> None:
    """Each container is labelled with project, stack, service, etag, hash and replica."""
    labels = _spec(_project(labels={"team": "a"})).labels
    assert labels[S.PROJECT] == "shop" and labels[S.STACK] == "dev"
    assert labels[S.SERVICE] == "web" and labels[S.ETAG] == "e1" and labels[S.HASH] == "h1"
    assert labels[S.REPLICA] == "0" and labels["team"] == "a"


def test_healthcheck_restart_and_resources_map_to_docker() -> None:
    """Durations become nanoseconds; restart and limits take Docker's shapes."""
    spec = _spec(_project(
        healthcheck={"test": "curl -f localhost", "interval": "2s", "timeout": "500ms",
                     "retries": 4},
        restart="on-failure:3",
        deploy={"resources": {"limits": {"cpus": "0.5", "memory": "256m", "pids": 64},
                              "reservations": {"memory": "64m"}}},
    ))
    assert spec.healthcheck == {"test": ["CMD-SHELL", "curl -f localhost"],
                                "interval": 2_000_000_000, "timeout": 500_000_000, "retries": 4}
    assert spec.restart == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert (spec.nano_cpus, spec.mem_limit, spec.pids_limit) == (500_000_000, 256 << 20, 64)
    assert spec.mem_reservation == 64 << 20


def test_volumes_are_scoped_to_project_and_stack() -> None:
    """Named volumes and the managed store's data volume carry the project and stack."""
    project = _project(volumes=["data:/var/data", "./conf:/etc/conf:ro"],
                       **{"x-defang-redis": True})
    mounts = _spec(project).mounts
    assert mounts[0] == {"Type": "volume", "Target": "/data", "Source": "shop-dev-web-data"}
    assert mounts[1]["Source"] == "shop-dev-data"
    assert mounts[2] == {"Type": "bind", "Target": "/etc/conf", "ReadOnly": True,
                         "Source": "/src/conf"}


def test_aliases_include_the_service_name() -> None:
    """Other services reach this one by its name and its network aliases."""
    project = _project(networks={"back": {"aliases": ["api"]}})
    assert _spec(project).aliases == ["web", "api"]
