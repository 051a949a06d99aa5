"""In which order a project's services start on ECS, and which must restart for a new one.

Service Connect gives a task the names of the services in its namespace when the task
starts: a task started before a service it calls existed cannot resolve that service. So
a service starts after those its environment names as hosts (``http://backend:9000``), not
only after its ``depends_on``, and a service left unchanged by a deploy is rolled when a
service it names is new. Managed stores named in an environment come first too: their
endpoint is what the name is rewritten to.
"""

from __future__ import annotations

from collections.abc import Iterable

from launchdeck.compose.model import Project
from launchdeck.engine import dag
from launchdeck.providers.aws.render import names_host

NAMED = "service_started"
"""The condition a named service must reach: to exist, so that its name resolves."""


def references(project: Project) -> dict[str, set[str]]:
    """Service -> the other services its environment uses as a host."""
    out: dict[str, set[str]] = {}
    for name, service in project.services.items():
        values = [str(v) for v in service.environment.values() if v is not None]
        out[name] = {other for other in project.services
                     if other != name and any(names_host(value, other) for value in values)}
    return out


def graph(project: Project) -> dict[str, dict[str, dag.Condition]]:
    """depends_on with its conditions, plus an edge to each service named in the environment.

    A name that would close a loop (two services that call each other) gets no edge; the
    client then starts without it and ``to_roll`` restarts it once the other exists.
    """
    edges: dict[str, dict[str, dag.Condition]] = {
        name: {dep: d.condition for dep, d in service.depends_on.items() if dep in project.services}
        for name, service in project.services.items()}
    for client, named in sorted(references(project).items()):
        for target in sorted(named - set(edges[client])):
            if not _reaches(edges, target, client):
                edges[client][target] = NAMED
    return edges


def _reaches(edges: dict[str, dict[str, dag.Condition]], start: str, goal: str) -> bool:
    """Whether ``start`` waits, directly or not, for ``goal``."""
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            todo.extend(edges.get(node, {}))
    return False


def to_roll(project: Project, created: Iterable[str], restarted: Iterable[str]) -> list[str]:
    """Container services to roll after this deploy's services have started.

    ``created``: services this deploy creates; ``restarted``: those it creates or updates
    (their new tasks start after what ``graph`` puts before them). A client must roll when it
    names a new service and either kept its old tasks or started without waiting for it.
    """
    created, restarted = set(created), set(restarted)
    edges = graph(project)
    out = set()
    for client, named in references(project).items():
        if project.services[client].managed_store:
            continue
        for target in named & created:
            if project.services[target].managed_store:
                continue  # reached by its endpoint, not through Service Connect
            if client not in restarted or target not in edges[client]:
                out.add(client)
    return sorted(out)
