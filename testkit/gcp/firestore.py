"""The Firestore Admin API v1 as the fake serves it: databases and their user credentials.

Only what a managed MongoDB-compatible database needs: ``projects.databases`` create, get,
list, delete and exportDocuments (long-running operations, polled through
``projects.databases.operations.get``), and ``projects.databases.userCreds`` create, get,
list, delete. The API has no protobuf types in an installed client library, so bodies are
checked against the firestore.v1 discovery document (unknown names refused, enums checked),
as the real front end refuses them.

Modelled rules, each from the API reference
(https://cloud.google.com/firestore/docs/reference/rest/v1/projects.databases):

- ``databaseId`` is "4-63 characters. Valid characters are /[a-z][0-9]-/ with first character
  a letter and the last a letter or a number. Must not be UUID-like"; ``(default)`` is valid
  for the Standard edition only (projects.databases/create, databaseId).
- ``locationId`` and ``type`` are "Required" (Database.locationId, Database.type); the location
  must be one Firestore offers (https://cloud.google.com/firestore/docs/locations).
- ``databaseEdition`` is immutable; the MongoDB-compatible API is for the Enterprise edition
  only ("Relevant to Cloud Firestore Enterprise edition only",
  https://firebase.google.com/docs/firestore/enterprise/connect), so user credentials are
  refused on a Standard database; ``mongodbCompatibleDataAccessMode`` defaults to ENABLED for
  Enterprise (Database.mongodbCompatibleDataAccessMode).
- "You cannot delete a database with deletion protection enabled until you disable this
  setting" (https://cloud.google.com/firestore/docs/manage-databases#delete_a_database).
- A deleted database gives up its id at once: the Database the delete answers carries
  ``previousId``, "The database resource's prior database ID. This field is only populated for
  deleted databases" (Database.previousId), and neither the API reference nor "Create and manage
  databases" (https://cloud.google.com/firestore/docs/manage-databases#delete_a_database)
  documents a time before the id can be used again (unlike Cloud SQL's instance names), so a
  create of the same id right after the delete succeeds.
- A database is made by a long-running operation and is not there to read until it is done;
  the creation takes time on the scaled clock as Cloud SQL's does (``project.FIRESTORE_CREATE``).
- ``userCredsId`` follows the same character rules as a database id
  (projects.databases.userCreds/create); ``securePassword`` is "Only populated in responses
  for CreateUserCreds and ResetUserPassword" (UserCreds.securePassword).
- Export writes to a Cloud Storage bucket that must exist ("Create a Cloud Storage bucket for
  your project", https://cloud.google.com/firestore/mongodb-compatibility/docs/export-import),
  and leaves an ``.overall_export_metadata`` object at its prefix, as exports do.
- firestore.googleapis.com answers SERVICE_DISABLED until it is enabled (the server's
  Service Usage check; it is not among a new project's default services).
"""

from __future__ import annotations

import re
import secrets
import uuid
from typing import Any

from testkit.gcp import discovery
from testkit.gcp import project as new_project
from testkit.gcp.core import ApiError, Request, Rule, failed_precondition, invalid, now_rfc3339
from testkit.gcp.run import REGIONS
from testkit.gcp.server import Api, Reply, Route
from testkit.gcp.shared import Work

ID = re.compile(r"^[a-z][a-z0-9-]{2,61}[a-z0-9]$")
UUID_LIKE = re.compile(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}")
MULTI_REGIONS = {"nam5", "eur3"}
"""Firestore's multi-region locations besides the regions (firestore/docs/locations)."""
_DOC = "firestore.v1"
_BASE = "/v1/projects/{project}/databases"
_TYPE = "type.googleapis.com/google.firestore.admin.v1."


def _not_found(what: str) -> ApiError:
    return ApiError("NOT_FOUND", what)


