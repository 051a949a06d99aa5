"""Whether an image an earlier deployment ran is still in the project's Artifact Registry
repository, for a rollback (a cleanup policy, or a person, may have deleted it)."""

from __future__ import annotations

from urllib.parse import quote

from launchdeck.providers.gcp import names
from launchdeck.providers.gcp.api import Gcp


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
    path, _, tag = rest.partition(":")
    name = f"{names.package(gcp.project, gcp.region, path)}/tags/{tag or 'latest'}"
    return await gcp.maybe("artifactregistry", "get_tag", name=name) is not None
