"""The engine is found as the Docker CLI finds it: DOCKER_HOST, the current context, the default."""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import ipaddress
import json
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from launchdeck.errors import EngineUnavailable
from launchdeck.providers.local.daemon import (
    DEFAULT_HOST,
    connect,
    resolve_endpoint,
)


@pytest.fixture(scope="module")
def engine_socket(docker_api) -> str:
    """The path of the real engine's unix socket (what the tests' contexts point at)."""
    host = resolve_endpoint().host
    if not host.startswith("unix://"):
        pytest.fail(f"these tests need the engine on a unix socket, not {host}")
    return host.removeprefix("unix://")


def _context(config: Path, name: str, host: str, *, skip_tls: bool = False) -> Path:
    """Write a Docker context the way `docker context create` does; return its TLS folder."""
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = config / "contexts" / "meta" / digest / "meta.json"
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps({"Name": name, "Metadata": {"Description": name},
                                "Endpoints": {"docker": {"Host": host,
                                                         "SkipTLSVerify": skip_tls}}}))
    return config / "contexts" / "tls" / digest / "docker"


def _current(config: Path, name: str) -> None:
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.json").write_text(json.dumps({"auths": {}, "currentContext": name}))


def _dead_socket(folder: Path) -> str:
    """A socket file nothing listens on any more, as a stopped engine leaves behind."""
    path = folder / "dead.sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    sock.close()
    return str(path)


def test_docker_host_comes_first(tmp_path: Path) -> None:
    """DOCKER_HOST wins over DOCKER_CONTEXT and the current context, as in the Docker CLI."""
    _context(tmp_path, "colima", "unix:///somewhere/else.sock")
    _current(tmp_path, "colima")
    endpoint = resolve_endpoint({"DOCKER_HOST": "tcp://10.0.0.9:2375", "DOCKER_CONTEXT": "colima",
                                 "DOCKER_CONFIG": str(tmp_path)})
    assert (endpoint.host, endpoint.source, endpoint.context) == (
        "tcp://10.0.0.9:2375", "DOCKER_HOST", None)


def test_docker_context_variable_beats_the_current_context(tmp_path: Path) -> None:
    """DOCKER_CONTEXT selects a context even when config.json names another."""
    _context(tmp_path, "orbstack", "unix:///orb.sock")
    _context(tmp_path, "colima", "unix:///colima.sock")
    _current(tmp_path, "colima")
    endpoint = resolve_endpoint({"DOCKER_CONTEXT": "orbstack", "DOCKER_CONFIG": str(tmp_path)})
    assert (endpoint.host, endpoint.context) == ("unix:///orb.sock", "orbstack")
    assert "DOCKER_CONTEXT" in endpoint.source


@pytest.mark.parametrize("config", [None, {"auths": {}}, {"currentContext": "default"}],
                         ids=["no-config", "no-current-context", "default-context"])
def test_without_a_context_the_default_socket(config: dict | None, tmp_path: Path) -> None:
    """No DOCKER_HOST and no selected context (or `default`) means the default socket."""
    if config is not None:
        (tmp_path / "config.json").write_text(json.dumps(config))
    endpoint = resolve_endpoint({"DOCKER_CONFIG": str(tmp_path)})
    assert (endpoint.host, endpoint.source) == (DEFAULT_HOST, "the default socket")


def test_config_folder_defaults_to_home(tmp_path: Path) -> None:
    """Without DOCKER_CONFIG the context is read from ~/.docker, as the Docker CLI does."""
    _context(tmp_path / ".docker", "desktop-linux", "unix:///desktop.sock")
    _current(tmp_path / ".docker", "desktop-linux")
    endpoint = resolve_endpoint({"HOME": str(tmp_path)})
    assert (endpoint.host, endpoint.context) == ("unix:///desktop.sock", "desktop-linux")
    assert str(tmp_path / ".docker" / "config.json") in endpoint.source


def test_current_context_connects_to_the_real_engine(tmp_path: Path, engine_socket: str) -> None:
    """A context selected in config.json that points at the engine's socket connects."""
    _context(tmp_path, "colima", f"unix://{engine_socket}")
    _current(tmp_path, "colima")
    client = connect(resolve_endpoint({"DOCKER_CONFIG": str(tmp_path)}))
    assert client.ping() is True
    assert client.version()["ApiVersion"]


