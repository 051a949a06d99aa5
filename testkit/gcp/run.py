"""Cloud Run Admin API v2 as the fake serves it: services, worker pools, revisions, operations, IAM.

A create or update returns an operation whose metadata is the service itself; the service
reconciles (``reconciling``, Ready condition pending) until the operation has been polled
enough, then becomes Ready with a new revision, ``uri`` and ``urls``, or fails with the
condition the real API reports: a container that does not start (the ``failing_services``
knob), an Artifact Registry image that does not exist, or a secret the revision's service
account cannot read. A service account or a Direct VPC egress subnetwork that does not
exist is refused before any operation starts.

A service's revision keeps its image by digest as Cloud Run resolved it "during the creation
of Revision ... regardless of whether a tag or digest was originally specified" (``imageDigest``
of the v1 ``RevisionStatus``, https://cloud.google.com/run/docs/reference/rest/v1/namespaces.revisions),
which the v2 ``Revision`` does not show: the fake serves that one read of the Admin API v1
(``namespaces.revisions.get``, Knative's JSON shape, only the fields launchdeck reads besides
metadata and the Ready condition). An image of one of the project's standard Artifact Registry
repositories resolves to what its tag was last pushed as; any other (Docker Hub, another
registry, a remote repository's upstream) to the digest its tag names in the fake's public
registries, which a test moves with ``FakeGcp.push_public``, as its publisher re-pushing the
tag would.

Worker pools (``projects.locations.workerPools``, google/cloud/run/v2/worker_pool.proto) are
served the same way: create, get, list, update (``allow_missing`` creates) and delete, each
change a long-running operation whose metadata is the worker pool, which reconciles to a
Ready ``terminal_condition`` or fails it for the same reasons a service's revision fails. A
worker pool has no URL and its instance count is fixed (``scaling.manual_instance_count``);
"changing the manual instance count does not create a new revision"
(https://cloud.google.com/run/docs/configuring/workerpools/manual-scaling).
"""

from __future__ import annotations

import hashlib
import random
import re
import string
from typing import Any

from testkit.gcp import project as new_project
from testkit.gcp.core import (
    ApiError,
    Rule,
    already_exists,
    check_labels,
    etag_of,
    failed_precondition,
    invalid,
    not_found,
    page,
    project_number,
    rules_of,
    sequence,
)
from testkit.gcp.server import Api, Reply, Route, permission_denied
from testkit.gcp.shared import Operations, Policies, Work

REGIONS = {
    "us-central1",
    "us-east1",
    "us-east4",
    "us-west1",
    "us-west2",
    "europe-west1",
    "europe-west2",
    "europe-west3",
    "europe-west4",
    "europe-north1",
    "asia-east1",
    "asia-northeast1",
    "asia-southeast1",
    "australia-southeast1",
    "northamerica-northeast1",
    "southamerica-east1",
}
_REGION_CODE = {
    "us-central1": "uc",
    "us-east1": "ue",
    "us-east4": "uk",
    "us-west1": "uw",
    "us-west2": "wl",
    "europe-west1": "ew",
    "europe-west2": "nw",
    "europe-west3": "ey",
    "europe-west4": "ez",
    "europe-north1": "lz",
    "asia-east1": "de",
    "asia-northeast1": "an",
    "asia-southeast1": "as",
    "australia-southeast1": "ts",
    "northamerica-northeast1": "nn",
    "southamerica-east1": "rj",
}
SERVICE_ID = re.compile(r"^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$")
_RESERVED_ENV = {"PORT", "K_SERVICE", "K_CONFIGURATION", "K_REVISION"}
_CPU = {
    "0.08",
    "0.1",
    "0.2",
    "0.25",
    "0.5",
    "0.75",
    "1",
    "2",
    "4",
    "6",
    "8",
    "1000m",
    "2000m",
    "4000m",
    "6000m",
    "8000m",
    "500m",
    "250m",
}
_SERVER_SET = (
    "name",
    "uid",
    "create_time",
    "creator",
    "uri",
    "urls",
    "latest_ready_revision",
    "latest_created_revision",
    "traffic_statuses",
    "terminal_condition",
    "observed_generation",
)
"""Output-only fields an update keeps from the current service."""
_POOL_SERVER_SET = (
    "name",
    "uid",
    "create_time",
    "creator",
    "latest_ready_revision",
    "latest_created_revision",
    "instance_split_statuses",
    "terminal_condition",
    "observed_generation",
)
"""Output-only fields an update keeps from the current worker pool."""
_MEMORY = re.compile(r"^(\d+)(Mi|Gi|M|G)$")
_NOT_LISTENING = (
    "The user-provided container failed to start and listen on the port defined provided "
    "by the PORT={port} environment variable within the allocated timeout. This can happen "
    "when the container port is misconfigured or if the timeout is too short. The health "
    "check timeout can be extended. Logs for this revision might contain more information."
)


def _mebibytes(text: str) -> int:
    match = _MEMORY.match(text)
    if not match:
        raise invalid(
            f"spec.template.spec.containers[0].resources.limits.memory: Invalid value "
            f"'{text}': the memory limit must be a quantity such as 512Mi or 2Gi.",
            "service.template.containers[0].resources.limits",
        )
    number, unit = int(match.group(1)), match.group(2)
    return number * {"Mi": 1, "Gi": 1024, "M": 1, "G": 1000}[unit]


