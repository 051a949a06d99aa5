"""Pieces several fake APIs share: google.longrunning operations and IAM policies with etags."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

from testkit.gcp import project as new_project
from testkit.gcp.core import ApiError, Context, Progress, invalid, not_found


class Work:
    """Pending work an operation and the resource it changes share, finished once when done.

    ``complete`` runs on the first poll that finds the work done and returns the operation's
    response message, or raises ApiError to fail the operation.
    """

    def __init__(self, progress: Progress, complete: Callable[[], Any]) -> None:
        self.progress = progress
        self._complete = complete
        self.finished = False
        self.result: Any = None
        self.error: ApiError | None = None

    def poll(self) -> bool:
        if not self.finished and self.progress.observe():
            self.finish()
        return self.finished

    def finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        try:
            self.result = self._complete()
        except ApiError as error:
            self.error = error


class Operations:
    """google.longrunning.Operation records of one API, polled through GetOperation."""

    def __init__(self) -> None:
        self._ops: dict[str, tuple[Work, Callable[[], Any]]] = {}

    def start(self, name: str, work: Work, metadata: Callable[[], Any]) -> Any:
        self._ops[name] = (work, metadata)
        return self.view(name)

    def get(self, name: str) -> Any:
        if name not in self._ops:
            raise not_found(f"Operation {name} not found.")
        self._ops[name][0].poll()
        return self.view(name)

    def view(self, name: str) -> Any:
        from google.longrunning import operations_pb2
        from google.protobuf import any_pb2, empty_pb2
        from google.rpc import status_pb2

        work, metadata = self._ops[name]
        op = operations_pb2.Operation(name=name, done=work.finished)
        meta = metadata()
        if meta is not None:
            packed = any_pb2.Any()
            packed.Pack(meta)
            op.metadata.CopyFrom(packed)
        if work.finished:
            if work.error is not None:
                # an operation's error carries the rpc code, not the HTTP one
                op.error.CopyFrom(
                    status_pb2.Status(code=_RPC_CODES[work.error.status], message=work.error.message)
                )
            else:
                packed = any_pb2.Any()
                packed.Pack(work.result if work.result is not None else empty_pb2.Empty())
                op.response.CopyFrom(packed)
        return op


_RPC_CODES = {
    "OK": 0,
    "CANCELLED": 1,
    "UNKNOWN": 2,
    "INVALID_ARGUMENT": 3,
    "DEADLINE_EXCEEDED": 4,
    "NOT_FOUND": 5,
    "ALREADY_EXISTS": 6,
    "PERMISSION_DENIED": 7,
    "RESOURCE_EXHAUSTED": 8,
    "FAILED_PRECONDITION": 9,
    "ABORTED": 10,
    "OUT_OF_RANGE": 11,
    "UNIMPLEMENTED": 12,
    "INTERNAL": 13,
    "UNAVAILABLE": 14,
    "DATA_LOSS": 15,
    "UNAUTHENTICATED": 16,
}

_MEMBER = re.compile(
    r"^(allUsers|allAuthenticatedUsers|(user|serviceAccount|group|domain|deleted:user|"
    r"deleted:serviceAccount|deleted:group|projectOwner|projectEditor|projectViewer):.+|"
    r"principal(Set)?://.+)$"
)
_ROLE = re.compile(r"^(roles/[A-Za-z0-9_.]+|(projects|organizations)/[^/]+/roles/[A-Za-z0-9_.]+)$")


class Policies:
    """IAM policies by resource, with the etag check that makes read-modify-write safe.

    In a new project (``knobs.new_project``) the organization's domain-restricted sharing
    refuses public members, and a member added to a role takes effect only after
    ``GRANT_PROPAGATION`` (``members_with(..., effective=True)``, what the other APIs ask), or,
    for the roles in ``knobs.held_roles``, not until they are taken out of it.
    """

    def __init__(self, ctx: Context, check_member: Callable[[str], None] | None = None) -> None:
        self._ctx = ctx
        self._policies: dict[str, Any] = {}
        self._versions: dict[str, int] = {}
        self._granted: dict[tuple[str, str, str], float] = {}
        """(resource, role, member) -> when it was added."""
        self._check_member = check_member

    def get(self, resource: str, default: Any = None) -> Any:
        from google.iam.v1 import policy_pb2

        if resource not in self._policies:
            policy = policy_pb2.Policy(version=1)
            if default is not None:
                policy.CopyFrom(default)
            self._policies[resource] = policy
            self._versions[resource] = 0
        policy = policy_pb2.Policy()
        policy.CopyFrom(self._policies[resource])
        policy.etag = self._etag(resource)
        return policy

    def set(self, resource: str, policy: Any, *, default: Any = None) -> Any:
        current = self.get(resource, default)
        if policy.etag and policy.etag != current.etag:
            raise ApiError(
                "ABORTED",
                "There were concurrent policy changes. Please retry the whole read-modify-write with "
                "exponential backoff. The request's ETag "
                f"'{base64.b64encode(policy.etag).decode()}' did not match the current policy's ETag "
                f"'{base64.b64encode(current.etag).decode()}'.",
                reason="aborted",
            )
        for index, binding in enumerate(policy.bindings):
            if not _ROLE.match(binding.role):
                raise invalid(
                    f"Role {binding.role} is not supported for this resource.",
                    f"policy.bindings[{index}].role",
                )
            for member in binding.members:
                if not _MEMBER.match(member):
                    raise invalid(
                        f"Invalid member '{member}' in policy binding.", f"policy.bindings[{index}].members"
                    )
                if self._ctx.knobs.new_project:
                    new_project.refuse_public(member)
                if self._check_member is not None:
                    self._check_member(member)
        before = {(b.role, m) for b in current.bindings for m in b.members}
        for binding in policy.bindings:
            for member in binding.members:
                if (binding.role, member) not in before:
                    self._granted[(resource, binding.role, member)] = self._ctx.now()
        stored = type(policy)()
        stored.CopyFrom(policy)
        stored.ClearField("etag")
        self._policies[resource] = stored
        self._versions[resource] += 1
        return self.get(resource)

    def forget(self, resource: str) -> None:
        self._policies.pop(resource, None)
        self._versions.pop(resource, None)

    def members_with(self, resource: str, roles: set[str], *, effective: bool = False) -> set[str]:
        """Who holds one of ``roles``; ``effective``: only grants that have propagated."""
        policy = self._policies.get(resource)
        if policy is None:
            return set()
        return {
            m for b in policy.bindings if b.role in roles for m in b.members
            if not effective or (b.role not in self._ctx.knobs.held_roles and self._ctx.settled(
                self._granted.get((resource, b.role, m), float("-inf")), new_project.GRANT_PROPAGATION))
        }

    def _etag(self, resource: str) -> bytes:
        return b"BwY" + str(self._versions[resource]).encode() + resource.encode()[-5:]
