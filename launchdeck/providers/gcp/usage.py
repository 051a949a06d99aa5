"""The APIs a deploy needs, turned on in one batch before anything is made (Service Usage).

A new project has only a few APIs on (https://cloud.google.com/service-usage/docs/enabled-service);
discovering the rest one SERVICE_DISABLED at a time costs a round trip each. So a deploy lists
what is on, enables everything missing with one ``services:batchEnable`` (at most 20 a call),
waits for its operation, and tells the door that these APIs are new: a call refused with
SERVICE_DISABLED shortly after is Google still propagating ("wait a few minutes for the action
to propagate to our systems and retry") and is retried, bounded (api.PROPAGATION). Where the
caller may not enable APIs, one error names every missing one with the command that enables them.
"""

from __future__ import annotations

from collections.abc import Callable

from launchdeck.compose.model import Project
from launchdeck.engine import model_service, poll
from launchdeck.providers.gcp.api import APIS, Gcp, GcpError

BATCH = 20
"""services:batchEnable takes at most 20 services a request."""
WAIT = 600.0
"""Seconds to wait for an enable operation."""
VERTEX = "aiplatform.googleapis.com"
ALWAYS = ("run", "artifactregistry", "cloudbuild", "secretmanager", "iam", "cloudresourcemanager")
"""What every deploy uses: Cloud Run, its images and builds, config, the runtime and build
accounts and their project roles."""


def needed(project: Project) -> set[str]:
    """The services (``run.googleapis.com``...) a deploy of ``project`` calls."""
    wanted = set(ALWAYS)
    services = project.services.values()
    kinds = {s.managed_store for s in services if s.managed_store}
    if "postgres" in kinds:
        wanted |= {"sqladmin", "servicenetworking", "compute"}
    if "redis" in kinds:
        wanted |= {"redis", "servicenetworking", "compute"}
    if "mongodb" in kinds:
        wanted.add("firestore")  # a public TLS endpoint: no network
    if any(s.domainname for s in services):
        wanted |= {"compute", "dns"}
    if any(not s.ingress_ports and (s.ports or s.expose) for s in services if not s.managed_store):
        wanted.add("compute")  # internal services are called through the network (its NAT)
    out = {APIS[api] for api in wanted}
    if any(s.llm is not None for s in services) or model_service.uses_models(project):
        out.add(VERTEX)
    return out


async def enabled(gcp: Gcp) -> set[str]:
    """The services the project has on (and, from the answer, its number)."""
    found: set[str] = set()
    token = ""
    while True:
        params = {"filter": "state:ENABLED", "pageSize": "200", **({"pageToken": token} if token else {})}
        page = await gcp.rest("serviceusage", "GET", f"/v1/projects/{gcp.project}/services", params=params)
        for service in page.get("services", []):
            found.add(service["config"]["name"])
            gcp.number = gcp.number or service.get("parent", "").rpartition("/")[2] or None
        token = page.get("nextPageToken", "")
        if not token:
            return found


async def enable(gcp: Gcp, wanted: set[str], say: Callable[[str], None] | None = None) -> list[str]:
    """Turn on what ``wanted`` names and the project lacks; the services it enabled."""
    if wanted <= gcp.enabled_apis:
        return []
    gcp.enabled_apis |= await enabled(gcp)
    missing = sorted(wanted - gcp.enabled_apis)
    if not missing:
        return []
    if say is not None:
        say(f"enabling {len(missing)} API(s) in project {gcp.project}: {', '.join(missing)}")
    operations = []
    try:
        for start in range(0, len(missing), BATCH):
            operations.append(await gcp.rest(
                "serviceusage", "POST", f"/v1/projects/{gcp.project}/services:batchEnable",
                body={"serviceIds": missing[start:start + BATCH]},
            ))
    except GcpError as exc:
        if exc.code != 403:
            raise
        raise GcpError(
            f"project {gcp.project} does not have the APIs this deploy needs enabled "
            f"({', '.join(missing)}), and the account deploying may not enable them",
            code=403,
            status="PERMISSION_DENIED",
            reason=exc.reason,
            hint=f"Enable them: `gcloud services enable {' '.join(missing)} --project {gcp.project}` "
            "(or have the role roles/serviceusage.serviceUsageAdmin), then try again.",
        ) from exc
    for operation in operations:
        await _done(gcp, operation)
    gcp.made(*missing)
    gcp.enabled_apis |= set(missing)
    if say is not None:
        say("APIs enabled; the first calls may wait a few minutes while Google propagates them")
    return missing


async def _done(gcp: Gcp, operation: dict) -> None:
    async def check() -> dict | None:
        nonlocal operation
        if operation.get("done"):
            return operation
        operation = await gcp.rest("serviceusage", "GET", f"/v1/{operation['name']}")
        return operation if operation.get("done") else None

    done = await poll.until(check, interval=gcp.poll_interval, timeout=WAIT)
    if done is None:
        raise GcpError("enabling the project's APIs did not finish in time", code=504,
                       status="DEADLINE_EXCEEDED", hint="Deploy again in a few minutes.")
    error = done.get("error")
    if error:
        raise GcpError(f"GCP failed to enable the project's APIs: {error.get('message', error)}",
                       code=400, status="FAILED_PRECONDITION",
                       hint="Fix what GCP names (often billing: `gcloud billing projects link`), "
                       "then try again.")
