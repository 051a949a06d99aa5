"""Memorystore for Redis v1 as the fake serves it: instances CREATING -> READY over polls.

An update names what it changes in its update mask (labels, display name, size, Redis
configs), and is UPDATING until its operation is done. One admin operation runs at a time per
instance ("You can only run one admin operation at a time ... You will have to wait for any
admin operation to complete before you can run another one",
https://cloud.google.com/memorystore/docs/redis/product-constraints): an update or delete while
the instance's create, update or delete runs is refused with 400 FAILED_PRECONDITION. The text
is not documented; it follows the one Memorystore answers a failover with while another
operation runs ("Unable to failover due to ongoing operations. Please wait until instance is in
READY state.", apache/airflow#11735).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from google.cloud import redis_v1 as r
from google.cloud.redis_v1.services.cloud_redis.transports.rest_base import (
    _BaseCloudRedisRestTransport as _Rest,
)
from google.longrunning import operations_pb2
from google.protobuf import empty_pb2

from testkit.gcp import project as new_project
from testkit.gcp.core import (
    ApiError,
    already_exists,
    check_labels,
    invalid,
    not_found,
    page,
    sequence,
)
from testkit.gcp.run import REGIONS
from testkit.gcp.server import Api, Route, routes_of
from testkit.gcp.shared import Operations, Work

INSTANCE_ID = re.compile(r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$")
VERSIONS = ("REDIS_3_2", "REDIS_4_0", "REDIS_5_0", "REDIS_6_X", "REDIS_7_0", "REDIS_7_2")
_STATE = r.Instance.State
_UPDATABLE = {"labels", "display_name", "memory_size_gb", "redis_configs", "replica_count"}


class RedisApi(Api):
    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.instances: dict[str, Any] = {}
        self.work: dict[str, Work] = {}
        self.operations = Operations()

    def routes(self) -> list[Route]:
        table = [
            ("CreateInstance", r.CreateInstanceRequest, self.create, "redis.instances.create"),
            ("GetInstance", r.GetInstanceRequest, self.get, "redis.instances.get"),
            ("ListInstances", r.ListInstancesRequest, self.list, "redis.instances.list"),
            ("UpdateInstance", r.UpdateInstanceRequest, self.update, "redis.instances.update"),
            ("DeleteInstance", r.DeleteInstanceRequest, self.delete, "redis.instances.delete"),
            ("GetOperation", operations_pb2.GetOperationRequest, self.get_operation, "redis.operations.get"),
        ]
        return routes_of(_Rest, table)

    def _instance(self, name: str) -> Any:
        if name not in self.instances:
            raise not_found(f"Resource '{name}' was not found")
        if name in self.work:
            self.work[name].poll()
        return self.instances[name]

    def _serial(self, name: str, verb: str) -> None:
        """Refuse a second admin operation while one runs on the instance (see the module)."""
        work = self.work.get(name)
        if work is not None and not work.finished or self.instances[name].state != _STATE.READY:
            raise ApiError(
                "FAILED_PRECONDITION",
                f"Unable to {verb} due to ongoing operations. Please wait until instance is in "
                "READY state.",
                code=400,
            )

    def _metadata(self, target: str, verb: str) -> Any:
        meta = r.OperationMetadata.pb()(target=target, verb=verb, api_version="v1")
        meta.create_time.GetCurrentTime()
        return meta

    def create(self, request: Any) -> Any:
        region = request.parent.split("/")[3]
        if region not in REGIONS:
            raise invalid(f"Location {region} is not found or access is unauthorized.", "parent")
        if not INSTANCE_ID.match(request.instance_id):
            raise invalid(
                "instance_id must be 1 to 40 characters: lowercase letters, digits and hyphens, "
                "starting with a letter and not ending with a hyphen.",
                "instance_id",
            )
        body = request.instance
        if body.tier == 0:
            raise invalid("tier must be specified.", "instance.tier")
        if body.memory_size_gb <= 0 or body.memory_size_gb > 300:
            raise invalid("memory_size_gb must be between 1 and 300.", "instance.memory_size_gb")
        if body.redis_version and body.redis_version not in VERSIONS:
            raise invalid(
                f"Invalid redis_version '{body.redis_version}'. Supported versions: {', '.join(VERSIONS)}.",
                "instance.redis_version",
            )
        check_labels(body.labels, "instance.labels")
        network = (
            body.authorized_network or f"projects/{request.parent.split('/')[1]}/global/networks/default"
        )
        found = re.match(r"^projects/([^/]+)/global/networks/([^/]+)$", network)
        if not found or not self.ctx.api("compute").has_network(found.group(1), found.group(2)):
            raise invalid(
                f"Invalid authorized_network '{network}': the network does not exist.",
                "instance.authorized_network",
            )
        name = f"{request.parent}/instances/{request.instance_id}"
        if name in self.instances:
            raise already_exists(f"Resource '{name}' already exists")
        instance = r.Instance.pb()()
        instance.CopyFrom(body)
        instance.name = name
        instance.authorized_network = network
        instance.redis_version = body.redis_version or "REDIS_7_2"
        instance.location_id = body.location_id or f"{region}-a"
        instance.state = _STATE.CREATING
        instance.connect_mode = body.connect_mode or 1  # DIRECT_PEERING
        instance.create_time.GetCurrentTime()
        instance.port = 6379
        self.instances[name] = instance

        failure = new_project.store_failure(self.ctx.knobs, request.instance_id)

        def complete() -> Any:
            if failure is not None:  # the create fails in its operation; the instance goes away
                self.instances.pop(name, None)
                raise ApiError("RESOURCE_EXHAUSTED" if "QUOTA" in failure else "FAILED_PRECONDITION", failure)
            digest = int(hashlib.sha256(name.encode()).hexdigest(), 16)
            instance.state = _STATE.READY
            instance.host = f"10.{digest % 250}.{digest // 250 % 250}.4"
            instance.current_location_id = instance.location_id
            instance.reserved_ip_range = f"10.{digest % 250}.{digest // 250 % 250}.0/29"
            return instance

        work = Work(self.ctx.progress(new_project.REDIS_CREATE), complete)
        self.work[name] = work
        op = f"{request.parent}/operations/operation-{sequence()}"
        return self.operations.start(op, work, lambda: self._metadata(name, "create"))

    def get(self, request: Any) -> Any:
        return self._instance(request.name)

    def list(self, request: Any) -> Any:
        prefix = request.parent + "/instances/"
        if request.parent.endswith("/locations/-"):
            prefix = request.parent[: -len("locations/-")]
        names = sorted(n for n in self.instances if n.startswith(prefix))
        for name in names:
            if name in self.work:
                self.work[name].poll()
        shown, token = page(names, request.page_size, request.page_token)
        response = r.ListInstancesResponse.pb()(next_page_token=token)
        response.instances.extend(self.instances[n] for n in shown)
        return response

    def update(self, request: Any) -> Any:
        name = request.instance.name
        instance = self._instance(name)
        paths = list(request.update_mask.paths)
        if not paths:
            raise invalid("update_mask must name at least one field.", "update_mask")
        unknown = sorted(set(paths) - _UPDATABLE)
        if unknown:
            raise invalid(
                f"Unsupported update mask path(s): {', '.join(unknown)}. Updatable: "
                f"{', '.join(sorted(_UPDATABLE))}.",
                "update_mask",
            )
        self._serial(name, "update")
        if "labels" in paths:
            check_labels(request.instance.labels, "instance.labels")
        if "memory_size_gb" in paths and not 0 < request.instance.memory_size_gb <= 300:
            raise invalid("memory_size_gb must be between 1 and 300.", "instance.memory_size_gb")
        for path in paths:
            field = instance.DESCRIPTOR.fields_by_name[path]
            if field.message_type is not None and field.message_type.GetOptions().map_entry:
                getattr(instance, path).clear()
                getattr(instance, path).update(getattr(request.instance, path))
            else:
                setattr(instance, path, getattr(request.instance, path))
        instance.state = _STATE.UPDATING

        def complete() -> Any:
            instance.state = _STATE.READY
            return instance

        work = Work(self.ctx.progress(), complete)
        self.work[name] = work
        op = f"{name.rsplit('/instances/', 1)[0]}/operations/operation-{sequence()}"
        return self.operations.start(op, work, lambda: self._metadata(name, "update"))

    def delete(self, request: Any) -> Any:
        instance = self._instance(request.name)
        self._serial(request.name, "delete")
        instance.state = _STATE.DELETING
        name = request.name

        def complete() -> Any:
            self.instances.pop(name, None)
            self.work.pop(name, None)
            return empty_pb2.Empty()

        work = Work(self.ctx.progress(), complete)
        self.work[name] = work
        op = f"{name.rsplit('/instances/', 1)[0]}/operations/operation-{sequence()}"
        return self.operations.start(op, work, lambda: self._metadata(name, "delete"))

    def get_operation(self, request: Any) -> Any:
        return self.operations.get(request.name)
