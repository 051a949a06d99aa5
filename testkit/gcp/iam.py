"""IAM v1 service accounts as the fake serves them (the client library is gRPC-only: these are
the HTTP rules of google/iam/admin/v1/iam.proto, bound to its message types)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from google.cloud import iam_admin_v1 as ia
from google.iam.v1 import iam_policy_pb2
from google.protobuf import empty_pb2

from testkit.gcp import project as new_project
from testkit.gcp.core import Rule as R
from testkit.gcp.core import (
    already_exists,
    etag_of,
    invalid,
    not_found,
    page,
)
from testkit.gcp.server import Api, Route

ACCOUNT_ID = re.compile(r"^[a-z]([-a-z0-9]{4,28}[a-z0-9])$")


class IamApi(Api):
    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.accounts: dict[str, Any] = {}
        """email -> ServiceAccount."""
        self.made: dict[str, float] = {}
        """email -> when it was made: IAM is eventually consistent (``project.ACCOUNT_PROPAGATION``)."""

    def routes(self) -> list[Route]:
        return [
            Route(
                R("POST", "/v1/{name=projects/*}/serviceAccounts", "*"),
                self.create,
                ia.CreateServiceAccountRequest,
                "iam.serviceAccounts.create",
            ),
            Route(
                R("GET", "/v1/{name=projects/*/serviceAccounts/*}"),
                self.get,
                ia.GetServiceAccountRequest,
                "iam.serviceAccounts.get",
            ),
            Route(
                R("GET", "/v1/{name=projects/*}/serviceAccounts"),
                self.list,
                ia.ListServiceAccountsRequest,
                "iam.serviceAccounts.list",
            ),
            Route(
                R("POST", "/v1/{resource=projects/*/serviceAccounts/*}:testIamPermissions", "*"),
                self.test_permissions,
                iam_policy_pb2.TestIamPermissionsRequest,
            ),
            Route(
                R("DELETE", "/v1/{name=projects/*/serviceAccounts/*}"),
                self.delete,
                ia.DeleteServiceAccountRequest,
                "iam.serviceAccounts.delete",
            ),
        ]

    def _account(self, name: str, *, read: bool = False) -> Any:
        key = name.split("/")[-1]
        for email, account in self.accounts.items():
            # a read right after the create may not find it yet (half the window is assumed;
            # terraform-provider-google retries such reads: GoogleCloudPlatform/magic-modules#8815)
            if key in (email, account.unique_id) and (
                not read or self.ctx.settled(self.made.get(email, float("-inf")),
                                             new_project.ACCOUNT_PROPAGATION / 2)
            ):
                return account
        raise not_found(f"Unknown service account {key}")

    def usable(self, email: str) -> bool:
        """Whether policies and services may name the account yet."""
        return email in self.accounts and self.ctx.settled(
            self.made.get(email, float("-inf")), new_project.ACCOUNT_PROPAGATION
        )

    def create(self, request: Any) -> Any:
        project = request.name.split("/")[1]
        if not ACCOUNT_ID.match(request.account_id):
            raise invalid(
                "Invalid account ID. The account ID must be between 6 and 30 characters, begin with "
                "a lowercase letter, and consist of lowercase alphanumeric characters and dashes.",
                "account_id",
            )
        email = f"{request.account_id}@{project}.iam.gserviceaccount.com"
        if email in self.accounts:
            raise already_exists(
                f"Service account {request.account_id} already exists within project projects/{project}."
            )
        unique = str(int(hashlib.sha256(email.encode()).hexdigest(), 16) % 10**21).rjust(21, "1")
        account = ia.ServiceAccount.pb()(
            name=f"projects/{project}/serviceAccounts/{email}",
            project_id=project,
            unique_id=unique,
            email=email,
            display_name=request.service_account.display_name,
            description=request.service_account.description,
            oauth2_client_id=unique,
            etag=etag_of(email).encode(),
        )
        self.accounts[email] = account
        self.made[email] = self.ctx.now()
        return account

    def test_permissions(self, request: Any) -> Any:
        """The caller's permissions on the account: all asked for, but those the knob denies."""
        self._account(request.resource)
        held = [p for p in request.permissions if not self.ctx.knobs.denies(p)]
        return iam_policy_pb2.TestIamPermissionsResponse(permissions=held)

    def get(self, request: Any) -> Any:
        return self._account(request.name, read=True)

    def list(self, request: Any) -> Any:
        project = request.name.split("/")[1]
        emails = sorted(e for e, a in self.accounts.items() if a.project_id == project)
        shown, token = page(emails, request.page_size, request.page_token, limit=100)
        response = ia.ListServiceAccountsResponse.pb()(next_page_token=token)
        response.accounts.extend(self.accounts[e] for e in shown)
        return response

    def delete(self, request: Any) -> Any:
        account = self._account(request.name)
        del self.accounts[account.email]
        return empty_pb2.Empty()

    def check_member(self, member: str) -> None:
        """Refuse a policy member naming a user-made service account that does not exist."""
        kind, _, email = member.partition(":")
        if (
            kind == "serviceAccount"
            and email.endswith(".iam.gserviceaccount.com")
            and not self.usable(email)
        ):
            raise invalid(f"Service account {email} does not exist.", "policy")
