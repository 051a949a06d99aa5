"""Will this project deploy on the chosen target? Findings that say why not, and what to do.

Each rule looks at the typed project and yields Findings (error or warning, located at a
file and line, with a fix). Which rules run depends on the target: the local Docker Engine
accepts nearly all of Compose, the clouds much less. Findings never quote a value that may
be a secret.
"""

from __future__ import annotations

import difflib
import re
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Any

from pydantic import BaseModel, ConfigDict

from launchdeck.compose.load import Loaded
from launchdeck.compose.model import Service, path_label
from launchdeck.compose.order import dependency_order
from launchdeck.compose.source import shorten
from launchdeck.compose.target import Capabilities

CONFIG_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")  # \Z: "$" would accept a final newline
CONFIG_NAME_MAX = 255
"""The longest config name: what the strictest store (GCP Secret Manager) accepts."""
DIGEST_KEY = "LAUNCHDECK_DIGEST_KEY"
"""The config name launchdeck keeps for itself: the stack's key for the digests of its config
values (engine/plan.py), made by its first deploy. No service reads it; config set and rm refuse it."""
_KNOWN_EXTENSIONS = tuple(
    f"x-{vendor}-{kind}" for vendor in ("defang", "launchdeck")
    for kind in ("postgres", "redis", "mongodb", "llm", "autoscaling")
)
_SECRET_NAME = re.compile(
    r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL|AUTH)",
    re.IGNORECASE,
)
_SECRET_VALUE = re.compile(
    r"^(AKIA[0-9A-Z]{16}|sk-[A-Za-z0-9_-]{20,}|gh[pousr]_[A-Za-z0-9]{30,}|xox[abp]-[A-Za-z0-9-]+"
    r"|AIza[0-9A-Za-z_-]{35}|-----BEGIN [A-Z ]*PRIVATE KEY-----.*)$",
    re.DOTALL,
)
_LOCAL_PROBE = re.compile(r"\b(localhost|127\.0\.0\.1|0\.0\.0\.0)\b|\[::1\]")
_URL = re.compile(r"\bhttps?://")


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Finding(BaseModel):
    """One reason a project may not deploy as written, and what to do about it."""

    model_config = ConfigDict(frozen=True)

    severity: Severity
    service: str | None
    field: str
    file: str
    line: int
    message: str
    fix: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.severity}: {self.field}: {self.message}\n  fix: {self.fix}"


class _Check:
    """The state one validation run shares between rules."""

    def __init__(self, loaded: Loaded, provider: str, capabilities: Capabilities) -> None:
        self.loaded = loaded
        self.project = loaded.project
        self.provider = provider
        self.can = capabilities
        self.cloud = capabilities.cloud
        self.findings: list[Finding] = []

    def add(self, severity: Severity, path: tuple[Any, ...], message: str, fix: str) -> None:
        file, line = self.loaded.where(path)
        service = path[1] if len(path) > 1 and path[0] == "services" else None
        self.findings.append(Finding(severity=severity, service=service, field=path_label(path),
                                     file=file, line=line, message=message, fix=fix))

    def error(self, path: tuple[Any, ...], message: str, fix: str) -> None:
        self.add(Severity.ERROR, path, message, fix)

    def warn(self, path: tuple[Any, ...], message: str, fix: str) -> None:
        self.add(Severity.WARNING, path, message, fix)


def validate(loaded: Loaded, provider: str, capabilities: Capabilities) -> list[Finding]:
    """Every finding for deploying ``loaded`` to the target named ``provider`` (in messages),
    which can do what ``capabilities`` says (its caller reads them from the provider's
    package), in file and line order."""
    check = _Check(loaded, provider, capabilities)
    for name, service in loaded.project.services.items():
        base = ("services", name)
        if service.provider is not None:  # not a container: none of the container rules apply
            _provider(check, base, service)
            continue
        _image_or_build(check, base, service)
        _image_reference(check, base, service)
        dockerfile_ok = _dockerfile(check, base, service)
        _ports(check, base, service)
        _resources(check, base, service)
        _environment(check, base, service)
        _extensions(check, base, service)
        _autoscaling(check, base, service)
        if check.cloud:
            _cloud_only_fields(check, base, service)
            _build(check, base, service, dockerfile_ok=dockerfile_ok)
            _healthcheck(check, base, service)
            _storage(check, base, service)
            _domain(check, base, service)
    _references(check)
    _dependency_cycles(check)
    if check.cloud:
        _service_names(check)
    return sorted(check.findings, key=lambda f: (f.file, f.line, f.field, f.message))


