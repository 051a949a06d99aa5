"""The compose project as typed models: the one shape every later layer reads.

Short syntaxes are normalised here, once (ports, volumes, healthcheck tests, durations,
sizes, command strings); nothing downstream looks at raw YAML. Keys a model does not name
(unmodelled Compose fields and ``x-`` extensions) are kept in ``model_extra`` so that
``compose config`` prints them back. Durations are seconds and sizes are bytes; they print
in Compose's own forms (``1m30s``, ``"268435456"``).
"""

from __future__ import annotations

import math
import os
import posixpath
import re
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)

from launchdeck.compose.interpolate import substitute
from launchdeck.compose.quantity import format_duration, parse_bytes, parse_duration
from launchdeck.compose.source import shorten

Duration = Annotated[
    float, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)
]
"""Seconds; written and printed as a Go duration (``1m30s``)."""

Bytes = Annotated[
    int, BeforeValidator(parse_bytes), PlainSerializer(lambda v: str(v), return_type=str)
]
"""Bytes; written as ``512m``, printed as Compose prints sizes (a string of digits)."""


def _string_or_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _stringify(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


def _command(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return split_words(value)
        except ValueError as exc:
            raise ValueError(f"cannot split {_brief(value)} into arguments: {exc}") from None
    return value


def split_words(text: str) -> list[str]:
    """A string ``command`` or ``entrypoint`` split into words exactly as Compose splits it.

    Compose (compose-go) calls ``shellwords.Parse`` of github.com/mattn/go-shellwords v1.0.12,
    with neither variable nor backquote expansion; this is that function. It is not a shell:
    a backslash escapes any character outside single quotes (inside double quotes too); an
    unquoted ``;``, ``&``, ``|``, ``<`` or ``>`` ends the command and the rest is dropped
    (``a && b`` runs ``a``; before ``>``, a word starting with a digit is dropped too, as in
    ``2>&1``); ``$(`` opens a group kept whole with its spaces, and a bare ``(`` is an error;
    backquotes keep their spaces. Linear time: each word is joined once.
    """
    words: list[str] = []
    word: list[str] = []
    escaped = double = single = backquote = dollar = got = False
    for char in text:
        if escaped:
            word.append(char)
            escaped, got = False, True
            continue
        if char == "\\":
            if single:
                word.append(char)
            else:
                escaped = True
            continue
        if char in " \t\r\n":
            if single or double or backquote or dollar:
                word.append(char)
            elif got:
                words.append("".join(word))
                word, got = [], False
            continue
        if char == "`":
            if not (single or double or dollar):
                backquote = not backquote
        elif char == ")":
            if not (single or double or backquote):
                dollar = not dollar
        elif char == "(":
            if not (single or double or backquote):
                if dollar or not word or word[-1] != "$":
                    raise ValueError("a ( that does not follow $ (quote it)")
                dollar = True
        elif char == '"':
            if not (single or dollar):
                got = got or double  # a closing quote makes a word, even an empty one
                double = not double
                continue
        elif char == "'":
            if not (double or dollar):
                got = got or single
                single = not single
                continue
        elif char in ";&|<>" and not (single or double or backquote or dollar):
            if char == ">" and word and "0" <= word[0] <= "9":
                got = False
            break
        got = True
        word.append(char)
    if got:
        words.append("".join(word))
    if single or double:
        raise ValueError("No closing quotation")
    if escaped:
        raise ValueError("No escaped character")
    if backquote or dollar:
        raise ValueError("a `...` or $(...) is not closed")
    return words


StringList = Annotated[list[str], BeforeValidator(_string_or_list)]
Command = Annotated[list[str] | None, BeforeValidator(_command)]
Scalar = Annotated[str, BeforeValidator(_stringify)]
OptionalScalar = Annotated[str | None, BeforeValidator(_stringify)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, validate_default=False)


class _Open(BaseModel):
    """A model that keeps the keys it does not name (unmodelled fields, ``x-`` extensions)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    @property
    def extensions(self) -> dict[str, Any]:
        """The ``x-`` keys of this object."""
        return {k: v for k, v in (self.model_extra or {}).items() if k.startswith("x-")}


def _context(info: ValidationInfo) -> dict[str, Any]:
    return info.context or {}


def resolve_path(path: str, base: str | None) -> str:
    """``path`` (``~`` expanded) relative to ``base``, normalised; a URL or git address, or any
    path without a base, as it is."""
    if not base or "://" in path or path.startswith("git@"):
        return path
    return os.path.normpath(os.path.join(base, os.path.expanduser(path)))


def _resolve_path(path: str, info: ValidationInfo) -> str:
    return resolve_path(path, _context(info).get("working_dir"))


class Build(_Open):
    """How to build the service's image."""

    context: str = "."
    dockerfile: str | None = None
    dockerfile_inline: str | None = None
    args: dict[str, OptionalScalar] = {}
    target: str | None = None
    ssh: Any = None
    secrets: Any = None
    extra_hosts: Any = None
    network: str | None = None
    platforms: list[str] | None = None
    additional_contexts: Any = None
    privileged: bool | None = None

    @field_validator("context")
    @classmethod
    def _absolute_context(cls, value: str, info: ValidationInfo) -> str:
        return _resolve_path(value, info)

    @model_validator(mode="after")
    def _default_dockerfile(self) -> Build:
        if self.dockerfile is None and self.dockerfile_inline is None:
            self.dockerfile = "Dockerfile"
        return self


_PORT = re.compile(r"(\d+)(?:-(\d+))?")
_MAX_PORT = 65535
MAX_PORTS = 65536
"""The most ports the ranges of one project may expand to (every port number, once)."""


class Port(_Model):
    """One port of a service, in Compose's long syntax."""

    name: str | None = None
    mode: Literal["ingress", "host"] = "ingress"
    host_ip: str | None = None
    target: int
    published: str | None = None
    protocol: str = "tcp"
    app_protocol: str | None = None
    mode_defaulted: bool = Field(False, exclude=True)
    """True when the file gave no mode and ``ingress`` was assumed."""

    @model_validator(mode="before")
    @classmethod
    def _short_syntax(cls, value: Any) -> Any:
        if isinstance(value, (int, str)) and not isinstance(value, bool):
            ports = parse_port(value)
            if len(ports) != 1:
                raise ValueError(f"port range {value!r} must be expanded")  # done by Service
            return ports[0]
        if isinstance(value, dict):
            value = dict(value)
            if "mode" not in value:
                value["mode_defaulted"] = True
            if value.get("published") is not None:
                value["published"] = str(value["published"])
        return value

    @field_validator("target", mode="before")
    @classmethod
    def _target(cls, value: Any) -> Any:
        if isinstance(value, str) and value.isdigit():
            return int(value)
        if isinstance(value, str) and "-" in value:
            raise ValueError(f"a port range {value!r} needs the short syntax (\"8000-8001\")")
        return value


def parse_port(spec: int | str) -> list[dict[str, Any]]:
    """The long-syntax entries for one short-syntax port (``[IP:][HOST:]CONTAINER[/PROTO]``)."""
    text = str(spec).strip()
    text, _, protocol = text.partition("/")
    parts = text.rsplit(":", 2) if not text.startswith("[") else _split_ipv6(text)
    target = parts[-1]
    published = parts[-2] if len(parts) >= 2 else ""
    host_ip = parts[0] if len(parts) == 3 else None
    match, pub_match = _PORT.fullmatch(target), _PORT.fullmatch(published) if published else None
    if not match or (published and not pub_match):
        raise ValueError(
            f"invalid port {_brief(spec)}: use CONTAINER, HOST:CONTAINER or IP:HOST:CONTAINER, "
            "optionally with /tcp or /udp"
        )
    numbers = [g for m in (match, pub_match) if m for g in m.groups() if g]
    if any(len(n) > 5 for n in numbers):
        raise ValueError(f"invalid port {_brief(spec)}: ports are numbers from 0 to {_MAX_PORT}")
    first, last = int(match.group(1)), int(match.group(2) or match.group(1))
    pub_first, pub_last = (int(pub_match.group(1)), int(pub_match.group(2) or pub_match.group(1))) \
        if pub_match else (0, 0)
    # a range is checked before it is expanded: "1-1000000000" would otherwise take gigabytes
    if max(last, pub_last) > _MAX_PORT or first > last or pub_first > pub_last:
        raise ValueError(f"invalid port {_brief(spec)}: ports are numbers from 0 to {_MAX_PORT}, "
                         "and a range goes from low to high")
    common = {"mode": "ingress", "protocol": protocol or "tcp", "mode_defaulted": True}
    if host_ip:
        common["host_ip"] = host_ip.strip("[]")
    if first == last:
        return [{**common, "target": first, "published": published or None}]
    if pub_match and pub_match.group(2):
        if pub_last - pub_first != last - first:
            raise ValueError(f"invalid port {_brief(spec)}: the two ranges differ in length")
        return [{**common, "target": t, "published": str(pub_first + t - first)}
                for t in range(first, last + 1)]
    return [{**common, "target": t, "published": published or None}
            for t in range(first, last + 1)]


def _brief(value: Any) -> str:
    """``repr(value)`` for a message, cut to 60 characters: the value may be a megabyte long."""
    return shorten(repr(value), 60)


def _split_ipv6(text: str) -> list[str]:
    ip, _, rest = text.partition("]:")
    return [ip + "]", *rest.split(":", 1)] if ":" in rest else [ip + "]", "", rest]


_PROBE_URL = re.compile(r"https?://(?:localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1\])(?::(\d+))?(/[^\s'\"]*)?")
"""A URL of the container itself in a healthcheck: its port (none: 80) and its path."""
_MARK = "\x00launchdeck-config\x00"


class Healthcheck(_Model):
    """How to tell that a service is healthy."""

    test: list[str] | None = None
    interval: Duration | None = None
    timeout: Duration | None = None
    retries: int | None = None
    start_period: Duration | None = None
    start_interval: Duration | None = None
    disable: bool | None = None

    @field_validator("test", mode="before")
    @classmethod
    def _test(cls, value: Any) -> Any:
        if isinstance(value, str):
            return ["CMD-SHELL", value]
        return value

    @property
    def disabled(self) -> bool:
        return bool(self.disable) or (self.test or [""])[0] == "NONE"

    @property
    def command(self) -> str:
        """The probe as one line of text, for messages and for finding the URL it probes."""
        if not self.test:
            return ""
        return " ".join(self.test[1:]) if self.test[0] in ("CMD", "CMD-SHELL") else " ".join(self.test)

    def local_path(self, port: int) -> str | None:
        """The path of the URL the probe fetches from the container itself on ``port``
        (``curl -f http://localhost:8080/up`` -> ``/up``), or None when it fetches none there:
        what a target that probes over HTTP itself can ask for."""
        for match in _PROBE_URL.finditer(self.command):
            if int(match.group(1) or 80) == port:
                return match.group(2) or "/"
        return None


class Dependency(_Model):
    """One entry of depends_on."""

    condition: Literal[
        "service_started", "service_healthy", "service_completed_successfully"
    ] = "service_started"
    required: bool = True
    restart: bool | None = None


class Resources(_Open):
    """Resource limits or reservations."""

    cpus: float | None = None
    memory: Bytes | None = None
    pids: int | None = None

    @field_validator("cpus", mode="before")
    @classmethod
    def _cpus(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise ValueError(f"invalid cpus {value!r}: use a number like 0.5") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"invalid cpus {value!r}: use a number like 0.5")
        return value


class ResourceSpec(_Model):
    limits: Resources | None = None
    reservations: Resources | None = None


_MAX_REPLICAS = (1 << 31) - 1  # what ECS, Cloud Run and the Docker API can hold


class Deploy(_Open):
    """The deploy section: replicas and resources, plus the Swarm-only keys for validation."""

    mode: str | None = None
    replicas: int | None = None
    resources: ResourceSpec | None = None
    restart_policy: Any = None
    update_config: Any = None
    rollback_config: Any = None
    endpoint_mode: str | None = None

    @field_validator("replicas")
    @classmethod
    def _replicas(cls, value: int | None) -> int | None:
        if value is not None and not 0 <= value <= _MAX_REPLICAS:
            raise ValueError(f"replicas must be a whole number from 0 to {_MAX_REPLICAS}, "
                             f"not {value}")
        return value


class ServiceNetwork(_Open):
    """How a service joins one network."""

    aliases: list[str] | None = None


class Mount(_Open):
    """One volume, bind mount or tmpfs of a service, in Compose's long syntax."""

    type: str
    source: str | None = None
    target: str
    read_only: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _short_syntax(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):
            value = _parse_mount(value)
        if isinstance(value, dict) and value.get("read_only") is False:  # Compose omits it
            value = {k: v for k, v in value.items() if k != "read_only"}
        if isinstance(value, dict) and value.get("type") == "bind" and value.get("source"):
            value = {**value, "source": _bind_source(str(value["source"]), info)}
        if isinstance(value, dict) and isinstance(value.get("target"), str) and value["target"]:
            value = {**value, "target": _clean(value["target"])}
        return value


def _bind_source(path: str, info: ValidationInfo) -> str:
    """As Compose resolves it: an absolute source is kept as written (even ``/data/``), a
    relative or ``~`` one is made absolute and cleaned."""
    if path.startswith("/"):
        return path
    return _resolve_path(path, info)


def _clean(path: str) -> str:
    """Go's ``path.Clean``, which Compose applies to mount targets: ``/app/`` is ``/app``."""
    cleaned = posixpath.normpath(path)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


_PROPAGATIONS = frozenset({"rprivate", "private", "rshared", "shared", "rslave", "slave"})


def _parse_mount(spec: str) -> dict[str, Any]:
    """Compose's short volume syntax (compose-go ``format.ParseVolume``): ``ro``/``rw``,
    ``nocopy``, propagation and the SELinux labels ``z``/``Z`` are read whatever the mount's
    type (a named volume keeps its ``:z`` as Compose does); other options are ignored."""
    parts = spec.split(":")
    if len(parts) == 1:
        return {"type": "volume", "target": parts[0], "volume": {}}
    if len(parts) > 3 or not parts[0] or not parts[1]:
        raise ValueError(f"invalid volume {_brief(spec)}: use SOURCE:TARGET[:ro]")
    source, target = parts[0], parts[1]
    bind_options: dict[str, Any] = {}
    volume_options: dict[str, Any] = {}
    read_only = False
    for option in parts[2].split(",") if len(parts) == 3 else ():
        if option in ("ro", "rw"):
            read_only = option == "ro"
        elif option == "nocopy":
            volume_options = {"nocopy": True}
        elif option in ("z", "Z"):
            bind_options["selinux"] = option
        elif option in _PROPAGATIONS:
            bind_options["propagation"] = option
    mount: dict[str, Any] = {"type": "volume", "source": source, "target": target}
    if read_only:
        mount["read_only"] = True
    if source.startswith((".", "/", "~")):
        mount["type"] = "bind"
        bind_options["create_host_path"] = True
    else:
        mount["volume"] = volume_options
    if bind_options:
        mount["bind"] = bind_options
    return mount


class FileReference(_Open):
    """One secret or config a service mounts, in Compose's long syntax."""

    source: str
    target: str | None = None
    uid: str | None = None
    gid: str | None = None
    mode: str | None = None
    """Octal, as Compose prints it (``"0440"``)."""

    @model_validator(mode="before")
    @classmethod
    def _short_syntax(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"source": value}
        if isinstance(value, dict) and value.get("mode") is not None:
            mode = value["mode"]
            try:
                number = int(mode, 8) if isinstance(mode, str) else int(mode)
            except (TypeError, ValueError):
                raise ValueError(f"invalid mode {_brief(mode)}: use an octal number like "
                                 "0440") from None
            value = {**value, "mode": f"0{number:o}"}
        return value


class EnvFile(_Model):
    path: str
    required: bool = True
    format: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _short(cls, value: Any) -> Any:
        return {"path": value} if isinstance(value, str) else value


class ManagedStore(_Open):
    """A managed data store asked for by ``x-defang-postgres`` / ``-redis`` / ``-mongodb``."""

    allow_downtime: bool | None = Field(None, alias="allow-downtime")

    @model_validator(mode="before")
    @classmethod
    def _flag(cls, value: Any) -> Any:
        return {} if value is True or value is None else value


class ManagedLLM(_Open):
    """A managed LLM endpoint asked for by ``x-defang-llm``."""

    model: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _flag(cls, value: Any) -> Any:
        return {} if value is True or value is None else value


class Autoscaling(_Model):
    """Replicas that follow the load, asked for by ``x-defang-autoscaling`` (``true``, or the
    options ``min``, ``max`` and ``cpu``: the average CPU percentage the target keeps)."""

    min: int | None = Field(None, ge=0, le=_MAX_REPLICAS)
    """Fewest replicas; None: one on a target that cannot scale to zero, else zero."""
    max: int | None = Field(None, ge=1, le=_MAX_REPLICAS)
    cpu: int | None = Field(None, ge=1, le=100)

    DEFAULT_MAX: ClassVar[int] = 10
    DEFAULT_CPU: ClassVar[int] = 50

    @model_validator(mode="before")
    @classmethod
    def _flag(cls, value: Any) -> Any:
        return {} if value is True or value is None else value

    @property
    def highest(self) -> int:
        """Most replicas: ``max``, else ten (or ``min``, if that is more)."""
        return self.max if self.max is not None else max(self.DEFAULT_MAX, self.min or 0)

    @property
    def target(self) -> int:
        """The average CPU percentage the replicas are scaled to keep."""
        return self.cpu if self.cpu is not None else self.DEFAULT_CPU


def _option_values(value: Any) -> Any:
    items = value if isinstance(value, list) else [value]
    return [_stringify(item) for item in items]


class ServiceProvider(_Open):
    """``provider:``: a service whose lifecycle a platform manages (Compose provider services).

    ``type: model`` asks for an LLM; its ``options.model`` names the model. Compose writes
    every option as a list of strings, and so does this model.
    """

    type: str
    options: dict[str, Annotated[list[str], BeforeValidator(_option_values)]] = {}


def model_variables(service: str, url: str, model: str) -> dict[str, str]:
    """The variables a service depending on model service ``service`` receives.

    Compose gives ``<NAME>_URL`` (the endpoint) and ``<NAME>_MODEL`` (the model name), NAME
    being the service name upper-cased; a dash becomes ``_`` so the name can be read from a
    shell or a program (Compose's top-level ``models:`` does the same).
    """
    prefix = service.upper().replace("-", "_")
    return {f"{prefix}_URL": url, f"{prefix}_MODEL": model}


def _managed(kind: str) -> Any:
    return Field(
        None,
        validation_alias=AliasChoices(f"x-defang-{kind}", f"x-launchdeck-{kind}"),
        serialization_alias=f"x-defang-{kind}",
    )


class Service(_Open):
    """One service of the project."""

    name: str = Field(exclude=True)
    image: str | None = None
    build: Build | None = None
    command: Command = None
    entrypoint: Command = None
    environment: dict[str, OptionalScalar] = {}
    env_file: list[EnvFile] = Field([], exclude=True)
    ports: list[Port] = []
    expose: list[Scalar] = []
    healthcheck: Healthcheck | None = None
    depends_on: dict[str, Dependency] = {}
    deploy: Deploy | None = None
    restart: str | None = None
    networks: dict[str, ServiceNetwork | None] = {}
    network_mode: str | None = None
    domainname: str | None = None
    hostname: str | None = None
    volumes: list[Mount] = []
    volumes_from: list[str] = []
    secrets: list[FileReference] = []
    configs: list[FileReference] = []
    dns: StringList = []
    dns_search: StringList = []
    devices: list[Any] = []
    device_cgroup_rules: list[str] = []
    group_add: list[Scalar] = []
    privileged: bool | None = None
    profiles: list[str] = []
    labels: dict[str, Scalar] = {}
    working_dir: str | None = None
    user: str | None = None
    platform: str | None = None
    postgres: ManagedStore | None = _managed("postgres")
    redis: ManagedStore | None = _managed("redis")
    mongodb: ManagedStore | None = _managed("mongodb")
    llm: ManagedLLM | None = _managed("llm")
    autoscaling: Autoscaling | None = _managed("autoscaling")
    provider: ServiceProvider | None = None
    env_refs: dict[str, tuple[str, ...]] = Field({}, exclude=True)
    """Environment keys whose values are templates, with the config names each refers to."""

    @field_validator("autoscaling", mode="before")
    @classmethod
    def _autoscaling_off(cls, value: Any) -> Any:
        return None if value is False else value  # `x-defang-autoscaling: false`: fixed count

    @field_serializer("postgres", "redis", "mongodb", "llm", "autoscaling")
    def _flag_out(self, value: _Open | None) -> Any:
        if value is None:
            return None
        options = value.model_dump(mode="json", by_alias=True, exclude_none=True)
        return options or True  # written as `x-defang-postgres: true`

    @field_validator("secrets")
    @classmethod
    def _secret_targets(cls, value: list[FileReference]) -> list[FileReference]:
        for secret in value:  # where Compose mounts a secret that names no target
            if secret.target is None:
                secret.target = f"/run/secrets/{secret.source}"
        return value

    @field_validator("ports", mode="before")
    @classmethod
    def _expand_ranges(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, list):
            return value
        # one budget for the whole project: a hundred "1-65535" would be millions of ports
        spent = _context(info).setdefault("expanded_ports", [0])
        out: list[Any] = []
        for item in value:
            if isinstance(item, (str, int)) and not isinstance(item, bool):
                try:
                    ports = parse_port(item)
                except ValueError:
                    out.append(item)  # the Port model reports it, at this item's index
                    continue
                spent[0] += len(ports)
                if spent[0] > MAX_PORTS:
                    raise ValueError(f"port ranges expand to more than {MAX_PORTS} ports in the "
                                     "project; publish fewer, or one range for all")
                out.extend(ports)
                continue
            out.append(item)
        return out

    @property
    def managed_store(self) -> Literal["postgres", "redis", "mongodb"] | None:
        """The kind of managed store this service stands for, if any."""
        for kind in ("postgres", "redis", "mongodb"):
            if getattr(self, kind) is not None:
                return kind  # type: ignore[return-value]
        return None

    @property
    def model_provider(self) -> str | None:
        """The model a ``provider: {type: model}`` service stands for, if it is one."""
        if self.provider is None or self.provider.type != "model":
            return None
        models = self.provider.options.get("model") or [""]
        return models[0]

    @property
    def ingress_ports(self) -> list[Port]:
        return [p for p in self.ports if p.mode == "ingress"]

    @property
    def replica_count(self) -> int:
        """How many copies run: ``deploy.replicas``, else one."""
        return self.deploy.replicas if self.deploy and self.deploy.replicas is not None else 1

    @property
    def asked(self) -> tuple[float, float]:
        """(CPUs, memory MiB) the service asks for: the larger of its reservations and limits."""
        cpus = memory = 0.0
        resources = self.deploy.resources if self.deploy else None
        for spec in (resources.reservations, resources.limits) if resources else ():
            if spec is not None:
                cpus = max(cpus, spec.cpus or 0)
                memory = max(memory, (spec.memory or 0) / (1024 * 1024))
        return cpus, memory

    def resolved_environment(self, config: Mapping[str, str]) -> dict[str, str]:
        """The environment with config values filled in; keys whose value is unset are left out."""
        out = {}
        for key, value in self.environment.items():
            if value is None:
                if key in config:
                    out[key] = config[key]
            elif key in self.env_refs:
                out[key] = substitute(value, config).value
            else:
                out[key] = value
        return out

    def config_ref(self, key: str) -> str | None:
        """The config value environment variable ``key`` is, whole: its own name when written
        without a value (``TOKEN:``), the one its value names alone (``${API_KEY}``); None for
        plain text and for text that mixes config in (``pg://app:${PW}@db/app``)."""
        raw = self.environment[key]
        if raw is None:
            return key
        refs = self.env_refs.get(key, ())
        if len(refs) == 1 and substitute(raw, {refs[0]: _MARK}).value == _MARK:
            return refs[0]
        return None

    def required_config(self) -> set[str]:
        """Config names this service reads from the secret store."""
        names = {key for key, value in self.environment.items() if value is None}
        for refs in self.env_refs.values():
            names.update(refs)
        return names


class Network(_Open):
    name: str | None = None
    external: bool | None = None


class Volume(_Open):
    name: str | None = None
    external: bool | None = None


class Project(_Open):
    """A loaded compose project: services plus the top-level networks and volumes."""

    name: str
    working_dir: str = Field(exclude=True)
    compose_files: list[str] = Field([], exclude=True)
    services: dict[str, Service] = {}
    networks: dict[str, Network] = {}
    volumes: dict[str, Volume] = {}
    secrets: dict[str, Any] = {}
    configs: dict[str, Any] = {}

    @model_validator(mode="before")
    @classmethod
    def _service_names(cls, value: Any) -> Any:
        if isinstance(value, dict) and isinstance(value.get("services"), dict):
            value = dict(value)
            value["services"] = {
                name: {**svc, "name": name} if isinstance(svc, dict) else svc
                for name, svc in value["services"].items()
            }
        return value

    @model_validator(mode="after")
    def _resolve_resources(self) -> Project:
        """What Compose derives: the default network, implied dependencies, resource names."""
        for service in self.services.values():
            # a provider service is not a container: Compose attaches it to no network
            if not service.networks and not service.network_mode and service.provider is None:
                service.networks = {"default": None}
            for source in service.volumes_from:
                if not source.startswith("container:"):
                    name = source.split(":")[0]
                    service.depends_on.setdefault(name, Dependency())
        used_networks = {n for s in self.services.values() for n in s.networks}
        used_volumes = {m.source for s in self.services.values() for m in s.volumes
                        if m.type == "volume" and m.source}
        if "default" in used_networks and "default" not in self.networks:
            self.networks = {"default": Network(), **self.networks}
        self.networks = {k: v for k, v in self.networks.items() if k in used_networks}
        self.volumes = {k: v for k, v in self.volumes.items() if k in used_volumes}
        for key, network in self.networks.items():
            if network.name is None:
                network.name = key if network.external else f"{self.name}_{key}"
        for key, volume in self.volumes.items():
            if volume.name is None:
                volume.name = key if volume.external else f"{self.name}_{key}"
        return self

    def model_environment(self, service: str, endpoints: Mapping[str, str]) -> dict[str, str]:
        """What ``service`` receives from the model services it depends on (``model_variables``),
        given the endpoint URL of each model service by name; one without an endpoint gives none."""
        out: dict[str, str] = {}
        for name in self.services[service].depends_on:
            other = self.services.get(name)
            if other is not None and other.model_provider is not None and name in endpoints:
                out.update(model_variables(name, endpoints[name], other.model_provider))
        return out

    def to_compose(self) -> dict[str, Any]:
        """The project as ``docker compose config`` prints it, literal ``$`` written as ``$$``."""
        out: dict[str, Any] = {"name": self.name}
        data = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        for key in ("services", "networks", "volumes", "secrets", "configs"):
            if data.get(key):
                out[key] = data[key]
        out.update({k: v for k, v in data.items() if k.startswith("x-")})
        for name, service in out.get("services", {}).items():
            templates = self.services[name].env_refs
            if isinstance(service.get("healthcheck"), dict) and \
                    service["healthcheck"].get("disable") is False:
                del service["healthcheck"]["disable"]  # Compose prints no `disable: false`
            for key in [k for k, v in service.items() if _omitted(k, v)]:
                del service[key]
            if "build" in service and not service["build"].get("args"):
                service["build"].pop("args", None)
            if "networks" in service:
                service["networks"] = {k: v or None for k, v in service["networks"].items()}
            environment = service.pop("environment", None)
            service.update(_escape(service))
            if environment:
                service["environment"] = {
                    k: v if k in templates else _escape(v) for k, v in environment.items()
                }
        for network in out.get("networks", {}).values():
            if not network.get("external"):
                network.setdefault("ipam", {})
        return out


_KEPT_WHEN_FALSE = frozenset({"attach", "init"})
"""Service keys Compose prints even when false (pointers in compose-go); it omits the others."""


def _omitted(key: str, value: Any) -> bool:
    """Whether Compose leaves service key ``key`` out of its output: empty text, lists and
    mappings (but an empty command is printed) and false flags, never an ``x-`` key."""
    if key.startswith("x-"):
        return False
    if value is False:
        return key not in _KEPT_WHEN_FALSE
    if value == "":
        return True
    return (value == [] or value == {}) and key not in ("command", "entrypoint")


def _escape(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, dict):
        return {k: _escape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escape(v) for v in value]
    return value


def path_label(path: tuple[Any, ...] | list[Any]) -> str:
    """``services.web.ports[0]`` from ``("services", "web", "ports", 0)``."""
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        else:
            out += f".{step}" if out else str(step)
    return out
