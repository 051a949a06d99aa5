"""stack new / ls / rm, and the stacks an agent can choose from."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from launchdeck.errors import LaunchdeckError, UsageError
from launchdeck.providers import description
from launchdeck.stacks import Stack, listed, read, write


def new(project_dir: str, name: str, *, provider: str, region: str | None = None,
        profile: str | None = None, mode: str | None = None) -> Path:
    """Write the stack's file; refuse to replace one (its recorded account would be lost).
    ``mode``: the stack's mode (engine/modes.py), kept only when it is not the default."""
    from launchdeck.engine import modes

    chosen = modes.parse(mode)
    if profile and description(provider).profile_variable is None:
        raise UsageError(f"{provider} takes no credentials profile",
                         hint="Leave out the profile for this provider.")
    if read(project_dir, name) is not None:
        raise UsageError(f"the project already has a stack {name}",
                         hint="Remove it first (stack rm), or choose another name.")
    return write(project_dir, Stack(name=name, provider=provider, region=region, profile=profile,
                                    mode=None if chosen is modes.DEFAULT else chosen.value))


class StackInfo(BaseModel):
    name: str
    provider: str | None = None
    region: str | None = None
    account: str | None = None
    deployment_id: str | None = None
    """The last deployment's id, when its record can be read."""
    states: dict[str, str] = {}
    """Each service's state in that deployment."""


async def overview(project_dir: str) -> list[StackInfo]:
    """Every stack of the project with where it deploys and how its last deployment ended."""
    from launchdeck.engine.records import Records
    from launchdeck.tools.project import ProjectRef

    out = []
    for stack in listed(project_dir):
        info = StackInfo(name=stack.name, provider=stack.provider, region=stack.region,
                         account=stack.account)
        try:
            ref = ProjectRef(working_directory=project_dir, stack=stack.name)
            record = await Records(ref.target().blobs(), ref.load().project.name, stack.name).read()
        except LaunchdeckError:
            record = None  # no credentials here, or no compose file: what the file says stands
        if record is not None:
            info.deployment_id = record.result.deployment_id
            info.states = {s.name: s.state.value for s in record.result.services}
        out.append(info)
    return out


def check_known(project_dir: str, stack: str) -> None:
    """When the project keeps stack files, refuse a stack it has none for, listing them."""
    known = [s.name for s in listed(project_dir)]
    if known and stack not in known:
        raise UsageError(f"the project has no stack {stack!r}",
                         hint=f"Its stacks: {', '.join(known)}. Create one first (stack new).")
