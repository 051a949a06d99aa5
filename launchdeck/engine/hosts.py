"""Where a service's environment names another service or store as a host, on every target.

Compose services reach each other by name (``postgres://app@db:5432/app``,
``http://backend:9000``). On a cloud a managed store's name becomes its endpoint, a service's
name becomes its URL or stays a name the platform resolves, and a service starts after what
it names. One pattern decides where a name stands as a host, so one compose file is read the
same way on every target.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache

from launchdeck.compose.model import Project, Service

_BEFORE = r"(^|[/@=,;\s\"'])"
_AFTER = r"(?=$|[:/?#,;\s\"'])"


@lru_cache(maxsize=1024)
def pattern(name: str) -> re.Pattern[str]:
    """Where ``name`` stands as a host in a value (``@db:5432``, ``//cache``, ``HOST=api``,
    ``a,b`` lists, quoted, or the whole value), not inside a longer word; group 1 is what
    stands before it."""
    return re.compile(rf"{_BEFORE}{re.escape(name)}{_AFTER}")


def mentions(value: str, name: str) -> bool:
    """Whether ``value`` uses ``name`` as a host name."""
    return pattern(name).search(value) is not None


def replace(value: str, hosts: Mapping[str, str]) -> tuple[str, bool]:
    """``value`` with each name of ``hosts``, where it stands as a host, replaced by its host;
    and whether any was."""
    changed = False
    for name, host in sorted(hosts.items()):
        value, count = pattern(name).subn(lambda m, h=host: m.group(1) + h, value)
        changed = changed or count > 0
    return value, changed


def values(service: Service, fill: Callable[[str], str] | None = None) -> list[str]:
    """The environment values of ``service`` as they will reach it (``fill`` puts config into
    the values that mix it into text)."""
    out = []
    for key, value in service.environment.items():
        if value is None:
            continue
        out.append(fill(value) if fill is not None and key in service.env_refs else value)
    return out


def references(project: Project) -> dict[str, set[str]]:
    """Service -> the other services (and stores) its environment uses as a host."""
    out: dict[str, set[str]] = {}
    for name, service in project.services.items():
        found = values(service)
        out[name] = {other for other in project.services
                     if other != name and any(mentions(v, other) for v in found)}
    return out


NAMED = "service_started"
"""The condition a named service must reach: to exist, so that its name resolves."""


def graph(project: Project) -> dict[str, dict[str, str]]:
    """depends_on with its conditions, plus an edge to each service named in the environment.

    A name that would close a loop (two services that call each other) gets no edge; the
    client then starts without it and ``to_roll`` says it must restart once the other exists.
    """
    edges: dict[str, dict[str, str]] = {
        name: {dep: d.condition for dep, d in service.depends_on.items() if dep in project.services}
        for name, service in project.services.items()}
    for client, named in sorted(references(project).items()):
        for target in sorted(named - set(edges[client])):
            if not _reaches(edges, target, client):
                edges[client][target] = NAMED
    return edges


def _reaches(edges: Mapping[str, Mapping[str, str]], start: str, goal: str) -> bool:
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
    """Container services to restart after a deploy on a target that resolves names when a
    task starts (the engine does, engine/deploy.py): a client that names a service this deploy
    created, and either kept its old tasks or started without waiting for it."""
    created, restarted = set(created), set(restarted)
    edges = graph(project)
    out = set()
    for client, named in references(project).items():
        if project.services[client].managed_store:
            continue
        for target in named & created:
            if project.services[target].managed_store:
                continue  # reached by its endpoint, not by its name
            if client not in restarted or target not in edges[client]:
                out.add(client)
    return sorted(out)


def domain(name: str) -> str:
    """A domain as DNS compares it: lower case, without the root's dot."""
    return name.strip().lower().rstrip(".")


def suffixes(name: str) -> list[str]:
    """The zones that could serve domain ``name``, the longest (most specific) first:
    ``a.b.example.com`` -> itself, ``b.example.com``, ``example.com`` (never a bare TLD)."""
    labels = domain(name).split(".")
    return [".".join(labels[start:]) for start in range(max(len(labels) - 1, 1))]


def zone_for(name: str, zones: Iterable[str]) -> str | None:
    """Which of ``zones`` (zone names, any case, with or without the root's dot) serves domain
    ``name``: the longest that is the domain or a parent of it."""
    have = {domain(z): z for z in zones}
    return next((have[s] for s in suffixes(name) if s in have), None)


def parent(name: str) -> str:
    """The zone to create for a domain that has none: its parent (``www.example.com`` ->
    ``example.com``), or itself when it is one label under its TLD."""
    name = domain(name)
    return name.split(".", 1)[-1] if name.count(".") > 1 else name
