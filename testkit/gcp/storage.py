"""The Cloud Storage JSON API as the fake serves it: buckets and objects, with preconditions.

Uploads take the three forms the client library uses (``uploadType=media``, ``multipart``
and ``resumable`` sessions); ``ifGenerationMatch=0`` creates an object only if it is absent
and answers 412 otherwise, which is what makes an object usable as a lock. Bodies are checked
against the storage.v1 discovery document.

Why not an existing emulator (gcp-storage-emulator on PyPI): Cloud Build here reads its
source from, and writes its log to, the same buckets, so Storage must share the fake's state,
knobs and request log; and that emulator accepts unknown fields and does not model uniform
bucket-level access or public access prevention.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import google_crc32c

from testkit.gcp import discovery
from testkit.gcp.core import (
    ApiError,
    Request,
    Rule,
    check_labels,
    invalid,
    now_rfc3339,
    page,
    project_number,
)
from testkit.gcp.server import Api, Reply, Route

BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$")
_UBLA_ACL = (
    "Cannot insert legacy ACL for an object when uniform bucket-level access is enabled. Read more "
    "at https://cloud.google.com/storage/docs/uniform-bucket-level-access"
)


def _error(code: int, message: str, reason: str) -> ApiError:
    status = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 409: "ALREADY_EXISTS", 412: "FAILED_PRECONDITION"}
    return ApiError(status.get(code, "UNKNOWN"), message, code=code, reason=reason)


class StorageApi(Api):
    legacy_errors = True

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.buckets: dict[str, dict[str, Any]] = {}
        self.objects: dict[str, dict[str, tuple[dict[str, Any], bytes]]] = {}
        self.uploads: dict[str, dict[str, Any]] = {}
        self._generation = 0

    def routes(self) -> list[Route]:
        table = [
            ("POST", "/storage/v1/b", self.insert_bucket, "storage.buckets.create"),
            ("GET", "/storage/v1/b", self.list_buckets, "storage.buckets.list"),
            ("GET", "/storage/v1/b/{bucket}", self.get_bucket, "storage.buckets.get"),
            ("PATCH", "/storage/v1/b/{bucket}", self.patch_bucket, "storage.buckets.update"),
            ("DELETE", "/storage/v1/b/{bucket}", self.delete_bucket, "storage.buckets.delete"),
            ("POST", "/upload/storage/v1/b/{bucket}/o", self.insert_object, "storage.objects.create"),
            ("PUT", "/upload/storage/v1/b/{bucket}/o", self.upload_chunk, "storage.objects.create"),
            ("GET", "/storage/v1/b/{bucket}/o", self.list_objects, "storage.objects.list"),
            ("GET", "/storage/v1/b/{bucket}/o/{object}", self.get_object, "storage.objects.get"),
            ("GET", "/download/storage/v1/b/{bucket}/o/{object}", self.get_object, "storage.objects.get"),
            ("DELETE", "/storage/v1/b/{bucket}/o/{object}", self.delete_object, "storage.objects.delete"),
        ]
        return [
            Route(Rule(verb, template), handler, None, permission)
            for verb, template, handler, permission in table
        ]

    # --- buckets ----------------------------------------------------------------------------

    def _bucket(self, name: str) -> dict[str, Any]:
        if name not in self.buckets:
            raise _error(404, "The specified bucket does not exist.", "notFound")
        return self.buckets[name]

    def insert_bucket(self, request: Request, _: dict[str, str]) -> Reply:
        project = request.param("project")
        if not project:
            raise _error(400, "Required parameter: project", "required")
        body = request.json()
        discovery.check("storage.v1", "Bucket", body)
        name = body.get("name", "")
        if not name:
            raise _error(400, "Required", "required")
        if not BUCKET_NAME.match(name) or name.startswith("goog") or "google" in name or ".." in name:
            raise _error(400, f"Invalid bucket name: '{name}'", "invalid")
        check_labels(body.get("labels", {}))
        if name in self.buckets:
            if self.buckets[name]["projectNumber"] == project_number(project):
                raise _error(
                    409,
                    "Your previous request to create the named bucket succeeded and you already own it.",
                    "conflict",
                )
            raise _error(
                409,
                "The requested bucket name is not available. The bucket namespace is shared by "
                "all users of the system. Please select a different name and try again.",
                "conflict",
            )
        iam = body.get("iamConfiguration", {})
        prevention = iam.get("publicAccessPrevention", "inherited")
        if prevention not in ("inherited", "enforced", "unspecified"):
            raise _error(400, "Invalid argument.", "invalid")
        uniform = iam.get("uniformBucketLevelAccess", iam.get("bucketPolicyOnly", {})).get("enabled", False)
        created = now_rfc3339()
        locked = (datetime.now(UTC) + timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        access = {"enabled": uniform, **({"lockedTime": locked} if uniform else {})}
        bucket = {
            "kind": "storage#bucket",
            "selfLink": f"{request.base}/storage/v1/b/{name}",
            "id": name,
            "name": name,
            "projectNumber": project_number(project),
            "generation": str(self._next()),
            "metageneration": "1",
            "location": body.get("location", "US").upper(),
            "storageClass": body.get("storageClass", "STANDARD"),
            "locationType": "multi-region"
            if body.get("location", "US").upper() in ("US", "EU", "ASIA")
            else "region",
            "timeCreated": created,
            "updated": created,
            "rpo": "DEFAULT",
            "iamConfiguration": {
                "bucketPolicyOnly": access,
                "uniformBucketLevelAccess": access,
                "publicAccessPrevention": "inherited" if prevention == "unspecified" else prevention,
            },
            "softDeletePolicy": {"retentionDurationSeconds": "604800", "effectiveTime": created},
        }
        for key in (
            "labels",
            "versioning",
            "lifecycle",
            "retentionPolicy",
            "encryption",
            "website",
            "cors",
            "logging",
            "autoclass",
            "hierarchicalNamespace",
        ):
            if key in body:
                bucket[key] = body[key]
        bucket["etag"] = self._etag(bucket)
        self.buckets[name] = bucket
        self.objects[name] = {}
        return Reply(200, bucket)

    def list_buckets(self, request: Request, _: dict[str, str]) -> Reply:
        project = request.param("project")
        if not project:
            raise _error(400, "Required parameter: project", "required")
        names = sorted(
            n
            for n, b in self.buckets.items()
            if b["projectNumber"] == project_number(project)
            and n.startswith(request.param("prefix", "") or "")
        )
        shown, token = page(
            names, int(request.param("maxResults", "1000") or 1000), request.param("pageToken", "")
        )
        body: dict[str, Any] = {"kind": "storage#buckets", "items": [self.buckets[n] for n in shown]}
        if token:
            body["nextPageToken"] = token
        return Reply(200, body)

    def get_bucket(self, request: Request, variables: dict[str, str]) -> Reply:
        bucket = self._bucket(variables["bucket"])
        self._meta_preconditions(request, bucket)
        return Reply(200, bucket)

    def patch_bucket(self, request: Request, variables: dict[str, str]) -> Reply:
        bucket = self._bucket(variables["bucket"])
        self._meta_preconditions(request, bucket)
        body = request.json()
        discovery.check("storage.v1", "Bucket", body)
        if "labels" in body:
            labels = {**bucket.get("labels", {}), **body["labels"]}
            bucket["labels"] = {k: v for k, v in labels.items() if v is not None}
            check_labels(bucket["labels"])
        for key in ("versioning", "lifecycle", "iamConfiguration", "retentionPolicy", "cors", "website"):
            if key in body:
                bucket[key] = body[key]
        bucket["metageneration"] = str(int(bucket["metageneration"]) + 1)
        bucket["updated"] = now_rfc3339()
        bucket["etag"] = self._etag(bucket)
        return Reply(200, bucket)

    def delete_bucket(self, request: Request, variables: dict[str, str]) -> Reply:
        bucket = self._bucket(variables["bucket"])
        self._meta_preconditions(request, bucket)
        if self.objects[bucket["name"]]:
            raise _error(409, "The bucket you tried to delete is not empty.", "conflict")
        del self.buckets[bucket["name"]]
        del self.objects[bucket["name"]]
        return Reply(204, None)

    # --- objects ----------------------------------------------------------------------------

    def insert_object(self, request: Request, variables: dict[str, str]) -> Reply:
        bucket = self._bucket(variables["bucket"])
        kind = request.param("uploadType")
        if kind == "media":
            metadata = {"name": request.param("name") or ""}
            data = request.body
            content_type = request.headers.get("content-type", "application/octet-stream")
        elif kind == "multipart":
            metadata, data, content_type = _multipart(request)
        elif kind == "resumable":
            metadata = request.json()
            discovery.check("storage.v1", "Object", metadata)
            metadata.setdefault("name", request.param("name") or "")
            self._check_new(request, bucket, metadata)
            upload_id = hashlib.sha256(f"{bucket['name']}{self._next()}".encode()).hexdigest()[:32]
            self.uploads[upload_id] = {
                "bucket": bucket["name"],
                "metadata": metadata,
                "data": b"",
                "query": list(request.query),
                "content_type": request.headers.get("x-upload-content-type"),
            }
            location = (
                f"{request.base}/upload/storage/v1/b/{quote(bucket['name'])}/o?uploadType=resumable"
                f"&upload_id={upload_id}"
            )
            return Reply(200, b"", headers={"Location": location})
        else:
            raise _error(400, f"Invalid upload type: {kind}", "invalid")
        discovery.check("storage.v1", "Object", metadata)
        metadata.setdefault("contentType", content_type)
        self._check_new(request, bucket, metadata)
        return Reply(200, self._store(request, bucket, metadata, data))

    def upload_chunk(self, request: Request, _: dict[str, str]) -> Reply:
        upload = self.uploads.get(request.param("upload_id") or "")
        if upload is None:
            raise _error(404, "No such upload session.", "notFound")
        found = re.match(r"bytes (?:(\d+)-(\d+)|\*)/(\d+|\*)", request.headers.get("content-range", ""))
        if not found:
            raise _error(400, "Invalid Content-Range.", "invalid")
        start, _, total = found.groups()
        if start is not None and int(start) != len(upload["data"]):
            raise _error(400, "Invalid request. The content range does not continue the upload.", "invalid")
        upload["data"] += request.body
        if total == "*" or len(upload["data"]) < int(total):
            headers = {"Range": f"bytes=0-{len(upload['data']) - 1}"} if upload["data"] else {}
            return Reply(308, b"", headers=headers)
        del self.uploads[request.param("upload_id") or ""]
        bucket = self._bucket(upload["bucket"])
        creator = Request("POST", request.path, upload["query"], request.headers, b"", request.base)
        metadata = upload["metadata"]
        metadata.setdefault("contentType", upload["content_type"] or "application/octet-stream")
        self._check_new(creator, bucket, metadata)
        return Reply(200, self._store(creator, bucket, metadata, upload["data"]))

    def _check_new(self, request: Request, bucket: dict[str, Any], metadata: dict[str, Any]) -> None:
        name = metadata.get("name", "")
        if not name:
            raise _error(400, "Required", "required")
        if len(name.encode()) > 1024 or "\n" in name or "\r" in name:
            raise _error(400, "The specified object name is not valid.", "invalid")
        uniform = bucket["iamConfiguration"]["uniformBucketLevelAccess"]["enabled"]
        if uniform and (request.param("predefinedAcl") or "acl" in metadata):
            raise _error(400, _UBLA_ACL, "invalid")
        self._preconditions(request, self.objects[bucket["name"]].get(name))

    def _preconditions(self, request: Request, existing: tuple[dict[str, Any], bytes] | None) -> None:
        generation = int(existing[0]["generation"]) if existing else 0
        metageneration = int(existing[0]["metageneration"]) if existing else 0
        failed = False
        if request.param("ifGenerationMatch") is not None:
            failed |= int(request.param("ifGenerationMatch") or 0) != generation
        if request.param("ifGenerationNotMatch") is not None:
            failed |= int(request.param("ifGenerationNotMatch") or 0) == generation
        if request.param("ifMetagenerationMatch") is not None:
            failed |= existing is None or int(request.param("ifMetagenerationMatch") or 0) != metageneration
        if request.param("ifMetagenerationNotMatch") is not None:
            failed |= (
                existing is None or int(request.param("ifMetagenerationNotMatch") or 0) == metageneration
            )
        if failed:
            raise _error(
                412, "At least one of the pre-conditions you specified did not hold.", "conditionNotMet"
            )

    def _meta_preconditions(self, request: Request, bucket: dict[str, Any]) -> None:
        wanted = request.param("ifMetagenerationMatch")
        if wanted is not None and int(wanted) != int(bucket["metageneration"]):
            raise _error(
                412, "At least one of the pre-conditions you specified did not hold.", "conditionNotMet"
            )

    def _store(self, request: Request, bucket: dict[str, Any], metadata: dict[str, Any], data: bytes) -> dict:
        crc = base64.b64encode(google_crc32c.value(data).to_bytes(4, "big")).decode()
        md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
        if "crc32c" in metadata and metadata["crc32c"] != crc:
            raise _error(
                400,
                f'Provided CRC32C "{metadata["crc32c"]}" doesn\'t match calculated CRC32C "{crc}".',
                "invalid",
            )
        if "md5Hash" in metadata and metadata["md5Hash"] != md5:
            raise _error(
                400,
                f'Provided MD5 hash "{metadata["md5Hash"]}" doesn\'t match calculated MD5 hash "{md5}".',
                "invalid",
            )
        name = metadata["name"]
        generation = str(self._next())
        now = now_rfc3339()
        quoted = quote(name, safe="")
        stored = {
            "kind": "storage#object",
            "id": f"{bucket['name']}/{name}/{generation}",
            "selfLink": f"{request.base}/storage/v1/b/{bucket['name']}/o/{quoted}",
            "mediaLink": f"{request.base}/download/storage/v1/b/{bucket['name']}/o/{quoted}"
            f"?generation={generation}&alt=media",
            "name": name,
            "bucket": bucket["name"],
            "generation": generation,
            "metageneration": "1",
            "contentType": metadata.get("contentType", "application/octet-stream"),
            "storageClass": bucket["storageClass"],
            "size": str(len(data)),
            "md5Hash": md5,
            "crc32c": crc,
            "etag": base64.b64encode(generation.encode()).decode(),
            "timeCreated": now,
            "updated": now,
            "timeStorageClassUpdated": now,
            "timeFinalized": now,
        }
        for key in (
            "metadata",
            "cacheControl",
            "contentEncoding",
            "contentDisposition",
            "contentLanguage",
            "customTime",
        ):
            if key in metadata:
                stored[key] = metadata[key]
        self.objects[bucket["name"]][name] = (stored, data)
        return stored

    def _object(self, bucket: str, name: str) -> tuple[dict[str, Any], bytes]:
        self._bucket(bucket)
        found = self.objects[bucket].get(name)
        if found is None:
            raise _error(404, f"No such object: {bucket}/{name}", "notFound")
        return found

    def get_object(self, request: Request, variables: dict[str, str]) -> Reply:
        metadata, data = self._object(variables["bucket"], variables["object"])
        wanted = request.param("generation")
        if wanted and wanted != metadata["generation"]:
            raise _error(404, f"No such object: {variables['bucket']}/{variables['object']}", "notFound")
        self._preconditions(request, (metadata, data))
        if request.param("alt") != "media":
            return Reply(200, metadata)
        headers = {
            "x-goog-hash": f"crc32c={metadata['crc32c']},md5={metadata['md5Hash']}",
            "x-goog-generation": metadata["generation"],
            "x-goog-metageneration": "1",
            "x-goog-stored-content-length": metadata["size"],
            "x-goog-stored-content-encoding": "identity",
            "ETag": metadata["etag"],
        }
        return Reply(200, data, content_type=metadata["contentType"], headers=headers)

    def delete_object(self, request: Request, variables: dict[str, str]) -> Reply:
        found = self._object(variables["bucket"], variables["object"])
        self._preconditions(request, found)
        del self.objects[variables["bucket"]][variables["object"]]
        return Reply(204, None)

    def list_objects(self, request: Request, variables: dict[str, str]) -> Reply:
        self._bucket(variables["bucket"])
        prefix = request.param("prefix", "") or ""
        delimiter = request.param("delimiter", "") or ""
        names, prefixes = [], set()
        for name in sorted(self.objects[variables["bucket"]]):
            if not name.startswith(prefix):
                continue
            rest = name[len(prefix) :]
            if delimiter and delimiter in rest:
                prefixes.add(prefix + rest.split(delimiter)[0] + delimiter)
            else:
                names.append(name)
        size = int(request.param("maxResults", "1000") or 1000)
        shown, token = page(names, size, request.param("pageToken", "") or "")
        body: dict[str, Any] = {"kind": "storage#objects"}
        if shown:
            body["items"] = [self.objects[variables["bucket"]][n][0] for n in shown]
        if prefixes:
            body["prefixes"] = sorted(prefixes)
        if token:
            body["nextPageToken"] = token
        return Reply(200, body)

    # --- for the other APIs -------------------------------------------------------------------

    def read(self, bucket: str, name: str) -> bytes | None:
        found = self.objects.get(bucket, {}).get(name)
        return None if found is None else found[1]

    def write(self, bucket: str, name: str, data: bytes, content_type: str = "text/plain") -> None:
        request = Request("POST", "", [], {}, b"", "https://storage.googleapis.com")
        self._store(request, self._bucket(bucket), {"name": name, "contentType": content_type}, data)

    def _next(self) -> int:
        # generations are microsecond timestamps that only grow, as the real ones look
        self._generation = max(self._generation + 1, time.time_ns() // 1000)
        return self._generation

    @staticmethod
    def _etag(resource: dict[str, Any]) -> str:
        payload = json.dumps({k: v for k, v in resource.items() if k != "etag"}, sort_keys=True)
        return "C" + base64.b64encode(hashlib.sha256(payload.encode()).digest()[:6]).decode()


def _multipart(request: Request) -> tuple[dict[str, Any], bytes, str]:
    """The metadata and media parts of a ``multipart/related`` upload."""
    found = re.search(r'boundary="?([^";]+)"?', request.headers.get("content-type", ""))
    if not found:
        raise invalid("Missing multipart boundary.")
    boundary = b"--" + found.group(1).encode()
    parts = [p for p in request.body.split(boundary)[1:] if not p.startswith(b"--")]
    if len(parts) != 2:
        raise invalid("A multipart upload needs exactly a metadata part and a media part.")
    sections = []
    for part in parts:
        head, _, content = part.lstrip(b"\r\n").partition(b"\r\n\r\n")
        if content.endswith(b"\r\n"):
            content = content[:-2]
        headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n") if ": " in line)
        sections.append(({k.lower(): v for k, v in headers.items()}, content))
    try:
        metadata = json.loads(sections[0][1] or b"{}")
    except ValueError:
        raise invalid("Invalid JSON payload received in the metadata part.") from None
    return metadata, sections[1][1], sections[1][0].get("content-type", "application/octet-stream")
