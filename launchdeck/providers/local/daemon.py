"""Finds the Docker Engine the way the Docker CLI does, so launchdeck deploys where `docker` would.

The order is the CLI's: DOCKER_HOST (with DOCKER_TLS_VERIFY / DOCKER_CERT_PATH), else the current
Docker context (DOCKER_CONTEXT, else ``currentContext`` in $DOCKER_CONFIG/config.json, whose
endpoint is in ``contexts/meta/<sha256 of the name>/meta.json``; Docker Desktop, Colima,
OrbStack and Rancher Desktop each select one), else the default socket. ``resolve_endpoint``
says where the engine is and how that was decided; ``connect`` opens a docker SDK client there.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from launchdeck.errors import EngineUnavailable

DEFAULT_HOST = "npipe:////./pipe/docker_engine" if sys.platform == "win32" \
    else "unix:///var/run/docker.sock"

_KNOWN_SOCKETS = (
    ("Docker Desktop", "~/.docker/run/docker.sock"),
    ("Docker Desktop", "~/.docker/desktop/docker.sock"),
    ("Colima", "~/.colima/default/docker.sock"),
    ("OrbStack", "~/.orbstack/run/docker.sock"),
    ("Rancher Desktop", "~/.rd/docker.sock"),
    ("rootless Docker", "$XDG_RUNTIME_DIR/docker.sock"),
)
"""Sockets that engine distributions make, named in the hint when the chosen place is dead."""


@dataclass(frozen=True, slots=True)
class TLS:
    """Client TLS for an engine on tcp://: a folder holding ca.pem, cert.pem and key.pem."""

    cert_dir: str
    verify: bool

    def file(self, name: str) -> str | None:
        path = Path(self.cert_dir) / name
        return str(path) if path.is_file() else None


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where the engine is (``host``), and how that was decided (``source``, ``looked``)."""

    host: str
    source: str
    tls: TLS | None = None
    context: str | None = None
    looked: tuple[str, ...] = field(default=())
    """Every place consulted, in order, with what it held: named when nothing answers."""

    def cli_environment(self, base: Mapping[str, str]) -> dict[str, str]:
        """``base`` with the variables that make a Docker CLI talk to this same engine."""
        env = {k: v for k, v in base.items()
               if k not in ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS", "DOCKER_TLS_VERIFY",
                            "DOCKER_CERT_PATH")}
        env["DOCKER_HOST"] = self.host
        if self.tls is not None:
            env["DOCKER_CERT_PATH"] = self.tls.cert_dir
            env["DOCKER_TLS_VERIFY" if self.tls.verify else "DOCKER_TLS"] = "1"
        return env


def config_dir(environ: Mapping[str, str]) -> Path:
    """The Docker CLI's configuration folder: $DOCKER_CONFIG, else ~/.docker."""
    configured = environ.get("DOCKER_CONFIG")
    if configured:
        return Path(configured).expanduser()
    home = environ.get("HOME")
    return (Path(home) if home else Path.home()) / ".docker"


def resolve_endpoint(environ: Mapping[str, str] | None = None) -> Endpoint:
    """The engine's endpoint as the Docker CLI would choose it from ``environ`` (os.environ)."""
    env = os.environ if environ is None else environ
    looked: list[str] = []
    host = env.get("DOCKER_HOST", "")
    if host:
        return Endpoint(host=host, source="DOCKER_HOST", tls=_env_tls(env),
                        looked=(f"DOCKER_HOST={host}",))
    looked.append("DOCKER_HOST (not set)")
    name = env.get("DOCKER_CONTEXT", "")
    if name:
        source = "DOCKER_CONTEXT"
        looked.append(f"DOCKER_CONTEXT={name}")
    else:
        looked.append("DOCKER_CONTEXT (not set)")
        name, note = _current_context(config_dir(env))
        source = f"currentContext in {config_dir(env) / 'config.json'}"
        looked.append(note)
    if name and name != "default":
        return _context_endpoint(name, source, config_dir(env), tuple(looked))
    return Endpoint(host=DEFAULT_HOST, source="the default socket", looked=(*looked, DEFAULT_HOST))


