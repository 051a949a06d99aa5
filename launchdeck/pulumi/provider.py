"""The Pulumi dynamic provider that deploys a launchdeck project through launchdeck's tools.

Pulumi keeps one ``Deployment`` resource per project; its provider answers each of Pulumi's
questions with the tools (deploy, config, deployment), on the launchdeck provider the program
names (from the registry):

    check    the config values the project reads, from the stack's config (Pulumi hands it to
             ``configure``): each must be there; their digests join the inputs, never a value
    diff     the engine's plan: all NOOP (and the same inputs) is no change; a unit the engine
             updates or replaces is an update, in which the engine replaces that unit; another
             provider, project or stack is a replacement of the resource (the new target is
             deployed first, then the old one destroyed)
    create,  the values into the provider's config store (only those that differ), then the
    update   engine's deploy; a service that does not complete fails the operation
    delete   the engine's destroy, and the config values Pulumi had put in the store

Outputs hold the inputs, each service's state and endpoints, what the last deploy changed,
and salted digests of the config values: never a value, so Pulumi's state holds none.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import anyio
import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)
from pulumi.dynamic.config import Config
from pydantic import BaseModel, ConfigDict

from launchdeck.engine.plan import Action, config_digest
from launchdeck.engine.results import ChangeSummary, DeployResult, PlanResult
from launchdeck.errors import LaunchdeckError
from launchdeck.pulumi.document import load_document
from launchdeck.pulumi.errors import DeploymentFailed

log = logging.getLogger("launchdeck.pulumi")
T = TypeVar("T")

_TARGET = ("provider", "project", "stack")
_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
"""What Pulumi puts in place of a value not known yet (pulumi.runtime.rpc.UNKNOWN)."""
_OUTPUTS = ("digests", "deployment_id", "services", "endpoints", "changes")


class Inputs(BaseModel):
    """What the program declares for one deployment (Pulumi keeps it in its state)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    provider: str
    project: str
    stack: str
    compose: str
    """The normalised compose document as JSON text: a text keeps every null (a config
    reference) and integer exactly as they were, which Pulumi's property values do not."""
    config: list[str] = []
    """Config names the services read, each a secret of the Pulumi stack."""
    namespace: str
    """The Pulumi project whose stack config holds them."""
    digests: dict[str, str] = {}
    """Each config value's salted digest (added by check)."""
    wait_timeout: float = 300.0
    network: str = "default"
    delete_data: bool = False

    @property
    def id(self) -> str:
        return f"{self.provider}/{self.project}/{self.stack}"

    def declared(self) -> dict[str, Any]:
        """The inputs without what check adds, to compare two deployments' declarations."""
        return self.model_dump(exclude={"digests"})


class ServiceState(BaseModel):
    """Where one service stands after the last create or update."""

    model_config = ConfigDict(extra="ignore")

    state: str
    replicas_running: int = 0
    replicas_desired: int = 0
    endpoints: list[str] = []
    health: str | None = None


class Outputs(Inputs):
    deployment_id: str
    services: dict[str, ServiceState]
    endpoints: dict[str, list[str]]
    changes: list[ChangeSummary]


