"""Services in depends_on order, or the loop that makes such an order impossible.

One iterative walk serves validation (which reports the loop at its line) and the engine
(which starts services in this order): a chain of a thousand services must not recurse.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def dependency_order(graph: Mapping[str, Iterable[str]]) -> tuple[list[str], list[str] | None]:
    """The names of ``graph``, each after the names it depends on, and the first loop found.

    Roots are visited in ``graph``'s order and dependencies in theirs; a dependency that is
    not in ``graph`` is ignored. The loop names its first service again at its end
    (``[a, b, a]``); it is None when there is none, and the order is then complete.
    """
    done: list[str] = []
    finished: set[str] = set()
    for root in graph:
        if root in finished:
            continue
        path, on_path = [root], {root}
        pending = [iter(graph[root])]
        while pending:
            dep = next((d for d in pending[-1] if d in graph and d not in finished), None)
            if dep is None:
                name = path.pop()
                finished.add(name)
                on_path.discard(name)
                done.append(name)
                pending.pop()
                continue
            if dep in on_path:
                return done, [*path[path.index(dep):], dep]
            path.append(dep)
            on_path.add(dep)
            pending.append(iter(graph[dep]))
    return done, None
