"""Config values on GCP: one Secret Manager secret per (project, stack, NAME), with labels.

``config set`` adds a version; a deploy hands the latest to Cloud Run as a secret reference,
never as plain environment. Values that mix config into other text (a database URL with its
password) are kept as secrets of their own (``derived``), which ``config ls`` never shows.
Secret Manager answers with the project *number* in names, so secrets are compared by id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from launchdeck.engine.gather import gather
from launchdeck.providers.gcp import names, policy
from launchdeck.providers.gcp.api import Gcp, GcpError, deleted, if_found


class SecretConfigStore:
    """Secrets found by their labels; values are read only to hand them to a deploy."""

    def __init__(self, gcp: Gcp, project: str, stack: str) -> None:
        self._gcp = gcp
        self.project, self.stack = project, stack

    async def set(self, name: str, value: str) -> None:
        self._gcp.check()
        await put(
            self._gcp,
            names.secret_id(self.project, self.stack, name),
            names.labels(self.project, self.stack, kind="config"),
            value,
            always=True,
        )

    async def names(self) -> list[str]:
        self._gcp.check()
        found = await listed(self._gcp, self.project, self.stack, "config")
        out = [names.config_name(self.project, self.stack, secret) for secret in found]
        return sorted(name for name in out if name)

    async def delete(self, name: str) -> bool:
        self._gcp.check()
        path = _path(self._gcp, names.secret_id(self.project, self.stack, name))
        return await deleted(lambda: self._gcp.call("secretmanager", "delete_secret", name=path))

    async def values(self, wanted: Sequence[str]) -> dict[str, str]:
        self._gcp.check()
        wanted = sorted(set(wanted))
        found = await gather(
            *[lambda n=n: latest(self._gcp, names.secret_id(self.project, self.stack, n)) for n in wanted]
        )
        return {name: value for name, value in zip(wanted, found, strict=True) if value is not None}


def _path(gcp: Gcp, secret: str) -> str:
    return f"projects/{gcp.project}/secrets/{secret}"


async def listed(gcp: Gcp, project: str, stack: str, kind: str | None = None) -> list[str]:
    """The ids of the stack's secrets (of one kind, when given), found by their labels."""
    terms = [f"labels.{key}={value}" for key, value in names.labels(project, stack, kind=kind).items()]
    found = await gcp.all(
        "secretmanager",
        "list_secrets",
        request={"parent": f"projects/{gcp.project}", "filter": " AND ".join(terms)},
    )
    return [secret.name.rsplit("/", 1)[-1] for secret in found]


async def latest(gcp: Gcp, secret: str) -> str | None:
    """The value of a secret's latest version, or None when it has none."""
    found = await gcp.maybe(
        "secretmanager", "access_secret_version", name=f"{_path(gcp, secret)}/versions/latest"
    )
    return None if found is None else found.payload.data.decode("utf-8")


async def put(gcp: Gcp, secret: str, labels: dict[str, str], value: str, *, always: bool = False) -> bool:
    """Make ``secret`` (if missing) and give it ``value`` as a new version, unless the latest
    already holds it (``always``: add one anyway, as ``config set`` does); whether it wrote."""
    from google.cloud import secretmanager_v1 as sm

    if not always and await latest(gcp, secret) == value:
        return False
    try:
        await gcp.call(
            "secretmanager",
            "create_secret",
            parent=f"projects/{gcp.project}",
            secret_id=secret,
            secret=sm.Secret(replication=sm.Replication(automatic={}), labels=labels),
        )
    except GcpError as exc:
        if exc.code != 409:  # made by an earlier set or deploy: add a version to it
            raise
    await gcp.call(
        "secretmanager",
        "add_secret_version",
        parent=_path(gcp, secret),
        payload=sm.SecretPayload(data=value.encode("utf-8")),
    )
    return True


async def grant(gcp: Gcp, secret: str, member: str) -> bool:
    """Let ``member`` read ``secret`` (a binding on the secret, not the project); whether it wrote."""
    return await policy.edit(
        gcp,
        "secretmanager",
        _path(gcp, secret),
        lambda held: policy.add(held, names.ACCESSOR, member),
        busy=f"could not grant access to secret {secret}: its policy kept changing",
    )


async def revoke(gcp: Gcp, secret: str, member: str) -> None:
    """Take ``member`` out of a secret's readers (before its service account is deleted); a
    secret already gone has no readers to lose."""

    def change(held: Any) -> Any | None:
        return policy.without(held, member) if any(member in b.members for b in held.bindings) else None

    await if_found(
        lambda: policy.edit(
            gcp,
            "secretmanager",
            _path(gcp, secret),
            change,
            busy=f"could not take {member} out of the readers of secret {secret}: its policy kept changing",
        )
    )
