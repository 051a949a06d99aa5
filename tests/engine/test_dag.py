"""Services start in depends_on order; failures stop their dependents; cycles are refused."""

from __future__ import annotations

import anyio
import pytest

from launchdeck.engine.dag import DependencyCycle, Milestones, order, run


def test_order_puts_dependencies_first() -> None:
    """Every service comes after the services it depends on."""
    graph = {"web": {"api": "service_healthy"}, "api": {"db": "service_started"}, "db": {}}
    assert order(graph) == ["db", "api", "web"]


def test_cycle_is_refused_with_the_loop() -> None:
    """A depends_on cycle is an error naming the loop."""
    with pytest.raises(DependencyCycle, match="a -> b -> a"):
        order({"a": {"b": "service_started"}, "b": {"a": "service_started"}})


def test_cycle_reached_through_another_service_names_only_the_loop() -> None:
    """The loop is named from where it closes, not from the service that led to it."""
    graph = {"a": {"b": "service_started"}, "b": {"c": "service_started"},
             "c": {"b": "service_healthy"}}
    with pytest.raises(DependencyCycle, match="b -> c -> b"):
        order(graph)


def test_a_thousand_service_chain_orders_without_recursing() -> None:
    """Validation allows a thousand services; a chain of them orders, dependencies first."""
    names = [f"s{i:04d}" for i in range(1000)]  # s0000 waits for s0001, which waits for s0002 …
    graph = {name: ({after: "service_started"} if after else {})
             for name, after in zip(names, [*names[1:], None], strict=True)}
    assert order(graph) == names[::-1]


def test_independent_services_run_together_and_dependents_wait() -> None:
    """Two independent services overlap; their dependent starts after both are healthy."""
    log: list[str] = []

    async def work(name: str, m: Milestones) -> None:
        log.append(f"start {name}")
        await anyio.sleep(0.05)
        m.started.set()
        m.healthy.set()
        log.append(f"healthy {name}")

    graph = {"web": {"a": "service_healthy", "b": "service_healthy"}, "a": {}, "b": {}}
    anyio.run(run, graph, work)
    assert set(log[:2]) == {"start a", "start b"}
    assert log[-2:] == ["start web", "healthy web"]


def test_failure_reaches_dependents_but_not_others() -> None:
    """A failed service fails its dependents, with a reason naming it; others carry on."""
    async def work(name: str, m: Milestones) -> None:
        if name == "db":
            m.fail("exited with code 1")

    graph = {"db": {}, "api": {"db": "service_started"}, "cache": {}}
    result = anyio.run(run, graph, work)
    assert result["db"].failure == "exited with code 1"
    assert result["api"].failure == "dependency db failed"
    assert result["cache"].failure is None


def test_completed_successfully_checks_the_exit_code() -> None:
    """service_completed_successfully fails the dependent when the job exits non-zero."""
    async def work(name: str, m: Milestones) -> None:
        if name == "migrate":
            m.exit_code = 2

    result = anyio.run(run, {"migrate": {}, "api": {"migrate": "service_completed_successfully"}},
                       work)
    assert result["api"].failure == "dependency migrate exited with code 2"
