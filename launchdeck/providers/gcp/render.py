"""Compose services as Cloud Run v2 asks for them, without I/O.

``render`` takes a service and the facts the provider found (``Infra``) and returns the
Cloud Run service (in the client library's mapping form), the secrets its environment
reads, and a digest of it all. Config values never enter the service: a variable that is
exactly one config reads that config's secret; a value that mixes config into other text
is written to a secret of its own (``derived``) and read from there.

Service names as hosts resolve by rewriting: ``http://backend:9000/x`` becomes the backend's
Cloud Run URL (``https://<id>-<number>.<region>.run.app/x``). Cloud Run serves every service
on HTTPS port 443 and routes to the container port itself, so the compose port is dropped
(``backend:9000`` without a scheme becomes ``<host>:443``). A managed store's name becomes
its private address, port kept (``@db:5432`` -> ``@10.x.y.z:5432``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from launchdeck.compose.interpolate import substitute
from launchdeck.compose.model import Service
from launchdeck.engine import hosts, modes
from launchdeck.engine.environment import Source, classify
from launchdeck.engine.refusal import Problem
from launchdeck.providers.gcp import names

_SIZES = [(1, 512, 4096), (2, 512, 8192), (4, 2048, 16384), (6, 4096, 24576), (8, 4096, 32768)]
"""Cloud Run's CPU counts with the least and most memory (MiB) each allows."""
DEFAULT_PORT = 8080
_RESERVED = {"K_SERVICE", "K_CONFIGURATION", "K_REVISION"}


@dataclass(frozen=True)
class Infra:
    """What a service's Cloud Run settings point at; found by the provider beforehand."""

    project: str
    stack: str
    gcp_project: str
    region: str
    account: str
    """The stack's runtime service account (email)."""
    network: str = "default"
    subnetwork: str = "default"
    stores: frozenset[str] = frozenset()
    """The project's managed store services."""
    endpoints: dict[str, str] = field(default_factory=dict)
    """Managed store service -> its private address, once it has one."""
    hosts: dict[str, str] = field(default_factory=dict)
    """Service -> the host name of its Cloud Run URL."""
    internal: frozenset[str] = frozenset()
    """Services reachable only from inside the network (no ingress port)."""
    mode: modes.Mode = modes.DEFAULT


@dataclass(frozen=True)
class Rendered:
    """One compose service as a Cloud Run service."""

    name: str
    service_id: str
    spec: dict[str, Any]
    """The run_v2.Service mapping, without the labels that stamp a deploy (etag, hash)."""
    derived: dict[str, str]
    """Derived secret id -> value (secret: never shown)."""
    secrets: list[str]
    """Every secret the service reads (config and derived), by id."""
    hash: str


