"""Where Cloud Run pulls a service's image from, and the remote repositories that let it.

Cloud Run deploys "container images stored in Artifact Registry or Docker Hub"
(https://cloud.google.com/run/docs/deploying#images; Container Registry's ``gcr.io`` hosts are
served by Artifact Registry). An image of any other registry (``ghcr.io``, ``quay.io``,
``public.ecr.aws``, ``registry.k8s.io``...) is pulled through an Artifact Registry remote
repository made for the stack: "a remote repository acts as a proxy for the upstream source
... the first time that you request a version of a package, Artifact Registry downloads and
caches the package" (https://cloud.google.com/artifact-registry/docs/repositories/remote-repo).
A Docker remote repository names its upstream with
``remoteRepositoryConfig.dockerRepository.customRepository.uri`` ("an http/https uri reference
to the custom remote repository", the field's documentation), and serves the upstream's
``path:tag`` as ``REGION-docker.pkg.dev/PROJECT/REPOSITORY/path:tag``. Cloud Run's own agent
reads Artifact Registry repositories of its project, so the service needs no grant for it.

A repository made here pulls anonymously: a registry that always wants credentials (private
Amazon ECR, Azure Container Registry) or that Google cannot reach (this machine, a private
network) is a finding of ``check`` that says what to do instead.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from launchdeck.compose.model import Project, Service
from launchdeck.providers.gcp import names
from launchdeck.providers.gcp.api import Gcp, GcpError, create, if_enabled

DIRECT = ("docker.io", "index.docker.io", "registry-1.docker.io", "gcr.io", "docker.pkg.dev")
"""Registries Cloud Run pulls from itself: Docker Hub and Artifact Registry (with the
``gcr.io`` hosts it serves), by host or by the ``.``/``-`` suffix of regional hosts."""
PRIVATE = (
    (re.compile(r"\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$"),
     "a private Amazon ECR registry, which always asks for credentials"),
    (re.compile(r"\.azurecr\.(io|cn|us)$"),
     "an Azure Container Registry, which asks for credentials unless anonymous pull was turned on"),
)
"""Registries whose pulls need credentials (ECR: "Amazon ECR private registries ... require
authentication", https://docs.aws.amazon.com/AmazonECR/latest/userguide/registry_auth.html;
ACR: anonymous pull is an opt-in setting,
https://learn.microsoft.com/azure/container-registry/anonymous-pull-access)."""
_LOCAL_SUFFIXES = (".local", ".internal", ".lan", ".home", ".localdomain", ".corp")


def authority(image: str) -> str:
    """The registry part of an image reference as written (host and port), ``docker.io`` when
    it names none."""
    first = image.split("/", 1)[0]
    if "/" in image and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def registry(image: str) -> str:
    """The registry host of an image reference (Docker Hub's when it names none)."""
    found = authority(image)
    return found.rsplit(":", 1)[0] if re.search(r":\d+$", found) else found


def direct(image: str) -> bool:
    """Whether Cloud Run pulls ``image`` itself."""
    host = registry(image)
    return any(host == r or host.endswith(("." + r, "-" + r)) for r in DIRECT)


def refusal(image: str) -> str | None:
    """Why a remote repository cannot pull ``image`` anonymously, or None when it can."""
    if direct(image):
        return None
    host = registry(image)
    for pattern, why in PRIVATE:
        if pattern.search(host):
            return why
    bare = host.strip("[]")
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        address = None
    if address is not None and not address.is_global:
        return "an address on a private network, which Google cannot reach"
    if host == "localhost" or ("." not in host and address is None) or host.endswith(_LOCAL_SUFFIXES):
        return "a registry on this machine or a private network, which Google cannot reach"
    return None


def remote(image: str) -> bool:
    """Whether ``image`` is pulled through a remote repository (a public registry Cloud Run
    does not pull from)."""
    return bool(image) and not direct(image) and refusal(image) is None


def upstream(host: str) -> str:
    """The remote repository's upstream URI of a registry."""
    return f"https://{host}"


def images(project: Project) -> list[str]:
    """The images of ``project``'s containers that are not built (a built image is pushed to
    the shared repository)."""
    from launchdeck.engine import model_service

    out = []
    for service in project.services.values():
        if service.managed_store:
            continue
        if service.model_provider is not None:
            out.append(model_service.gateway_image(service))
        elif service.build is None and service.image:
            out.append(service.image)
    return out


def hosts(project: Project) -> list[str]:
    """The registries (``host[:port]``) ``project`` pulls through remote repositories."""
    return sorted({authority(i) for i in images(project) if remote(i)})


def rewritten(image: str, named: names.Names, gcp_project: str, region: str) -> str:
    """``image`` as Cloud Run pulls it: through the stack's remote repository of its registry
    when it needs one, else unchanged."""
    if not remote(image):
        return image
    host = authority(image)
    repository = named.remote_repository(host)
    return f"{region}-docker.pkg.dev/{gcp_project}/{repository}/{image[len(host) + 1:]}"


def needs(service: Service) -> bool:
    """Whether ``service``'s image goes through a remote repository."""
    return service.build is None and not service.managed_store and bool(service.image) and \
        remote(service.image)


async def ensure(gcp: Gcp, named: names.Names, host: str) -> None:
    """The stack's remote repository of ``host``, made if missing; one of that name that is not
    such a repository, or is another stack's, is an error that says what to do."""
    from google.cloud import artifactregistry_v1 as ar

    project, stack = named.project, named.stack
    repository_id = named.remote_repository(host)
    name = f"projects/{gcp.project}/locations/{gcp.region}/repositories/{repository_id}"

    async def found() -> Any:
        return await gcp.maybe("artifactregistry", "get_repository", name=name)

    existing = await found()
    if existing is not None:
        uri = existing.remote_repository_config.docker_repository.custom_repository.uri
        if existing.mode != ar.Repository.Mode.REMOTE_REPOSITORY or uri.rstrip("/") != upstream(host):
            raise GcpError(
                f"the Artifact Registry repository {repository_id} is not a remote repository of "
                f"{upstream(host)}, so the images of {host} cannot be pulled through it",
                hint=f"Delete it (`gcloud artifacts repositories delete {repository_id} "
                f"--location {gcp.region}`) and deploy again; launchdeck makes it anew.")
        names.refuse_foreign("Artifact Registry repository", repository_id, existing.labels, project, stack)
        return
    docker = ar.RemoteRepositoryConfig.DockerRepository(
        custom_repository=ar.RemoteRepositoryConfig.DockerRepository.CustomRepository(uri=upstream(host)))
    repository = ar.Repository(
        format_=ar.Repository.Format.DOCKER,
        mode=ar.Repository.Mode.REMOTE_REPOSITORY,
        remote_repository_config=ar.RemoteRepositoryConfig(
            description=f"{host}, for launchdeck {project} ({stack})"[:100], docker_repository=docker),
        labels=names.labels(project, stack),
        description=f"Images of {host} pulled by launchdeck for {project} ({stack})",
    )
    await create(
        gcp,
        lambda: gcp.call("artifactregistry", "create_repository",
                         parent=f"projects/{gcp.project}/locations/{gcp.region}",
                         repository_id=repository_id, repository=repository),
        found,
        what=f"the remote repository of {host}",
        api="artifactregistry",
    )


async def owned(gcp: Gcp, project: str, stack: str) -> list[str]:
    """The stack's remote repositories, by resource name (none when Artifact Registry is off)."""
    from google.cloud import artifactregistry_v1 as ar

    async def listed() -> list[Any]:
        return await gcp.all("artifactregistry", "list_repositories",
                             parent=f"projects/{gcp.project}/locations/{gcp.region}")

    return [r.name for r in await if_enabled(listed, [])
            if r.mode == ar.Repository.Mode.REMOTE_REPOSITORY and names.owned(dict(r.labels), project, stack)]


async def delete(gcp: Gcp, name: str) -> bool:
    """Delete a repository (its cached images with it); False when it was not there."""
    operation = await gcp.maybe("artifactregistry", "delete_repository", name=name)
    if operation is None:
        return False
    await gcp.wait(operation, what=f"delete the repository {name.rsplit('/', 1)[-1]}", api="artifactregistry")
    return True
