"""The bucket a GCP project and region share: build contexts, build logs, deployment records, locks.

Private (uniform bucket-level access, public access prevention enforced) and labelled as
shared, so destroying one project leaves it for the next; contexts and build logs are
deleted by a lifecycle rule after 30 days. Objects are written with generation
preconditions where two writers could meet (``ifGenerationMatch=0``: only if absent).
"""

from __future__ import annotations

from typing import Any

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
        blob = self._blob(key)
        return await if_found(
            lambda: self.gcp.run(
                lambda: blob.download_as_bytes, api="storage", what=f"read gs://{self.name}/{key}"
            )
        )

    async def generation(self, key: str) -> int | None:
        """The object's generation, or None when it (or the bucket) does not exist."""
        bucket = self.gcp.client("storage").bucket(self.name)
        blob = await if_found(
            lambda: self.gcp.run(
                lambda: bucket.get_blob, key, api="storage", what=f"stat gs://{self.name}/{key}"
            )
        )
        return None if blob is None else int(blob.generation)

    async def exists(self, key: str) -> bool:
        return await self.generation(key) is not None

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


def _taken(name: str) -> GcpError:
    return GcpError(
        f"the bucket name {name} is taken by another Google Cloud project",
        code=409,
        status="ALREADY_EXISTS",
        hint="Name a bucket of your own for launchdeck with LAUNCHDECK_GCP_BUCKET (it is made if "
        "missing), then try again.",
    )
