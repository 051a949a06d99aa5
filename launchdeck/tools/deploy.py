"""deploy: build and start the project on its target, then report each service's state."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc

from launchdeck.engine.events import Event, Sink, State, discard
from launchdeck.engine.results import DeployResult, PlanResult, ServiceStatus
from launchdeck.errors import Action, LaunchdeckError, UsageError
from launchdeck.identity import new_deployment_id
from launchdeck.tools.project import ProjectRef

if TYPE_CHECKING:
    from launchdeck.compose.load import Loaded
    from launchdeck.engine.deploy import Ready
    from launchdeck.engine.seams import DeployOptions

log = logging.getLogger("launchdeck.deploy")


async def prepare(ref: ProjectRef, loaded: Loaded | None = None, *, pin: bool = True) -> Ready:
    """Load (unless given) and preflight the project: raise DeployRefused / ConfigMissing, or
    (``pin``) refuse credentials of another account than the stack's."""
    from launchdeck.engine import deploy as engine

    loaded = loaded or ref.load()
    await ref.identity(pin=pin)
    return await engine.preflight(loaded, ref.target(), stack=ref.stack)


def options(*, wait_seconds: float = 300, force: bool = False,
            network: str | None = None, mode: str | None = None) -> DeployOptions:
    """Deploy options (cloud network: ``network``, else LAUNCHDECK_NETWORK, else default;
    ``mode``: the stack's, engine/modes.py, else affordable)."""
    from launchdeck.engine import modes
    from launchdeck.engine.seams import DeployOptions

    network = network or os.environ.get("LAUNCHDECK_NETWORK") or "default"
    if network not in ("default", "dedicated"):
        raise UsageError(f"unknown network {network!r}", hint="Use default or dedicated.")
    return DeployOptions(wait_timeout=wait_seconds, force=force, network=network,
                         mode=modes.parse(mode))


async def run(ready: Ready, *, wait_seconds: float = 300, force: bool = False,
              network: str | None = None, sink: Sink = discard,
              deployment_id: str | None = None, ttl: str | None = None,
              mode: str | None = None) -> DeployResult:
    """Deploy a prepared project (``ttl``: the stack expires that long after, e.g. ``3d``;
    ``mode``: the stack's mode)."""
    from launchdeck.engine import deploy as engine

    return await engine.start(ready, options=options(wait_seconds=wait_seconds, force=force,
                                                     network=network, mode=stack_mode(ready, mode)),
                              sink=sink, deployment_id=deployment_id, intent=_intent(ttl))


def _intent(ttl: str | None) -> Any:
    """A deploy's history intent: when the stack expires, if it does."""
    if not ttl:
        return None
    from datetime import UTC, datetime, timedelta

    from launchdeck.compose.quantity import parse_duration
    from launchdeck.engine.history import Intent

    try:
        seconds = parse_duration(ttl.strip(), days=True)
    except ValueError:
        seconds = -1
    if seconds <= 0:
        raise UsageError(f"cannot read the time to live {ttl[:32]!r}",
                         hint="Use a duration such as 30m, 12h or 3d.")
    return Intent(expires=datetime.now(UTC) + timedelta(seconds=seconds))


async def plan(ref: ProjectRef, *, force: bool = False, network: str | None = None,
               loaded: Loaded | None = None) -> PlanResult:
    """What deploying would change, without changing anything or taking the lock (the project
    loaded unless given)."""
    mode = ref.settings.mode  # an unknown mode is refused before anything
    result = await plan_ready(await prepare(ref, loaded, pin=False), force=force,
                              network=network, mode=mode)
    result.target = await ref.line()
    return result


async def plan_ready(ready: Ready, *, force: bool = False,
                     network: str | None = None, mode: str | None = None) -> PlanResult:
    """What deploying a prepared project would change (nothing is changed, no lock taken);
    ``mode``: the stack's mode."""
    from launchdeck.engine import deploy as engine

    chosen = options(force=force, network=network, mode=stack_mode(ready, mode))
    result = await engine.plan(ready, options=chosen)
    result.mode = chosen.mode.value
    return result


