"""Destroying a (project, stack) on GCP: everything it owns, in reverse order, then a check.

What to remove is found by the project and stack labels (Cloud Run services and worker pools,
stores, secrets, the remote repositories its images are pulled through), and by the names the
deploy gives (the load balancer's parts and the service account, under each of the names a
stack may have, ``names.Names.every``, when they are the stack's; the images under
``<project>/<stack>/`` in the shared repository). Config values
stay (``config rm`` removes them), with the deleted account taken out of their readers; each
database leaves a final backup (Cloud SQL's) or an export in the shared bucket (Firestore's).
Afterwards nothing of the stack may be found but those;
anything else is named in an error, and running destroy again finishes the job. What every
stack of the region shares (the bucket, the repository, the network's additions) stays.
"""

from __future__ import annotations

from collections.abc import Callable

from launchdeck.engine.destroy import tally
from launchdeck.engine.events import Sink
from launchdeck.engine.gather import gather
from launchdeck.engine.seams import Teardown
from launchdeck.errors import ProviderError
from launchdeck.providers.gcp import access, config, ingress, inventory, names, registries, stores
from launchdeck.providers.gcp.api import Gcp, if_enabled
from launchdeck.providers.gcp.session import delete, delete_package, live, pools


async def teardown(gcp: Gcp, project: str, stack: str, sink: Sink) -> Teardown:
    result, done = tally(sink)
    kept = result.kept

    every = names.Names.every(project, stack)
    # 1. the way in: DNS records, then the load balancer, users before what they use
    for named in every:
        await if_enabled(lambda named=named: ingress.remove(gcp, named, done), None)

    # 2. the services and worker pools
    async def service(path: str) -> None:
        if await delete(gcp, path):
            kind = "worker pool" if "/workerPools/" in path else "service"
            done(f"Cloud Run {kind} {path.rsplit('/', 1)[-1]}")

    await gather(*[lambda p=p: service(p) for p in await _services(gcp, project, stack)])

    # 3. the stores (each database keeps a final backup or an export)
    async def store(found: stores.Existing) -> None:
        backup = await stores.remove(gcp, found)
        done(f"{found.kind} store {found.name.rsplit('/', 1)[-1]}")
        if backup and found.kind == "mongodb":
            kept.append(f"an export of {found.name} at {backup} (`gcloud firestore import {backup} "
                        "--database=DATABASE` restores it)")
        elif backup:
            kept.append(
                f"{backup} (Cloud SQL keeps it {stores.FINAL_BACKUP_DAYS} days; the console lists it "
                "under Backups)"
            )

    await gather(*[lambda f=f: store(f) for f in (await stores.find_all(gcp, project, stack)).values()])

    # 4. secrets a deploy made, the account's access to the kept ones, the account, the images
    derived = await config.listed(gcp, project, stack, "derived")
    await gather(
        *[
            lambda s=s: gcp.maybe(
                "secretmanager", "delete_secret", name=f"projects/{gcp.project}/secrets/{s}"
            )
            for s in derived
        ]
    )
    if derived:
        done(f"{len(derived)} derived secret(s)")
    for email in await _accounts(gcp, project, stack):
        await _account(gcp, project, stack, email, done)
    for path in await _images(gcp, project, stack):
        if await delete_package(gcp, path):
            done(f"images {path}")

    # 5. the remote repositories its images were pulled through (their cached copies with them)
    async def repository(name: str) -> None:
        if await registries.delete(gcp, name):
            done(f"remote repository {name.rsplit('/', 1)[-1]}")

    await gather(*[lambda r=r: repository(r) for r in await registries.owned(gcp, project, stack)])

    left = await _left(gcp, project, stack)
    if left:
        raise ProviderError(
            f"destroy left {len(left)} resource(s) of {project} ({stack}): " + ", ".join(sorted(left)[:10]),
            provider="gcp",
            hint="Run destroy again in a few minutes: GCP may still be removing them. If "
            "they stay, remove them in the Cloud Console.",
        )
    kept.append("config values (config rm removes them)")
    return result


async def _accounts(gcp: Gcp, project: str, stack: str) -> list[str]:
    """The stack's runtime service accounts (by email): the one of its first deploy's names
    unless it is there and another's, and the one of the names it had before marks when it is
    there and its own (that name may be another stack's, which met it there: left alone)."""

    async def mine(named: names.Names, fresh: bool) -> str | None:
        email = named.account(gcp.project)
        found = await if_enabled(lambda: access.found_account(gcp, email), None)
        owner = names.account_owner((found or {}).get("description", ""))
        return email if (found is None and fresh) or owner == (project, stack) else None

    every = names.Names.every(project, stack)
    found = await gather(*[lambda n=n, i=i: mine(n, i == 0) for i, n in enumerate(every)])
    return [email for email in found if email is not None]


async def _account(gcp: Gcp, project: str, stack: str, email: str, done: Callable[[str], None]) -> None:
    """Take a runtime service account out of the kept secrets' readers and Vertex AI's users,
    then delete it."""
    member = f"serviceAccount:{email}"
    kept_secrets = await config.listed(gcp, project, stack, "config")
    await gather(*[lambda s=s: config.revoke(gcp, s, member) for s in kept_secrets])
    await access.project_role(gcp, names.LLM_ROLE, member, wanted=False)
    if await if_enabled(lambda: access.delete_account(gcp, email), False):
        done(f"service account {email}")


async def _services(gcp: Gcp, project: str, stack: str) -> list[str]:
    """The stack's Cloud Run services and worker pools by path; when Cloud Run is not enabled,
    it holds none."""
    found, workers = await gather(lambda: if_enabled(lambda: live(gcp, project, stack), {}),
                                  lambda: if_enabled(lambda: pools(gcp, project, stack), {}))
    return [s.name for s in found.values()] + [p.name for p in workers.values()]


async def _images(gcp: Gcp, project: str, stack: str) -> list[str]:
    """The image paths of the stack in the shared repository."""
    repository = names.repository(gcp.project, gcp.region)
    if (
        await if_enabled(lambda: gcp.maybe("artifactregistry", "get_repository", name=repository), None)
        is None
    ):
        return []
    prefix = names.image_path(project, stack, "")
    packages = await gcp.all("artifactregistry", "list_packages", parent=repository)
    paths = [p.name.split("/packages/", 1)[1].replace("%2F", "/").replace("%2f", "/") for p in packages]
    return [path for path in paths if path.startswith(prefix)]


async def _left(gcp: Gcp, project: str, stack: str) -> list[str]:
    """What can still be found of the stack, but for its kept config values."""
    services, found_stores, derived, balancer, images, account, remotes = await gather(
        lambda: _services(gcp, project, stack),
        lambda: stores.find_all(gcp, project, stack),
        lambda: config.listed(gcp, project, stack, "derived"),
        lambda: gather(*[lambda n=n: if_enabled(lambda: ingress.find(gcp, n, []), ingress.Existing())
                         for n in names.Names.every(project, stack)]),
        lambda: _images(gcp, project, stack),
        lambda: gather(*[lambda n=n: inventory.made(gcp, n) for n in names.Names.every(project, stack)]),
        lambda: registries.owned(gcp, project, stack),
    )
    left = [s.rsplit("/", 1)[-1] for s in services] + [
        f.name.rsplit("/", 1)[-1] for f in found_stores.values()
    ]
    left += derived + sorted(p for b in balancer for p in b.parts) + images
    left += [r.rsplit("/", 1)[-1] for r in remotes]
    return left + [n.account(gcp.project) for n, there in zip(names.Names.every(project, stack), account,
                                                              strict=True) if there]