def size(service: Service) -> tuple[str, str]:
    """The smallest Cloud Run (cpu, memory) that covers what the service asks; at least one CPU,
    since CPU stays allocated between requests as a container's does."""
    cpus, memory = service.asked
    want = max(512, int(-(-memory // 1)))
    for count, least, most in _SIZES:
        if count >= cpus and most >= want:
            return str(count), f"{max(want, least)}Mi"
    count, _, most = _SIZES[-1]
    return str(count), f"{most}Mi"


def port(service: Service) -> int:
    """The port Cloud Run sends requests to: the first ingress port, else the first declared."""
    for candidate in [p.target for p in service.ingress_ports] + [p.target for p in service.ports]:
        return candidate
    for exposed in service.expose:
        return int(str(exposed).split("/")[0])
    return DEFAULT_PORT


def callable_services(services: Mapping[str, Service]) -> list[str]:
    """Services others can call by name: every one with a port that is not a managed store, and
    every model service (its gateway listens)."""
    return [name for name, s in services.items() if not s.managed_store
            and (s.ports or s.expose or s.model_provider is not None)]


def probes(service: Service, container_port: int) -> dict[str, Any]:
    """Startup and liveness probes from the compose healthcheck. Cloud Run probes over HTTP,
    TCP or gRPC only: a healthcheck that fetches a local URL becomes an HTTP probe of its path;
    any other becomes a TCP probe of the port at startup (liveness needs HTTP)."""
    health = service.healthcheck
    if health is None or health.disabled or not health.test:
        return {}
    path = health.local_path(container_port)
    period = _clamp(health.interval, 10, 1, 240)
    timeout = min(_clamp(health.timeout, 5, 1, 240), period)
    retries = _clamp(health.retries, 3, 1, 100)
    start = _clamp(health.start_period, 0, 0, 240)
    action = {"http_get": {"path": path}} if path else {"tcp_socket": {"port": container_port}}
    out = {
        "startup_probe": {
            **action,
            "initial_delay_seconds": start,
            "period_seconds": period,
            "timeout_seconds": timeout,
            "failure_threshold": retries,
        }
    }
    if path:
        out["liveness_probe"] = {
            "http_get": {"path": path},
            "period_seconds": period,
            "timeout_seconds": timeout,
            "failure_threshold": retries,
        }
    return out


def _clamp(value: float | None, default: int, low: int, high: int) -> int:
    return int(min(max(default if value is None else value, low), high))


def rewrite(value: str, infra: Infra, own: str) -> str:
    """``value`` with service and store names, where they stand as hosts, replaced."""
    for name, host in sorted(infra.hosts.items()):
        if name == own:
            continue
        quoted = re.escape(name)
        value = re.sub(
            rf"\b(http|ws)s?://{quoted}(?::\d+)?(?=$|[/?#,;\s\"'])",
            lambda m, h=host: f"{m.group(1)}s://{h}",
            value,
        )
        value = re.sub(rf"(^|[@=,;\s\"']){quoted}:\d+(?=$|[/?#,;\s\"'])", rf"\g<1>{host}:443", value)
        if value == name:
            value = host
    return hosts.replace(value, infra.endpoints)[0]


def problems(service: Service) -> list[Problem]:
    """What Cloud Run refuses of a container service's environment: the variables it sets itself."""
    out = []
    container_port = port(service)
    for key, raw in sorted(service.environment.items()):
        path = ("services", service.name, "environment", key)
        if key in _RESERVED:
            out.append(Problem(service.name, path, f"{key} is set by Cloud Run and cannot be given",
                               f"Remove {key} from its environment."))
        elif key == "PORT" and raw != str(container_port):
            out.append(Problem(service.name, path,
                               f"PORT is set by Cloud Run to the container port ({container_port})",
                               "Remove PORT from its environment, or make the service listen on the "
                               "port its ports entry names."))
    return out


def environment(
    service: Service, infra: Infra, config: Mapping[str, str], container_port: int
) -> tuple[list[dict[str, Any]], dict[str, str], list[str]]:
    """(env entries, derived secret id -> value, secret ids read)."""
    env: list[dict[str, Any]] = []
    derived: dict[str, str] = {}
    secrets: list[str] = []

    def secret(key: str, secret_id: str) -> None:
        secrets.append(secret_id)
        env.append(
            {"name": key, "value_source": {"secret_key_ref": {"secret": secret_id, "version": "latest"}}}
        )

    for var in classify(service, config, lambda value: rewrite(value, infra, service.name)):
        if var.key in _RESERVED or var.key == "PORT":
            continue  # Cloud Run sets them; ``problems`` refuses one set otherwise
        if var.source is Source.CONFIG:
            secret(var.key, names.secret_id(infra.project, infra.stack, var.value))
        elif var.source is Source.DERIVED:
            secret_id = names.derived_secret_id(infra.project, infra.stack, service.name, var.key)
            derived[secret_id] = var.value
            secret(var.key, secret_id)
        else:
            env.append({"name": var.key, "value": var.value})
    if service.llm is not None:  # what Google's model SDKs read to reach Vertex AI
        given = {e["name"] for e in env}
        for key, value in (
            ("GOOGLE_CLOUD_PROJECT", infra.gcp_project),
            ("GOOGLE_CLOUD_LOCATION", infra.region),
            ("GOOGLE_GENAI_USE_VERTEXAI", "true"),
        ):
            if key not in given:
                env.append({"name": key, "value": value})
    return env, derived, secrets


def reaches(service: Service, infra: Infra, config: Mapping[str, str]) -> tuple[set[str], set[str]]:
    """(stores, internal services) whose names ``service``'s environment uses as hosts."""
    values = hosts.values(service, lambda v: substitute(v, config).value)
    stores = {name for name in infra.stores if any(hosts.mentions(v, name) for v in values)}
    stores |= {name for name in service.depends_on if name in infra.stores}
    internal = {name for name in infra.internal
                if name != service.name and any(hosts.mentions(v, name) for v in values)}
    return stores, internal


def scaling(service: Service, mode: modes.Mode) -> dict[str, int]:
    """Cloud Run's instance bounds: a fixed count as the minimum (the mode's at least), or,
    for a service that follows the load, its ``min`` (none: scale to zero, which Cloud Run
    does by default; the mode's minimum still holds) and ``max`` (ten by default). Cloud Run
    scales on its own CPU target and concurrency ("Cloud Run ... tries to keep CPU utilization
    at 60%", docs "About instance autoscaling"): ``cpu`` is not a setting there."""
    options = service.autoscaling
    if options is None:
        return {"min_instance_count": modes.replicas(service.replica_count, mode)}
    low = options.min or 0
    if modes.of(mode).min_replicas > 1:
        low = max(low, modes.of(mode).min_replicas)
    return {"min_instance_count": low, "max_instance_count": max(options.highest, low, 1)}


def render(service: Service, infra: Infra, config: Mapping[str, str]) -> Rendered:
    """``service`` as a Cloud Run service, with the digest to compare."""
    service_id = names.service_id(infra.project, infra.stack, service.name)
    container_port = port(service)
    cpu, memory = size(service)
    env, derived, secrets = environment(service, infra, config, container_port)
    container: dict[str, Any] = {
        "name": names.short(service.name, limit=63) or "app",
        "image": "",  # the image is set by the caller, who knows it
        "ports": [{"name": "http1", "container_port": container_port}],
        "env": env,
        "resources": {"limits": {"cpu": cpu, "memory": memory}, "cpu_idle": False, "startup_cpu_boost": True},
        **probes(service, container_port),
    }
    if service.entrypoint:
        container["command"] = list(service.entrypoint)
    if service.command:
        container["args"] = list(service.command)
    if service.working_dir:
        container["working_dir"] = service.working_dir
    public = bool(service.ingress_ports)
    template: dict[str, Any] = {
        "containers": [container],
        "service_account": infra.account,
        "scaling": scaling(service, infra.mode),
        "execution_environment": "EXECUTION_ENVIRONMENT_GEN2",
        "labels": names.labels(infra.project, infra.stack, service=service.name),
    }
    stores, internal = reaches(service, infra, config)
    if stores or internal:  # Direct VPC egress: stores have private addresses only
        template["vpc_access"] = {
            "network_interfaces": [{"network": infra.network, "subnetwork": infra.subnetwork}],
            # an internal-only service counts a request as internal only if it came through the network
            "egress": "ALL_TRAFFIC" if internal else "PRIVATE_RANGES_ONLY",
        }
    spec = {
        "labels": names.labels(infra.project, infra.stack, service=service.name),
        "annotations": {names.ANNOTATION: service.name},
        "ingress": "INGRESS_TRAFFIC_ALL" if public else "INGRESS_TRAFFIC_INTERNAL_ONLY",
        # anyone reaching the ingress may call it, without an ``allUsers`` invoker binding:
        # domain-restricted sharing (on in organizations made since May 2024) refuses that
        # binding, and Cloud Run recommends this setting instead
        # (https://cloud.google.com/run/docs/securing/managing-access#invoker_check); an
        # internal service stays private by its ingress
        "invoker_iam_disabled": True,
        "template": template,
    }
    digests = {secret_id: hashlib.sha256(value.encode()).hexdigest() for secret_id, value in derived.items()}
    digests.update(
        {
            name: hashlib.sha256(config[name].encode()).hexdigest()
            for name in sorted(service.required_config())
            if name in config
        }
    )
    blob = json.dumps({"spec": spec, "config": digests}, sort_keys=True)
    return Rendered(
        service.name,
        service_id,
        spec,
        derived,
        sorted(set(secrets)),
        hashlib.sha256(blob.encode()).hexdigest()[:16],
    )


def with_image(rendered: Rendered, image: str, versions: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The service mapping with its image set and each secret it reads pinned to the version
    number ``versions`` gives (a revision reading ``latest`` may get the one before)."""
    spec = json.loads(json.dumps(rendered.spec))
    container = spec["template"]["containers"][0]
    container["image"] = image
    for entry in container["env"]:
        ref = entry.get("value_source", {}).get("secret_key_ref")
        if ref is not None and versions and ref["secret"] in versions:
            ref["version"] = versions[ref["secret"]]
    return spec
