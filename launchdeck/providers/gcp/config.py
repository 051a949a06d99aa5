"""Config values on GCP: one Secret Manager secret per (project, stack, NAME), with labels.

``config set`` adds a version; a deploy hands the newest to Cloud Run as a secret reference
pinned to its number (``latest`` is eventually consistent), never as plain environment.
Values that mix config into other text (a database URL with its
password) are kept as secrets of their own (``derived``), which ``config ls`` never shows.
Secret Manager answers with the project *number* in names, so secrets are compared by id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from launchdeck.engine.gather import gather
from launchdeck.providers.gcp import names, policy, usage
from launchdeck.providers.gcp.api import APIS, Gcp, GcpError, deleted, if_enabled, if_found


class SecretConfigStore:
    """Secrets found by their labels; values are read only to hand them to a deploy."""

    def __init__(self, gcp: Gcp, project: str, stack: str) -> None:
        self._gcp = gcp
        self.project, self.stack = project, stack

    async def set(self, name: str, value: str) -> None:
        self._gcp.check()
        await usage.enable(self._gcp, {APIS["secretmanager"]}, purpose="config set")
        await put(
            self._gcp,
            names.secret_id(self.project, self.stack, name),
            names.labels(self.project, self.stack, kind="config"),
            value,
            always=True,
        )

    async def names(self) -> list[str]:
        self._gcp.check()
        # Secret Manager off: nothing was ever set (``set`` turns it on)
        found = await if_enabled(lambda: listed(self._gcp, self.project, self.stack, "config"), [])
        out = [names.config_name(self.project, self.stack, secret) for secret in found]
        return sorted(name for name in out if name)

    async def delete(self, name: str) -> bool:
        self._gcp.check()
        path = _path(self._gcp, names.secret_id(self.project, self.stack, name))
        return await if_enabled(
            lambda: deleted(lambda: self._gcp.call("secretmanager", "delete_secret", name=path)), False)

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


async def newest(gcp: Gcp, secret: str) -> str | None:
    """The number of a secret's newest enabled version, or None when it has none (or is not
    there). Read from the version list: ``versions/latest`` is eventually consistent, and
    lags a version just added (only reads by number are strongly consistent)."""
    found = await if_found(lambda: gcp.all(
        "secretmanager", "list_secret_versions",
        request={"parent": _path(gcp, secret), "filter": "state:ENABLED"},
    ), [])
    numbers = [int(v.name.rsplit("/", 1)[-1]) for v in found or []]
    return str(max(numbers)) if numbers else None


async def latest(gcp: Gcp, secret: str) -> str | None:
    """The value of a secret's newest version (read by its number), or None when it has none."""
    version = await newest(gcp, secret)
    return None if version is None else await _value(gcp, secret, version)


async def put(gcp: Gcp, secret: str, labels: dict[str, str], value: str, *, always: bool = False) -> str:
    """Make ``secret`` (if missing) and give it ``value`` as a new version, unless the newest
    already holds it (``always``: add one anyway, as ``config set`` does); the number of the
    version that holds ``value``, for a revision to read by number."""
    from google.cloud import secretmanager_v1 as sm

    if not always:
        version = await newest(gcp, secret)
        if version is not None and await _value(gcp, secret, version) == value:
            return version
    await made(gcp, secret, labels)
    added = await gcp.call(
        "secretmanager",
        "add_secret_version",
        parent=_path(gcp, secret),
        payload=sm.SecretPayload(data=value.encode("utf-8")),
    )
    return str(added.name).rsplit("/", 1)[-1]


async def made(gcp: Gcp, secret: str, labels: dict[str, str]) -> None:
    """Make ``secret``, without a version, unless it exists (made by an earlier set or deploy):
    its readers can be granted before its value is known."""
    from google.cloud import secretmanager_v1 as sm

    try:
        await gcp.call(
            "secretmanager",
            "create_secret",
            parent=f"projects/{gcp.project}",
            secret_id=secret,
            secret=sm.Secret(replication=sm.Replication(automatic={}), labels=labels),
        )
    except GcpError as exc:
        if exc.code != 409:
            raise


async def _value(gcp: Gcp, secret: str, version: str) -> str | None:
    found = await gcp.maybe(
        "secretmanager", "access_secret_version", name=f"{_path(gcp, secret)}/versions/{version}"
    )
    return None if found is None else found.payload.data.decode("utf-8")


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
