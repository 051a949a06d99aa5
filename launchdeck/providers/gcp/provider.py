"""The GCP provider: a compose project as Cloud Run services in the user's own Google Cloud project.

A deploy reconciles through the GCP APIs directly (session.py): it reads what exists (by
labels and by the names it gives), changes only what differs from the digest kept in each
resource's ``launchdeck_hash`` label, and does independent work at the same time. This
module holds the rest: the project and region, the config store (Secret Manager), the
objects the engine keeps its records and lock in (Cloud Storage), ps, logs (Cloud Logging)
and destroy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from launchdeck.compose.model import Project
from launchdeck.engine.events import Event, Sink
from launchdeck.engine.gather import gather
from launchdeck.engine.results import LogLine, Target
from launchdeck.engine.seams import DeployOptions, LogQuery, Provider, Teardown
from launchdeck.providers.gcp import DESCRIPTION, inventory, names, usage
from launchdeck.providers.gcp.api import APIS, Gcp
from launchdeck.providers.gcp.bucket import Bucket, GcsBlobs
from launchdeck.providers.gcp.config import SecretConfigStore
from launchdeck.providers.gcp.session import (
    GcpSession,
    is_pool,
    live,
    pools,
    service_id,
)

_MAX_LOG_LINES = 10_000
READ_ONLY = frozenset({"plan", "ps"})
"""The deployment ids the engine opens a session with only to read (a plan preview, ps)."""
BUCKET = "LAUNCHDECK_GCP_BUCKET"
"""Names the bucket to use instead of ``launchdeck-<project>-<region>`` (bucket names are global)."""


class GcpProvider(Provider):
    """Deploys to the project and region of Application Default Credentials and GCP_PROJECT_ID /
    GCP_REGION."""

    description = DESCRIPTION

    def __init__(self, gcp: Gcp | None = None, *, poll: float = 5.0) -> None:
        self._gcp = gcp
        self.poll = poll
        """Seconds between reads while waiting for builds, rollouts and stores."""
        self._number: str | None = None
        self._bucket: Bucket | None = None
        self._reached = False
        """Whether identity() has read the project once."""

    @property
    def gcp(self) -> Gcp:
        if self._gcp is None:
            self._gcp = Gcp()
        return self._gcp

    @property
    def bucket(self) -> Bucket:
        if self._bucket is None:
            gcp = self.gcp
            name = gcp.setting(BUCKET) or names.bucket(gcp.project, gcp.region)
            self._bucket = Bucket(gcp, name)
        return self._bucket

    async def project_number(self) -> str:
        """The GCP project's number (Cloud Run URLs and Service Networking are named by it), from
        Service Usage, which every project has on (Resource Manager may not be yet)."""
        self.gcp.check()
        if self._number is None:
            if self.gcp.number is None:
                self.gcp.enabled_apis |= await usage.enabled(self.gcp)
            if self.gcp.number is None:
                found = await self.gcp.call(
                    "cloudresourcemanager", "get_project", name=f"projects/{self.gcp.project}"
                )
                self.gcp.number = found.name.rsplit("/", 1)[-1]
            self._number = self.gcp.number
        return self._number

    async def identity(self) -> Target:
        """The project, region and who the credentials are; once per provider, one read of the
        project's enabled services confirms that the credentials reach the project (expired or
        foreign ones fail here, clearly) through the one API every project has on, and keeps
        what it lists for the deploy's batch (usage.enable)."""
        self.gcp.check()
        if not self._reached:
            self.gcp.enabled_apis |= await usage.enabled(self.gcp)
            self._reached = True
        principal, source = self.gcp.principal()
        return Target(provider=self.name, account=self.gcp.project, region=self.gcp.region,
                      principal=principal, credentials=source)

    def check(self, loaded: Any, stack: str, config: Mapping[str, str]) -> list[Any]:
        """What Cloud Run, Cloud SQL and Memorystore would refuse, located in the compose file."""
        from launchdeck.engine.refusal import findings
        from launchdeck.providers.gcp import preflight

        return findings(loaded.project, preflight.problems(loaded.project, config), loaded.where)

    def config_store(self, project: str, stack: str) -> SecretConfigStore:
        return SecretConfigStore(self.gcp, project, stack)

    def blobs(self) -> GcsBlobs:
        return GcsBlobs(self.gcp, lambda: self.bucket, self.project_number)

    async def session(
        self,
        project: Project,
        stack: str,
        config: Mapping[str, str],
        deployment_id: str,
        options: DeployOptions,
        sink: Sink,
    ) -> GcpSession:
        turned_on: list[str] = []
        if deployment_id not in READ_ONLY:  # a deploy: turn on what it needs before it makes anything
            turned_on = await usage.enable(self.gcp, usage.needed(project),
                                           lambda text: sink(Event(None, None, text)))
        number, named = await gather(self.project_number, lambda: inventory.stack_names(
            self.gcp, project.name, stack, iam_new=APIS["iam"] in turned_on))
        return GcpSession(
            self.gcp, self.bucket, number, project, stack, config, deployment_id, options, sink, self.poll,
            named, turned_on=frozenset(turned_on),
        )

    # -- logs -----------------------------------------------------------------------------

    async def read_logs(self, project: str, stack: str, query: LogQuery) -> list[LogLine]:
        """Cloud Run's request and container logs of the stack's services and worker pools,
        newest first from Cloud Logging, at most ``query.tail`` (or 10 000) per read.

        A service's entries are of the monitored resource ``cloud_run_revision`` (labelled
        ``service_name``), a worker pool's of ``cloud_run_worker_pool`` (labelled
        ``worker_pool_name``; both labelled ``revision_name`` and ``location``), as
        ``gcloud run worker-pools logs`` reads them
        (https://cloud.google.com/sdk/gcloud/reference/run/worker-pools/logs;
        googlecloudsdk/command_lib/run: ``resource.type=cloud_run_worker_pool``)."""
        gcp = self.gcp
        gcp.check()
        services, workers = await gather(lambda: live(gcp, project, stack),
                                         lambda: pools(gcp, project, stack))
        found = [*services.items(), *workers.items()]
        if query.services:  # by the compose name each keeps, whichever names the stack has
            found = [(n, s) for n, s in found if n in query.services]
        ids = {service_id(s): n for n, s in found}
        if not ids:
            return []
        kinds = []
        for kind, label, of in (("cloud_run_revision", "service_name", False),
                                ("cloud_run_worker_pool", "worker_pool_name", True)):
            mine = sorted(service_id(s) for _, s in found if is_pool(s) == of)
            if mine:
                kinds.append(f'(resource.type="{kind}" AND ('
                             + " OR ".join(f'resource.labels.{label}="{i}"' for i in mine) + "))")
        terms = [
            "(" + " OR ".join(kinds) + ")",
            f'resource.labels.location="{gcp.region}"',
        ]
        if query.since:
            terms.append(f'timestamp>="{_rfc3339(query.since)}"')
        if query.until:
            terms.append(f'timestamp<="{_rfc3339(query.until)}"')
        if query.deployment:
            revisions = await self._revisions([s.name for _, s in found], query.deployment)
            if not revisions:
                return []
            terms.append("(" + " OR ".join(f'resource.labels.revision_name="{r}"' for r in revisions) + ")")
        limit = query.tail or _MAX_LOG_LINES
        client = gcp.client("logging")

        def read() -> list[Any]:
            from google.cloud import logging as cloud_logging

            entries = client.list_entries(
                resource_names=[f"projects/{gcp.project}"],
                filter_=" AND ".join(terms),
                order_by=cloud_logging.DESCENDING,
                page_size=min(limit, 1000),
            )
            out = []
            for entry in entries:
                if _diagnostic(entry.payload):
                    continue
                out.append(entry)
                if len(out) >= limit:
                    break
            return out

        entries = await gcp.run(lambda: read, api="logging", what="read logs")
        lines = []
        for entry in reversed(entries):
            labels = entry.resource.labels
            which = labels.get("service_name") or labels.get("worker_pool_name")
            if which in ids:
                lines.append(LogLine(at=entry.timestamp.astimezone(UTC), service=ids[which],
                                     text=_text(entry.payload)))
        return lines

    async def _revisions(self, paths: list[str], deployment: str) -> list[str]:
        """The revisions (of the services and worker pools at ``paths``) a deployment made, from
        their labels."""
        found = await gather(
            *[lambda p=p: self.gcp.all("run.revisions", "list_revisions", parent=p) for p in paths]
        )
        return sorted(
            r.name.rsplit("/", 1)[-1]
            for revisions in found
            for r in revisions
            if dict(r.labels).get(names.ETAG) == names.label(deployment)
        )

    async def platform_events(self, project: str, stack: str, services: Sequence[str],
                              since: datetime, until: datetime | None) -> list[LogLine]:
        """Cloud Run's revision conditions of the stack's ``services`` (and worker pools) in that
        time (logs --type deploy)."""
        from launchdeck.providers.gcp.events import revision_conditions

        self.gcp.check()
        return await revision_conditions(self.gcp, await inventory.stack_names(self.gcp, project, stack),
                                         services, since, until)

    # -- destroy --------------------------------------------------------------------------

    async def destroy(self, project: str, stack: str, *, volumes: bool, sink: Sink) -> Teardown:
        from launchdeck.providers.gcp.teardown import teardown

        self.gcp.check()
        return await teardown(self.gcp, project, stack, sink)


def _rfc3339(moment: Any) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _diagnostic(payload: Any) -> bool:
    """Whether an entry is the logging library's note about itself, not the service's output."""
    return isinstance(payload, dict) and set(payload) == {"logging.googleapis.com/diagnostic"}


def _text(payload: Any) -> str:
    """A log entry's text: the line itself, or a structured entry's message."""
    if isinstance(payload, dict):
        return str(payload.get("message", payload))
    return str(payload if payload is not None else "").rstrip("\n")