def test_dead_context_names_every_place_tried(tmp_path: Path) -> None:
    """A context whose engine is gone fails with what was looked at, in order, and a hint."""
    dead = _dead_socket(tmp_path)
    _context(tmp_path, "colima", f"unix://{dead}")
    _current(tmp_path, "colima")
    with pytest.raises(EngineUnavailable) as caught:
        connect(resolve_endpoint({"DOCKER_CONFIG": str(tmp_path)}), timeout=5)
    message = caught.value.message
    assert f"no Docker Engine answers at unix://{dead}" in message
    assert "connection refused" in message
    looked = message.split("looked at: ", 1)[1]
    assert looked.index("DOCKER_HOST (not set)") < looked.index("DOCKER_CONTEXT (not set)") \
        < looked.index(f"{tmp_path / 'config.json'} (currentContext colima)") \
        < looked.index("meta.json (Host unix://")
    assert "docker context use" in caught.value.hint
    assert "Traceback" not in str(caught.value) and "urllib3" not in str(caught.value)


@pytest.mark.parametrize(("host", "reason"), [
    ("unix:///nonexistent/docker.sock", "no such socket"),
    ("tcp://127.0.0.1:{port}", "connection refused"),
], ids=["missing-socket", "refused-port"])
def test_dead_docker_host_says_why(host: str, reason: str) -> None:
    """A DOCKER_HOST where nothing answers is named, with the reason in words."""
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    host = host.format(port=port)
    with pytest.raises(EngineUnavailable) as caught:
        connect(resolve_endpoint({"DOCKER_HOST": host}), timeout=5)
    assert f"at {host} (DOCKER_HOST): " in caught.value.message
    assert reason in caught.value.message
    assert "DOCKER_HOST" in caught.value.hint


def test_missing_context_is_named(tmp_path: Path) -> None:
    """A selected context with no metadata is refused, naming the file the CLI would read."""
    _current(tmp_path, "rancher-desktop")
    with pytest.raises(EngineUnavailable) as caught:
        resolve_endpoint({"DOCKER_CONFIG": str(tmp_path)})
    digest = hashlib.sha256(b"rancher-desktop").hexdigest()
    assert "'rancher-desktop'" in caught.value.message
    assert str(tmp_path / "contexts" / "meta" / digest / "meta.json") in caught.value.message
    assert "docker context ls" in caught.value.hint


def test_unreadable_config_is_passed_over(tmp_path: Path) -> None:
    """A config.json that is not JSON is ignored (the CLI warns and goes on), and said so."""
    (tmp_path / "config.json").write_text("{not json")
    endpoint = resolve_endpoint({"DOCKER_CONFIG": str(tmp_path)})
    assert endpoint.host == DEFAULT_HOST
    assert any("unreadable" in place for place in endpoint.looked)


def test_docker_cli_reaches_the_same_engine(tmp_path: Path, engine_socket: str) -> None:
    """The variables given to a Docker CLI make it talk to the endpoint found (here a context)."""
    _context(tmp_path, "colima", f"unix://{engine_socket}")
    _current(tmp_path, "colima")
    endpoint = resolve_endpoint({"DOCKER_CONFIG": str(tmp_path)})
    env = endpoint.cli_environment({"PATH": "/usr/bin:/bin", "DOCKER_CONTEXT": "elsewhere",
                                    "DOCKER_CONFIG": str(tmp_path)})
    done = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == connect(endpoint).version()["Version"]


# -- TLS: a real TLS listener in front of the engine's socket --------------------------------


