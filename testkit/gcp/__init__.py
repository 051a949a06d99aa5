"""A faithful local GCP, so the GCP provider's tests run against real client libraries without Google.

No Google emulator exists for most APIs launchdeck uses, so this package serves them from one
HTTP server (``FakeGcp``; ``python -m testkit.gcp --port P`` runs it alone).

Routing: each API lives under ``/<api>`` (``storage``, ``artifactregistry``, ``cloudbuild``,
``run``, ``secretmanager``, ``iam``, ``cloudresourcemanager``, ``logging``, ``sqladmin``,
``redis``, ``compute``, ``dns``, ``servicenetworking``, ``serviceusage``), so a client library
reaches it with only ``client_options={"api_endpoint": "http://127.0.0.1:P/<api>"}``; a
request whose Host is
``<api>.googleapis.com`` is routed the same way without the prefix. ``LAUNCHDECK_GCP_ENDPOINT``
points launchdeck at it (see ``launchdeck.providers.gcp.api``).

Faithfulness: requests are bound to the client libraries' own message types by each method's
``google.api.http`` rule, refusing unknown fields and query parameters and bad enum values;
resource names, required fields and values are checked as the APIs document them; errors
have the google.rpc.Status shape (plus the ``errors`` list of the older JSON APIs), including
SERVICE_DISABLED, BILLING_DISABLED and IAM_PERMISSION_DENIED ErrorInfo; long-running work
completes after ``lro_polls`` polls (or ``lro_seconds``). State is in memory, behind one lock.
Besides the v2 APIs the libraries speak, Cloud Run's Admin API v1 serves one read, a service's
revision with the image digest it resolved as it was made (``run.py``); public registries are
modelled only as far as a tag's digest, which ``FakeGcp.push_public`` moves.

A new project, by default (``testkit.gcp.project`` has each behaviour's real duration and its
source): only the APIs Google turns on by default answer until Service Usage enables the rest,
and for a while after; domain-restricted sharing refuses public members; a new service
account, a grant and a new secret version (read as ``latest``) take effect after a delay;
the default compute account holds no role, so a build as it cannot push; a managed
certificate waits for DNS; Cloud SQL runs one operation at a time per instance. Durations are
the real ones times ``time_scale``; ``new_project=False`` is an old, hand-tuned project.

Knobs, over HTTP and in Python (``fake.knobs.<name> = ...``; fields of ``Knobs``):

- ``GET /_fake/knobs``, ``POST /_fake/knobs`` with a JSON object of fields to set:
  ``latency`` (seconds per request), ``fault_rate`` / ``fault_code`` / ``fault_apis`` /
  ``retry_after`` (injected 429 or 503 answers in the real shape), ``lro_polls``,
  ``lro_seconds``, ``disabled_apis`` (service names answered with SERVICE_DISABLED),
  ``denied_permissions`` (IAM permissions answered 403), ``failing_builds`` (image or tag
  substring -> the failing step's error line), ``failing_stores`` (instance id substring ->
  ``quota``, ``zone`` or an error), ``billing_disabled``, ``new_project``, ``time_scale``,
  ``realistic`` (long work takes its real, scaled, duration), ``failing_services`` (Cloud Run service id ->
  reason; empty for the real "failed to start and listen on the port"), ``kill_at`` /
  ``kill_pid`` (SIGKILL a client process as the Nth mutating request from now arrives),
  ``held_roles`` (roles whose new bindings take no effect until taken out of the list),
  ``clock_ahead`` (seconds the fake's clock runs ahead; ``FakeGcp.advance(real_seconds)`` moves
  it on, so a test passes a lag without sleeping through it or racing it).
- ``GET /_fake/requests``: every API request in order (api, method, path, query, body,
  status); ``DELETE /_fake/requests`` clears it; ``FakeGcp.mutations()`` keeps those that could
  change something (``is_mutating``). Secret version payloads and database passwords are never
  logged.
- ``POST /_fake/reset``: forget every resource, request and knob.
"""

from testkit.gcp.core import Knobs
from testkit.gcp.server import FakeGcp, is_mutating

__all__ = ["FakeGcp", "Knobs", "is_mutating"]
