"""engine.gather.Once: a step several callers ask for runs once, and each caller learns how it ended."""

from __future__ import annotations

import anyio
import pytest

from launchdeck.engine.gather import Once, gather
from launchdeck.errors import ProviderError


def test_the_step_runs_once_for_callers_at_once_and_after() -> None:
    runs = []

    async def step() -> None:
        runs.append(1)
        await anyio.sleep(0.01)

    once = Once(step, lambda: ProviderError("interrupted", provider="test"))

    async def main() -> None:
        await gather(once, once, once)
        await once()

    anyio.run(main)
    assert runs == [1]


def test_every_caller_gets_the_steps_error() -> None:
    async def step() -> None:
        await anyio.sleep(0.01)
        raise ProviderError("no repository", provider="test")

    once = Once(step, lambda: ProviderError("interrupted", provider="test"))
    seen = []

    async def ask() -> None:
        try:
            await once()
        except ProviderError as exc:
            seen.append(str(exc))

    async def main() -> None:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(ask)
            tasks.start_soon(ask)
        await ask()

    anyio.run(main)
    assert seen == ["no repository"] * 3


def test_a_step_cancelled_midway_is_an_error_for_those_who_wait() -> None:
    async def step() -> None:
        await anyio.sleep(10)

    once = Once(step, lambda: ProviderError("making it was interrupted", provider="test"))

    async def main() -> None:
        with anyio.move_on_after(0.01):
            await once()
        with pytest.raises(ProviderError, match="interrupted"):
            await once()

    anyio.run(main)