def _cpus(text: str) -> float:
    if text not in _CPU:
        raise invalid(
            f"spec.template.spec.containers[0].resources.limits.cpu: Invalid value '{text}': "
            "CPU must be one of 0.08 to 1 in steps, or 1, 2, 4, 6 or 8.",
            "service.template.containers[0].resources.limits",
        )
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


class RunApi(Api):
    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.services: dict[str, Any] = {}
        self.pools: dict[str, Any] = {}
        """Worker pools by name."""
        self.revisions: dict[str, Any] = {}
        self.digests: dict[str, str] = {}
        """A service's revision -> its image by digest, resolved as the revision was made."""
        self.public: dict[str, dict[str, str]] = {}
        """A public image's repository (``docker.io/library/nginx``) -> tag -> the digest it names."""
        self.pushes = 0
        self.pending: dict[str, Work] = {}
        self.operations = Operations()
        self.policies = Policies(ctx)

    def routes(self) -> list[Route]:
        from google.cloud import run_v2
        from google.cloud.run_v2.services.revisions.transports.rest_base import _BaseRevisionsRestTransport
        from google.cloud.run_v2.services.services.transports.rest_base import _BaseServicesRestTransport
        from google.cloud.run_v2.services.worker_pools.transports.rest_base import (
            _BaseWorkerPoolsRestTransport,
        )
        from google.iam.v1 import iam_policy_pb2
        from google.longrunning import operations_pb2

        s = _BaseServicesRestTransport
        r = _BaseRevisionsRestTransport
        w = _BaseWorkerPoolsRestTransport
        table = [
            (s, "CreateService", run_v2.CreateServiceRequest, self.create_service, "run.services.create"),
            (s, "GetService", run_v2.GetServiceRequest, self.get_service, "run.services.get"),
            (s, "ListServices", run_v2.ListServicesRequest, self.list_services, "run.services.list"),
            (s, "UpdateService", run_v2.UpdateServiceRequest, self.update_service, "run.services.update"),
            (s, "DeleteService", run_v2.DeleteServiceRequest, self.delete_service, "run.services.delete"),
            (
                s,
                "GetIamPolicy",
                iam_policy_pb2.GetIamPolicyRequest,
                self.get_iam_policy,
                "run.services.getIamPolicy",
            ),
            (
                s,
                "SetIamPolicy",
                iam_policy_pb2.SetIamPolicyRequest,
                self.set_iam_policy,
                "run.services.setIamPolicy",
            ),
            (r, "GetRevision", run_v2.GetRevisionRequest, self.get_revision, "run.revisions.get"),
            (r, "ListRevisions", run_v2.ListRevisionsRequest, self.list_revisions, "run.revisions.list"),
            (s, "GetOperation", operations_pb2.GetOperationRequest, self.get_operation, "run.operations.get"),
            (w, "CreateWorkerPool", run_v2.CreateWorkerPoolRequest, self.create_worker_pool,
             "run.workerpools.create"),
            (w, "GetWorkerPool", run_v2.GetWorkerPoolRequest, self.get_worker_pool, "run.workerpools.get"),
            (w, "ListWorkerPools", run_v2.ListWorkerPoolsRequest, self.list_worker_pools,
             "run.workerpools.list"),
            (w, "UpdateWorkerPool", run_v2.UpdateWorkerPoolRequest, self.update_worker_pool,
             "run.workerpools.update"),
            (w, "DeleteWorkerPool", run_v2.DeleteWorkerPoolRequest, self.delete_worker_pool,
             "run.workerpools.delete"),
        ]
        return [
            Route(rule, handler, request_type, permission)
            for base, rpc, request_type, handler, permission in table
            for rule in rules_of(base, rpc)
        ] + [
            # the Admin API v1 (Knative serving), at the regional endpoint
            # https://{region}-run.googleapis.com (namespaces.revisions.get)
            Route(Rule("GET", "/apis/serving.knative.dev/v1/namespaces/{namespace}/revisions/{revision}"),
                  self.get_revision_v1, None, "run.revisions.get"),
        ]

    # --- services ---------------------------------------------------------------------------

    def _location(self, parent: str) -> tuple[str, str]:
        _, project, _, region = parent.split("/")
        if region not in REGIONS:
            raise invalid(f"Location {region} is not available for project {project}.", "parent")
        return project, region

    def _existing(self, name: str) -> Any:
        return self._found(self.services, name, "SERVICE")

    def _found(self, table: dict[str, Any], name: str, kind: str) -> Any:
        """The service or worker pool ``name`` of ``table``, its pending work moved on first."""
        found = table.get(name)
        if found is None:
            raise not_found(
                f"Resource '{name.split('/')[-1]}' of kind '{kind}' in region "
                f"'{name.split('/')[3]}' in project '{name.split('/')[1]}' does not exist."
            )
        work = self.pending.get(name)
        if work is not None:
            work.poll()
        return table.get(name) or found

    def create_service(self, request: Any) -> Any:
        project, region = self._location(request.parent)
        if not request.service_id:
            raise invalid("service_id must be set.", "service_id")
        if not SERVICE_ID.match(request.service_id):
            raise invalid(
                f"Invalid service id '{request.service_id}': it must only contain lowercase "
                "alphanumeric characters and dashes, begin with a letter, not end with a dash, "
                "and be at most 49 characters.",
                "service_id",
            )
        name = f"{request.parent}/services/{request.service_id}"
        self._check(request.service, name)
        if name in self.services:
            raise already_exists(f"Resource '{request.service_id}' already exists.")
        service = _made(request.service, name)
        if not service.ingress:
            service.ingress = 1  # INGRESS_TRAFFIC_ALL, the server's default
        if not service.launch_stage:
            service.launch_stage = 4  # GA
        if not service.traffic:
            target = service.traffic.add()
            target.type_ = 1  # TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST
            target.percent = 100
        if request.validate_only:
            return self._operation(name, service, None, done=True)
        self.services[name] = service
        return self._reconcile(name, new_revision=True)

    def update_service(self, request: Any) -> Any:
        name = request.service.name
        if not name:
            raise invalid("service.name must be set.", "service.name")
        if name not in self.services:
            if not request.allow_missing:
                return self._existing(name)
            parent, _, service_id = name.rpartition("/services/")
            create = _create_request(
                parent=parent, service_id=service_id, validate_only=request.validate_only
            )
            create.service.CopyFrom(request.service)
            create.service.ClearField("name")
            return self.create_service(create)
        current = self._existing(name)
        if request.service.etag and request.service.etag != current.etag:
            raise ApiError(
                "ABORTED",
                f"The etag '{request.service.etag}' does not match the current "
                f"etag of service '{name.split('/')[-1]}'.",
            )
        self._location(name.rsplit("/services/", 1)[0])
        self._check(request.service, name)
        if request.validate_only:
            return self._operation(name, current, None, done=True)
        service = _updated(request.service, current, _SERVER_SET)
        del service.conditions[:]
        service.conditions.extend(current.conditions)
        if not service.ingress:
            service.ingress = current.ingress
        if not service.launch_stage:
            service.launch_stage = current.launch_stage
        if not service.traffic:
            service.traffic.extend(current.traffic)
        service.generation = current.generation + 1
        service.last_modifier = "user@example.com"
        self.services[name] = service
        return self._reconcile(name, new_revision=service.template != current.template)

    def get_service(self, request: Any) -> Any:
        return self._existing(request.name)

    def list_services(self, request: Any) -> Any:
        from google.cloud import run_v2

        self._location(request.parent)
        names = sorted(n for n in self.services if n.startswith(request.parent + "/services/"))
        for name in names:
            if name in self.pending:
                self.pending[name].poll()
        shown, token = page(names, request.page_size, request.page_token)
        response = run_v2.ListServicesResponse.pb()(next_page_token=token)
        response.services.extend(self.services[n] for n in shown if n in self.services)
        return response

    def delete_service(self, request: Any) -> Any:
        current = self._existing(request.name)
        if request.etag and request.etag != current.etag:
            raise ApiError("ABORTED", f"The etag '{request.etag}' does not match the current etag.")
        if request.validate_only:
            return self._operation(request.name, current, None, done=True)
        name = request.name

        def complete() -> Any:
            gone = self.services.pop(name)
            self.pending.pop(name, None)
            self.policies.forget(name)
            for revision in [r for r in self.revisions if r.startswith(name + "/revisions/")]:
                del self.revisions[revision]
                self.digests.pop(revision, None)
            gone.delete_time.GetCurrentTime()
            return gone

        current.reconciling = True
        work = Work(self.ctx.progress(), complete)
        self.pending[name] = work
        return self._operation(name, current, work)

    # --- reconciling ------------------------------------------------------------------------

    def _check(self, service: Any, name: str) -> None:
        """What the real API refuses synchronously, before any operation starts."""
        check_labels(service.labels, "service.labels")
        template = service.template
        if not template.containers:
            raise invalid(
                "spec.template.spec.containers: Required value: at least one container must be specified.",
                "service.template.containers",
            )
        ingress = [c for c in template.containers if c.ports]
        if len(template.containers) > 1 and len(ingress) != 1:
            raise invalid(
                "spec.template.spec.containers: exactly one container must specify a port when "
                "there are several containers.",
                "service.template.containers",
            )
        self._check_containers(template, "service")
        self._check_identity(template, name, "service")
        scaling = template.scaling
        if scaling.max_instance_count and scaling.min_instance_count > scaling.max_instance_count:
            raise invalid(
                "spec.template.metadata.annotations[autoscaling.knative.dev/minScale]: min "
                "instances must be less than or equal to max instances.",
                "service.template.scaling",
            )
        total = sum(t.percent for t in service.traffic)
        if service.traffic and total != 100:
            raise invalid(
                f"spec.traffic: Invalid value: {total}: traffic percentages must add up to 100.",
                "service.traffic",
            )
        if template.revision and not template.revision.startswith(f"{service.name.split('/')[-1]}-"):
            raise invalid(
                "Revision name must be prefixed by the name of the enclosing Service.",
                "service.template.revision",
            )

    def _check_containers(self, template: Any, kind: str) -> None:
        """What the real API refuses of a revision template's containers (a service's or a
        worker pool's: both are ``Container`` messages)."""
        for index, container in enumerate(template.containers):
            where = f"{kind}.template.containers[{index}]"
            if not container.image:
                raise invalid(
                    f"spec.template.spec.containers[{index}].image: Required value", f"{where}.image"
                )
            if not _pullable(container.image):
                raise invalid(
                    f"spec.template.spec.containers[{index}].image: Expected an image path like "
                    "[host/]repo-path[:tag and/or @digest], where host is one of [region.]gcr.io, "
                    f"[region-]docker.pkg.dev or docker.io but obtained {container.image}",
                    f"{where}.image",
                )
            _check_probes(container, index, where)
            if len(container.ports) > 1:
                raise invalid(
                    f"spec.template.spec.containers[{index}].ports: Too many: at most 1 port.",
                    f"{where}.ports",
                )
            for port in container.ports:
                if not 0 < port.container_port < 65536:
                    raise invalid(
                        f"spec.template.spec.containers[{index}].ports[0].container_port: "
                        f"Invalid value: {port.container_port}: must be between 1 and 65535.",
                        f"{where}.ports",
                    )
            reserved = sorted({e.name for e in container.env} & _RESERVED_ENV)
            if reserved:
                raise invalid(
                    f"The following reserved env names were provided: {', '.join(reserved)}. "
                    "These values are automatically set by the system.",
                    f"{where}.env",
                )
            for env in container.env:
                if not re.match(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$", env.name):
                    raise invalid(
                        f"spec.template.spec.containers[{index}].env.name: Invalid value: '{env.name}'.",
                        f"{where}.env",
                    )
                if env.HasField("value_source") and not env.value_source.secret_key_ref.secret:
                    raise invalid(
                        f"spec.template.spec.containers[{index}].env.valueFrom.secretKeyRef.name: "
                        "Required value",
                        f"{where}.env",
                    )
            limits = container.resources.limits
            cpu = _cpus(limits["cpu"]) if "cpu" in limits else 1.0
            memory = _mebibytes(limits["memory"]) if "memory" in limits else 512
            minimum = {2: 128, 4: 2048, 6: 4096, 8: 4096}.get(int(cpu) if cpu >= 1 else 0, 128)
            if memory < minimum:
                raise invalid(
                    f"Invalid value specified for memory. For {cpu:g} CPU, memory must be at least "
                    f"{minimum}Mi.",
                    f"{where}.resources.limits",
                )
            if (
                memory > 32768
                or (memory > 4096 and cpu < 2)
                or (memory > 8192 and cpu < 4)
                or (memory > 16384 and cpu < 6)
                or (memory > 24576 and cpu < 8)
            ):
                raise invalid(
                    f"Invalid value specified for cpu. For the specified value, memory={memory}Mi, "
                    "cpu needs to be higher.",
                    f"{where}.resources.limits",
                )
            if cpu < 1 and memory > 1024:
                raise invalid(
                    f"Invalid value specified for memory. For {cpu:g} CPU, memory must be at most 1Gi.",
                    f"{where}.resources.limits",
                )

    def _check_identity(self, template: Any, name: str, kind: str) -> None:
        """The revision's service account and Direct VPC egress, which must exist."""
        project, region = name.split("/")[1], name.split("/")[3]
        account = template.service_account
        if account and self.ctx.knobs.denies("iam.serviceAccounts.actAs"):
            raise permission_denied("iam.serviceAccounts.actAs", f"projects/-/serviceAccounts/{account}")
        if account.endswith(".iam.gserviceaccount.com") and not self.ctx.api("iam").usable(account):
            raise invalid(
                f"spec.template.spec.serviceAccountName: Service account {account} does not exist.",
                f"{kind}.template.service_account",
            )
        for index, interface in enumerate(template.vpc_access.network_interfaces):
            network = interface.network.rsplit("/", 1)[-1] or "default"
            subnetwork = interface.subnetwork.rsplit("/", 1)[-1] or network
            compute = self.ctx.api("compute")
            if not compute.has_network(project, network) or not compute.has_subnetwork(
                project, region, subnetwork
            ):
                raise invalid(
                    f"spec.template.metadata.annotations[run.googleapis.com/network-interfaces]: the "
                    f"subnetwork '{subnetwork}' of network '{network}' was not found in region {region}.",
                    f"{kind}.template.vpc_access.network_interfaces[{index}]",
                )

    def _reconcile(self, name: str, *, new_revision: bool) -> Any:
        service = self.services[name]
        service.reconciling = True
        service.update_time.GetCurrentTime()
        service.etag = etag_of(name, service.generation)
        _condition(service.terminal_condition, "Ready", 1, "")  # CONDITION_PENDING
        del service.conditions[:]
        for kind in ("ConfigurationsReady", "RoutesReady"):
            _condition(service.conditions.add(), kind, 1, "")
        revision_name = ""
        if new_revision:
            short = service.template.revision or (
                f"{name.split('/')[-1]}-{service.generation:05d}-"
                + "".join(random.choices(string.ascii_lowercase, k=3))
            )
            revision_name = f"{name}/revisions/{short}"
            service.latest_created_revision = revision_name
            if service.template.containers:
                self.digests[revision_name] = self._resolve(
                    service.template.containers[0].image, name.split("/")[1])
        generation = service.generation

        def complete() -> Any:
            current = self.services.get(name)
            if current is None or current.generation != generation:
                return current  # superseded by a later update, whose operation reports instead
            failure = self._failure(current, revision_name)
            current.reconciling = False
            current.observed_generation = generation
            current.etag = etag_of(name, generation, "observed")
            if revision_name:
                self._record_revision(current, revision_name, failure)
            if failure is not None:
                reason, message = failure
                _condition(current.terminal_condition, "Ready", 3, message, reason=reason)
                _condition(current.conditions[0], "ConfigurationsReady", 3, message, reason=reason)
                _condition(current.conditions[1], "RoutesReady", 3, message, reason=reason)
                raise failed_precondition(message)
            if revision_name:
                current.latest_ready_revision = revision_name
            _condition(current.terminal_condition, "Ready", 4, "")
            for condition in current.conditions:
                _condition(condition, condition.type_, 4, "")
            project, region = name.split("/")[1], name.split("/")[3]
            service_id = name.split("/")[-1]
            digest = hashlib.sha256(name.encode()).hexdigest()[:10]
            current.uri = f"https://{service_id}-{digest}-{_REGION_CODE.get(region, 'uc')}.a.run.app"
            del current.urls[:]
            current.urls.extend(
                [f"https://{service_id}-{project_number(project)}.{region}.run.app", current.uri]
            )
            del current.traffic_statuses[:]
            for target in current.traffic:
                status = current.traffic_statuses.add()
                status.type_ = target.type_
                status.percent = target.percent
                status.revision = target.revision
            return current

        work = Work(self.ctx.progress(new_project.REVISION), complete)
        self.pending[name] = work
        return self._operation(name, service, work)

    def _failure(self, service: Any, revision: str) -> tuple[int, str] | None:
        """Why the new revision would not become ready, as (CommonReason, message), or None."""
        if not revision:
            return None
        short = revision.split("/")[-1]
        service_id = service.name.split("/")[-1]
        prefix = f"Revision '{short}' is not ready and cannot serve traffic. "
        for container in service.template.containers:
            if self._image_missing(container.image, service.name.split("/")[1]):
                return 6, prefix + f"Image '{container.image}' not found."  # CONTAINER_MISSING
        account = service.template.service_account or (
            f"{project_number(service.name.split('/')[1])}-compute@developer.gserviceaccount.com"
        )
        for container in service.template.containers:
            for env in container.env:
                if not env.HasField("value_source"):
                    continue
                problem = self._secret_problem(
                    service.name.split("/")[1], env.value_source.secret_key_ref, account
                )
                if problem:
                    return 12, prefix + problem  # SECRETS_ACCESS_CHECK_FAILED
        if service_id in self.ctx.knobs.failing_services:
            port = next((p.container_port for c in service.template.containers for p in c.ports), 8080)
            text = self.ctx.knobs.failing_services[service_id] or _NOT_LISTENING.format(port=port)
            return 3, prefix + text  # REVISION_FAILED
        return None

    def _image_missing(self, image: str, project: str) -> bool:
        host, _, path = image.partition("/")
        if not host.endswith("-docker.pkg.dev") or not path.startswith(project + "/"):
            return False  # other registries and projects are outside the fake; the real API would pull
        return not self.ctx.api("artifactregistry").has_image(image)

    def _secret_problem(self, project: str, ref: Any, account: str) -> str:
        secrets = self.ctx.api("secretmanager")
        secret = ref.secret
        if not secret.startswith("projects/"):
            secret = f"projects/{project}/secrets/{secret}"
        version = ref.version or "latest"
        if not secrets.has_version(secret, version):
            return f"Secret {secret}/versions/{version} was not found"
        if not secrets.can_access(secret, f"serviceAccount:{account}"):
            return (
                f"spec.template.spec.containers[0].env.valueFrom.secretKeyRef.name: Permission denied on "
                f"secret: {secret}/versions/{version} for Revision service account {account}. The "
                "service account used must be granted the 'Secret Manager Secret Accessor' role "
                "(roles/secretmanager.secretAccessor) at the secret, project or higher level."
            )
        return ""

    def _record_revision(self, service: Any, name: str, failure: tuple[int, str] | None) -> None:
        from google.cloud import run_v2

        revision = run_v2.Revision.pb()()
        revision.name = name
        revision.uid = _uid(name)
        revision.generation = 1
        revision.service = service.name
        revision.labels.update(service.template.labels)
        revision.create_time.GetCurrentTime()
        revision.update_time.GetCurrentTime()
        if "/workerPools/" in service.name:  # a worker pool's revision runs its instance count
            revision.scaling.min_instance_count = service.scaling.manual_instance_count
            revision.scaling.max_instance_count = service.scaling.manual_instance_count
        else:
            revision.scaling.min_instance_count = service.template.scaling.min_instance_count
            revision.scaling.max_instance_count = service.template.scaling.max_instance_count or 100
        revision.containers.extend(service.template.containers)
        revision.service_account = service.template.service_account
        if "/services/" in service.name:
            concurrency = service.template.max_instance_request_concurrency
            revision.max_instance_request_concurrency = concurrency or 80
        revision.observed_generation = 1
        revision.launch_stage = service.launch_stage
        kind = "cloud_run_worker_pool" if "/workerPools/" in name else "cloud_run_revision"
        revision.log_uri = f"https://console.cloud.google.com/logs/viewer?resource={kind}/{name}"
        revision.etag = etag_of(name)
        if failure is None:
            _condition(revision.conditions.add(), "Ready", 4, "")
        else:
            _condition(revision.conditions.add(), "Ready", 3, failure[1], reason=failure[0])
        self.revisions[name] = revision

    def _operation(self, name: str, service: Any, work: Work | None, *, done: bool = False) -> Any:
        from google.longrunning import operations_pb2

        if work is None:  # validate_only: an operation that is already over
            op = operations_pb2.Operation(
                name=f"{name.rsplit('/services/', 1)[0]}/operations/{_uid(name)}", done=done
            )
            op.metadata.Pack(service)
            op.response.Pack(service)
            return op
        parent = name.rsplit("/services/", 1)[0]
        op_name = f"{parent}/operations/{_uid(name + str(sequence()))}"
        return self.operations.start(op_name, work, lambda: self.services.get(name) or work.result)

    def get_operation(self, request: Any) -> Any:
        return self.operations.get(request.name)

    # --- revisions --------------------------------------------------------------------------

    def get_revision(self, request: Any) -> Any:
        if request.name not in self.revisions:
            raise not_found(f"Resource '{request.name.split('/')[-1]}' of kind 'REVISION' does not exist.")
        return self.revisions[request.name]

    def get_revision_v1(self, request: Any, v: dict[str, str]) -> Reply:
        """A service's revision as the Admin API v1 shows it (``namespaces.revisions.get``; the
        namespace is the project's id or number): the fields launchdeck reads (the container's
        image, ``status.imageDigest``) besides metadata and the Ready condition."""
        namespace, short = v["namespace"], v["revision"]
        for name, revision in self.revisions.items():
            project = name.split("/")[1]
            if "/services/" in name and name.endswith(f"/revisions/{short}") and \
                    namespace in (project, project_number(project)):
                return Reply(200, self._v1(name, revision))
        raise not_found(f"Resource '{short}' of kind 'REVISION' in namespace '{namespace}' does not exist.")

    def _v1(self, name: str, revision: Any) -> dict[str, Any]:
        project, service = name.split("/")[1], name.split("/")[5]
        made = revision.create_time.ToJsonString()
        ready = revision.conditions[0]
        condition = {"type": "Ready", "status": "True" if ready.state == 4 else "False",
                     "lastTransitionTime": made}
        if ready.message:
            condition["message"] = ready.message
        status: dict[str, Any] = {"observedGeneration": 1, "conditions": [condition],
                                  "logUrl": revision.log_uri}
        if self.digests.get(name):
            status["imageDigest"] = self.digests[name]
        return {
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Revision",
            "metadata": {
                "name": name.split("/")[-1],
                "namespace": project_number(project),
                "uid": revision.uid,
                "generation": 1,
                "creationTimestamp": made,
                "labels": {**revision.labels, "serving.knative.dev/service": service,
                           "serving.knative.dev/configuration": service},
            },
            "spec": {"containers": [{"image": c.image} for c in revision.containers]},
            "status": status,
        }

    # --- what an image reference resolves to ------------------------------------------------

    def _resolve(self, image: str, project: str) -> str:
        """``image`` by the digest a pull of it gets now ('' when nothing answers to it): an
        image of one of ``project``'s standard repositories as it was last pushed, any other as
        its public registry names it (module docstring)."""
        registry = self.ctx.api("artifactregistry")
        host, _, path = image.partition("/")
        repository, tag, digest = _parts(_public(image))
        if host.endswith("-docker.pkg.dev") and path.startswith(project + "/") and \
                not registry.is_remote(image):
            found = registry.digest_of(image)
            return f"{repository}@{found}" if found else ""
        if digest:
            return f"{repository}@{digest}"  # the registry keeps what it once served by digest
        tags = self.public.setdefault(repository, {})
        if tag not in tags:
            tags[tag] = _digest(f"{repository}:{tag}")
        return f"{repository}@{tags[tag]}"

    def push_public(self, reference: str) -> str:
        """Push another image over ``reference``'s tag in its public registry (as its publisher
        would): what a revision made from now on resolves it to. Returns the new digest."""
        repository, tag, _ = _parts(_public(reference))
        self.pushes += 1
        digest = _digest(f"{repository}:{tag}#{self.pushes}")
        self.public.setdefault(repository, {})[tag] = digest
        return digest

    def list_revisions(self, request: Any) -> Any:
        from google.cloud import run_v2

        if "/workerPools/" in request.parent:  # a worker pool's revisions (workerPools.revisions.list)
            self._existing_pool(request.parent)
        else:
            self._existing(request.parent)
        names = sorted(
            (n for n in self.revisions if n.startswith(request.parent + "/revisions/")), reverse=True
        )
        shown, token = page(names, request.page_size, request.page_token)
        response = run_v2.ListRevisionsResponse.pb()(next_page_token=token)
        response.revisions.extend(self.revisions[n] for n in shown)
        return response

    # --- IAM ------------------------------------------------------------------------------

    def get_iam_policy(self, request: Any) -> Any:
        self._existing(request.resource)
        return self.policies.get(request.resource)

    def set_iam_policy(self, request: Any) -> Any:
        self._existing(request.resource)
        return self.policies.set(request.resource, request.policy)

    # --- worker pools -----------------------------------------------------------------------

    def _existing_pool(self, name: str) -> Any:
        return self._found(self.pools, name, "WORKER_POOL")

    def create_worker_pool(self, request: Any) -> Any:
        self._location(request.parent)
        if not request.worker_pool_id:
            raise invalid("worker_pool_id must be set.", "worker_pool_id")
        if not SERVICE_ID.match(request.worker_pool_id):
            # "It must begin with letter, and cannot end with hyphen; must contain fewer than 50
            # characters" (CreateWorkerPoolRequest.worker_pool_id)
            raise invalid(
                f"Invalid worker pool id '{request.worker_pool_id}': it must begin with a letter, "
                "contain only lowercase letters, digits and hyphens, not end with a hyphen, and "
                "contain fewer than 50 characters.",
                "worker_pool_id",
            )
        name = f"{request.parent}/workerPools/{request.worker_pool_id}"
        self._check_pool(request.worker_pool, name)
        if name in self.pools:
            raise already_exists(f"Resource '{request.worker_pool_id}' already exists.")
        pool = _made(request.worker_pool, name)
        if not pool.launch_stage:
            pool.launch_stage = 4  # GA: "If no value is specified, GA is assumed."
        if not pool.instance_splits:
            split = pool.instance_splits.add()
            split.type_ = 1  # INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST
            split.percent = 100
        if request.validate_only:
            return self._pool_operation(name, pool, None)
        self.pools[name] = pool
        return self._reconcile_pool(name, new_revision=True)

    def update_worker_pool(self, request: Any) -> Any:
        name = request.worker_pool.name
        if not name:
            raise invalid("worker_pool.name must be set.", "worker_pool.name")
        if name not in self.pools:
            if not request.allow_missing:
                return self._existing_pool(name)
            # "If set to true, and if the WorkerPool does not exist, it will create a new one."
            parent, _, pool_id = name.rpartition("/workerPools/")
            from google.cloud import run_v2

            create = run_v2.CreateWorkerPoolRequest.pb()(
                parent=parent, worker_pool_id=pool_id, validate_only=request.validate_only)
            create.worker_pool.CopyFrom(request.worker_pool)
            create.worker_pool.ClearField("name")
            return self.create_worker_pool(create)
        current = self._existing_pool(name)
        if request.worker_pool.etag and request.worker_pool.etag != current.etag:
            raise ApiError(
                "ABORTED",
                f"The etag '{request.worker_pool.etag}' does not match the current etag of worker "
                f"pool '{name.split('/')[-1]}'.",
            )
        self._location(name.rsplit("/workerPools/", 1)[0])
        self._check_pool(request.worker_pool, name)
        if request.validate_only:
            return self._pool_operation(name, current, None)
        pool = _updated(request.worker_pool, current, _POOL_SERVER_SET)
        if not pool.launch_stage:
            pool.launch_stage = current.launch_stage
        if not pool.instance_splits:
            pool.instance_splits.extend(current.instance_splits)
        pool.generation = current.generation + 1
        pool.last_modifier = "user@example.com"
        self.pools[name] = pool
        changed = pool.template != current.template or request.force_new_revision
        return self._reconcile_pool(name, new_revision=changed)

    def get_worker_pool(self, request: Any) -> Any:
        return self._existing_pool(request.name)

    def list_worker_pools(self, request: Any) -> Any:
        from google.cloud import run_v2

        self._location(request.parent)
        names = sorted(n for n in self.pools if n.startswith(request.parent + "/workerPools/"))
        for name in names:
            if name in self.pending:
                self.pending[name].poll()
        shown, token = page(names, request.page_size, request.page_token)
        response = run_v2.ListWorkerPoolsResponse.pb()(next_page_token=token)
        response.worker_pools.extend(self.pools[n] for n in shown if n in self.pools)
        return response

    def delete_worker_pool(self, request: Any) -> Any:
        current = self._existing_pool(request.name)
        if request.etag and request.etag != current.etag:
            raise ApiError("ABORTED", f"The etag '{request.etag}' does not match the current etag.")
        if request.validate_only:
            return self._pool_operation(request.name, current, None)
        name = request.name

        def complete() -> Any:
            gone = self.pools.pop(name)
            self.pending.pop(name, None)
            for revision in [r for r in self.revisions if r.startswith(name + "/revisions/")]:
                del self.revisions[revision]
                self.digests.pop(revision, None)
            gone.delete_time.GetCurrentTime()
            return gone

        current.reconciling = True
        work = Work(self.ctx.progress(), complete)
        self.pending[name] = work
        return self._pool_operation(name, current, work)

    def _check_pool(self, pool: Any, name: str) -> None:
        """What the real API refuses of a worker pool synchronously: what it refuses of a
        service's containers, account and network, and a negative instance count."""
        check_labels(pool.labels, "worker_pool.labels")
        template = pool.template
        if not template.containers:
            raise invalid(
                "spec.template.spec.containers: Required value: at least one container must be specified.",
                "worker_pool.template.containers",
            )
        self._check_containers(template, "worker_pool")
        self._check_identity(template, name, "worker_pool")
        if pool.scaling.manual_instance_count < 0:
            raise invalid(
                f"worker_pool.scaling.manual_instance_count: Invalid value: "
                f"{pool.scaling.manual_instance_count}: must be 0 or more.",
                "worker_pool.scaling",
            )

    def _reconcile_pool(self, name: str, *, new_revision: bool) -> Any:
        pool = self.pools[name]
        pool.reconciling = True
        pool.update_time.GetCurrentTime()
        pool.etag = etag_of(name, pool.generation)
        _condition(pool.terminal_condition, "Ready", 1, "")  # CONDITION_PENDING
        revision_name = ""
        if new_revision:
            short = pool.template.revision or (
                f"{name.split('/')[-1]}-{pool.generation:05d}-"
                + "".join(random.choices(string.ascii_lowercase, k=3))
            )
            revision_name = f"{name}/revisions/{short}"
            pool.latest_created_revision = revision_name
        generation = pool.generation

        def complete() -> Any:
            current = self.pools.get(name)
            if current is None or current.generation != generation:
                return current  # superseded by a later update, whose operation reports instead
            failure = self._failure(current, revision_name)
            current.reconciling = False
            current.observed_generation = generation
            current.etag = etag_of(name, generation, "observed")
            if revision_name:
                self._record_revision(current, revision_name, failure)
            if failure is not None:
                reason, message = failure
                _condition(current.terminal_condition, "Ready", 3, message, reason=reason)
                raise failed_precondition(message)
            if revision_name:
                current.latest_ready_revision = revision_name
            _condition(current.terminal_condition, "Ready", 4, "")
            del current.instance_split_statuses[:]
            for split in current.instance_splits:
                status = current.instance_split_statuses.add()
                status.type_ = split.type_
                status.percent = split.percent
                status.revision = split.revision
            return current

        work = Work(self.ctx.progress(new_project.REVISION), complete)
        self.pending[name] = work
        return self._pool_operation(name, pool, work)

    def _pool_operation(self, name: str, pool: Any, work: Work | None) -> Any:
        from google.longrunning import operations_pb2

        parent = name.rsplit("/workerPools/", 1)[0]
        if work is None:  # validate_only: an operation that is already over
            op = operations_pb2.Operation(name=f"{parent}/operations/{_uid(name)}", done=True)
            op.metadata.Pack(pool)
            op.response.Pack(pool)
            return op
        op_name = f"{parent}/operations/{_uid(name + str(sequence()))}"
        return self.operations.start(op_name, work, lambda: self.pools.get(name) or work.result)

    def invokers(self, name: str) -> set[str]:
        """Who may call a service (for tests asking whether it is public)."""
        return self.policies.members_with(name, {"roles/run.invoker"})


def _public(image: str) -> str:
    """An image reference with its registry named: Docker Hub's when it names none (as a pull
    reads it)."""
    first = image.split("/", 1)[0]
    if "/" in image and ("." in first or ":" in first or first == "localhost"):
        return image
    return f"docker.io/{image}" if "/" in image else f"docker.io/library/{image}"


def _parts(image: str) -> tuple[str, str, str]:
    """(repository, tag, digest) of an image reference; the tag ``latest`` when it names none."""
    image, _, digest = image.partition("@")
    slash = image.rfind("/")
    if image.rfind(":") > slash:
        return image[:image.rfind(":")], image[image.rfind(":") + 1:], digest
    return image, "latest", digest


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _pullable(image: str) -> bool:
    """Cloud Run deploys from Artifact Registry, Container Registry and Docker Hub only
    (https://cloud.google.com/run/docs/deploying#images)."""
    first = image.split("/", 1)[0]
    host = first.split(":")[0] if "/" in image and ("." in first or ":" in first) else "docker.io"
    return host in ("docker.io", "index.docker.io") or host == "gcr.io" or host.endswith(
        (".gcr.io", "-docker.pkg.dev", ".docker.pkg.dev")) or host == "docker.pkg.dev"


_PROBE_BOUNDS = {
    "startup_probe": {"initial_delay_seconds": (0, 240), "period_seconds": (1, 240),
                      "timeout_seconds": (1, 240)},
    "liveness_probe": {"initial_delay_seconds": (0, 3600), "period_seconds": (1, 3600),
                       "timeout_seconds": (1, 3600)},
}
"""What Cloud Run takes of a probe (https://cloud.google.com/run/docs/configuring/healthchecks);
a timeout may not exceed its period."""


def _check_probes(container: Any, index: int, where: str) -> None:
    for kind, bounds in _PROBE_BOUNDS.items():
        if not container.HasField(kind):
            continue
        probe = getattr(container, kind)
        for field, (low, high) in bounds.items():
            value = getattr(probe, field)
            if field != "initial_delay_seconds" and value == 0:
                continue  # unset: the server's default
            if not low <= value <= high:
                raise invalid(
                    f"spec.template.spec.containers[{index}].{kind}.{field}: Invalid value: {value}: "
                    f"must be between {low} and {high}.",
                    f"{where}.{kind}",
                )
        if probe.timeout_seconds and probe.period_seconds and probe.timeout_seconds > probe.period_seconds:
            raise invalid(
                f"spec.template.spec.containers[{index}].{kind}.timeout_seconds: must be less than or equal "
                "to period_seconds.",
                f"{where}.{kind}",
            )


def _condition(condition: Any, kind: str, state: int, message: str, *, reason: int = 0) -> None:
    condition.type_ = kind
    condition.state = state
    condition.message = message
    condition.last_transition_time.GetCurrentTime()
    condition.severity = 1 if state == 3 else 0  # ERROR when failed
    if reason:
        condition.reason = reason


def _create_request(**fields: Any) -> Any:
    from google.cloud import run_v2

    return run_v2.CreateServiceRequest.pb()(**fields)


def _uid(name: str) -> str:
    digest = hashlib.sha256(f"{name}{sequence()}".encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def _made(asked: Any, name: str) -> Any:
    """A new service or worker pool as the server stores it: what was asked, with its name,
    uid, first generation, creation time and creator set."""
    made = type(asked)()
    made.CopyFrom(asked)
    made.name = name
    made.uid = _uid(name)
    made.generation = 1
    made.create_time.GetCurrentTime()
    made.creator = made.last_modifier = "user@example.com"
    return made


def _updated(asked: Any, current: Any, server_set: Any) -> Any:
    """What an update stores: what was asked, with the fields only the server sets kept as
    they were."""
    out = type(asked)()
    out.CopyFrom(asked)
    for kept in server_set:
        field = out.DESCRIPTOR.fields_by_name[kept]
        if field.is_repeated:
            del getattr(out, kept)[:]
            getattr(out, kept).extend(getattr(current, kept))
        elif field.message_type is not None:
            if current.HasField(kept):
                getattr(out, kept).CopyFrom(getattr(current, kept))
        else:
            setattr(out, kept, getattr(current, kept))
    return out
