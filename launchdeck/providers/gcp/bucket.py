"""The bucket a GCP project and region share: build contexts, build logs, and the engine's
blobs (deployment records, locks).

Private (uniform bucket-level access, public access prevention enforced) and labelled as
shared, so destroying one project leaves it for the next; contexts and build logs are
deleted by a lifecycle rule after 30 days. Objects are written with generation
preconditions where two writers could meet (``ifGenerationMatch=0``: only if absent).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from launchdeck.engine.blobs import ABSENT, Generation
from launchdeck.providers.gcp import names
from launchdeck.providers.gcp.api import Gcp, GcpError, deleted, if_found

KEEP_DAYS = 30
"""Days build contexts and build logs are kept."""


class Bucket:
    def __init__(self, gcp: Gcp, name: str) -> None:
        self.gcp, self.name = gcp, name
        self._ready = False

    def _blob(self, key: str) -> Any:
        return self.gcp.client("storage").bucket(self.name).blob(key)

    async def ensure(self, project_number: str) -> None:
        """Make the bucket if it does not exist yet (once per process); refuse one that belongs
        to another project."""
        if self._ready:
            return
        found = await self.gcp.maybe("storage", "get_bucket", self.name)
        if found is None:
            await self._create()
        elif str(found.project_number) != project_number:
            raise _taken(self.name)
        self._ready = True

    async def _create(self) -> None:
        bucket = self.gcp.client("storage").bucket(self.name)
        bucket.labels = dict(names.SHARED)
        bucket.iam_configuration.uniform_bucket_level_access_enabled = True
        bucket.iam_configuration.public_access_prevention = "enforced"
        bucket.add_lifecycle_delete_rule(age=KEEP_DAYS, matches_prefix=["contexts/", f"{names.BUILD_LOGS}/"])
        try:
            await self.gcp.call("storage", "create_bucket", bucket, location=self.gcp.region)
        except GcpError as exc:
            if exc.code != 409:
                raise
            if "already own it" not in exc.message:  # bucket names are global: someone else has it
                raise _taken(self.name) from exc

    async def read(self, key: str) -> bytes | None:
        """An object's content, or None when it (or the bucket) does not exist."""
        found = await self.get(key)
        return None if found is None else found[0]

    async def get(self, key: str) -> tuple[bytes, int] | None:
        """An object's content and the generation read (from the download's own headers, so
        the two belong together), or None when it (or the bucket) does not exist."""
        blob = self._blob(key)
        data = await if_found(
            lambda: self.gcp.run(
                lambda: blob.download_as_bytes, api="storage", what=f"read gs://{self.name}/{key}"
            )
        )
        return None if data is None else (data, int(blob.generation))

    async def exists(self, key: str) -> bool:
        """Whether the object exists (False when the bucket does not)."""
        bucket = self.gcp.client("storage").bucket(self.name)
        blob = await if_found(
            lambda: self.gcp.run(
                lambda: bucket.get_blob, key, api="storage", what=f"stat gs://{self.name}/{key}"
            )
        )
        return blob is not None

    async def keys(self, prefix: str) -> list[str]:
        """The names of the objects that start with ``prefix`` (none when there is no bucket)."""
        client = self.gcp.client("storage")

        def listed() -> list[str]:
            return [blob.name for blob in client.list_blobs(self.name, prefix=prefix)]

        found = await if_found(
            lambda: self.gcp.run(lambda: listed, api="storage", what=f"list gs://{self.name}/{prefix}")
        )
        return sorted(found or [])

    async def write(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str = "application/json",
        if_generation_match: int | None = None,
    ) -> int:
        """Write an object (``if_generation_match=0``: only if absent, else 412); its generation."""
        blob = self._blob(key)
        await self.gcp.run(
            lambda: blob.upload_from_string,
            data,
            content_type=content_type,
            if_generation_match=if_generation_match,
            api="storage",
            what=f"write gs://{self.name}/{key}",
        )
        return int(blob.generation)

    async def delete(self, key: str, *, if_generation_match: int | None = None) -> bool:
        """Delete an object; False when it was not there (or the bucket is not)."""
        blob = self._blob(key)
        return await deleted(
            lambda: self.gcp.run(
                lambda: blob.delete,
                if_generation_match=if_generation_match,
                api="storage",
                what=f"delete gs://{self.name}/{key}",
            )
        )


class GcsBlobs:
    """The engine's blobs as objects in the bucket, made on the first write; an object's version
    is its generation."""

    def __init__(self, gcp: Gcp, bucket: Callable[[], Bucket],
                 project_number: Callable[[], Awaitable[str]]) -> None:
        self.gcp, self._bucket, self._number = gcp, bucket, project_number

    async def read(self, key: str) -> tuple[bytes, Generation] | None:
        self.gcp.check()
        found = await self._bucket().get(key)
        return None if found is None else (found[0], str(found[1]))

    async def write(self, key: str, data: bytes, *,
                    if_generation: Generation | None = None) -> Generation | None:
        self.gcp.check()
        bucket = self._bucket()
        await bucket.ensure(await self._number())
        match = None if if_generation is None else 0 if if_generation == ABSENT else int(if_generation)
        try:
            return str(await bucket.write(key, data, if_generation_match=match))
        except GcpError as exc:
            if exc.code == 412:
                return None
            raise

    async def delete(self, key: str, *, if_generation: Generation | None = None) -> None:
        self.gcp.check()
        match = None if if_generation is None else int(if_generation)
        try:
            await self._bucket().delete(key, if_generation_match=match)
        except GcpError as exc:
            if exc.code != 412:  # another version by now: not ours to delete
                raise

    async def list(self, prefix: str) -> list[str]:
        self.gcp.check()
        return await self._bucket().keys(prefix)


def _taken(name: str) -> GcpError:
    return GcpError(
        f"the bucket name {name} is taken by another Google Cloud project",
        code=409,
        status="ALREADY_EXISTS",
        hint="Name a bucket of your own for launchdeck with LAUNCHDECK_GCP_BUCKET (it is made if "
        "missing), then try again.",
    )
