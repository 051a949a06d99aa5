"""The Docker Model Runner: what serves a compose model service on the local engine.

The runner answers OpenAI's API on the host (``localhost:12434`` by default, or
LAUNCHDECK_MODEL_RUNNER_URL); containers reach it through ``host.docker.internal``, which
the engine maps to the host (``host-gateway``).
"""

from __future__ import annotations

import os
import urllib.error
import urllib.parse
import urllib.request

from launchdeck.errors import Action, ProviderError

DEFAULT = "http://localhost:12434/engines/v1"
HOST_ALIAS = "host.docker.internal"


def url() -> str:
    """Where the runner answers, as seen from this machine."""
    return (os.environ.get("LAUNCHDECK_MODEL_RUNNER_URL") or DEFAULT).rstrip("/")


def from_containers(base: str) -> str:
    """The runner's URL as a container sees it (loopback names become the host's alias)."""
    parts = urllib.parse.urlsplit(base)
    host = parts.hostname or ""
    if host in ("localhost", "127.0.0.1", "::1"):
        netloc = f"{HOST_ALIAS}:{parts.port}" if parts.port else HOST_ALIAS
        parts = parts._replace(netloc=netloc)
    return urllib.parse.urlunsplit(parts) + "/"


def check(service: str, model: str) -> str:
    """The runner's URL when it answers (blocking); else a clear refusal."""
    base = url()
    try:
        with urllib.request.urlopen(f"{base}/models", timeout=3) as answer:
            answer.read(1 << 16)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ProviderError(
            f"{service} is a model service ({model}), and no Docker Model Runner answers at "
            f"{base} ({getattr(exc, 'reason', exc)})", provider="local", service=service,
            hint="Enable Docker Model Runner (Docker Desktop: Settings > AI; Docker Engine: the "
                 "docker-model-plugin package) and pull the model, or set "
                 "LAUNCHDECK_MODEL_RUNNER_URL to where it answers; or deploy to a cloud, where "
                 "a gateway serves it.",
            actions=[Action("deploy", {"provider": "aws"})]) from exc
    return base