def stack_mode(ready: Ready, mode: str | None) -> str | None:
    """``mode``, else the one the stack's file keeps (every deploy of a stack uses it)."""
    if mode is not None:
        return mode
    from launchdeck.stacks import read

    found = read(ready.project.working_dir, ready.stack) if ready.project.working_dir else None
    return found.mode if found else None


async def deploy(ref: ProjectRef, *, wait_seconds: float = 300, force: bool = False,
                 network: str | None = None, sink: Sink = discard,
                 deployment_id: str | None = None, ttl: str | None = None) -> DeployResult:
    """Deploy the project; raise DeployRefused / ConfigMissing before changing anything."""
    _intent(ttl)  # a bad ttl is refused before anything
    mode = ref.settings.mode  # and so is an unknown mode
    ready = await prepare(ref)
    if ref.mode is not None:  # every later deploy of the stack uses the mode given
        from launchdeck.stacks import record_mode

        record_mode(ref.working_directory, ref.stack, mode)
    result = await run(ready, wait_seconds=wait_seconds, force=force,
                       network=network, sink=sink, deployment_id=deployment_id, ttl=ttl, mode=mode)
    result.target = await ref.line()
    return result


async def missing_config(ref: ProjectRef) -> list[str]:
    """Config names the project reads that are not set on its target."""
    from launchdeck.engine import deploy as engine

    return await engine.missing_config(ref.load(), ref.target(), ref.stack)


@dataclass
class Running:
    """A deploy that runs in the background, whether or not anyone still waits for it."""

    deployment_id: str
    done: anyio.Event = field(default_factory=anyio.Event)
    result: DeployResult | None = None
    error: LaunchdeckError | None = None
    states: dict[str, tuple[State, str]] = field(default_factory=dict)
    listeners: list[Sink] = field(default_factory=list)

    def sink(self, event: Event) -> None:
        if event.service and event.state:
            self.states[event.service] = (event.state, event.message)
        for listener in list(self.listeners):
            listener(event)

    def statuses(self) -> list[ServiceStatus]:
        """Where each service got to so far, from the events seen."""
        return [ServiceStatus(name=name, state=state, message=message)
                for name, (state, message) in self.states.items()]


class Deploys:
    """The deploys a long-lived front end (the MCP server) runs in its task group, one per
    (provider, project, stack): a caller can stop waiting, and ps can still follow."""

    def __init__(self, tasks: anyio.abc.TaskGroup) -> None:
        self._tasks = tasks
        self._running: dict[str, Running] = {}

    @staticmethod
    def key(provider: str, project: str, stack: str) -> str:
        return f"{provider}/{project}/{stack}"

    def running(self, provider: str, project: str, stack: str) -> Running | None:
        """The deploy of this target that has not finished yet, if any."""
        found = self._running.get(self.key(provider, project, stack))
        return found if found is not None and not found.done.is_set() else None

    def start(self, ready: Ready, *, wait_seconds: float, force: bool = False,
              network: str | None = None, mode: str | None = None) -> Running:
        """Start deploying ``ready`` in the background; refuse a second deploy of its target."""
        key = self.key(ready.provider.name, ready.project.name, ready.stack)
        earlier = self.running(ready.provider.name, ready.project.name, ready.stack)
        if earlier is not None:
            raise UsageError(f"a deploy of {ready.project.name} ({ready.stack}) is already running "
                             f"(deployment {earlier.deployment_id})",
                             hint="Follow it; deploy again once it has finished.",
                             actions=[Action("ps", {"provider": ready.provider.name,
                                                    "stack": ready.stack})])
        run_options = options(wait_seconds=wait_seconds, force=force, network=network,
                              mode=stack_mode(ready, mode))
        running = Running(new_deployment_id())
        self._running[key] = running

        from launchdeck.engine import deploy as engine

        async def background() -> None:
            try:
                running.result = await engine.start(ready, options=run_options, sink=running.sink,
                                                    deployment_id=running.deployment_id)
            except LaunchdeckError as exc:
                running.error = exc
            except Exception as exc:
                log.exception("deploy %s failed", running.deployment_id)
                running.error = LaunchdeckError(
                    f"the deploy failed unexpectedly ({type(exc).__name__}); the server log has "
                    "the details")
            finally:
                running.done.set()

        self._tasks.start_soon(background)
        return running