def required_config(loaded: Loaded) -> list[str]:
    """The config names the project reads from the secret store, sorted."""
    names: set[str] = set()
    for service in loaded.project.services.values():
        names |= service.required_config()
    return sorted(names)


def config_name_problem(name: str) -> str | None:
    """What is wrong with ``name`` as a config name, or None; the message states both rules."""
    if CONFIG_NAME.match(name) and len(name) <= CONFIG_NAME_MAX:
        return None
    shown = shorten(name, 40)
    return (f"invalid config name {shown!r}: use letters, digits and _, not starting with a "
            f"digit, at most {CONFIG_NAME_MAX} characters (e.g. DATABASE_PASSWORD)")


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity is Severity.ERROR for f in findings)


def normalize_service_name(name: str) -> str:
    """The form cloud resource names take: lowercase, with dashes for anything else."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _image_or_build(check: _Check, base: tuple[Any, ...], service: Service) -> None:
    if not service.image and not service.build and not service.managed_store:
        check.error(base, "has neither image nor build",
                    "Add image: with an image name, or build: with the directory of a Dockerfile.")


# Docker's reference grammar (github.com/distribution/reference, regexp.go): a name of
# lowercase path components, an optional registry before the first "/", a tag, a digest.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_REFERENCE = re.compile(
    rf"(?:{_DOMAIN}/)?(?P<name>{_COMPONENT}(?:/{_COMPONENT})*)"
    r"(?::[\w][\w.-]{0,127})?"
    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?")
_NAME_MAX = 255


def image_reference_problem(image: str) -> str | None:
    """Why Docker would refuse ``image`` as a reference, or None (as ``docker pull`` parses)."""
    found = _REFERENCE.fullmatch(image)
    if found is None:
        if image != image.lower() and _REFERENCE.fullmatch(image.lower()):
            return "repository name must be lowercase"
        return "not a valid image reference (name[:tag][@digest])"
    if len(image.split("@")[0].rsplit(":", 1)[0]) > _NAME_MAX:
        return f"repository name is longer than {_NAME_MAX} characters"
    return None


def _image_reference(check: _Check, base: tuple[Any, ...], service: Service) -> None:
    if not service.image:
        return
    problem = image_reference_problem(service.image)
    if problem:
        check.error((*base, "image"), f"image '{shorten(service.image, 80)}': {problem}",
                    "Write the image as Docker names it: lowercase, no spaces, e.g. "
                    "nginx:1.27 or ghcr.io/owner/app@sha256:<digest>.")


def _dockerfile(check: _Check, base: tuple[Any, ...], service: Service) -> bool:
    """The Dockerfile lies inside its build context and is a regular file of sane size; on
    every target (a Dockerfile elsewhere could be any file, and a build failure or the
    debug evidence would quote it). False when it does not."""
    from pathlib import Path

    from launchdeck.paths import MAX_READ

    build = service.build
    if build is None or not build.dockerfile or "://" in build.context \
            or build.context.startswith("git@"):
        return True
    path = (*base, "build", "dockerfile")
    context = Path(build.context)
    try:
        inner = context.resolve()
        target = (context / build.dockerfile).resolve()
    except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL
        target, inner = Path("/"), context
    if not target.is_relative_to(inner):
        check.error(path, f"Dockerfile '{shorten(build.dockerfile, 80, middle=True)}' is outside "
                    "the build context", "Move the Dockerfile into the build context and give its path "
                    "relative to the context.")
        return False
    try:
        info = target.stat()
    except (OSError, ValueError):
        return True  # missing: the builder says so in its own words
    import stat

    if not stat.S_ISREG(info.st_mode):
        check.error(path, f"Dockerfile '{shorten(build.dockerfile, 80, middle=True)}' is not a regular file",
                    "Point dockerfile: at a file in the build context.")
        return False
    if info.st_size > MAX_READ:
        check.error(path, f"Dockerfile '{shorten(build.dockerfile, 80, middle=True)}' is larger than "
                    f"{MAX_READ // 1000} kB", "Point dockerfile: at the Dockerfile itself.")
        return False
    return True


def _ports(check: _Check, base: tuple[Any, ...], service: Service) -> None:
    seen: dict[tuple[int, str], int] = {}
    for index, port in enumerate(service.ports):
        path = (*base, "ports", index)
        if not 1 <= port.target <= 65535:
            check.error(path, f"port {port.target} is outside 1-65535",
                        "Use the port number the application listens on.")
            continue
        if not check.cloud:
            continue
        if port.mode_defaulted:
            check.warn(path, f"port {port.target} has no mode, so it is treated as ingress "
                             "(public, behind the load balancer)",
                       "Add mode: ingress to say so, or mode: host to keep it internal.")
        if port.host_ip:
            check.error(path, "host_ip cannot be chosen on a cloud target",
                        "Remove host_ip; ingress ports are reached through the load balancer.")
        if port.protocol not in ("tcp", "udp"):
            check.error(path, f"unknown protocol {port.protocol!r}", "Use tcp or udp.")
        elif port.protocol == "udp" and port.mode == "ingress":
            check.error(path, "UDP cannot be an ingress port (the load balancer speaks HTTP)",
                        "Use mode: host for UDP ports.")
        key = (port.target, port.protocol)
        if key in seen:
            check.error(path, f"port {port.target}/{port.protocol} is listed twice "
                              f"(also at ports[{seen[key]}])", "Keep one entry per port.")
        seen.setdefault(key, index)


def _resources(check: _Check, base: tuple[Any, ...], service: Service) -> None:
    resources = service.deploy.resources if service.deploy else None
    for kind in ("limits", "reservations"):
        spec = getattr(resources, kind, None) if resources else None
        if spec and spec.cpus is not None and spec.cpus < 0:
            check.error((*base, "deploy", "resources", kind, "cpus"),
                        f"cpus cannot be negative ({spec.cpus:g})", "Use a number like 0.5.")
        if spec and spec.memory is not None and spec.memory < 0:
            check.error((*base, "deploy", "resources", kind, "memory"),
                        "memory cannot be negative", "Use a size like 512M.")
    if check.cloud and not service.managed_store:
        reservation = resources.reservations if resources else None
        if reservation is None or reservation.memory is None:
            check.warn((*base, "deploy") if service.deploy else base,
                       "no memory reservation: the service gets the smallest size",
                       "Set deploy.resources.reservations.memory, e.g. 512M.")


def _environment(check: _Check, base: tuple[Any, ...], service: Service) -> None:
    if DIGEST_KEY in service.required_config():
        check.error((*base, "environment"), f"{DIGEST_KEY} is launchdeck's own config name (the "
                    "key of the stack's config digests); no service can read it",
                    "Give the value this service needs another config name.")
    for key, value in service.environment.items():
        path = (*base, "environment", key)
        if value is None:
            if config_name_problem(key):
                check.error(path, f"{key!r} is read from config, but is not a valid config name",
                            "Config names use letters, digits and _, do not start with a "
                            f"digit, and have at most {CONFIG_NAME_MAX} characters.")
            continue
        if key in service.env_refs:
            continue
        if _SECRET_VALUE.match(value) or (_SECRET_NAME.search(key) and len(value) >= 8):
            check.warn(path, f"{key} looks like a secret written in the compose file",
                       f"Remove the value (keep `- {key}`) and set {key} as a config value "
                       "instead.")


def _extensions(check: _Check, base: tuple[Any, ...], service: Service) -> None:
    for key in service.extensions:
        if key in _KNOWN_EXTENSIONS:
            continue
        if key.startswith(("x-defang-", "x-launchdeck-")):
            close = difflib.get_close_matches(key, _KNOWN_EXTENSIONS, n=1)
            hint = f"Did you mean {close[0]}?" if close else \
                "Known: x-defang-postgres, -redis, -mongodb, -llm."
            check.warn((*base, key), f"unsupported extension {key} is ignored", hint)
    store = service.managed_store
    if store is not None and store not in check.can.stores:
        check.error((*base, f"x-defang-{store}"), f"x-defang-{store} is not supported on "
                    f"{check.provider} yet", f"Run {store} as an ordinary service, or use a hosted "
                    f"{store} and give its URL through config.")
    if service.llm is not None and not check.can.llm:
        check.warn((*base, "x-defang-llm"),
                   f"x-defang-llm needs a cloud provider: on {check.provider} no LLM endpoint "
                   "is provided",
                   "Deploy to a cloud provider, or point the service at an LLM API through its "
                   "environment.")


def _autoscaling(check: _Check, base: tuple[Any, ...], service: Service) -> None:
    """Replicas that follow the load: where the target cannot, the count is fixed (a warning);
    where it can, deploy.replicas is the starting count, and must lie in the range."""
    scaling = service.autoscaling
    if scaling is None:
        return
    where = (*base, "x-defang-autoscaling")
    if service.managed_store:
        check.error(where, f"x-defang-autoscaling does not apply to a managed "
                    f"{service.managed_store} store", "Remove x-defang-autoscaling from it.")
        return
    asked = service.deploy.replicas if service.deploy else None
    if scaling.min is not None and scaling.max is not None and scaling.min > scaling.max:
        check.error(where, f"x-defang-autoscaling min {scaling.min} is more than max {scaling.max}",
                    "Make min at most max.")
        return
    if not check.can.autoscaling:
        check.warn(where, f"replicas do not follow the load on {check.provider}: the count is "
                   f"fixed at {service.replica_count}",
                   "Deploy to a cloud provider to scale with the load, or set deploy.replicas.")
        return
    if asked == 0:
        check.error((*base, "deploy", "replicas"), "deploy.replicas 0 turns the service off, and "
                    "x-defang-autoscaling would start it again",
                    "Remove x-defang-autoscaling to keep it off, or remove deploy.replicas.")
        return
    low = scaling.min if scaling.min is not None else 0
    if asked is not None and not low <= asked <= scaling.highest:
        check.error((*base, "deploy", "replicas"), f"deploy.replicas {asked} is outside the "
                    f"range of x-defang-autoscaling ({low} to {scaling.highest})",
                    "Set deploy.replicas (the starting count) within min and max, or widen them.")
        return
    if asked is not None:
        check.warn((*base, "deploy", "replicas"), f"deploy.replicas {asked} is the starting count, "
                   f"not a fixed one: x-defang-autoscaling keeps {low} to {scaling.highest} "
                   f"replicas near {scaling.target}% CPU",
                   "Nothing to do if that is meant; remove x-defang-autoscaling for a fixed count.")


_CLOUD_UNSUPPORTED = {
    "hostname": "Remove hostname; use domainname: for a public name (other services reach "
                "this one by its service name).",
    "dns": "Remove dns; the cloud network provides DNS.",
    "dns_search": "Remove dns_search; services reach each other by service name.",
    "devices": "Remove devices; cloud containers have no host devices.",
    "device_cgroup_rules": "Remove device_cgroup_rules; cloud containers have no host devices.",
    "group_add": "Remove group_add; set the user's groups in the Dockerfile.",
}
_SWARM_ONLY = ("update_config", "rollback_config", "restart_policy", "endpoint_mode")
_BUILD_UNSUPPORTED = ("ssh", "secrets", "extra_hosts", "network", "platforms",
                      "additional_contexts", "dockerfile_inline")


def _cloud_only_fields(check: _Check, base: tuple[Any, ...], service: Service) -> None:
    on = f"on {check.provider}"
    for field, fix in _CLOUD_UNSUPPORTED.items():
        if getattr(service, field):
            check.error((*base, field), f"{field} is not supported {on}", fix)
    deploy = service.deploy
    if deploy is None:
        return
    if deploy.mode not in (None, "replicated"):
        check.error((*base, "deploy", "mode"), f"deploy.mode {deploy.mode!r} is not supported {on}",
                    "Remove deploy.mode (services are replicated) and set deploy.replicas.")
    for field in _SWARM_ONLY:
        if getattr(deploy, field) is not None:
            check.error((*base, "deploy", field), f"deploy.{field} is not supported {on}",
                        f"Remove deploy.{field}; the provider manages rollouts and restarts.")


def _build(check: _Check, base: tuple[Any, ...], service: Service, *,
           dockerfile_ok: bool = True) -> None:
    build = service.build
    if build is None:
        return
    on = f"on {check.provider}"
    if build.privileged:
        check.error((*base, "build", "privileged"), f"privileged builds are not supported {on}",
                    "Remove build.privileged.")
    for field in _BUILD_UNSUPPORTED:
        if getattr(build, field):
            check.error((*base, "build", field), f"build.{field} is not supported {on}",
                        f"Remove build.{field}.")
    dockerfile = build.dockerfile  # a cloud builder takes it relative to the uploaded context
    if dockerfile_ok and dockerfile and (dockerfile.startswith("/")
                                         or ".." in PurePosixPath(dockerfile).parts):
        check.error((*base, "build", "dockerfile"),
                    f"Dockerfile {dockerfile!r} is outside the build context",
                    "Move the Dockerfile into the build context and give its path "
                    "relative to the context.")


def _healthcheck(check: _Check, base: tuple[Any, ...], service: Service) -> None:
    if service.managed_store:  # it becomes a managed database, which has no container probe
        return
    health = service.healthcheck
    ingress = service.ingress_ports
    # ECS and Cloud Run accept a timeout equal to the interval, not a longer one
    if health and not health.disabled and health.timeout and health.interval and \
            health.timeout > health.interval:
        check.error((*base, "healthcheck", "timeout"),
                    "healthcheck timeout must not be longer than its interval",
                    "Lower healthcheck.timeout or raise healthcheck.interval.")
    if not ingress:
        return
    if health is None or health.disabled or not health.test:
        check.warn((*base, "ports"), "ingress port without a healthcheck: the load balancer "
                                     "cannot tell when the service is ready",
                   f"Add a healthcheck, e.g. test: [\"CMD\", \"wget\", \"-q\", \"--spider\", "
                   f"\"http://localhost:{ingress[0].target}/\"].")
        return
    command = health.command
    if _URL.search(command) and not _LOCAL_PROBE.search(command):
        check.warn((*base, "healthcheck", "test"),
                   "the healthcheck does not probe localhost, so it says nothing about this "
                   "container", "Probe http://localhost:<port>/ from inside the container.")


def _storage(check: _Check, base: tuple[Any, ...], service: Service) -> None:
    for field in ("volumes", "volumes_from"):
        if getattr(service, field) and not service.managed_store:
            check.warn((*base, field),
                       f"{field} are not kept on {check.provider}: data is lost when the "
                       "container restarts",
                       "Keep data in a managed store (x-defang-postgres, x-defang-redis) "
                       "or object storage.")


def _domain(check: _Check, base: tuple[Any, ...], service: Service) -> None:
    if service.domainname and not service.ingress_ports:
        check.error((*base, "domainname"), "domainname needs an ingress port to route to",
                    "Add a port with mode: ingress, or remove domainname.")


def _references(check: _Check) -> None:
    for ref in check.loaded.references:
        names = ", ".join(ref.names)
        path = ref.path
        if len(path) >= 4 and path[2] == "environment":
            continue
        if len(path) >= 5 and path[2:4] == ("build", "args"):
            if set(ref.names) & set(required_config(check.loaded)):
                check.error(path, f"build arg refers to {names}, which the project reads "
                                  "from config: the value would be baked into the image",
                            f"Pass {names} at run time through environment instead.")
            else:
                check.warn(path, f"build arg refers to {names}, which no .env file defines: "
                                 "it is built with an empty value, as Docker Compose does",
                           f"Define {names} in .env or .env.<stack>.")
        else:
            check.error(path, f"{names} is not defined; config values are only read into "
                              "environment",
                        f"Define {names} in .env or .env.<stack>, or move the value into "
                        "environment.")


def _provider(check: _Check, base: tuple[Any, ...], service: Service) -> None:
    provider = service.provider
    assert provider is not None
    if provider.type != "model":
        check.error((*base, "provider", "type"),
                    f"provider type {provider.type!r} is not supported: only type: model is",
                    "Run the service as a container (image: or build:), or use a model provider.")
    elif not service.model_provider:
        check.error((*base, "provider", "options"), "a model provider needs options.model",
                    "Name the model, e.g. options: {model: ai/smollm2}.")


def _dependency_cycles(check: _Check) -> None:
    """A depends_on loop, reported once, as ``docker compose config`` reports it."""
    _, loop = dependency_order({name: s.depends_on for name, s in check.project.services.items()})
    if loop:
        check.error(("services", loop[0], "depends_on", loop[1]),
                    f"dependency cycle detected: {' -> '.join(loop)}",
                    "Remove one of these dependencies; a service cannot wait for itself.")


def _service_names(check: _Check) -> None:
    seen: dict[str, str] = {}
    for name in check.project.services:
        key = normalize_service_name(name)
        if key in seen:
            check.error(("services", name),
                        f"service names {seen[key]!r} and {name!r} both become {key!r} "
                        "in cloud resource names", "Rename one of the two services.")
        seen.setdefault(key, name)
