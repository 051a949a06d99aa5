"""check: will the project deploy to its target as written? Every finding (located in the
compose file, with its fix) and the verdict, found offline: no credentials, no cloud call.

``compose config``, the CI helper and the MCP ``check`` tool all judge a project here, so a
project refused by one is refused by all, in the same words.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from launchdeck.compose.validate import Finding, Severity

if TYPE_CHECKING:
    from launchdeck.compose.load import Loaded
    from launchdeck.tools.project import ProjectRef


class CheckResult(BaseModel):
    project: str
    stack: str
    provider: str
    ok: bool = Field(description="No finding is an error: the project can deploy as written.")
    errors: int
    warnings: int
    findings: list[Finding] = Field(description="In file and line order, each with its fix.")
    config: list[str] = Field([], description="Config names the project reads from the "
                                              "target's config store.")

    @property
    def refused(self) -> list[Finding]:
        """The findings that stop the deploy."""
        return [f for f in self.findings if f.severity is Severity.ERROR]


def findings(loaded: Loaded, provider: str) -> list[Finding]:
    """Every finding for deploying ``loaded`` to ``provider``, with what the registry says
    that provider can run."""
    from launchdeck.compose.validate import validate
    from launchdeck.providers import capabilities

    return validate(loaded, provider, capabilities(provider))


def judge(loaded: Loaded, provider: str, stack: str) -> CheckResult:
    """The findings for ``loaded`` on ``provider`` and the verdict on them."""
    from launchdeck.compose.validate import required_config

    found = findings(loaded, provider)
    errors = sum(f.severity is Severity.ERROR for f in found)
    return CheckResult(project=loaded.project.name, stack=stack, provider=provider,
                       ok=errors == 0, errors=errors, warnings=len(found) - errors,
                       findings=found, config=required_config(loaded))


def check(ref: ProjectRef, loaded: Loaded | None = None) -> CheckResult:
    """Load the project (unless given) and judge it for the provider in force. Synchronous:
    it reads only the compose files, so a front end needs no event loop for it."""
    return judge(loaded or ref.load(), ref.provider_name, ref.stack)
