"""An image by the digest Cloud Run resolved it to, for the history (a revision keeps it from
its creation on, whatever the tag names since), and whether an image an earlier deployment ran
is still in the project's Artifact Registry repository, for a rollback (a cleanup policy, or a
person, may have deleted it)."""

from __future__ import annotations

from urllib.parse import quote

from launchdeck.engine.history import by_digest
from launchdeck.providers.gcp import names
from launchdeck.providers.gcp.api import Gcp, if_found


async def kept(gcp: Gcp, image: str) -> bool:
    """Whether ``image`` (``<region>-docker.pkg.dev/<project>/launchdeck/<path>`` with ``:<tag>``
    or ``@sha256:…``) is still in the shared repository: a tag is read with
    ``packages.tags.get``, a digest with ``dockerImages.get``
    (https://cloud.google.com/artifact-registry/docs/reference/rest/v1/projects.locations.repositories.dockerImages/get).
    An image of another registry (a public one) is not the repository's to delete: it counts
    as kept."""
    registry = names.registry(gcp.project, gcp.region) + "/"
    if not image.startswith(registry):
        return True
    rest = image[len(registry):]
    if "@" in rest:
        path, digest = rest.split("@", 1)
        name = (f"{names.repository(gcp.project, gcp.region)}/dockerImages/"
                f"{quote(path, safe='')}@{digest}")
        return await gcp.maybe("artifactregistry", "get_docker_image", name=name) is not None
    return await gcp.maybe("artifactregistry", "get_tag", name=_tag(image)) is not None


def _tag(image: str) -> str | None:
    """The ``packages.tags`` resource of an Artifact Registry image named by its tag
    (``<location>-docker.pkg.dev/<project>/<repository>/<path>[:<tag>]``); None for an image
    of another registry."""
    host, _, rest = image.partition("/")
    parts = rest.split("/", 2)
    if not host.endswith("-docker.pkg.dev") or len(parts) < 3:
        return None
    project, repository, (path, _, tag) = parts[0], parts[1], parts[2].partition(":")
    location = host.removesuffix("-docker.pkg.dev")
    return (f"projects/{project}/locations/{location}/repositories/{repository}/packages/"
            f"{quote(path, safe='')}/tags/{tag or 'latest'}")


async def pinned(gcp: Gcp, revision: str | None, image: str) -> str | None:
    """``image`` by the digest Cloud Run runs: the ``status.imageDigest`` of ``revision`` (a
    service's latest ready revision) as the Admin API v1 shows it, "resolved during the creation
    of Revision ... regardless of whether a tag or digest was originally specified"
    (https://cloud.google.com/run/docs/reference/rest/v1/namespaces.revisions; the v2 Revision
    has no such field), when that revision runs ``image``. Else, for an image of an Artifact
    Registry repository, the digest its tag names (``packages.tags.get``'s version; a worker
    pool's image: v1 has no worker pools). None when neither is known (a public image of a
    worker pool, a revision that runs another image)."""
    if "@sha256:" in image:
        return image
    if revision:
        short = revision.rsplit("/", 1)[-1]
        found = await if_found(lambda: gcp.rest(
            "run", "GET", f"/apis/serving.knative.dev/v1/namespaces/{gcp.project}/revisions/{short}",
            host=f"{gcp.region}-run.googleapis.com"))
        containers = ((found or {}).get("spec") or {}).get("containers") or [{}]
        digest = ((found or {}).get("status") or {}).get("imageDigest") or ""
        if containers[0].get("image") == image and "sha256:" in digest:
            return by_digest(image, digest.rpartition("@")[2])  # a reference, or the bare digest
    name = _tag(image)
    if name is None:
        return None
    found = await gcp.maybe("artifactregistry", "get_tag", name=name)
    version = found.version.rpartition("/versions/")[2] if found else ""
    return by_digest(image, version) if version.startswith("sha256:") else None
