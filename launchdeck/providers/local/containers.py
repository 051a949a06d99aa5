"""Reading containers as the Docker Engine describes them: state, health, endpoints, logs.

Pure functions over the dictionaries ``inspect_container`` returns, plus the two calls
every part of the local provider makes (run in a worker thread, remove a container).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

import anyio.to_thread

from launchdeck.engine.events import State
from launchdeck.engine.results import LogLine, ServiceStatus
from launchdeck.providers.local import spec as S

STABLE = 1.0
"""Seconds a container without a healthcheck must stay up to count as started well."""

Container = dict[str, Any]
"""A container as ``inspect_container`` returns it."""


async def in_thread(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a blocking Docker SDK call in a worker thread."""
    return await anyio.to_thread.run_sync(partial(fn, *args, **kwargs))


def remove(api: Any, container: str) -> None:
    try:
        api.remove_container(container, force=True, v=True)
    except Exception as exc:
        if not not_found(exc):
            raise


def not_found(exc: BaseException) -> bool:
    return type(exc).__name__ in ("NotFound", "ImageNotFound")


def reason(exc: BaseException) -> str:
    explanation = getattr(exc, "explanation", None)
    return str(explanation or exc).strip()


def label(c: Container, key: str, default: str = "") -> str:
    return (c["Config"].get("Labels") or {}).get(key, default)


def running(c: Container) -> bool:
    return bool(c["State"].get("Running"))


def health(c: Container) -> str | None:
    return (c["State"].get("Health") or {}).get("Status")


def verdict(c: Container, *, exited_ok: bool = False) -> str:
    """ok, wait, unhealthy or exited: where one container stands on its way to healthy."""
    state = c["State"]
    if state.get("Restarting") or state.get("Status") in ("exited", "dead"):
        if exited_ok and state.get("Status") == "exited" and state.get("ExitCode") == 0:
            return "ok"
        if state.get("Restarting") and state.get("ExitCode") == 0:
            return "wait"
        return "exited"
    if exited_ok:
        return "wait"
    found = health(c)
    if found == "unhealthy":
        return "unhealthy"
    if found == "starting" or not state.get("Running"):
        return "wait"
    if found is None and _uptime(state) < STABLE:
        return "wait"  # without a healthcheck, running for a moment is the best sign we have
    return "ok"


def _uptime(state: dict[str, Any]) -> float:
    at = docker_time(str(state.get("StartedAt", "")))
    return STABLE if at is None else (datetime.now(UTC) - at).total_seconds()


def docker_time(stamp: str) -> datetime | None:
    """A Docker timestamp (RFC 3339 with nanoseconds, UTC); Python keeps microseconds."""
    head, _, frac = stamp.rstrip("Z").partition(".")
    try:
        return datetime.fromisoformat(f"{head}.{(frac + '000000')[:6]}+00:00")
    except ValueError:
        return None


def status(name: str, desired: int, containers: list[Container]) -> ServiceStatus:
    """One service's state in the shared vocabulary, from its containers."""
    out = ServiceStatus(name=name, state=State.NOT_DEPLOYED, replicas_desired=desired)
    if not containers:
        return out
    newest = max(containers, key=lambda c: c["Created"])
    out.deployment_id = label(newest, S.ETAG) or None
    out.image = newest["Config"]["Image"]
    out.replicas_running = sum(running(c) for c in containers)
    healths = [health(c) for c in containers]
    out.health = next((h for h in ("unhealthy", "starting", "healthy") if h in healths), None)
    for c in sorted(containers, key=lambda c: int(label(c, S.REPLICA, "0"))):
        for bindings in (c["NetworkSettings"].get("Ports") or {}).values():
            for binding in bindings or []:
                out.endpoints.append(f"http://{binding['HostIp']}:{binding['HostPort']}")
    state = newest["State"]
    if state.get("Status") in ("exited", "dead", "created") or state.get("Restarting"):
        out.exit_code = state.get("ExitCode")
        out.oom_killed = bool(state.get("OOMKilled"))
        out.start_error = str(state.get("Error") or "").strip() or None
    probes = (state.get("Health") or {}).get("Log") or []
    failed_probes = [p for p in probes if p.get("ExitCode")]
    if failed_probes:
        out.health_output = str(failed_probes[-1].get("Output", "")).strip()[-1000:]
    verdicts = [verdict(c) for c in containers]
    if any(v in ("unhealthy", "exited") for v in verdicts):
        if all(c["State"].get("Status") == "exited" and c["State"].get("ExitCode") == 0
               for c in containers):
            out.state = State.STOPPED
            out.message = "exited with code 0"
        else:
            out.state = State.SERVICE_DEPLOYMENT_FAILED
    elif any(v == "wait" for v in verdicts):
        out.state = State.SERVICE_DEPLOYMENT_PENDING
    else:
        out.state = State.SERVICE_DEPLOYMENT_COMPLETED
    return out


def parse_log(text: str, service: str, replica: int) -> LogLine | None:
    stamp, _, message = text.partition(" ")
    at = docker_time(stamp)
    return None if at is None else LogLine(at=at, service=service, replica=replica, text=message)
