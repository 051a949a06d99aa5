"""The shapes the engine answers with: service status, deploy results, log lines."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from launchdeck.engine.events import State
from launchdeck.engine.plan import Action


class ServiceStatus(BaseModel):
    """Where one service stands on its target."""

    name: str
    state: State
    replicas_running: int = 0
    replicas_desired: int = 0
    health: str | None = Field(None, description="healthy, unhealthy, starting, or none")
    endpoints: list[str] = []
    image: str | None = None
    deployment_id: str | None = None
    message: str = ""
    exit_code: int | None = Field(None, description="Exit code of a stopped container.")
    oom_killed: bool = False
    health_output: str | None = Field(None, description="Output of the last failed health probe.")


class ChangeSummary(BaseModel):
    service: str
    action: Action
    reason: str = ""


class DeployResult(BaseModel):
    """What a deploy did and where each service ended up."""

    project: str
    stack: str
    provider: str
    deployment_id: str
    services: list[ServiceStatus]
    changes: list[ChangeSummary] = []

    @property
    def ok(self) -> bool:
        return all(s.state is State.SERVICE_DEPLOYMENT_COMPLETED for s in self.services)


class LogLine(BaseModel):
    at: datetime
    service: str
    replica: int | None = None
    text: str
