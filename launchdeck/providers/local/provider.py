"""The local provider: deploys a project to the Docker Engine on this machine.

One network per (project, stack); one container per replica, labelled with project, stack,
service, deployment id and config hash. A redeploy compares hashes and touches only what
changed. Every Docker call is blocking, so each runs in a worker thread.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from launchdeck.compose.model import Project, Service
from launchdeck.engine import dag
from launchdeck.engine.events import Event, Sink, State
from launchdeck.engine.plan import Action, Actual, Change, Desired, plan, service_hash
from launchdeck.engine.status import ChangeSummary, DeployResult, LogLine, ServiceStatus
from launchdeck.errors import EngineUnavailable, ProviderError
from launchdeck.paths import state_dir
from launchdeck.providers.base import DeployOptions, LogQuery, Teardown
from launchdeck.providers.local import spec as S
from launchdeck.providers.local.config import FileConfigStore

_POLL = 0.25
_STABLE = 1.0
"""Seconds a container without a healthcheck must stay up to count as started well."""
_LOG_TAIL = 20


class LocalProvider:
    """Deploys to the Docker Engine named by DOCKER_HOST, or the default socket."""

    name = "local"

    def __init__(self, client: Any = None, *, state_root: Path | None = None,
                 builds_in_parallel: int = 2) -> None:
        self._client = client
        self._state_root = state_root
        self._builds = anyio.CapacityLimiter(builds_in_parallel)

    # -- connection ---------------------------------------------------------------------

    @property
    def api(self) -> Any:
        """The low-level Docker API client, connected on first use."""
        if self._client is None:
            import docker
            import docker.errors

            try:
                self._client = docker.from_env(timeout=120)
                self._client.ping()
            except docker.errors.DockerException as exc:
                self._client = None
                raise EngineUnavailable(
                    f"no Docker Engine answers: {_reason(exc)}", provider=self.name,
                    hint="Start Docker (e.g. `sudo systemctl start docker` or Docker Desktop), "
                         "or point DOCKER_HOST at a running engine.",
                ) from None
        return self._client.api

    def config_store(self, project: str, stack: str) -> FileConfigStore:
        return FileConfigStore(self._state_root or state_dir(), project, stack)

    def _record_path(self, project: str, stack: str) -> Path:
        return (self._state_root or state_dir()) / "deployments" / project / f"{stack}.json"

    def _record(self, result: DeployResult) -> None:
        """Keep the last deploy's outcome: a build failure leaves no container to ask."""
        path = self._record_path(result.project, result.stack)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_text(result.model_dump_json(), encoding="utf-8")

    def last_deploy(self, project: str, stack: str) -> DeployResult | None:
        try:
            return DeployResult.model_validate_json(
                self._record_path(project, stack).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    # -- deploy -------------------------------------------------------------------------

    async def deploy(self, project: Project, stack: str, config: Mapping[str, str],
                     deployment_id: str, options: DeployOptions, sink: Sink) -> DeployResult:
        api = await _in_thread(lambda: self.api)
        with self._lock(project.name, stack, deployment_id):
            run = _Deploy(self, api, project, stack, config, deployment_id, options, sink)
            return await run.execute()

    @contextmanager
    def _lock(self, project: str, stack: str, deployment_id: str) -> Iterator[None]:
        """One deploy per (project, stack) at a time; the lock dies with its process."""
        import fcntl

        path = (self._state_root or state_dir()) / "locks" / f"{project}-{stack}.lock"
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with path.open("a+", encoding="utf-8") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                owner = handle.read().strip() or "another process"
                raise ProviderError(
                    f"another deploy of {project} ({stack}) is running: {owner}",
                    provider=self.name,
                    hint="Wait for it to finish (`launchdeck compose ps` follows it), then "
                         "deploy again.") from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"deployment {deployment_id}, pid {os.getpid()}, since "
                         f"{datetime.now(UTC).isoformat(timespec='seconds')}\n")
            handle.flush()
            try:
                yield
            finally:
                handle.seek(0)
                handle.truncate()
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- ps -----------------------------------------------------------------------------

    async def ps(self, project: Project, stack: str) -> list[ServiceStatus]:
        containers = await self._containers(project.name, stack)
        by_service: dict[str, list[dict[str, Any]]] = {}
        for c in containers:
            by_service.setdefault(c["Config"]["Labels"][S.SERVICE], []).append(c)
        last = self.last_deploy(project.name, stack)
        recorded = {s.name: s for s in last.services} if last else {}
        out = []
        for name, service in project.services.items():
            status = _status(name, _replicas(service), by_service.pop(name, []))
            earlier = recorded.get(name)
            if status.state is State.NOT_DEPLOYED and earlier and earlier.state.failed:
                status = earlier  # e.g. a build that failed: no container tells the story
            out.append(status)
        for name, orphans in sorted(by_service.items()):
            status = _status(name, 0, orphans)
            status.message = "not in the compose file any more; the next deploy removes it"
            out.append(status)
        return out

    async def _containers(self, project: str, stack: str, service: str | None = None,
                          deployment: str | None = None) -> list[dict[str, Any]]:
        api = await _in_thread(lambda: self.api)
        filters = S.owner_filter(project, stack, service)
        if deployment:
            filters["label"].append(f"{S.ETAG}={deployment}")
        listed = await _in_thread(api.containers, all=True, filters=filters)
        inspected = []
        for c in listed:
            try:
                inspected.append(await _in_thread(api.inspect_container, c["Id"]))
            except Exception as exc:  # removed between list and inspect
                if not _not_found(exc):
                    raise
        return inspected

    # -- logs ---------------------------------------------------------------------------

    async def logs(self, project: str, stack: str, query: LogQuery) -> list[LogLine]:
        lines: list[LogLine] = []
        for c in await self._query(project, stack, query):
            lines += await self._container_logs(c, query.since, query.until, query.tail)
        lines.sort(key=lambda line: line.at)
        return lines[-query.tail:] if query.tail is not None else lines

    async def follow(self, project: str, stack: str, query: LogQuery) -> AsyncIterator[LogLine]:
        seen: dict[str, datetime] = {}
        first = True
        while True:
            batch: list[LogLine] = []
            for c in await self._query(project, stack, query):
                since = seen.get(c["Id"], query.since)
                tail = query.tail if first else None
                fresh = [line for line in await self._container_logs(c, since, None, tail)
                         if c["Id"] not in seen or line.at > seen[c["Id"]]]
                if fresh:
                    seen[c["Id"]] = fresh[-1].at
                batch += fresh
            first = False
            for line in sorted(batch, key=lambda line: line.at):
                yield line
            await anyio.sleep(1.0)

    async def _query(self, project: str, stack: str, query: LogQuery) -> list[dict[str, Any]]:
        services = list(query.services) or [None]
        found = []
        for service in services:
            found += await self._containers(project, stack, service, query.deployment)
        return found

    async def _container_logs(self, c: dict[str, Any], since: datetime | None,
                              until: datetime | None, tail: int | None) -> list[LogLine]:
        labels = c["Config"]["Labels"]
        kwargs: dict[str, Any] = {"stdout": True, "stderr": True, "timestamps": True}
        # Docker takes whole seconds: ask for a little more, then filter to the exact bounds
        if since:
            kwargs["since"] = int(since.timestamp())
        if until:
            kwargs["until"] = int(until.timestamp()) + 1
        if tail is not None:
            kwargs["tail"] = tail
        try:
            raw = await _in_thread(self.api.logs, c["Id"], **kwargs)
        except Exception as exc:
            if _not_found(exc):
                return []
            raise
        replica = int(labels.get(S.REPLICA, "0"))
        parsed = (_parse_log(text, labels[S.SERVICE], replica)
                  for text in raw.decode("utf-8", "replace").splitlines())
        return [line for line in parsed if line and (since is None or line.at >= since)
                and (until is None or line.at <= until)]

    # -- destroy ------------------------------------------------------------------------

    async def destroy(self, project: str, stack: str, *, volumes: bool, sink: Sink) -> Teardown:
        api = await _in_thread(lambda: self.api)
        removed = []
        for c in await self._containers(project, stack):
            name = c["Name"].lstrip("/")
            sink(Event(c["Config"]["Labels"].get(S.SERVICE), State.STOPPED, f"removing {name}"))
            await _in_thread(_remove, api, c["Id"])
            removed.append(name)
        filters = S.owner_filter(project, stack)
        for net in await _in_thread(api.networks, filters=filters):
            await _in_thread(api.remove_network, net["Id"])
            removed.append(net["Name"])
        self._record_path(project, stack).unlink(missing_ok=True)
        listed = await _in_thread(api.volumes, filters=filters)
        kept = []
        for vol in listed.get("Volumes") or []:
            if volumes:
                await _in_thread(api.remove_volume, vol["Name"], force=True)
                removed.append(vol["Name"])
            else:
                kept.append(vol["Name"])
        return Teardown(removed, kept)


