"""The deployment record of a (project, stack), kept on the target's blobs: the last deploy's
result and the parts it applied, as JSON under ``deployments/<project>/<stack>.json``.

That key is where every release has kept it, on every target (the local state directory, the
region's S3 bucket, the region's Cloud Storage bucket), so a stack deployed before still finds
its record. ps reads it for what left nothing running (a failed build); a plan reads which
setting changed. Every deployment, not only the last, is kept beside it, under
``deployments/<project>/<stack>/`` (history.py).
"""

from __future__ import annotations

from launchdeck.engine.blobs import Blobs
from launchdeck.engine.results import DeployRecord

FOLDER = "deployments"


def key(project: str, stack: str) -> str:
    return f"{FOLDER}/{project}/{stack}.json"


class Records:
    """The record of one (project, stack) on ``blobs``."""

    def __init__(self, blobs: Blobs, project: str, stack: str) -> None:
        self.blobs, self.key = blobs, key(project, stack)

    async def read(self) -> DeployRecord | None:
        found = await self.blobs.read(self.key)
        return None if found is None else DeployRecord.parse(found[0])

    async def write(self, record: DeployRecord) -> None:
        await self.blobs.write(self.key, record.model_dump_json().encode())

    async def delete(self) -> None:
        await self.blobs.delete(self.key)


async def recorded(blobs: Blobs) -> list[tuple[str, str]]:
    """(project, stack) of every record kept on ``blobs``, sorted."""
    found = []
    for name in await blobs.list(f"{FOLDER}/"):
        project, _, file = name[len(FOLDER) + 1:].partition("/")
        if project and file.endswith(".json") and "/" not in file:
            found.append((project, file.removesuffix(".json")))
    return sorted(found)