def _env_tls(env: Mapping[str, str]) -> TLS | None:
    verify = bool(env.get("DOCKER_TLS_VERIFY"))
    if not verify and not env.get("DOCKER_TLS"):
        return None
    return TLS(cert_dir=env.get("DOCKER_CERT_PATH") or str(config_dir(env)), verify=verify)


def _current_context(folder: Path) -> tuple[str | None, str]:
    path = folder / "config.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, f"{path} (none)"
    except (OSError, ValueError) as exc:
        # the Docker CLI warns and carries on with its defaults; so do we
        return None, f"{path} (unreadable: {_os_reason(exc)})"
    name = data.get("currentContext") if isinstance(data, dict) else None
    if not isinstance(name, str) or not name:
        return None, f"{path} (no currentContext)"
    return name, f"{path} (currentContext {name})"


def _context_endpoint(name: str, source: str, folder: Path, looked: tuple[str, ...]) -> Endpoint:
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = folder / "contexts" / "meta" / digest / "meta.json"
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
        docker = data["Endpoints"]["docker"]
        host = docker["Host"]
        if not isinstance(host, str) or not host:
            raise ValueError("no Host")
    except FileNotFoundError:
        raise EngineUnavailable(
            f"the Docker context {name!r} (from {source}) does not exist: {meta} is missing",
            provider="local",
            hint="Select a context that exists (`docker context ls`, then `docker context use "
                 "NAME`), or set DOCKER_HOST to the engine's address.") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EngineUnavailable(
            f"the Docker context {name!r} (from {source}) has no usable docker endpoint in "
            f"{meta} ({_os_reason(exc) if isinstance(exc, OSError) else 'no Endpoints.docker.Host'})",
            provider="local",
            hint="Recreate the context (`docker context rm`, then `docker context create`), or "
                 "select another one.") from exc
    tls_dir = folder / "contexts" / "tls" / digest / "docker"
    tls = TLS(cert_dir=str(tls_dir), verify=not docker.get("SkipTLSVerify", False)) \
        if tls_dir.is_dir() else None
    return Endpoint(host=host, source=f"Docker context {name} ({source})", tls=tls, context=name,
                    looked=(*looked, f"{meta} (Host {host})"))


def connect(endpoint: Endpoint | None = None, *, timeout: int = 120) -> Any:
    """A docker SDK client (``docker.DockerClient``) talking to the engine at ``endpoint``
    (default: ``resolve_endpoint()``); EngineUnavailable when nothing answers there.

    Blocking: call it from a worker thread in async code."""
    import docker
    import docker.errors
    import docker.tls
    import requests.exceptions

    endpoint = endpoint or resolve_endpoint()
    try:
        tls: Any = False
        if endpoint.tls is not None:
            cert, key = endpoint.tls.file("cert.pem"), endpoint.tls.file("key.pem")
            ca = endpoint.tls.file("ca.pem")
            tls = docker.tls.TLSConfig(client_cert=(cert, key) if cert and key else None,
                                       ca_cert=ca, verify=(ca or True) if endpoint.tls.verify
                                       else False)
        client = _client_class()(base_url=endpoint.host, tls=tls, timeout=timeout,
                                 use_ssh_client=endpoint.host.startswith("ssh://"))
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
        raise unavailable(endpoint, exc) from exc
    return client


@functools.cache
def _client_class() -> Any:
    """docker.DockerClient whose CA for the engine is not replaced by REQUESTS_CA_BUNDLE.

    requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's CA file, so with
    either set (common behind company proxies) a TLS engine's own CA would not be used."""
    import docker

    class _API(docker.APIClient):  # type: ignore[misc]
        def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any,
                                       cert: Any) -> Any:
            settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
            if verify is None and isinstance(self.verify, str):
                settings["verify"] = self.verify
            return settings

    class _Client(docker.DockerClient):  # type: ignore[misc]
        def __init__(self, **kwargs: Any) -> None:
            self.api = _API(**kwargs)

    return _Client