class _Deploy:
    """One deploy run: build, plan, apply in dependency order, wait for health."""

    def __init__(self, provider: LocalProvider, api: Any, project: Project, stack: str,
                 config: Mapping[str, str], etag: str, options: DeployOptions,
                 sink: Sink) -> None:
        self.provider, self.api, self.project, self.stack = provider, api, project, stack
        self.config, self.etag, self.options, self.sink = config, etag, options, sink
        self.deadline = time.monotonic() + options.wait_timeout
        self.images: dict[str, str] = {}
        self.failures: dict[str, str] = {}
        self.statuses: dict[str, ServiceStatus] = {}

    def emit(self, service: str | None, state: State | None = None, message: str = "") -> None:
        self.sink(Event(service, state, message))

    async def execute(self) -> DeployResult:
        services = self.project.services
        await self._network()
        await self._volumes()
        async with anyio.create_task_group() as group:
            for name, service in services.items():
                if service.build:
                    self.emit(name, State.BUILD_QUEUED)
                group.start_soon(self._image, name, service)

        existing = await self.provider._containers(self.project.name, self.stack)
        actual: dict[str, list[Actual]] = {}
        by_service: dict[str, list[dict[str, Any]]] = {}
        for c in existing:
            labels = c["Config"]["Labels"]
            actual.setdefault(labels[S.SERVICE], []).append(
                Actual(labels.get(S.HASH, ""), _running(c)))
            by_service.setdefault(labels[S.SERVICE], []).append(c)
        desired = {}
        self.hashes = {}
        for name, service in services.items():
            if name in self.images:
                self.hashes[name] = service_hash(service, self.images[name], self.config)
                desired[name] = Desired(self.hashes[name], _replicas(service))
        changes = {c.service: c for c in plan(desired, actual, force=self.options.force)}
        for name in self.failures:  # failed builds: no change can be applied
            changes.pop(name, None)
        for change in changes.values():
            if change.action is Action.DELETE:
                for c in by_service.get(change.service, []):
                    await _in_thread(_remove, self.api, c["Id"])
            elif change.action is not Action.NOOP:
                self.emit(change.service, State.UPDATE_QUEUED, change.reason)

        completion = {dep for s in services.values() for dep, d in s.depends_on.items()
                      if d.condition == "service_completed_successfully"}
        graph = {name: {dep: d.condition for dep, d in s.depends_on.items()}
                 for name, s in services.items()}

        async def work(name: str, milestones: dag.Milestones) -> None:
            await self._apply(name, changes.get(name), by_service.get(name, []), milestones,
                              wait_for_exit=name in completion)

        milestones = await dag.run(graph, work)
        for name, reached in milestones.items():
            if name not in self.statuses:
                state = State.BUILD_FAILED if name in self.failures and \
                    self.failures[name].startswith("build") else State.SERVICE_DEPLOYMENT_FAILED
                self.statuses[name] = ServiceStatus(
                    name=name, state=state, message=reached.failure or "",
                    replicas_desired=_replicas(services[name]), deployment_id=self.etag)
                if name not in self.failures:  # those were reported when they happened
                    self.emit(name, state, reached.failure or "")
        result = DeployResult(
            project=self.project.name, stack=self.stack, provider="local",
            deployment_id=self.etag,
            services=[self.statuses[name] for name in services],
            changes=[ChangeSummary(service=c.service, action=c.action, reason=c.reason)
                     for c in sorted(changes.values(), key=lambda c: c.service)],
        )
        self.provider._record(result)
        return result

    async def _network(self) -> None:
        name = S.scope(self.project.name, self.stack)
        found = await _in_thread(self.api.networks, names=[name])
        if not any(n["Name"] == name for n in found):
            await _in_thread(self.api.create_network, name, driver="bridge",
                            labels={S.PROJECT: self.project.name, S.STACK: self.stack})

    async def _volumes(self) -> None:
        wanted = {}
        for service in self.project.services.values():
            if service.managed_store:
                wanted[S.store_volume(self.project.name, self.stack, service.name)] = {
                    S.STORE_VOLUME: service.name}
            for mount in service.volumes:
                declared = self.project.volumes.get(mount.source or "")
                if mount.type == "volume" and mount.source and not (declared and declared.external):
                    wanted[S.named_volume(self.project.name, self.stack, mount.source)] = {}
        for name, extra in wanted.items():
            labels = {S.PROJECT: self.project.name, S.STACK: self.stack, **extra}
            await _in_thread(self.api.create_volume, name, labels=labels)  # no-op when it exists

    async def _image(self, name: str, service: Service) -> None:
        import docker.errors

        if service.llm is not None:
            self.emit(name, None, "x-defang-llm needs a cloud provider: no LLM endpoint is "
                                  "provided locally")
        if service.build:
            async with self.provider._builds:
                await self._build(name, service)
            return
        image = service.image or ""
        try:
            found = await _in_thread(self.api.inspect_image, image)
        except docker.errors.ImageNotFound:
            self.emit(name, None, f"pulling {image}")
            try:
                await _in_thread(self.api.pull, image)
                found = await _in_thread(self.api.inspect_image, image)
            except docker.errors.DockerException as exc:
                self._fail(name, f"image {image} is not on this machine and cannot be pulled: "
                                 f"{_reason(exc)}")
                return
        self.images[name] = found["Id"]

    async def _build(self, name: str, service: Service) -> None:
        import docker.errors

        build = service.build
        assert build is not None
        tag = S.image_tag(self.project.name, self.stack, name)
        self.emit(name, State.BUILD_RUNNING, f"building {tag}")
        tail: list[str] = []
        sink = self.sink

        def run() -> str | None:
            stream = self.api.build(
                path=build.context, dockerfile=build.dockerfile, tag=tag, target=build.target,
                buildargs={k: v for k, v in build.args.items() if v is not None}, rm=True,
                forcerm=True, decode=True,
                labels={S.PROJECT: self.project.name, S.STACK: self.stack, S.SERVICE: name},
            )
            image_id = None
            for chunk in stream:
                if "error" in chunk:
                    tail.append(str(chunk["error"]).strip())
                    return None
                text = str(chunk.get("stream", "")).rstrip()
                if text:
                    tail.append(text)
                    del tail[:-_LOG_TAIL]
                    anyio.from_thread.run_sync(sink, Event(name, None, text, log=True))
                if isinstance(chunk.get("aux"), dict) and "ID" in chunk["aux"]:
                    image_id = chunk["aux"]["ID"]
            return image_id or self.api.inspect_image(tag)["Id"]

        try:
            image_id = await _in_thread(run)
        except (docker.errors.DockerException, OSError) as exc:
            tail.append(_reason(exc))
            image_id = None
        if image_id is None:
            detail = "\n".join(tail[-_LOG_TAIL:])
            self.failures[name] = f"build failed:\n{detail}"
            self.emit(name, State.BUILD_FAILED, self.failures[name])
            return
        self.images[name] = image_id

    def _fail(self, name: str, reason: str) -> None:
        self.failures[name] = reason
        self.emit(name, State.SERVICE_DEPLOYMENT_FAILED, reason)

    async def _apply(self, name: str, change: Change | None, old: list[dict[str, Any]],
                     milestones: dag.Milestones, *, wait_for_exit: bool) -> None:
        service = self.project.services[name]
        if name in self.failures or change is None:
            milestones.fail(self.failures.get(name, "not deployed"))
            return
        replicas = _replicas(service)
        if change.action is Action.NOOP:
            milestones.started.set()
            await self._settle(name, [c["Id"] for c in old], milestones, wait_for_exit)
            return
        self.emit(name, State.SERVICE_DEPLOYMENT_PENDING, change.reason)
        keep = [c for c in old if c["Config"]["Labels"].get(S.HASH) == self.hashes[name]
                and _running(c)] if change.action is Action.UPDATE else []
        stale = [c for c in old if c not in keep]
        ids = [c["Id"] for c in keep[:replicas]]
        stale += keep[replicas:]
        used = {int(c["Config"]["Labels"].get(S.REPLICA, "0")) for c in keep[:replicas]}
        rolling = replicas >= 2 and change.action is Action.REPLACE
        free = (i for i in range(replicas * 2 + len(old)) if i not in used)
        while len(ids) < replicas:
            index = next(free)
            if not rolling and stale:  # make room first: a fixed host port cannot be shared
                for c in stale:
                    await _in_thread(_remove, self.api, c["Id"])
                stale = []
            new = await self._start(name, service, index)
            ids.append(new)
            if rolling and stale:
                # the new replica is healthy before an old one stops; if it never is, the
                # old ones keep serving and the service is reported failed
                if not await self._healthy(new):
                    stale = []
                    break
                await _in_thread(_remove, self.api, stale.pop(0)["Id"])
        for c in stale:
            await _in_thread(_remove, self.api, c["Id"])
        milestones.started.set()
        await self._settle(name, ids, milestones, wait_for_exit)

    async def _start(self, name: str, service: Service, index: int) -> str:
        spec = S.container_spec(self.project, self.stack, service, image=self.images[name],
                                env=service.resolved_environment(self.config), etag=self.etag,
                                config_hash=self.hashes[name], replica=index)
        api = self.api
        host_config = api.create_host_config(
            port_bindings={k: ("127.0.0.1", v) if v else ("127.0.0.1",)
                           for k, v in spec.ports.items()},
            restart_policy=spec.restart, mounts=spec.mounts, nano_cpus=spec.nano_cpus,
            mem_limit=spec.mem_limit, mem_reservation=spec.mem_reservation,
            pids_limit=spec.pids_limit,
        )
        networking = api.create_networking_config(
            {spec.network: api.create_endpoint_config(aliases=spec.aliases)})
        try:
            created = await _in_thread(
                api.create_container, spec.image, name=spec.name, command=spec.command,
                entrypoint=spec.entrypoint, environment=spec.environment, labels=spec.labels,
                ports=[(int(port), proto) for port, _, proto in
                       (p.partition("/") for p in spec.exposed)],
                host_config=host_config, networking_config=networking,
                healthcheck=spec.healthcheck, working_dir=spec.working_dir, user=spec.user,
                detach=True,
            )
        except Exception as exc:
            raise ProviderError(f"{name}: cannot create a container: {_reason(exc)}",
                                provider="local", service=name) from None
        try:
            await _in_thread(api.start, created["Id"])
        except Exception as exc:
            await _in_thread(_remove, api, created["Id"])  # leave no container that never ran
            raise ProviderError(f"{name}: cannot start a container: {_reason(exc)}",
                                provider="local", service=name) from None
        return created["Id"]

    async def _healthy(self, container: str) -> bool:
        """Wait until the container is healthy (or running, without a healthcheck)."""
        while True:
            c = await _in_thread(self.api.inspect_container, container)
            verdict = _verdict(c)
            if verdict == "ok":
                return True
            if verdict != "wait":
                return False
            if time.monotonic() > self.deadline:
                return False
            await anyio.sleep(_POLL)

    async def _settle(self, name: str, ids: list[str], milestones: dag.Milestones,
                      wait_for_exit: bool) -> None:
        service = self.project.services[name]
        while True:
            containers = [await _in_thread(self.api.inspect_container, i) for i in ids]
            verdicts = [_verdict(c, exited_ok=wait_for_exit) for c in containers]
            failed = next((c for c, v in zip(containers, verdicts, strict=True)
                           if v not in ("ok", "wait")), None)
            if failed is not None:
                reason = await self._explain(failed, _verdict(failed, exited_ok=wait_for_exit))
                break
            if all(v == "ok" for v in verdicts):
                if wait_for_exit:
                    milestones.exit_code = containers[0]["State"]["ExitCode"]
                reason = None
                break
            if time.monotonic() > self.deadline:
                reason = (f"not healthy after {self.options.wait_timeout:g}s "
                          f"(health: {_health(containers[0]) or 'none'})")
                break
            await anyio.sleep(_POLL)
        status = _status(name, _replicas(service), containers)
        status.deployment_id = self.etag
        if reason:
            status.state = State.SERVICE_DEPLOYMENT_FAILED
            status.message = reason
            milestones.fail(reason)
        else:
            status.state = State.SERVICE_DEPLOYMENT_COMPLETED
            milestones.healthy.set()
        self.statuses[name] = status
        self.emit(name, status.state, reason or ", ".join(status.endpoints))

    async def _explain(self, c: dict[str, Any], verdict: str) -> str:
        state = c["State"]
        if verdict == "unhealthy":
            probe = (state.get("Health", {}).get("Log") or [{}])[-1]
            why = f"healthcheck failed (exit {probe.get('ExitCode')}): " \
                  f"{str(probe.get('Output', '')).strip()[-500:]}"
        else:
            why = f"exited with code {state.get('ExitCode')}"
            if state.get("OOMKilled"):
                why += " (out of memory)"
            if state.get("Error"):
                why += f": {state['Error']}"
        raw = await _in_thread(self.api.logs, c["Id"], stdout=True, stderr=True, tail=_LOG_TAIL)
        lines = raw.decode("utf-8", "replace").rstrip()
        return f"{why}\nlast log lines:\n{lines}" if lines else why


