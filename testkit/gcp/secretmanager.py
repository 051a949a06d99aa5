"""Secret Manager v1 as the fake serves it: secrets, versions, access, label filters, IAM.

As the real API does, names in answers carry the project *number*
(``projects/123456789012/secrets/NAME``) whatever the request used, and a secret created
without ``replication`` is refused.
"""

from __future__ import annotations

import re
from typing import Any

import google_crc32c
from google.cloud import secretmanager_v1 as sm
from google.cloud.secretmanager_v1.services.secret_manager_service.transports.rest_base import (
    _BaseSecretManagerServiceRestTransport as _Rest,
)
from google.iam.v1 import iam_policy_pb2
from google.protobuf import empty_pb2

from testkit.gcp import project as new_project
from testkit.gcp.core import (
    ApiError,
    already_exists,
    check_labels,
    etag_of,
    failed_precondition,
    invalid,
    not_found,
    page,
    project_number,
)
from testkit.gcp.server import Api, Route, routes_of
from testkit.gcp.shared import Policies

SECRET_ID = re.compile(r"^[a-zA-Z0-9_-]{1,255}$")
ACCESSORS = {"roles/secretmanager.secretAccessor", "roles/secretmanager.admin", "roles/owner"}
_FILTER_TERM = re.compile(r"^(?P<neg>-|NOT\s+)?(?P<field>[\w.-]+)\s*(?P<op>=|:)\s*(?P<value>\"[^\"]*\"|\S+)$")


