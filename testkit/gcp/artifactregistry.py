"""Artifact Registry v1 as the fake serves it: Docker repositories, their images and tags.

Images arrive the way they do for real, pushed by a build (Cloud Build calls ``push``); a
tag is asked for by ``packages/<image>/tags/<tag>``, with ``/`` in the image's name escaped
as ``%2F`` as the real API wants it. An image's package (all its versions and tags) is
listed and deleted the same way; a delete is a long-running operation.

A remote repository (``mode: REMOTE_REPOSITORY``) proxies an upstream registry: "the first
time that you request a version of a package, Artifact Registry downloads and caches the
package in the remote repository"
(https://cloud.google.com/artifact-registry/docs/repositories/remote-repo). The fake has no
upstream to ask, so a remote repository serves every image path asked of it (the upstream is
taken to be public and to hold it); it takes no pushes, being read-only ("remote repositories
are read-only", the same page). Its config is checked as the API's field documentation says:
a remote repository needs ``remoteRepositoryConfig`` with an upstream of its own format, a
Docker one ``publicRepository`` (DOCKER_HUB) or ``customRepository.uri`` ("an http/https uri
reference to the custom remote repository"), and a standard one takes none; the mode is fixed
at creation ("you can't change the repository mode after you have created a repository",
https://cloud.google.com/artifact-registry/docs/repositories). The exact wording of the
refusals is not documented; the fake's says what is wrong.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import quote, urlsplit

from google.cloud import artifactregistry_v1 as ar
from google.cloud.artifactregistry_v1.services.artifact_registry.transports.rest_base import (
    _BaseArtifactRegistryRestTransport as _Rest,
)
from google.iam.v1 import iam_policy_pb2
from google.longrunning import operations_pb2

from testkit.gcp.core import (
    already_exists,
    check_labels,
    failed_precondition,
    invalid,
    not_found,
    page,
    sequence,
)
from testkit.gcp.run import REGIONS
from testkit.gcp.server import Api, Route, routes_of
from testkit.gcp.shared import Operations, Policies, Work

REPOSITORY_ID = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
_IMAGE = re.compile(
    r"^(?P<region>[a-z0-9-]+)-docker\.pkg\.dev/(?P<project>[^/]+)/(?P<repo>[^/]+)/"
    r"(?P<image>[a-z0-9._/-]+?)(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


class ArtifactRegistryApi(Api):
    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.repositories: dict[str, Any] = {}
        self.images: dict[str, dict[str, Any]] = {}
        """Repository name -> image path -> {"digests": {digest: DockerImage}, "tags": {tag: digest}}."""
        self.creating: dict[str, Work] = {}
        """Repositories being made -> the work that makes them (it moves on when they are read)."""
        self.operations = Operations()
        self.policies = Policies(ctx)

    def routes(self) -> list[Route]:
        table = [
            (
                "CreateRepository",
                ar.CreateRepositoryRequest,
                self.create_repository,
                "artifactregistry.repositories.create",
            ),
            (
                "GetRepository",
                ar.GetRepositoryRequest,
                self.get_repository,
                "artifactregistry.repositories.get",
            ),
            (
                "ListRepositories",
                ar.ListRepositoriesRequest,
                self.list_repositories,
                "artifactregistry.repositories.list",
            ),
            (
                "DeleteRepository",
                ar.DeleteRepositoryRequest,
                self.delete_repository,
                "artifactregistry.repositories.delete",
            ),
            (
                "ListDockerImages",
                ar.ListDockerImagesRequest,
                self.list_docker_images,
                "artifactregistry.dockerimages.list",
            ),
            (
                "GetDockerImage",
                ar.GetDockerImageRequest,
                self.get_docker_image,
                "artifactregistry.dockerimages.get",
            ),
            ("GetTag", ar.GetTagRequest, self.get_tag, "artifactregistry.tags.get"),
            (
                "ListPackages",
                ar.ListPackagesRequest,
                self.list_packages,
                "artifactregistry.packages.list",
            ),
            (
                "DeletePackage",
                ar.DeletePackageRequest,
                self.delete_package,
                "artifactregistry.packages.delete",
            ),
            (
                "GetIamPolicy",
                iam_policy_pb2.GetIamPolicyRequest,
                self.get_iam_policy,
                "artifactregistry.repositories.getIamPolicy",
            ),
            (
                "SetIamPolicy",
                iam_policy_pb2.SetIamPolicyRequest,
                self.set_iam_policy,
                "artifactregistry.repositories.setIamPolicy",
            ),
            ("GetOperation", operations_pb2.GetOperationRequest, self.get_operation, ""),
        ]
        return routes_of(_Rest, table)

    def _repository(self, name: str) -> Any:
        if name in self.creating:
            self.creating[name].poll()
        if name not in self.repositories:
            raise not_found(f"Requested entity was not found. Repository {name} does not exist.")
        return self.repositories[name]

    def create_repository(self, request: Any) -> Any:
        region = request.parent.split("/")[3]
        if region not in REGIONS:
            raise invalid(f"Invalid location: {region}.", "parent")
        if not REPOSITORY_ID.match(request.repository_id):
            raise invalid(
                f"Invalid repository id {request.repository_id!r}: it must start with a lowercase "
                "letter, contain only lowercase letters, digits and hyphens, end with a letter or "
                "digit, and be at most 63 characters.",
                "repository_id",
            )
        repository = request.repository
        if repository.format_ == 0:
            raise invalid("Invalid repository format: FORMAT_UNSPECIFIED.", "repository.format")
        check_labels(repository.labels, "repository.labels")
        _check_mode(repository)
        name = f"{request.parent}/repositories/{request.repository_id}"
        if name in self.repositories or name in self.creating:
            raise already_exists(f"the repository already exists: {name}")
        stored = type(repository)()
        stored.CopyFrom(repository)
        stored.name = name
        stored.create_time.GetCurrentTime()
        stored.update_time.GetCurrentTime()
        if not stored.mode:
            stored.mode = 1  # STANDARD_REPOSITORY
        stored.registry_uri = f"{region}-docker.pkg.dev/{name.split('/')[1]}/{request.repository_id}"
        work = Work(self.ctx.progress(), lambda: self._finish_create(name, stored))
        self.creating[name] = work
        return self.operations.start(self._op_name(request.parent), work, ar.OperationMetadata.pb())

    def _finish_create(self, name: str, repository: Any) -> Any:
        self.repositories[name] = repository
        self.images[name] = {}
        self.creating.pop(name, None)
        return repository

    def get_repository(self, request: Any) -> Any:
        return self._repository(request.name)

    def list_repositories(self, request: Any) -> Any:
        for name in [n for n in self.creating if n.startswith(request.parent + "/repositories/")]:
            self.creating[name].poll()
        names = sorted(n for n in self.repositories if n.startswith(request.parent + "/repositories/"))
        shown, token = page(names, request.page_size, request.page_token)
        response = ar.ListRepositoriesResponse.pb()(next_page_token=token)
        response.repositories.extend(self.repositories[n] for n in shown)
        return response

    def delete_repository(self, request: Any) -> Any:
        from google.protobuf import empty_pb2

        self._repository(request.name)
        name = request.name

        def complete() -> Any:
            self.repositories.pop(name, None)
            self.images.pop(name, None)
            self.policies.forget(name)
            return empty_pb2.Empty()

        return self.operations.start(
            self._op_name(name.rsplit("/repositories/", 1)[0]),
            Work(self.ctx.progress(), complete),
            ar.OperationMetadata.pb(),
        )

    def get_operation(self, request: Any) -> Any:
        return self.operations.get(request.name)

    @staticmethod
    def _op_name(parent: str) -> str:
        return f"{parent}/operations/{hashlib.sha256(str(sequence()).encode()).hexdigest()[:32]}"

    # --- images ---------------------------------------------------------------------------

    def push(self, uri: str, content: str) -> str:
        """Store an image as a push would; returns its digest. Fails like the registry if no repository."""
        match = _IMAGE.match(uri)
        if not match:
            raise invalid(f"invalid reference format: {uri}")
        name = f"projects/{match['project']}/locations/{match['region']}/repositories/{match['repo']}"
        if name not in self.repositories:
            raise not_found(f'name unknown: Repository "{match["repo"]}" not found')
        if self.repositories[name].mode == _REMOTE:
            raise failed_precondition(
                f"denied: Repository \"{match['repo']}\" is a remote repository, which is read-only")
        digest = "sha256:" + hashlib.sha256(content.encode()).hexdigest()
        images = self.images[name].setdefault(match["image"], {"digests": {}, "tags": {}})
        image = images["digests"].get(digest)
        if image is None:
            image = ar.DockerImage.pb()()
            image.name = f"{name}/dockerImages/{quote(match['image'], safe='')}@{digest}"
            host = f"{match['region']}-docker.pkg.dev"
            image.uri = f"{host}/{match['project']}/{match['repo']}/{match['image']}@{digest}"
            image.image_size_bytes = 10_000_000 + len(content)
            image.media_type = "application/vnd.docker.distribution.manifest.v2+json"
            image.upload_time.GetCurrentTime()
            image.build_time.GetCurrentTime()
            images["digests"][digest] = image
        image.update_time.GetCurrentTime()
        if match["tag"]:
            previous = images["tags"].get(match["tag"])
            if previous and previous != digest:
                old = images["digests"][previous]
                old.tags.remove(match["tag"])
            if match["tag"] not in image.tags:
                image.tags.append(match["tag"])
            images["tags"][match["tag"]] = digest
        return digest

    def has_image(self, uri: str) -> bool:
        """Whether an image reference (by tag or digest) resolves, as a pull would ask."""
        return self.is_remote(uri) or self.digest_of(uri) is not None

    def is_remote(self, uri: str) -> bool:
        """Whether ``uri`` is an image of a remote repository: pulled from the upstream on first
        request, and cached (see above), so every path resolves."""
        match = _IMAGE.match(uri)
        if not match:
            return False
        name = f"projects/{match['project']}/locations/{match['region']}/repositories/{match['repo']}"
        repository = self.repositories.get(name)
        return repository is not None and repository.mode == _REMOTE

    def digest_of(self, uri: str) -> str | None:
        """The digest a reference to an image of a standard repository names now: the image
        its tag was last pushed as, or the digest itself when the repository has it; None when
        it has neither (or the image is not one of this fake's standard repositories)."""
        match = _IMAGE.match(uri)
        if not match:
            return None
        name = f"projects/{match['project']}/locations/{match['region']}/repositories/{match['repo']}"
        images = self.images.get(name, {}).get(match["image"])
        if images is None:
            return None
        if match["digest"]:
            return match["digest"] if match["digest"] in images["digests"] else None
        return images["tags"].get(match["tag"] or "latest")

    def list_docker_images(self, request: Any) -> Any:
        self._repository(request.parent)
        found = [
            image for entry in self.images[request.parent].values() for image in entry["digests"].values()
        ]
        by_name = {image.name: image for image in found}
        shown, token = page(sorted(by_name), request.page_size, request.page_token)
        response = ar.ListDockerImagesResponse.pb()(next_page_token=token)
        response.docker_images.extend(by_name[n] for n in shown)
        return response

    def get_docker_image(self, request: Any) -> Any:
        repository = request.name.split("/dockerImages/")[0]
        self._repository(repository)
        for entry in self.images[repository].values():
            for image in entry["digests"].values():
                if image.name == request.name:
                    return image
        raise not_found(f"Requested entity was not found. Image {request.name} does not exist.")

    def get_tag(self, request: Any) -> Any:
        repository, _, rest = request.name.partition("/packages/")
        self._repository(repository)
        package, _, tag = rest.partition("/tags/")
        image = _unescape(package)
        entry = self.images[repository].get(image)
        if entry is None or tag not in entry["tags"]:
            raise not_found(f"Requested entity was not found. Tag {request.name} does not exist.")
        return ar.Tag.pb()(
            name=request.name, version=f"{repository}/packages/{package}/versions/{entry['tags'][tag]}"
        )

    def list_packages(self, request: Any) -> Any:
        self._repository(request.parent)
        images = self.images[request.parent]
        names = sorted(f"{request.parent}/packages/{quote(image, safe='')}" for image in images)
        shown, token = page(names, request.page_size, request.page_token)
        response = ar.ListPackagesResponse.pb()(next_page_token=token)
        for name in shown:
            package = response.packages.add(name=name, display_name=_unescape(name.split("/packages/")[1]))
            package.create_time.GetCurrentTime()
        return response

    def delete_package(self, request: Any) -> Any:
        from google.protobuf import empty_pb2

        repository, _, package = request.name.partition("/packages/")
        self._repository(repository)
        image = _unescape(package)
        if image not in self.images[repository]:
            raise not_found(f"Requested entity was not found. Package {request.name} does not exist.")

        def complete() -> Any:
            self.images.get(repository, {}).pop(image, None)
            return empty_pb2.Empty()

        return self.operations.start(
            self._op_name(repository.rsplit("/repositories/", 1)[0]),
            Work(self.ctx.progress(), complete),
            ar.OperationMetadata.pb(),
        )

    # --- IAM ------------------------------------------------------------------------------

    def get_iam_policy(self, request: Any) -> Any:
        self._repository(request.resource)
        return self.policies.get(request.resource)

    def set_iam_policy(self, request: Any) -> Any:
        self._repository(request.resource)
        return self.policies.set(request.resource, request.policy)


_REMOTE = 3  # Repository.Mode.REMOTE_REPOSITORY
_DOCKER = 1  # Repository.Format.DOCKER


def _check_mode(repository: Any) -> None:
    """What the API refuses of a repository's mode and remote config (module docstring)."""
    remote = repository.HasField("remote_repository_config")
    if repository.mode == 2:  # VIRTUAL_REPOSITORY: launchdeck makes none, and the fake serves none
        raise invalid("Virtual repositories are not served by this fake.", "repository.mode")
    if repository.mode != _REMOTE:
        if remote:
            raise invalid("remote_repository_config is only allowed for a remote repository "
                          "(mode REMOTE_REPOSITORY).", "repository.remote_repository_config")
        return
    if not remote:
        raise invalid("A remote repository requires remote_repository_config.",
                      "repository.remote_repository_config")
    config = repository.remote_repository_config
    upstream = config.WhichOneof("remote_source")
    if repository.format_ == _DOCKER and upstream != "docker_repository":
        raise invalid(f"The upstream of a DOCKER remote repository must be a docker_repository, not "
                      f"{upstream or 'none'}.", "repository.remote_repository_config")
    if upstream == "docker_repository":
        docker = config.docker_repository
        source = docker.WhichOneof("upstream")
        if source is None or (source == "public_repository" and docker.public_repository == 0):
            raise invalid("A docker_repository needs a public_repository or a custom_repository.",
                          "repository.remote_repository_config.docker_repository")
        if source == "custom_repository":
            uri = docker.custom_repository.uri
            parts = urlsplit(uri)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise invalid(f"Invalid custom repository uri {uri!r}: it must be an http or https URI.",
                              "repository.remote_repository_config.docker_repository.custom_repository.uri")


def _unescape(package: str) -> str:
    """An image path from its package id, where ``/`` is written ``%2F``."""
    return package.replace("%2F", "/").replace("%2f", "/")