async def _in_thread(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a blocking Docker SDK call in a worker thread."""
    return await anyio.to_thread.run_sync(partial(fn, *args, **kwargs))


def _replicas(service: Service) -> int:
    return service.deploy.replicas if service.deploy and service.deploy.replicas is not None else 1


def _running(c: dict[str, Any]) -> bool:
    return bool(c["State"].get("Running"))


def _health(c: dict[str, Any]) -> str | None:
    return (c["State"].get("Health") or {}).get("Status")


def _verdict(c: dict[str, Any], *, exited_ok: bool = False) -> str:
    """ok, wait, unhealthy or exited: where one container stands on its way to healthy."""
    state = c["State"]
    if state.get("Restarting") or state.get("Status") in ("exited", "dead"):
        if exited_ok and state.get("Status") == "exited" and state.get("ExitCode") == 0:
            return "ok"
        if state.get("Restarting") and state.get("ExitCode") == 0:
            return "wait"
        return "exited"
    if exited_ok:
        return "wait"
    health = _health(c)
    if health == "unhealthy":
        return "unhealthy"
    if health == "starting" or not state.get("Running"):
        return "wait"
    if health is None and _uptime(state) < _STABLE:
        return "wait"  # without a healthcheck, running for a moment is the best sign we have
    return "ok"


def _uptime(state: dict[str, Any]) -> float:
    at = _docker_time(str(state.get("StartedAt", "")))
    return _STABLE if at is None else (datetime.now(UTC) - at).total_seconds()


def _docker_time(stamp: str) -> datetime | None:
    """A Docker timestamp (RFC 3339 with nanoseconds, UTC); Python keeps microseconds."""
    head, _, frac = stamp.rstrip("Z").partition(".")
    try:
        return datetime.fromisoformat(f"{head}.{(frac + '000000')[:6]}+00:00")
    except ValueError:
        return None


def _status(name: str, desired: int, containers: list[dict[str, Any]]) -> ServiceStatus:
    status = ServiceStatus(name=name, state=State.NOT_DEPLOYED, replicas_desired=desired)
    if not containers:
        return status
    newest = max(containers, key=lambda c: c["Created"])
    labels = newest["Config"]["Labels"]
    status.deployment_id = labels.get(S.ETAG)
    status.image = newest["Config"]["Image"]
    status.replicas_running = sum(_running(c) for c in containers)
    healths = [_health(c) for c in containers]
    status.health = next((h for h in ("unhealthy", "starting", "healthy") if h in healths), None)
    for c in sorted(containers, key=lambda c: int(c["Config"]["Labels"].get(S.REPLICA, "0"))):
        for bindings in (c["NetworkSettings"].get("Ports") or {}).values():
            for binding in bindings or []:
                status.endpoints.append(f"http://{binding['HostIp']}:{binding['HostPort']}")
    state = newest["State"]
    if state.get("Status") in ("exited", "dead") or state.get("Restarting"):
        status.exit_code = state.get("ExitCode")
        status.oom_killed = bool(state.get("OOMKilled"))
    probes = (state.get("Health") or {}).get("Log") or []
    failed_probes = [p for p in probes if p.get("ExitCode")]
    if failed_probes:
        status.health_output = str(failed_probes[-1].get("Output", "")).strip()[-1000:]
    verdicts = [_verdict(c) for c in containers]
    if any(v in ("unhealthy", "exited") for v in verdicts):
        if all(c["State"].get("Status") == "exited" and c["State"].get("ExitCode") == 0
               for c in containers):
            status.state = State.STOPPED
            status.message = "exited with code 0"
        else:
            status.state = State.SERVICE_DEPLOYMENT_FAILED
    elif any(v == "wait" for v in verdicts):
        status.state = State.SERVICE_DEPLOYMENT_PENDING
    else:
        status.state = State.SERVICE_DEPLOYMENT_COMPLETED
    return status


def _parse_log(text: str, service: str, replica: int) -> LogLine | None:
    stamp, _, message = text.partition(" ")
    at = _docker_time(stamp)
    return None if at is None else LogLine(at=at, service=service, replica=replica, text=message)


def _remove(api: Any, container: str) -> None:
    try:
        api.remove_container(container, force=True, v=True)
    except Exception as exc:
        if not _not_found(exc):
            raise


def _not_found(exc: BaseException) -> bool:
    return type(exc).__name__ in ("NotFound", "ImageNotFound")


def _reason(exc: BaseException) -> str:
    explanation = getattr(exc, "explanation", None)
    return str(explanation or exc).strip()
