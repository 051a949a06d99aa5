"""destroy for every target: under the deploy lock, remove what the (project, stack) owns, and
say so in its history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from launchdeck.engine import history, lock
from launchdeck.engine.events import Event, Sink, discard
from launchdeck.engine.records import Records
from launchdeck.engine.seams import Provider, Teardown
from launchdeck.identity import new_deployment_id


async def destroy(provider: Provider, project: str, stack: str, *, volumes: bool = False,
                  sink: Sink = discard, who: str | None = None) -> Teardown:
    """Remove everything; data volumes and databases only when ``volumes``; ``who``: the caller,
    for the history (asked of the provider when not given)."""
    from launchdeck import __version__

    blobs = provider.blobs()
    etag, started = new_deployment_id(), datetime.now(UTC)
    async with lock.held(blobs, project, stack, "destroy", etag, provider=provider.name):
        teardown = await provider.destroy(project, stack, volumes=volumes, sink=sink)
        await Records(blobs, project, stack).delete()
        entry = history.Deployment(
            id=etag, operation="destroy", project=project, stack=stack, provider=provider.name,
            started=started, ended=datetime.now(UTC), outcome="destroyed",
            message=f"removed {len(teardown.removed)}, kept {len(teardown.kept)}",
            origin=history.Origin(who=who or await history.who(provider), version=__version__),
            units=[history.UnitEntry(name=name, action="DELETE") for name in teardown.removed])
        await history.History(blobs, project, stack).append(entry)
    return teardown


def tally(sink: Sink) -> tuple[Teardown, Callable[[str], None]]:
    """For a provider's teardown: what it will say it removed and kept (empty so far), and
    ``done(what)``, which adds ``what`` to the removed and tells ``sink`` as it happens."""
    out = Teardown(removed=[], kept=[])

    def done(what: str) -> None:
        out.removed.append(what)
        sink(Event(None, None, f"removed {what}"))

    return out, done
