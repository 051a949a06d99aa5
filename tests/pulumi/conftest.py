"""Running Pulumi programs under Pulumi's own mocks, and getting the dynamic provider they
declare: the inputs Pulumi would hand it, and the provider unpickled as Pulumi's dynamic
provider host unpickles it."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dill
import pulumi
import pytest
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config

from launchdeck.pulumi.provider import LaunchdeckProvider

DEPLOYMENT = "pulumi-python:dynamic/launchdeck:Deployment"


class Mocks(pulumi.runtime.Mocks):
    """Records every resource; a Deployment answers with ``answer`` (what create would give)."""

    def __init__(self, answer: dict[str, Any] | None = None) -> None:
        self.resources: list[pulumi.runtime.MockResourceArgs] = []
        self.answer = answer or {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(args)
        outputs = dict(args.inputs)
        if args.typ == DEPLOYMENT:
            outputs.update(self.answer)
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], None]:
        return {}, None


@dataclass
class Ran:
    """What a program declared, and the values of the outputs it returned."""

    mocks: Mocks
    result: Any = None
    config: dict[str, str] = field(default_factory=dict)
    project: str = "seed"

    def of_type(self, typ: str) -> list[pulumi.runtime.MockResourceArgs]:
        return [r for r in self.mocks.resources if r.typ == typ]

    @property
    def inputs(self) -> dict[str, Any]:
        """The one Deployment's inputs, as the dynamic provider receives them."""
        (deployment,) = self.of_type(DEPLOYMENT)
        return dict(deployment.inputs)

    @property
    def compose(self) -> dict[str, Any]:
        return json.loads(self.inputs["compose"])

    def provider(self, config: dict[str, str] | None = None) -> LaunchdeckProvider:
        """The pickled provider, configured with the stack's config as Pulumi configures it."""
        provider = dill.loads(base64.b64decode(self.inputs["__provider"]))
        values = self.config if config is None else config
        raw = {f"{self.project}:{name}": value for name, value in values.items()}
        provider.configure(ConfigureRequest(Config(raw, self.project)))
        return provider


def run_program(program: Callable[[], Any], *, config: dict[str, str] | None = None,
                secret: bool = True, project: str = "seed", stack: str = "dev",
                answer: dict[str, Any] | None = None) -> Ran:
    """Run ``program`` under mocks, with ``config`` as the stack's config (as secrets unless
    ``secret`` is false); wait for every resource and for the outputs it returns."""
    config = config or {}
    mocks = Mocks(answer)
    # Pulumi's runtime registers resources on the thread's event loop; asyncio.run (anyio.run)
    # elsewhere in the session leaves the thread without one
    try:
        asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        asyncio.set_event_loop(asyncio.new_event_loop())
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False)
    keys = {f"{project}:{name}": value for name, value in config.items()}
    pulumi.runtime.set_all_config(keys, list(keys) if secret else [])
    ran = Ran(mocks, config=config, project=project)

    @pulumi.runtime.test
    def run() -> Any:
        returned = program()
        return pulumi.Output.from_input(returned).apply(lambda value: setattr(ran, "result", value))

    run()
    return ran


@pytest.fixture
def program() -> Callable[..., Ran]:
    return run_program
