"""What a target keeps for the engine: small objects under keys (``deployments/<project>/<stack>.json``,
``locks/<project>/<stack>.json``), each written only if it is still the version the writer read.

Every target has such a store: files in the local state directory, objects in the region's S3
bucket, objects in the region's Cloud Storage bucket. The engine builds the deployment record
(records.py) and the deploy lock (lock.py) on it once, so a target supplies these four calls
and nothing else for them.
"""

from __future__ import annotations

from typing import Protocol

Generation = str
"""One stored version of an object, as the store names it (a Cloud Storage generation, an S3
ETag, a digest of a file's content): opaque, compared only for equality."""

ABSENT: Generation = "0"
"""As ``if_generation``: write only if there is no object under the key yet."""


class Blobs(Protocol):
    """Objects under ``/``-separated keys. A write or delete with ``if_generation`` happens only
    while the stored version is that one (``ABSENT``: while there is none), atomically: of two
    writers that read the same version, one succeeds."""

    async def read(self, key: str) -> tuple[bytes, Generation] | None:
        """The object and its version; None when there is none (nor a place for it yet)."""
        ...

    async def write(self, key: str, data: bytes, *,
                    if_generation: Generation | None = None) -> Generation | None:
        """Store ``data`` under ``key``; the new version, or None when ``if_generation`` was not
        the stored one (nothing was written)."""
        ...

    async def delete(self, key: str, *, if_generation: Generation | None = None) -> None:
        """Remove the object if it is there (and, with ``if_generation``, still that version)."""
        ...

    async def list(self, prefix: str) -> list[str]:
        """The keys that start with ``prefix``, sorted."""
        ...
