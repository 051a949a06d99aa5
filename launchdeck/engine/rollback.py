"""A rollback: deploy the project again with the images an earlier deployment ran, by their
references as its history entry kept them, through the same loop as every deploy — nothing is
built, and the plan says first what changes.

What is pinned is each service's image; the compose settings and config values are today's.
The preview names every config value and setting that differs from that deployment, and the
rollback is refused, naming them, when an image it needs is no longer on the target.
"""

from __future__ import annotations

from collections.abc import Mapping

from launchdeck.compose.validate import DIGEST_KEY
from launchdeck.engine import deploy, history, kinds
from launchdeck.engine.events import Sink, discard
from launchdeck.engine.history import Preview
from launchdeck.engine.plan import config_digest
from launchdeck.engine.results import DeployResult
from launchdeck.engine.seams import DeployOptions, KeepsImages, Session
from launchdeck.errors import DeployRefused, UsageError


def pinned(entry: history.Deployment, services: list[str]) -> dict[str, str]:
    """The image each of ``services`` ran in ``entry``, for those it recorded one."""
    return {u.name: u.image for u in entry.units if u.name in services and u.image}


async def preview(ready: deploy.Ready, entry: history.Deployment, *,
                  options: DeployOptions | None = None) -> Preview:
    """What rolling back to ``entry`` would change; DeployRefused when an image is gone."""
    project = ready.project
    if entry.operation == "destroy" or not any(u.image for u in entry.units):
        raise UsageError(f"deployment {entry.id} left nothing to roll back to "
                         f"({entry.operation}, {entry.outcome})",
                         hint="Choose a deployment that ran services (deployments lists them).")
    images = pinned(entry, list(project.services))
    session = await _session(ready)
    checked = await _check_images(ready, session, images)
    plan = await deploy.plan(ready, options=options, images=images)
    key = ready.config.get(DIGEST_KEY)
    config_changed = sorted(  # an entry from before the stack had a key holds unkeyed digests
        {name for unit in entry.units for name, digest in unit.config.items()
         if name in ready.config and digest not in
         {config_digest(project.name, ready.stack, name, ready.config[name], k) for k in (key, None)}})
    return Preview(to=entry.id, plan=plan, images=images, config_changed=config_changed,
                   settings_changed=_settings_changed(ready, session, entry, images),
                   not_in_deployment=[n for n in project.services if entry.unit(n) is None],
                   images_checked=checked)


async def rollback(ready: deploy.Ready, entry: history.Deployment, *,
                   options: DeployOptions | None = None, sink: Sink = discard,
                   deployment_id: str | None = None) -> DeployResult:
    """Deploy ``ready`` with ``entry``'s images: a deployment of its own in the history."""
    images = pinned(entry, list(ready.project.services))
    await _check_images(ready, await _session(ready), images)
    return await deploy.start(ready, options=options, sink=sink, deployment_id=deployment_id,
                              images=images,
                              intent=history.Intent(operation="rollback", rollback_of=entry.id))


async def _session(ready: deploy.Ready) -> Session:
    """A session that only looks (as a plan's does)."""
    return await ready.provider.session(ready.project, ready.stack, ready.config, "plan",
                                        DeployOptions(), discard)


async def _check_images(ready: deploy.Ready, session: Session, images: Mapping[str, str]) -> bool:
    """Refuse, naming them, when images are gone; False when the target cannot tell."""
    if not isinstance(session, KeepsImages):
        return False
    gone = [f"{name} ({image})" for name, image in images.items()
            if not await session.has_image(image)]
    if gone:
        raise DeployRefused(f"cannot roll back: the image of {', '.join(gone)} is no longer on "
                            f"{ready.provider.name} (a lifecycle rule or a cleanup removed it)",
                            [], hint="Nothing was changed. Deploy from source again to rebuild "
                                     "it, or choose a later deployment whose images are kept.")
    return True


def _settings_changed(ready: deploy.Ready, session: Session, entry: history.Deployment,
                      images: Mapping[str, str]) -> dict[str, list[str]]:
    """The compose settings of each service that differ from what ``entry`` applied."""
    out = {}
    for name in ready.project.services:
        unit = entry.unit(name)
        if unit is None or not unit.parts or name not in images:
            continue
        now = kinds.render(session, ready.project, ready.stack, ready.config, name,
                           images[name]).parts
        keys = {k for k in {*now, *unit.parts} if k.startswith("compose:")}
        differ = sorted(k.removeprefix("compose:") for k in keys
                        if now.get(k) != unit.parts.get(k))
        if differ:
            out[name] = differ
    return out