class SecretManagerApi(Api):
    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.secrets: dict[str, Any] = {}
        self.versions: dict[str, list[tuple[Any, bytes]]] = {}
        self.added: dict[str, float] = {}
        """version name -> when it was added: ``latest`` lags (``project.LATEST_LAG``)."""
        self.policies = Policies(ctx, check_member=lambda m: ctx.api("iam").check_member(m))

    def routes(self) -> list[Route]:
        table = [
            ("CreateSecret", sm.CreateSecretRequest, self.create_secret, "secretmanager.secrets.create"),
            ("GetSecret", sm.GetSecretRequest, self.get_secret, "secretmanager.secrets.get"),
            ("ListSecrets", sm.ListSecretsRequest, self.list_secrets, "secretmanager.secrets.list"),
            ("DeleteSecret", sm.DeleteSecretRequest, self.delete_secret, "secretmanager.secrets.delete"),
            ("AddSecretVersion", sm.AddSecretVersionRequest, self.add_version, "secretmanager.versions.add"),
            ("GetSecretVersion", sm.GetSecretVersionRequest, self.get_version, "secretmanager.versions.get"),
            ("ListSecretVersions", sm.ListSecretVersionsRequest, self.list_versions,
             "secretmanager.versions.list"),
            (
                "AccessSecretVersion",
                sm.AccessSecretVersionRequest,
                self.access_version,
                "secretmanager.versions.access",
            ),
            (
                "GetIamPolicy",
                iam_policy_pb2.GetIamPolicyRequest,
                self.get_iam_policy,
                "secretmanager.secrets.getIamPolicy",
            ),
            (
                "SetIamPolicy",
                iam_policy_pb2.SetIamPolicyRequest,
                self.set_iam_policy,
                "secretmanager.secrets.setIamPolicy",
            ),
        ]
        return routes_of(_Rest, table)

    @staticmethod
    def _canonical(name: str) -> str:
        """The name with the project number in it, as every answer spells it."""
        parts = name.split("/")
        if len(parts) >= 2 and parts[0] == "projects" and not parts[1].isdigit():
            parts[1] = project_number(parts[1])
        return "/".join(parts)

    def _secret(self, name: str) -> Any:
        canonical = self._canonical(name)
        if canonical not in self.secrets:
            raise not_found(f"Secret [{canonical}] not found.")
        return self.secrets[canonical]

    def create_secret(self, request: Any) -> Any:
        if not SECRET_ID.match(request.secret_id):
            raise invalid(
                "Secret ID must contain only letters, numbers, underscores and hyphens, and be at "
                "most 255 characters.",
                "secret_id",
            )
        secret = request.secret
        if not secret.HasField("replication"):
            raise invalid("Secret.replication must be specified.", "secret.replication")
        check_labels(secret.labels, "secret.labels")
        name = f"{self._canonical(request.parent)}/secrets/{request.secret_id}"
        if name in self.secrets:
            raise already_exists(f"Secret [{name}] already exists.")
        stored = type(secret)()
        stored.CopyFrom(secret)
        stored.name = name
        stored.create_time.GetCurrentTime()
        stored.etag = f'"{etag_of(name)}"'
        self.secrets[name] = stored
        self.versions[name] = []
        return stored

    def get_secret(self, request: Any) -> Any:
        return self._secret(request.name)

    def list_secrets(self, request: Any) -> Any:
        parent = self._canonical(request.parent)
        names = sorted(
            n
            for n in self.secrets
            if n.startswith(parent + "/secrets/") and _matches(self.secrets[n], request.filter)
        )
        shown, token = page(names, request.page_size, request.page_token, limit=25000)
        response = sm.ListSecretsResponse.pb()(next_page_token=token, total_size=len(names))
        response.secrets.extend(self.secrets[n] for n in shown)
        return response

    def delete_secret(self, request: Any) -> Any:
        secret = self._secret(request.name)
        if request.etag and request.etag != secret.etag:
            raise ApiError(
                "ABORTED",
                f"The etag provided in the request does not match the current etag "
                f"of Secret [{secret.name}].",
            )
        del self.secrets[secret.name]
        del self.versions[secret.name]
        self.policies.forget(secret.name)
        return empty_pb2.Empty()

    def add_version(self, request: Any) -> Any:
        secret = self._secret(request.parent)
        data = request.payload.data
        if len(data) > 64 * 1024:
            raise invalid("Secret payload data must be at most 65536 bytes.", "payload.data")
        if request.payload.HasField("data_crc32c") and request.payload.data_crc32c != google_crc32c.value(
            data
        ):
            raise invalid(
                "Checksum mismatch. The checksum of the payload does not match data_crc32c.",
                "payload.data_crc32c",
            )
        number = len(self.versions[secret.name]) + 1
        version = sm.SecretVersion.pb()(name=f"{secret.name}/versions/{number}", state=1)  # ENABLED
        version.create_time.GetCurrentTime()
        version.etag = f'"{etag_of(version.name)}"'
        version.client_specified_payload_checksum = request.payload.HasField("data_crc32c")
        self.versions[secret.name].append((version, data))
        self.added[version.name] = self.ctx.now()
        return version

    def _version(self, name: str) -> tuple[Any, bytes]:
        secret_name, _, which = self._canonical(name).partition("/versions/")
        secret = self._secret(secret_name)
        versions = self.versions[secret.name]
        if which == "latest":  # eventually consistent: a version just added is not seen yet
            enabled = [v for v in versions if v[0].state == 1
                       and self.ctx.settled(self.added.get(v[0].name, float("-inf")), new_project.LATEST_LAG)]
            if not enabled:
                raise not_found(f"Secret [{secret.name}] not found or has no versions.")
            return enabled[-1]
        if not which.isdigit() or not 0 < int(which) <= len(versions):
            raise not_found(f"Secret Version [{secret.name}/versions/{which}] not found.")
        return versions[int(which) - 1]

    def list_versions(self, request: Any) -> Any:
        """Newest first, strongly consistent; the filter takes ``state:ENABLED`` (or DISABLED,
        DESTROYED)."""
        secret = self._secret(request.parent)
        wanted = request.filter.replace(" ", "")
        states = {"": None, "state:ENABLED": 1, "state:DISABLED": 2, "state:DESTROYED": 3}
        if wanted not in states:
            raise invalid(f"Invalid filter: {request.filter}", "filter")
        found = [v for v, _ in reversed(self.versions[secret.name])
                 if states[wanted] is None or v.state == states[wanted]]
        names = [v.name for v in found]
        shown, token = page(names, request.page_size, request.page_token, limit=25000)
        response = sm.ListSecretVersionsResponse.pb()(next_page_token=token, total_size=len(names))
        response.versions.extend(v for v in found if v.name in set(shown))
        return response

    def get_version(self, request: Any) -> Any:
        return self._version(request.name)[0]

    def access_version(self, request: Any) -> Any:
        version, data = self._version(request.name)
        if version.state != 1:
            raise failed_precondition(f"Secret Version [{version.name}] is in DISABLED state.")
        response = sm.AccessSecretVersionResponse.pb()(name=version.name)
        response.payload.data = data
        response.payload.data_crc32c = google_crc32c.value(data)
        return response

    def get_iam_policy(self, request: Any) -> Any:
        return self.policies.get(self._secret(request.resource).name)

    def set_iam_policy(self, request: Any) -> Any:
        return self.policies.set(self._secret(request.resource).name, request.policy)

    # --- for the other APIs -------------------------------------------------------------------

    def has_version(self, secret: str, version: str) -> bool:
        try:
            self._version(f"{secret}/versions/{version}")
        except ApiError:
            return False
        return True

    def can_access(self, secret: str, member: str) -> bool:
        """Whether ``member`` may read the secret, from the secret's policy or the project's."""
        canonical = self._canonical(secret)
        if member in self.policies.members_with(canonical, ACCESSORS, effective=True):
            return True
        project = secret.split("/")[1]
        return member in self.ctx.api("cloudresourcemanager").members_with(project, ACCESSORS, effective=True)


def _matches(secret: Any, text: str) -> bool:
    """Secret Manager's list filter: terms like ``labels.k=v``, ``labels.k:*``, ``name:x``, AND-ed."""
    if not text.strip():
        return True
    terms = re.split(r"\s+AND\s+", text.strip())
    for term in terms:
        match = _FILTER_TERM.match(term.strip())
        if not match:
            raise invalid(f"Invalid filter: {text}", "filter")
        field, op, value = match["field"], match["op"], match["value"].strip('"')
        if field.startswith("labels."):
            label = secret.labels.get(field[len("labels.") :])
            if label is None:
                hit = False
            elif op == ":":
                hit = value == "*" or value in label
            else:
                hit = label == value
        elif field == "labels":
            hit = value in secret.labels
        elif field == "name":
            hit = value in secret.name.split("/")[-1] if op == ":" else secret.name.split("/")[-1] == value
        else:
            raise invalid(f"Invalid filter: unknown field '{field}'.", "filter")
        if bool(match["neg"]) == hit:
            return False
    return True