def unavailable(endpoint: Endpoint, exc: BaseException | None = None) -> EngineUnavailable:
    """The error for an engine that does not answer at ``endpoint``: what was tried, and why."""
    reason = _reason(exc) if exc is not None else "no answer"
    tried = "; ".join(endpoint.looked)
    message = (f"no Docker Engine answers at {endpoint.host} ({endpoint.source}): {reason}\n"
               f"looked at: {tried}")
    if endpoint.source == "DOCKER_HOST":
        hint = ("Start the engine at DOCKER_HOST, or point DOCKER_HOST at one that runs (unset it "
                "to use the current Docker context).")
    elif endpoint.context:
        hint = (f"Start the engine behind the Docker context {endpoint.context} (Docker Desktop, "
                f"`colima start`, OrbStack, Rancher Desktop), or select another context "
                f"(`docker context use default`).")
    else:
        hint = ("Start Docker (e.g. `sudo systemctl start docker`, or Docker Desktop, Colima, "
                "OrbStack), or point DOCKER_HOST or a Docker context at a running engine.")
    if "permission denied" in reason:
        hint = ("Give your user access to the engine's socket (add it to the docker group: "
                "`sudo usermod -aG docker $USER`, then log in again), or use rootless Docker.")
    found = [f"{who} at {path}" for who, path in _sockets_on_disk()
             if f"unix://{path}" != endpoint.host]
    if found:
        hint += " Engine sockets exist at: " + ", ".join(found) + " (set DOCKER_HOST=unix://PATH " \
                "to use one)."
    return EngineUnavailable(message, provider="local", hint=hint)


def _sockets_on_disk() -> list[tuple[str, str]]:
    out = []
    for who, pattern in _KNOWN_SOCKETS:
        path = os.path.expandvars(os.path.expanduser(pattern))
        if "$" not in path and Path(path).is_socket():
            out.append((who, path))
    return out


def _reason(exc: BaseException) -> str:
    """Why a connection failed, in words: the OS error under the SDK's wrappers when there is one."""
    import requests.exceptions

    root = _root_os_error(exc)
    if isinstance(exc, requests.exceptions.SSLError) or "SSL" in type(root).__name__:
        return f"the TLS handshake failed ({_first_line(root or exc)})"
    if isinstance(root, FileNotFoundError):
        return "nothing there (no such socket)"
    if isinstance(root, ConnectionRefusedError):
        return "connection refused (nothing listens there)"
    if isinstance(root, PermissionError):
        return "permission denied on the socket"
    if isinstance(root, TimeoutError) or isinstance(exc, requests.exceptions.Timeout):
        return "no answer in time"
    if root is not None:
        return _os_reason(root)
    return _first_line(exc)


def _root_os_error(exc: BaseException, depth: int = 0) -> BaseException | None:
    """The innermost OSError (or ssl error) behind docker, requests and urllib3 wrappers."""
    if depth > 8:
        return None
    candidates: list[Any] = [exc.__cause__, exc.__context__, *exc.args]
    for item in candidates:
        if isinstance(item, BaseException):
            deeper = _root_os_error(item, depth + 1)
            if deeper is not None:
                return deeper
    if isinstance(exc, OSError) and not type(exc).__module__.startswith(("requests", "urllib3")):
        return exc
    return None


def _os_reason(exc: BaseException) -> str:
    """An OS error in the words compose uses for one; anything else by its first line."""
    if isinstance(exc, OSError) and exc.strerror:
        from launchdeck.compose.source import os_reason

        return os_reason(exc)
    return _first_line(exc)


def _first_line(exc: BaseException) -> str:
    from launchdeck.providers.local.containers import reason

    return (reason(exc).splitlines() or [type(exc).__name__])[0][:300]
