"""The shapes the engine answers with: service status, plans, deploy results, log lines."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from launchdeck.engine.events import State
from launchdeck.engine.plan import Action

if TYPE_CHECKING:
    from launchdeck.compose.target import Description


class Target(BaseModel):
    """Where an operation acts: which provider, account or project, region and credentials."""

    provider: str
    account: str | None = None
    """AWS account id, GCP project, or the local engine's endpoint."""
    region: str | None = None
    principal: str | None = None
    """Who the credentials are (an ARN, a service account's email)."""
    credentials: str | None = None
    """Where the credentials came from (a profile, the environment, SSO, an instance role)."""

    def describe(self, description: Description) -> str:
        """One line naming the target, as the CLI prints it first and MCP results carry it, in
        the words of its provider's ``description``."""
        if description.account is None:
            return f"{description.title} at {self.account} ({self.credentials})"
        words = [self.provider, description.account, self.account or "?"]
        if self.principal:
            words.append(f"as {self.principal}")
        if self.region:
            words.append(f"in {self.region}")
        if self.credentials:
            words.append(f"(credentials: {self.credentials})")
        return " ".join(words)


class ServiceStatus(BaseModel):
    """Where one service stands on its target."""

    name: str
    state: State
    replicas_running: int = 0
    replicas_desired: int = 0
    replicas_range: str | None = Field(None, description="min-max replicas where the target "
                                       "scales them with the load (x-defang-autoscaling).")
    health: str | None = Field(None, description="healthy, unhealthy, starting, or none")
    endpoints: list[str] = []
    image: str | None = None
    deployment_id: str | None = None
    message: str = ""
    exit_code: int | None = Field(None, description="Exit code of a stopped container.")
    oom_killed: bool = False
    health_output: str | None = Field(None, description="Output of the last failed health probe.")
    start_error: str | None = Field(None, description="Why the platform could not start it.")


class ChangeSummary(BaseModel):
    """What a deploy does (or did) to one unit, and why."""

    service: str = Field(description="The service, store or the provider's own unit.")
    kind: str = "service"
    action: Action
    reason: str = ""


class PlanResult(BaseModel):
    """What a deploy would change, found without changing anything."""

    project: str
    stack: str
    provider: str
    target: str | None = None
    mode: str | None = Field(None, description="The stack's mode the plan was made in "
                             "(affordable, balanced, high_availability).")
    changes: list[ChangeSummary]

    @property
    def changed(self) -> list[ChangeSummary]:
        return [c for c in self.changes if c.action is not Action.NOOP]


class DeployResult(BaseModel):
    """What a deploy did and where each service ended up."""

    project: str
    stack: str
    provider: str
    target: str | None = None
    deployment_id: str
    services: list[ServiceStatus]
    changes: list[ChangeSummary] = []

    @property
    def failed(self) -> list[ServiceStatus]:
        """The services that did not complete, in the project's order."""
        return [s for s in self.services if s.state is not State.SERVICE_DEPLOYMENT_COMPLETED]

    @property
    def ok(self) -> bool:
        return not self.failed


class DeployRecord(BaseModel):
    """The last deployment as the target keeps it: its result, and each unit's digest parts
    as applied (so the next plan can say which setting changed)."""

    result: DeployResult
    parts: dict[str, dict[str, str]] = {}
    images: dict[str, tuple[str, str]] = {}
    """Each service's image as deployed and as the target ran it by digest (history.pinned):
    a unit the next deploy leaves as it is runs the same, and is not asked again."""

    @classmethod
    def parse(cls, data: bytes | str) -> DeployRecord | None:
        """A record as stored (or, from before records kept parts, a bare result); None if
        it cannot be read, since a lost record only costs the plan its detail."""
        try:
            return cls.model_validate_json(data)
        except ValueError:
            pass
        try:
            return cls(result=DeployResult.model_validate_json(data))
        except ValueError:
            return None


class LogLine(BaseModel):
    at: datetime
    service: str
    replica: int | None = None
    text: str