def _certificates(folder: Path) -> None:
    """ca.pem, cert.pem (client), key.pem and server.pem / server-key.pem, as `docker` wants."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def make(name: str, issuer: tuple | None, *, ca: bool = False, server: bool = False):
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        builder = (x509.CertificateBuilder().subject_name(subject)
                   .issuer_name(issuer[0].subject if issuer else subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if server:
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        elif not ca:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        cert = builder.sign(issuer[1] if issuer else key, hashes.SHA256())
        return cert, key

    def save(name: str, cert, key) -> None:
        (folder / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (folder / ("key.pem" if name == "cert" else f"{name}-key.pem")).write_bytes(
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))

    folder.mkdir(parents=True, exist_ok=True)
    ca = make("launchdeck test CA", None, ca=True)
    (folder / "ca.pem").write_bytes(ca[0].public_bytes(serialization.Encoding.PEM))
    save("cert", *make("client", ca))
    save("server", *make("127.0.0.1", ca, server=True))


@pytest.fixture
def tls_engine(tmp_path: Path, engine_socket: str) -> Iterator[tuple[str, Path]]:
    """tcp://127.0.0.1:PORT speaking TLS (client certificates required) to the real engine."""
    certs = tmp_path / "certs"
    _certificates(certs)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs / "server.pem", certs / "server-key.pem")
    context.load_verify_locations(certs / "ca.pem")
    context.verify_mode = ssl.CERT_REQUIRED
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    stop = threading.Event()

    def pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def serve() -> None:
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except OSError:
                return
            try:
                conn = context.wrap_socket(raw, server_side=True)
            except (ssl.SSLError, OSError):
                raw.close()
                continue
            engine = socket.socket(socket.AF_UNIX)
            engine.connect(engine_socket)
            threading.Thread(target=pump, args=(conn, engine), daemon=True).start()
            threading.Thread(target=pump, args=(engine, conn), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"tcp://127.0.0.1:{listener.getsockname()[1]}", certs
    stop.set()
    listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() above; close() alone does not
    listener.close()
    thread.join(timeout=10)


def test_tls_from_the_environment(tls_engine: tuple[str, Path]) -> None:
    """DOCKER_TLS_VERIFY with DOCKER_CERT_PATH connects over verified TLS with a client cert."""
    host, certs = tls_engine
    endpoint = resolve_endpoint({"DOCKER_HOST": host, "DOCKER_TLS_VERIFY": "1",
                                 "DOCKER_CERT_PATH": str(certs)})
    assert endpoint.tls is not None and endpoint.tls.verify
    assert connect(endpoint, timeout=20).ping() is True


def test_tls_from_a_context(tmp_path: Path, tls_engine: tuple[str, Path]) -> None:
    """A context's TLS material (contexts/tls/<digest>/docker) is used to connect."""
    host, certs = tls_engine
    config = tmp_path / "config"
    tls_dir = _context(config, "remote", host)
    tls_dir.mkdir(parents=True)
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tls_dir / name).write_bytes((certs / name).read_bytes())
    _current(config, "remote")
    endpoint = resolve_endpoint({"DOCKER_CONFIG": str(config)})
    assert endpoint.tls is not None and endpoint.tls.cert_dir == str(tls_dir)
    assert connect(endpoint, timeout=20).ping() is True


def test_untrusted_engine_certificate_is_refused(tmp_path: Path,
                                                 tls_engine: tuple[str, Path]) -> None:
    """An engine whose certificate the given CA did not sign is not talked to."""
    host, certs = tls_engine
    other = tmp_path / "other"
    _certificates(other)  # another CA, and a client cert the engine's side does not trust
    with pytest.raises(EngineUnavailable) as caught:
        connect(resolve_endpoint({"DOCKER_HOST": host, "DOCKER_TLS_VERIFY": "1",
                                  "DOCKER_CERT_PATH": str(other)}), timeout=10)
    assert "TLS handshake failed" in caught.value.message


@pytest.mark.parametrize("extra", [{}, {"DOCKER_CONTEXT": "orb"},
                                   {"DOCKER_HOST": "tcp://127.0.0.1:2375", "DOCKER_CONTEXT": "orb"},
                                   {"DOCKER_CONTEXT": "default"}],
                         ids=["current", "DOCKER_CONTEXT", "DOCKER_HOST", "default"])
def test_agrees_with_the_docker_cli(extra: dict[str, str], tmp_path: Path) -> None:
    """With contexts made by `docker context create` and `use`, the endpoint is the CLI's."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DOCKER_CONFIG": str(tmp_path / "cfg")}
    for name in ("colima", "orb"):
        subprocess.run(["docker", "context", "create", name, "--docker",
                        f"host=unix:///run/{name}.sock"], env=env, check=True, capture_output=True)
    subprocess.run(["docker", "context", "use", "colima"], env=env, check=True, capture_output=True)
    env.update(extra)
    cli = subprocess.run(["docker", "context", "inspect", "--format", "{{.Endpoints.docker.Host}}"],
                         env=env, check=True, capture_output=True, text=True).stdout.strip()
    assert resolve_endpoint(env).host == cli