class FirestoreApi(Api):
    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.databases: dict[tuple[str, str], dict[str, Any]] = {}
        self.creating: dict[tuple[str, str], Work] = {}
        self.creds: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self.operations: dict[str, tuple[Work, dict[str, Any]]] = {}
        self.exports: list[str] = []
        """The output prefixes of the exports made (for tests)."""

    def routes(self) -> list[Route]:
        one = _BASE + "/{database}"
        creds = one + "/userCreds"
        return [
            Route(Rule(verb, template), handler, None, permission)
            for verb, template, handler, permission in (
                ("POST", _BASE, self.create, "datastore.databases.create"),
                ("GET", _BASE, self.list, "datastore.databases.list"),
                ("POST", one + ":exportDocuments", self.export, "datastore.databases.export"),
                ("GET", one, self.get, "datastore.databases.getMetadata"),
                ("DELETE", one, self.delete, "datastore.databases.delete"),
                ("GET", one + "/operations/{operation}", self.get_operation, "datastore.operations.get"),
                ("POST", creds, self.create_creds, "datastore.userCreds.create"),
                ("GET", creds, self.list_creds, "datastore.userCreds.list"),
                ("GET", creds + "/{creds}", self.get_creds, "datastore.userCreds.get"),
                ("DELETE", creds + "/{creds}", self.delete_creds, "datastore.userCreds.delete"),
            )
        ]

    # --- operations ------------------------------------------------------------------------

    def _start(self, project: str, database: str, metadata: str, work: Work) -> Reply:
        name = f"projects/{project}/databases/{database}/operations/{uuid.uuid4().hex}"
        self.operations[name] = (work, {"@type": _TYPE + metadata, "startTime": now_rfc3339()})
        return Reply(200, self._view(name))

    def _view(self, name: str) -> dict[str, Any]:
        work, metadata = self.operations[name]
        out: dict[str, Any] = {"name": name, "metadata": metadata}
        if work.finished:
            out["done"] = True
            if work.error is not None:
                out["error"] = {"code": _RPC.get(work.error.status, 2), "message": work.error.message}
            else:
                out["response"] = work.result
        return out

    def get_operation(self, request: Request, v: dict[str, str]) -> Reply:
        name = f"projects/{v['project']}/databases/{v['database']}/operations/{v['operation']}"
        if name not in self.operations:
            raise _not_found(f"Operation {name} not found.")
        self.operations[name][0].poll()
        return Reply(200, self._view(name))

    # --- databases -------------------------------------------------------------------------

    def _database(self, project: str, database: str) -> dict[str, Any]:
        key = (project, database)
        work = self.creating.get(key)
        if work is not None:
            work.poll()  # a database is made whether or not anyone polls its operation
        if key not in self.databases:
            raise _not_found(f"Project '{project}' or database '{database}' does not exist.")
        return self.databases[key]

    def create(self, request: Request, v: dict[str, str]) -> Reply:
        project = v["project"]
        database_id = request.param("databaseId") or ""
        body = request.json()
        discovery.check(_DOC, "GoogleFirestoreAdminV1Database", body)
        edition = body.get("databaseEdition", "STANDARD")
        if database_id == "(default)":
            if edition == "ENTERPRISE":
                raise invalid("The (default) database ID is only valid for a Standard edition "
                              "database.", "database_id")
        elif not ID.match(database_id) or UUID_LIKE.fullmatch(database_id):
            raise invalid(
                f"Invalid database ID '{database_id}': it must be 4-63 characters of lowercase "
                "letters, digits and hyphens, begin with a letter, end with a letter or a digit, "
                "and not look like a UUID.",
                "database_id",
            )
        location = body.get("locationId", "")
        if not location:
            raise invalid("Database.location_id is required.", "database.location_id")
        if location not in REGIONS and location not in MULTI_REGIONS:
            raise invalid(f"Location '{location}' is not a valid Firestore location.",
                          "database.location_id")
        if body.get("type", "DATABASE_TYPE_UNSPECIFIED") == "DATABASE_TYPE_UNSPECIFIED":
            raise invalid("Database.type is required.", "database.type")
        key = (project, database_id)
        if key in self.databases or key in self.creating:
            raise ApiError("ALREADY_EXISTS", f"Database '{database_id}' already exists for project "
                           f"{project}. Please use another database_id.")
        enterprise = edition == "ENTERPRISE"
        database = {
            "name": f"projects/{project}/databases/{database_id}",
            "uid": str(uuid.uuid4()),
            "locationId": location,
            "type": body["type"],
            "concurrencyMode": "PESSIMISTIC" if enterprise else "OPTIMISTIC",
            "versionRetentionPeriod": "3600s",
            "appEngineIntegrationMode": "DISABLED",
            "keyPrefix": "",
            "pointInTimeRecoveryEnablement": body.get("pointInTimeRecoveryEnablement",
                                                      "POINT_IN_TIME_RECOVERY_DISABLED"),
            "deleteProtectionState": body.get("deleteProtectionState", "DELETE_PROTECTION_DISABLED"),
            "databaseEdition": edition,
            "mongodbCompatibleDataAccessMode": body.get(
                "mongodbCompatibleDataAccessMode",
                "DATA_ACCESS_MODE_ENABLED" if enterprise else "DATA_ACCESS_MODE_DISABLED"),
            "freeTier": False,
        }

        def complete() -> dict[str, Any]:
            self.creating.pop(key, None)
            now = now_rfc3339()
            database.update(createTime=now, updateTime=now, etag=uuid.uuid4().hex)
            self.databases[key] = database
            self.creds[key] = {}
            return {"@type": _TYPE + "Database", **database}

        work = Work(self.ctx.progress(new_project.FIRESTORE_CREATE), complete)
        self.creating[key] = work
        return self._start(project, database_id, "CreateDatabaseMetadata", work)

    def get(self, request: Request, v: dict[str, str]) -> Reply:
        return Reply(200, self._database(v["project"], v["database"]))

    def list(self, request: Request, v: dict[str, str]) -> Reply:
        for key, work in list(self.creating.items()):
            if key[0] == v["project"]:
                work.poll()
        found = [d for (p, _), d in sorted(self.databases.items()) if p == v["project"]]
        return Reply(200, {"databases": found} if found else {})

    def delete(self, request: Request, v: dict[str, str]) -> Reply:
        key = (v["project"], v["database"])
        database = self._database(*key)
        etag = request.param("etag")
        if etag and etag != database["etag"]:  # "deletion will be blocked and a FAILED_PRECONDITION
            # error will be returned" (projects.databases/delete, etag)
            raise failed_precondition("The provided etag does not match the database's current etag.")
        if database["deleteProtectionState"] == "DELETE_PROTECTION_ENABLED":
            raise failed_precondition(
                f"Database '{v['database']}' has delete protection enabled. Disable delete "
                "protection before deleting the database.")
        self.databases.pop(key)
        self.creds.pop(key, None)
        gone = {**database, "deleteTime": now_rfc3339(), "previousId": v["database"]}
        work = Work(self.ctx.progress(), lambda: {"@type": _TYPE + "Database", **gone})
        return self._start(*key, "DeleteDatabaseMetadata", work)

    def export(self, request: Request, v: dict[str, str]) -> Reply:
        key = (v["project"], v["database"])
        self._database(*key)
        body = request.json()
        discovery.check(_DOC, "GoogleFirestoreAdminV1ExportDocumentsRequest", body)
        prefix = body.get("outputUriPrefix", "")
        found = re.match(r"^gs://([a-z0-9][a-z0-9._-]{1,220}[a-z0-9])(?:/(.*))?$", prefix)
        if not found:
            raise invalid(f"Invalid output_uri_prefix '{prefix}': a gs://BUCKET/PATH URI is "
                          "required.", "output_uri_prefix")
        bucket, path = found.group(1), (found.group(2) or "").rstrip("/")
        storage = self.ctx.api("storage")
        if bucket not in storage.buckets:
            raise failed_precondition(f"Bucket {bucket} does not exist.")

        def complete() -> dict[str, Any]:
            name = f"{path}/{path.rsplit('/', 1)[-1]}.overall_export_metadata" if path \
                else ".overall_export_metadata"
            storage.write(bucket, name, secrets.token_bytes(16), "application/octet-stream")
            self.exports.append(prefix)
            return {"@type": _TYPE + "ExportDocumentsResponse", "outputUriPrefix": prefix}

        return self._start(*key, "ExportDocumentsMetadata", Work(self.ctx.progress(), complete))

    # --- user credentials --------------------------------------------------------------------

    def _mongo(self, project: str, database: str) -> dict[str, dict[str, Any]]:
        found = self._database(project, database)
        if found["databaseEdition"] != "ENTERPRISE":
            raise failed_precondition("User credentials are only supported for Enterprise edition "
                                      "databases with MongoDB compatibility.")
        return self.creds[(project, database)]

    def create_creds(self, request: Request, v: dict[str, str]) -> Reply:
        held = self._mongo(v["project"], v["database"])
        creds_id = request.param("userCredsId") or ""
        body = request.json()
        discovery.check(_DOC, "GoogleFirestoreAdminV1UserCreds", body)
        if not ID.match(creds_id) or UUID_LIKE.fullmatch(creds_id):
            raise invalid(
                f"Invalid user creds ID '{creds_id}': it must be 4-63 characters of lowercase letters, "
                "digits and hyphens, begin with a letter and end with a letter or a digit.",
                "user_creds_id")
        if creds_id in held:
            raise ApiError("ALREADY_EXISTS", f"User creds '{creds_id}' already exist.")
        now = now_rfc3339()
        creds = {
            "name": f"projects/{v['project']}/databases/{v['database']}/userCreds/{creds_id}",
            "createTime": now,
            "updateTime": now,
            "state": "ENABLED",
            "resourceIdentity": {"principal": f"principal://firestore.googleapis.com/projects/"
                                              f"{v['project']}/databases/{v['database']}/"
                                              f"userCreds/{creds_id}"},
        }
        held[creds_id] = creds
        return Reply(200, {**creds, "securePassword": secrets.token_urlsafe(24)})

    def get_creds(self, request: Request, v: dict[str, str]) -> Reply:
        held = self._mongo(v["project"], v["database"])
        if v["creds"] not in held:
            raise _not_found(f"User creds '{v['creds']}' not found.")
        return Reply(200, held[v["creds"]])

    def list_creds(self, request: Request, v: dict[str, str]) -> Reply:
        held = self._mongo(v["project"], v["database"])
        return Reply(200, {"userCreds": [held[k] for k in sorted(held)]} if held else {})

    def delete_creds(self, request: Request, v: dict[str, str]) -> Reply:
        held = self._mongo(v["project"], v["database"])
        if held.pop(v["creds"], None) is None:
            raise _not_found(f"User creds '{v['creds']}' not found.")
        return Reply(200, {})


_RPC = {"INVALID_ARGUMENT": 3, "NOT_FOUND": 5, "ALREADY_EXISTS": 6, "PERMISSION_DENIED": 7,
        "FAILED_PRECONDITION": 9, "ABORTED": 10, "INTERNAL": 13}
"""google.rpc.Code numbers, as an operation's ``error.code`` carries them."""
