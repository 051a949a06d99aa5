"""Resource Manager v3 projects as the fake serves them: the project itself, and its IAM
policy with etag concurrency.

Any well-formed project id exists (ACTIVE, named by its number, as the real API names it).
A project starts with the bindings a new one has (its owner, the default compute and Cloud
Build service accounts); a setIamPolicy carrying a stale etag is answered 409 ABORTED.
"""

from __future__ import annotations

from typing import Any

from google.cloud.resourcemanager_v3.services.projects.transports.rest_base import (
    _BaseProjectsRestTransport as _Rest,
)
from google.iam.v1 import iam_policy_pb2, policy_pb2

from testkit.gcp.core import PROJECT_ID, not_found, project_number
from testkit.gcp.server import Api, Route, routes_of
from testkit.gcp.shared import Policies


class ResourceManagerApi(Api):
    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.policies = Policies(ctx, check_member=lambda m: ctx.api("iam").check_member(m))

    def routes(self) -> list[Route]:
        from google.cloud import resourcemanager_v3 as rm

        table = [
            ("GetProject", rm.GetProjectRequest, self.get_project, "resourcemanager.projects.get"),
            (
                "GetIamPolicy",
                iam_policy_pb2.GetIamPolicyRequest,
                self.get_iam_policy,
                "resourcemanager.projects.getIamPolicy",
            ),
            (
                "SetIamPolicy",
                iam_policy_pb2.SetIamPolicyRequest,
                self.set_iam_policy,
                "resourcemanager.projects.setIamPolicy",
            ),
        ]
        return routes_of(_Rest, table)

    def get_project(self, request: Any) -> Any:
        from google.cloud import resourcemanager_v3 as rm

        key = request.name.split("/")[1]
        if not PROJECT_ID.match(key) and not key.isdigit():
            raise not_found(f"Project '{request.name}' not found or permission denied.")
        project = rm.Project.pb()(
            name=f"projects/{key if key.isdigit() else project_number(key)}",
            project_id=key,
            parent="organizations/123456789012",
            state=1,  # ACTIVE
            display_name=key,
            etag=f'W/"{project_number(key)}"',
        )
        project.create_time.FromSeconds(1_700_000_000)
        return project

    def _initial(self, project: str) -> Any:
        """A new project's policy. In a secure-by-default organization the default compute
        account gets no Editor role (constraint iam.automaticIamGrantsForDefaultServiceAccounts,
        https://cloud.google.com/resource-manager/docs/secure-by-default-organizations), and new
        projects' builds run as that account
        (https://cloud.google.com/build/docs/cloud-build-service-account-updates)."""
        number = project_number(project)
        policy = policy_pb2.Policy(version=1)
        grants = [
            ("roles/owner", "user:owner@example.com"),
            ("roles/editor", f"serviceAccount:{number}@cloudservices.gserviceaccount.com"),
        ]
        if not self.ctx.knobs.new_project:
            grants += [
                ("roles/editor", f"serviceAccount:{number}-compute@developer.gserviceaccount.com"),
                ("roles/cloudbuild.builds.builder",
                 f"serviceAccount:{number}@cloudbuild.gserviceaccount.com"),
            ]
        for role, member in grants:
            binding = next((b for b in policy.bindings if b.role == role), None) or policy.bindings.add(
                role=role
            )
            binding.members.append(member)
        return policy

    def get_iam_policy(self, request: Any) -> Any:
        project = request.resource.split("/")[1]
        return self.policies.get(request.resource, self._initial(project))

    def set_iam_policy(self, request: Any) -> Any:
        project = request.resource.split("/")[1]
        return self.policies.set(request.resource, request.policy, default=self._initial(project))

    def members_with(self, project: str, roles: set[str], *, effective: bool = False) -> set[str]:
        self.policies.get(f"projects/{project}", self._initial(project))
        return self.policies.members_with(f"projects/{project}", roles, effective=effective)