class LaunchdeckProvider(ResourceProvider):
    """Pulumi's create/diff/update/delete of a launchdeck project, answered by the tools."""

    serialize_as_secret_always = False
    """The pickled provider captures nothing secret: values arrive through ``configure``."""

    def __init__(self) -> None:
        super().__init__()
        self._stack_config: Config | None = None

    def configure(self, req: ConfigureRequest) -> None:
        self._stack_config = req.config

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        if _unknown(_props(news)):  # a preview before the values it depends on exist
            return CheckResult(news, [])
        inputs = Inputs.model_validate(_props(news))
        values, missing = self._values(inputs)
        if missing:
            return CheckResult(news, [CheckFailure("config", _unreadable(missing))])
        return CheckResult({**news, "digests": _digests(inputs, values)}, [])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        if _unknown(_props(news)):
            return DiffResult(changes=True)
        old, new = Inputs.model_validate(_props(olds)), Inputs.model_validate(_props(news))
        moved = [key for key in _TARGET if getattr(old, key) != getattr(new, key)]
        if moved:
            return DiffResult(changes=True, replaces=moved, delete_before_replace=False)
        planned = _run(self._plan, new)
        changed = any(c.action is not Action.NOOP for c in planned.changes)
        redeclared = old.declared() != new.declared() or old.digests != _digests(new, self._require(new))
        return DiffResult(changes=changed or redeclared)

    def create(self, props: dict[str, Any]) -> CreateResult:
        inputs = Inputs.model_validate(_props(props))
        outputs = _run(self._apply, inputs, None)
        return CreateResult(inputs.id, outputs.model_dump(mode="json"))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        outputs = _run(self._apply, Inputs.model_validate(_props(news)), Inputs.model_validate(_props(olds)))
        return UpdateResult(outputs.model_dump(mode="json"))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        _run(self._delete, Inputs.model_validate(_props(props)))

    # -- through the tools -------------------------------------------------------------------

    async def _plan(self, inputs: Inputs) -> PlanResult:
        from launchdeck import providers
        from launchdeck.tools.deploy import plan_ready
        from launchdeck.tools.deployment import ready

        values = self._require(inputs)
        project = load_document(json.loads(inputs.compose), stack=inputs.stack).project
        provider = providers.create(inputs.provider)
        return await plan_ready(await ready(provider, project, inputs.stack, values),
                                network=inputs.network)

    async def _apply(self, new: Inputs, old: Inputs | None) -> Outputs:
        from launchdeck import providers
        from launchdeck.tools.config import erase, write
        from launchdeck.tools.deploy import run
        from launchdeck.tools.deployment import preflight

        values = self._require(new)
        loaded = load_document(json.loads(new.compose), stack=new.stack)
        provider = providers.create(new.provider)
        held = await provider.config_store(new.project, new.stack).values(sorted(values))
        await write(provider, new.project, new.stack,  # an unchanged value is not written again
                    {name: values[name] for name in sorted(values) if held.get(name) != values[name]})
        result = await run(await preflight(provider, loaded, new.stack),
                           wait_seconds=new.wait_timeout, network=new.network)
        if not result.ok:
            raise _failed(result)
        if old is not None and old.id == new.id:
            await erase(provider, new.project, new.stack, sorted(set(old.config) - set(new.config)))
        return Outputs(
            **new.model_dump(exclude={"digests"}), digests=_digests(new, values),
            deployment_id=result.deployment_id,
            services={s.name: ServiceState(state=s.state.value, replicas_running=s.replicas_running,
                                           replicas_desired=s.replicas_desired, endpoints=s.endpoints,
                                           health=s.health) for s in result.services},
            endpoints={s.name: s.endpoints for s in result.services if s.endpoints},
            changes=result.changes)

    async def _delete(self, inputs: Inputs) -> None:
        from launchdeck import providers
        from launchdeck.compose.validate import DIGEST_KEY
        from launchdeck.tools.config import erase
        from launchdeck.tools.deployment import remove

        provider = providers.create(inputs.provider)
        await remove(provider, inputs.project, inputs.stack, volumes=inputs.delete_data)
        # Pulumi put them there (and the deploy the stack's digest key); the stack's config keeps them
        await erase(provider, inputs.project, inputs.stack, [*inputs.config, DIGEST_KEY])

    # -- the stack's config ------------------------------------------------------------------

    def _values(self, inputs: Inputs) -> tuple[dict[str, str], list[str]]:
        """The config values from the stack's config, and the names it does not have."""
        values, missing = {}, []
        for name in inputs.config:
            value = self._stack_config.get(f"{inputs.namespace}:{name}") if self._stack_config else None
            if value is None:
                missing.append(name)
            else:
                values[name] = str(value)
        return values, missing

    def _require(self, inputs: Inputs) -> dict[str, str]:
        values, missing = self._values(inputs)
        if missing:
            raise DeploymentFailed(_unreadable(missing),
                                   hint="Use Pulumi 3.139 or later, which hands dynamic providers the "
                                        "stack's config, and keep each name in the stack's config.")
        return values


class Deployment(Resource, module="launchdeck", name="Deployment"):
    """One launchdeck project on one (provider, project, stack), as Pulumi keeps it."""

    digests: pulumi.Output[dict[str, str]]
    deployment_id: pulumi.Output[str]
    services: pulumi.Output[dict[str, Any]]
    """Each service's ``state``, ``replicas_running``, ``replicas_desired``, ``endpoints``, ``health``."""
    endpoints: pulumi.Output[dict[str, list[str]]]
    changes: pulumi.Output[list[dict[str, str]]]

    def __init__(self, name: str, props: Mapping[str, Any],
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(LaunchdeckProvider(), name, {**props, **dict.fromkeys(_OUTPUTS)}, opts)


def _run(fn: Callable[..., Awaitable[T]], *args: Any) -> T:
    """Run one engine call for Pulumi, which calls providers from threads of its own."""
    try:
        return anyio.run(fn, *args)
    except DeploymentFailed:
        raise
    except LaunchdeckError as exc:
        # Pulumi prints the whole traceback of what a provider raises; the user needs the
        # message and hint, and the log keeps the cause.
        log.debug("launchdeck refused", exc_info=exc)
        raise DeploymentFailed(exc.message, hint=exc.hint, actions=exc.actions) from None


def _digests(inputs: Inputs, values: Mapping[str, str]) -> dict[str, str]:
    return {name: config_digest(inputs.project, inputs.stack, name, value)
            for name, value in sorted(values.items())}


def _unreadable(missing: list[str]) -> str:
    return (f"the provider cannot read config {', '.join(missing)} from the stack's config, where "
            "the program found them")


def _failed(result: DeployResult) -> DeploymentFailed:
    """Why the deploy failed, service by service (the engine already replaced every config value
    in the result's messages)."""
    failed = result.failed
    lines = "\n".join(f"{s.name}: {s.state.value}" + (f": {s.message}" if s.message else "")
                      for s in failed)
    return DeploymentFailed(
        f"{len(failed)} service(s) of {result.project} did not deploy to {result.provider}:\n{lines}",
        hint="Fix what each names and run the update again; what did deploy stays in place.")


def _props(props: Mapping[str, Any]) -> dict[str, Any]:
    """Pulumi's properties as plain values: without the pickled provider, and with any value
    Pulumi wrapped as a secret unwrapped (a provider that accepts no secrets gets none, but
    a wrapped one must not pass for a value)."""
    from pulumi.runtime.rpc import is_rpc_secret, unwrap_rpc_secret

    def plain(value: Any) -> Any:
        if is_rpc_secret(value):
            return plain(unwrap_rpc_secret(value))
        if isinstance(value, Mapping):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    return {k: plain(v) for k, v in props.items() if k != "__provider"}


def _unknown(value: Any) -> bool:
    if isinstance(value, str):
        return value == _UNKNOWN
    if isinstance(value, Mapping):
        return any(_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_unknown(v) for v in value)
    return False
