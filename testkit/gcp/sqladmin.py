"""Cloud SQL Admin v1 as the fake serves it (the client library is gRPC-only, so these are the
HTTP rules of google/cloud/sql/v1/*.proto, bound to its message types).

Every change answers with a ``sql#operation`` that goes PENDING -> RUNNING -> DONE over
polls of ``operations.get`` (or reads of the instance it changes); an instance is
PENDING_CREATE until its create is done, then RUNNABLE with the IP addresses its settings
ask for. A private IP needs private services
access on its network (a Service Networking connection). A deleted instance's name cannot be
used again (for a week, on the real service).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

from google.cloud import sqladmin_v1 as s

from testkit.gcp import project as new_project
from testkit.gcp.core import ApiError, Progress, check_labels, project_number
from testkit.gcp.core import Rule as R
from testkit.gcp.run import REGIONS
from testkit.gcp.server import Api, Route

INSTANCE_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,96}[a-z0-9])?$")
TIER = re.compile(
    r"^(db-f1-micro|db-g1-small|db-custom-\d+-\d+|db-perf-optimized-N-\d+|db-n1-(standard|highmem)-\d+)$"
)
_NOT_READY = "The instance or operation is not in an appropriate state to handle the request."
_STATE = s.DatabaseInstance.SqlInstanceState
_OP = s.Operation.SqlOperationStatus
_TYPE = s.Operation.SqlOperationType


def _error(code: int, message: str, reason: str) -> ApiError:
    status = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 409: "ALREADY_EXISTS", 412: "FAILED_PRECONDITION"}
    return ApiError(status.get(code, "FAILED_PRECONDITION"), message, code=code, reason=reason)


class SqlAdminApi(Api):
    legacy_errors = True

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.instances: dict[tuple[str, str], Any] = {}
        self.deleted: set[tuple[str, str]] = set()
        self.users: dict[tuple[str, str], dict[str, Any]] = {}
        self.databases: dict[tuple[str, str], dict[str, Any]] = {}
        self.backups: dict[tuple[str, str], list[Any]] = {}
        self.operations: dict[tuple[str, str], tuple[Any, Progress, Any]] = {}

    def routes(self) -> list[Route]:
        base = "/v1/projects/{project}/instances"
        one = base + "/{instance}"
        return [
            Route(
                R("POST", base, "body"), self.insert, s.SqlInstancesInsertRequest, "cloudsql.instances.create"
            ),
            Route(R("GET", base), self.list, s.SqlInstancesListRequest, "cloudsql.instances.list"),
            Route(R("GET", one), self.get, s.SqlInstancesGetRequest, "cloudsql.instances.get"),
            Route(
                R("PATCH", one, "body"), self.patch, s.SqlInstancesPatchRequest, "cloudsql.instances.update"
            ),
            Route(R("DELETE", one), self.delete, s.SqlInstancesDeleteRequest, "cloudsql.instances.delete"),
            Route(
                R("POST", one + "/users", "body"),
                self.insert_user,
                s.SqlUsersInsertRequest,
                "cloudsql.users.create",
            ),
            Route(
                R("PUT", one + "/users", "body"),
                self.update_user,
                s.SqlUsersUpdateRequest,
                "cloudsql.users.update",
            ),
            Route(
                R("POST", one + "/databases", "body"),
                self.insert_database,
                s.SqlDatabasesInsertRequest,
                "cloudsql.databases.create",
            ),
            Route(
                R("POST", one + "/backupRuns", "body"),
                self.insert_backup,
                s.SqlBackupRunsInsertRequest,
                "cloudsql.backupRuns.create",
            ),
            Route(
                R("GET", "/v1/projects/{project}/operations/{operation}"),
                self.get_operation,
                s.SqlOperationsGetRequest,
                "cloudsql.instances.get",
            ),
        ]

    def _instance(self, project: str, name: str) -> Any:
        self._advance(project, name)
        instance = self.instances.get((project, name))
        if instance is None:
            raise _error(404, "The Cloud SQL instance does not exist.", "instanceDoesNotExist")
        return instance

    def _runnable(self, project: str, name: str) -> Any:
        instance = self._instance(project, name)
        if instance.state != _STATE.RUNNABLE:
            raise _error(400, _NOT_READY, "invalidState")
        self._serial(project, name)
        return instance

    def _serial(self, project: str, name: str) -> None:
        """One operation at a time per instance: another change while one runs is refused
        (https://cloud.google.com/sql/docs/troubleshooting#operationInProgress)."""
        if not self.ctx.knobs.new_project:
            return
        for (op_project, _), (op, _, _) in self.operations.items():
            if op_project == project and op.target_id == name and op.status != _OP.DONE:
                raise _error(409, "Operation failed because another operation was already in "
                             "progress. Try your request after the current operation is complete.",
                             "operationInProgress")

    def _operation(self, project: str, target: str, kind: int, complete: Any) -> Any:
        """An operation on an instance; a create takes its real duration when the fake is realistic."""
        name = str(uuid.uuid4())
        op = s.Operation.pb()(
            kind="sql#operation",
            name=name,
            status=_OP.PENDING,
            user="user@example.com",
            operation_type=kind,
            target_id=target,
            target_project=project,
            target_link=f"https://sqladmin.googleapis.com/v1/projects/{project}/instances/{target}",
            self_link=f"https://sqladmin.googleapis.com/v1/projects/{project}/operations/{name}",
        )
        op.insert_time.GetCurrentTime()
        seconds = new_project.SQL_CREATE if kind == _TYPE.CREATE else None
        self.operations[(project, name)] = (op, self.ctx.progress(seconds), complete)
        return op

    def get_operation(self, request: Any) -> Any:
        found = self.operations.get((request.project, request.operation))
        if found is None:
            raise _error(
                404, f"The Cloud SQL operation {request.operation} does not exist.", "operationDoesNotExist"
            )
        return self._observe(found)

    def _observe(self, found: tuple[Any, Progress, Any]) -> Any:
        """Count one look at an operation (its own poll, or a read of the instance it changes)."""
        op, progress, complete = found
        if op.status == _OP.DONE:
            return op
        if progress.observe():
            try:
                complete()
            except ApiError as error:
                entry = op.error.errors.add()
                entry.kind = "sql#operationError"
                entry.code = error.reason or "internalError"
                entry.message = error.message
            op.status = _OP.DONE
            op.end_time.GetCurrentTime()
        elif op.status == _OP.PENDING:
            op.status = _OP.RUNNING
            op.start_time.GetCurrentTime()
        return op

    def _advance(self, project: str, name: str) -> None:
        """An instance changes whether or not anyone polls its operations, as a real one does."""
        for (op_project, _), found in list(self.operations.items()):
            if op_project == project and found[0].target_id == name:
                self._observe(found)

    def insert(self, request: Any) -> Any:
        body = request.body
        project = request.project
        if not body.name:
            raise _error(400, "Missing parameter: name.", "required")
        if not INSTANCE_NAME.match(body.name):
            raise _error(400, f"Invalid request: instance name ({body.name}).", "invalid")
        key = (project, body.name)
        if key in self.instances:
            raise _error(409, "The Cloud SQL instance already exists.", "instanceAlreadyExists")
        if key in self.deleted:
            raise _error(
                409,
                "The Cloud SQL instance already exists. When you delete an instance, you can't "
                "reuse the name of the deleted instance until one week from the deletion date.",
                "instanceAlreadyExists",
            )
        if not body.database_version:
            raise _error(400, "Invalid request: Database version is required.", "invalid")
        if not TIER.match(body.settings.tier):
            raise _error(
                400,
                f"Invalid request: Invalid Tier ({body.settings.tier}) for (SECOND_GEN) Edition "
                "(ENTERPRISE).",
                "invalid",
            )
        region = body.region or "us-central1"
        if region not in REGIONS:
            raise _error(400, f"Invalid request: region ({region}) is not valid.", "invalid")
        check_labels(body.settings.user_labels, "settings.userLabels")
        ip = body.settings.ip_configuration
        public = ip.ipv4_enabled.value if ip.HasField("ipv4_enabled") else True
        if not public and not ip.private_network:
            raise _error(
                400,
                "Invalid request: At least one of Public IP or Private IP or PSC connectivity must "
                "be enabled.",
                "invalid",
            )
        if ip.private_network:
            self._check_network(ip.private_network)
        instance = s.DatabaseInstance.pb()()
        instance.CopyFrom(body)
        instance.kind = "sql#instance"
        instance.project = project
        instance.region = region
        instance.state = _STATE.PENDING_CREATE
        instance.backend_type = 2  # SECOND_GEN
        instance.instance_type = 1  # CLOUD_SQL_INSTANCE
        instance.connection_name = f"{project}:{region}:{body.name}"
        instance.settings.settings_version.value = 1
        instance.settings.kind = "sql#settings"
        instance.service_account_email_address = (
            f"p{project_number(project)}-abcdef@gcp-sa-cloud-sql.iam.gserviceaccount.com"
        )
        instance.create_time.GetCurrentTime()
        instance.etag = hashlib.sha256(f"{key}1".encode()).hexdigest()
        instance.self_link = f"https://sqladmin.googleapis.com/v1/projects/{project}/instances/{body.name}"
        self.instances[key] = instance
        self.users[key] = {"postgres": None}
        self.databases[key] = {"postgres": None}
        self.backups[key] = []

        failure = new_project.store_failure(self.ctx.knobs, body.name)

        def complete() -> None:
            if failure is not None:  # the create fails in its operation; the instance goes away
                self.instances.pop(key, None)
                code, _, text = failure.partition(": ")
                raise _error(409, text or failure, code if text else "internalError")
            instance.state = _STATE.RUNNABLE
            version = s.SqlDatabaseVersion(instance.database_version).name
            instance.database_installed_version = f"{version}_4"
            digest = int(hashlib.sha256(body.name.encode()).hexdigest(), 16)
            if public:
                instance.ip_addresses.add(
                    type_=1, ip_address=f"34.{digest % 250}.{digest // 250 % 250}.{digest % 97}"
                )
            if ip.private_network:
                instance.ip_addresses.add(type_=3, ip_address=f"10.{digest % 250}.0.{digest % 200 + 3}")

        return self._operation(project, body.name, _TYPE.CREATE, complete)

    def _check_network(self, network: str) -> None:
        found = re.match(r"^projects/([^/]+)/global/networks/([^/]+)$", network)
        if not found:
            raise _error(
                400,
                f"Invalid request: Incorrect Service Networking config for instance: {network}.",
                "invalid",
            )
        if not self.ctx.api("compute").has_network(found.group(1), found.group(2)):
            raise _error(400, f"Invalid request: network {network} not found.", "invalid")
        if not self.ctx.api("servicenetworking").connected(network):
            raise _error(
                400,
                "Invalid request: Incorrect Service Networking config for instance: "
                f"{found.group(1)}:{found.group(2)}:SERVICE_NETWORKING_NOT_ENABLED. Private services "
                f"access is not set up on network {network}: create a Service Networking connection "
                "with servicenetworking.googleapis.com for it first.",
                "invalid",
            )

    def get(self, request: Any) -> Any:
        return self._instance(request.project, request.instance)

    def list(self, request: Any) -> Any:
        for project, name in list(self.instances):
            if project == request.project:
                self._advance(project, name)
        response = s.InstancesListResponse.pb()(kind="sql#instancesList")
        response.items.extend(i for (p, _), i in sorted(self.instances.items()) if p == request.project)
        return response

    def patch(self, request: Any) -> Any:
        instance = self._runnable(request.project, request.instance)
        body = request.body
        wanted = body.settings.settings_version.value if body.settings.HasField("settings_version") else None
        if wanted is not None and wanted != instance.settings.settings_version.value:
            raise _error(412, "Precondition check failed.", "conditionNotMet")
        if body.settings.ip_configuration.private_network:
            self._check_network(body.settings.ip_configuration.private_network)
        if body.settings.user_labels:
            check_labels(body.settings.user_labels, "settings.userLabels")
        body.settings.ClearField("settings_version")
        if body.settings.user_labels:
            instance.settings.ClearField("user_labels")
        instance.MergeFrom(body)
        # "merging the request with the current configuration" (instances.patch): a wrapped
        # value the request sets is the new value, false and 0 too, which MergeFrom skips
        for field, value in body.settings.ListFields():
            if field.message_type is not None and field.message_type.full_name.startswith(
                    "google.protobuf.") and field.message_type.full_name.endswith("Value"):
                getattr(instance.settings, field.name).CopyFrom(value)
        instance.settings.settings_version.value += 1
        instance.etag = hashlib.sha256(
            f"{instance.name}{instance.settings.settings_version.value}".encode()
        ).hexdigest()
        return self._operation(request.project, request.instance, _TYPE.UPDATE, lambda: None)

    def delete(self, request: Any) -> Any:
        key = (request.project, request.instance)
        instance = self._instance(*key)
        self._serial(*key)
        if instance.settings.deletion_protection_enabled.value:
            raise _error(
                400,
                "The instance is protected. Please disable the deletion protection and try again. "
                "To disable deletion protection, update the instance settings with "
                "deletionProtectionEnabled set to false.",
                "invalid",
            )
        if request.enable_final_backup:
            run = s.BackupRun.pb()(
                kind="sql#backupRun",
                status=2,
                type_=2,  # SUCCESSFUL, ON_DEMAND
                description=request.final_backup_description or "final backup",
                instance=request.instance,
                id=len(self.backups[key]) + 1,
            )
            self.backups[key].append(run)
        instance.state = _STATE.PENDING_DELETE

        def complete() -> None:
            self.instances.pop(key, None)
            self.deleted.add(key)

        return self._operation(request.project, request.instance, _TYPE.DELETE, complete)

    def insert_user(self, request: Any) -> Any:
        key = (request.project, request.instance)
        self._runnable(*key)
        if not request.body.name:
            raise _error(400, "Missing parameter: name.", "required")
        if request.body.name in self.users[key]:
            raise _error(409, f"User {request.body.name} already exists.", "userAlreadyExists")
        self.users[key][request.body.name] = request.body.password
        return self._operation(request.project, request.instance, _TYPE.CREATE_USER, lambda: None)

    def update_user(self, request: Any) -> Any:
        key = (request.project, request.instance)
        self._runnable(*key)
        if request.name not in self.users[key]:
            raise _error(404, f"User {request.name} does not exist.", "userDoesNotExist")
        self.users[key][request.name] = request.body.password
        return self._operation(request.project, request.instance, _TYPE.UPDATE_USER, lambda: None)

    def insert_database(self, request: Any) -> Any:
        key = (request.project, request.instance)
        self._runnable(*key)
        if not request.body.name:
            raise _error(400, "Missing parameter: name.", "required")
        if request.body.name in self.databases[key]:
            raise _error(409, f"Database {request.body.name} already exists.", "databaseAlreadyExists")
        self.databases[key][request.body.name] = None
        return self._operation(request.project, request.instance, _TYPE.CREATE_DATABASE, lambda: None)

    def insert_backup(self, request: Any) -> Any:
        key = (request.project, request.instance)
        self._runnable(*key)
        run = s.BackupRun.pb()()
        run.CopyFrom(request.body)
        run.kind = "sql#backupRun"
        run.instance = request.instance
        run.id = len(self.backups[key]) + 1
        run.status = 2  # SUCCESSFUL
        self.backups[key].append(run)
        return self._operation(request.project, request.instance, _TYPE.BACKUP_VOLUME, lambda: None)
