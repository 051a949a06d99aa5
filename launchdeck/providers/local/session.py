"""One deploy to the local Docker Engine: the engine's seams for containers.

observe reads the project's containers (their labels hold each service's digest); image
names a built image by the digest of its build context, so an unchanged one is not built
again; apply replaces a service's containers, one replica at a time when there are two or
more (each new one healthy before an old one stops); settle waits until they are healthy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio

from launchdeck.compose.model import Project, Service
from launchdeck.engine import kinds, poll
from launchdeck.engine.build_context import Source
from launchdeck.engine.events import Sink, State
from launchdeck.engine.plan import Action
from launchdeck.engine.results import ServiceStatus
from launchdeck.engine.seams import DeployOptions, Found, Kind, Progress, Rendered, Session, Unit
from launchdeck.errors import LaunchdeckError, ProviderError
from launchdeck.providers.local import build, runner
from launchdeck.providers.local import containers as C
from launchdeck.providers.local import spec as S
from launchdeck.providers.local.provider import LocalProvider

_LOG_TAIL = 20


class LocalSession(Session):
    """The session, and the driver of its services: managed stores run as containers, names
    resolve through Docker's DNS whenever a container asks, and the Docker Model Runner
    serves model services."""

    def __init__(self, provider: LocalProvider, api: Any, project: Project, stack: str,
                 config: Mapping[str, str], etag: str, options: DeployOptions, sink: Sink) -> None:
        self.provider, self.api, self.project, self.stack = provider, api, project, stack
        self.config, self.etag, self.options, self.sink = config, etag, options, sink
        self.containers: dict[str, list[C.Container]] = {}
        self.running: dict[str, list[str]] = {}
        """Service -> ids of the containers settle watches."""
        self.runner: str | None = None
        """The Docker Model Runner's URL, when the project has model services."""
        self.services = self
        self.interval = provider.poll

    # -- reading ---------------------------------------------------------------------------

    async def observe(self) -> dict[str, Found]:
        try:
            self.runner = await self._runner()
        except LaunchdeckError as exc:  # no runner answers for the project's model services
            self.refusal = exc
        for c in await self.provider.containers(self.project.name, self.stack):
            self.containers.setdefault(C.label(c, S.SERVICE), []).append(c)
        found = {}
        for name, have in self.containers.items():
            digests = {C.label(c, S.HASH) for c in have}
            service = self.project.services.get(name)
            kind = Kind.STORE if service is not None and service.managed_store else Kind.SERVICE
            found[name] = Found(
                digest=digests.pop() if len(digests) == 1 else "mixed", kind=kind,
                replicas=len(have), ready=all(C.running(c) for c in have),
                status=C.status(name, service.replica_count if service else 0, have))
            self.running[name] = [c["Id"] for c in have]
        if self.runner:  # the runner serves them: nothing of a model service is ever missing
            for name, service in self.project.services.items():
                if service.model_provider is not None:
                    unit = kinds.render(self, self.project, self.stack, self.config, name, self.runner)
                    found[name] = Found(unit.digest, replicas=0, status=_served(name, self.runner))
        return found

    async def _runner(self) -> str | None:
        """The model runner's URL when the project has model services (a refusal when it
        has some and no runner answers)."""
        wanted = [(n, s.model_provider) for n, s in self.project.services.items()
                  if s.model_provider is not None]
        if not wanted:
            return None
        name, model = wanted[0]
        return await anyio.to_thread.run_sync(runner.check, name, model or "")

    async def image(self, service: Service, source: Source | None, *, build: bool,
                    progress: Progress) -> str:
        """The image id (or, for one not here yet, its name); built or pulled when ``build``."""
        import docker.errors

        if service.model_provider is not None:
            return self.runner or ""
        if service.llm is not None:
            progress(None, "x-defang-llm needs a cloud provider: no LLM endpoint is provided "
                           "locally")
        if source is not None:
            tag = S.image_tag(self.project.name, self.stack, service.name, source.digest)
            if build:
                await self._build(service, tag, progress)
            return tag
        image = service.image or ""
        try:
            return (await C.in_thread(self.api.inspect_image, image))["Id"]
        except docker.errors.ImageNotFound:
            if not build:
                return image
        progress(None, f"pulling {image}")
        try:
            await C.in_thread(self.api.pull, image)
            return (await C.in_thread(self.api.inspect_image, image))["Id"]
        except docker.errors.DockerException as exc:
            raise ProviderError(f"image {image} is not on this machine and cannot be pulled: "
                                f"{C.reason(exc)}", provider="local", service=service.name,
                                hint="Build it, or check the image name.") from exc

    async def has_image(self, image: str) -> bool:
        """Whether the engine still has ``image`` (a rollback refuses one that is gone)."""
        import docker.errors

        try:
            await C.in_thread(self.api.inspect_image, image)
        except docker.errors.ImageNotFound:
            return False
        return True

    @property
    def models(self) -> dict[str, str]:
        """Where each model service answers: the runner, for the services that depend on it."""
        return {n: runner.from_containers(self.runner) for n, s in self.project.services.items()
                if s.model_provider is not None and self.runner}

    def render(self, service: Service, image: str) -> Rendered:
        if service.model_provider is not None:
            return Rendered(spec=None, replicas=0)  # the runner serves it: no container
        return Rendered(spec=image)

    # -- changing --------------------------------------------------------------------------

    async def prepare(self) -> None:
        name = S.scope(self.project.name, self.stack)
        found = await C.in_thread(self.api.networks, names=[name])
        if not any(n["Name"] == name for n in found):
            await C.in_thread(self.api.create_network, name, driver="bridge",
                              labels={S.PROJECT: self.project.name, S.STACK: self.stack})
        wanted: dict[str, dict[str, str]] = {}
        for service in self.project.services.values():
            if service.managed_store:
                wanted[S.store_volume(self.project.name, self.stack, service.name)] = {
                    S.STORE_VOLUME: service.name}
            for mount in service.volumes:
                declared = self.project.volumes.get(mount.source or "")
                if mount.type == "volume" and mount.source and not (declared and declared.external):
                    wanted[S.named_volume(self.project.name, self.stack, mount.source)] = {}
        for volume, extra in wanted.items():
            labels = {S.PROJECT: self.project.name, S.STACK: self.stack, **extra}
            await C.in_thread(self.api.create_volume, volume, labels=labels)  # no-op if it exists

    async def _build(self, service: Service, tag: str, progress: Progress) -> None:
        import docker.errors

        if not self.options.force:
            try:
                await C.in_thread(self.api.inspect_image, tag)
                progress(None, "image is up to date")
                return
            except docker.errors.ImageNotFound:
                pass
        request = build.request_for(service, tag=tag, labels={
            S.PROJECT: self.project.name, S.STACK: self.stack, S.SERVICE: service.name})
        async with self.provider.builds:
            progress(State.BUILD_RUNNING, f"building {tag}")
            await build.build_image(request, self.provider.endpoint,
                                    lambda text: progress(None, text, log=True), api=self.api)

    def _service(self, name: str) -> Service:
        """Compose service ``name`` with what its model dependencies give it (the runner)."""
        return kinds.running(self, self.project, name)

    async def apply(self, unit: Unit, action: Action, progress: Progress) -> None:
        name, service = unit.name, self._service(unit.name)
        if service.model_provider is not None:
            return  # the runner serves it: nothing to start
        old = self.containers.get(name, [])
        keep = [c for c in old if C.label(c, S.HASH) == unit.digest and C.running(c)] \
            if action is Action.UPDATE else []
        stale = [c for c in old if c not in keep]
        ids = [c["Id"] for c in keep[:unit.replicas]]
        stale += keep[unit.replicas:]
        used = {int(C.label(c, S.REPLICA, "0")) for c in keep[:unit.replicas]}
        rolling = unit.replicas >= 2 and action is Action.REPLACE
        free = (i for i in range(unit.replicas * 2 + len(old)) if i not in used)
        while len(ids) < unit.replicas:
            index = next(free)
            if not rolling and stale:  # make room first: a fixed host port cannot be shared
                for c in stale:
                    await C.in_thread(C.remove, self.api, c["Id"])
                stale = []
            new = await self._start(service, unit, index)
            ids.append(new)
            if rolling and stale:
                # the new replica is healthy before an old one stops; if it never is, the
                # old ones keep serving and the service is reported failed
                if not await self._healthy(new):
                    stale = []
                    break
                await C.in_thread(C.remove, self.api, stale.pop(0)["Id"])
        for c in stale:
            await C.in_thread(C.remove, self.api, c["Id"])
        self.running[name] = ids

    async def _start(self, service: Service, unit: Unit, index: int) -> str:
        spec = S.container_spec(self.project, self.stack, service, image=unit.spec,
                                env=service.resolved_environment(self.config), etag=self.etag,
                                config_hash=unit.digest, replica=index)
        extra_hosts = {runner.HOST_ALIAS: "host-gateway"} if any(
            self.project.services[d].model_provider is not None for d in service.depends_on
            if d in self.project.services) else None
        api, name = self.api, service.name
        host_config = api.create_host_config(
            port_bindings={k: ("127.0.0.1", v) if v else ("127.0.0.1",)
                           for k, v in spec.ports.items()},
            restart_policy=spec.restart, mounts=spec.mounts, nano_cpus=spec.nano_cpus,
            mem_limit=spec.mem_limit, mem_reservation=spec.mem_reservation,
            pids_limit=spec.pids_limit, extra_hosts=extra_hosts,
        )
        networking = api.create_networking_config(
            {spec.network: api.create_endpoint_config(aliases=spec.aliases)})
        try:
            created = await C.in_thread(
                api.create_container, spec.image, name=spec.name, command=spec.command,
                entrypoint=spec.entrypoint, environment=spec.environment, labels=spec.labels,
                ports=[(int(port), proto) for port, _, proto in
                       (p.partition("/") for p in spec.exposed)],
                host_config=host_config, networking_config=networking,
                healthcheck=spec.healthcheck, working_dir=spec.working_dir, user=spec.user,
                detach=True,
            )
        except Exception as exc:
            raise ProviderError(f"{name}: cannot create a container: {C.reason(exc)}",
                                provider="local", service=name) from exc
        try:
            await C.in_thread(api.start, created["Id"])
        except Exception as exc:
            await C.in_thread(C.remove, api, created["Id"])  # leave no container that never ran
            raise ProviderError(f"{name}: cannot start a container: {C.reason(exc)}",
                                provider="local", service=name) from exc
        return created["Id"]

    async def _healthy(self, container: str) -> bool:
        """Wait until the container is healthy (or running, without a healthcheck)."""

        async def check() -> bool | None:
            found = C.verdict(await C.in_thread(self.api.inspect_container, container))
            return None if found == "wait" else found == "ok"

        return bool(await poll.until(check, interval=self.provider.poll,
                                     timeout=self.options.wait_timeout))

    async def look(self, unit: Unit, progress: Progress) -> ServiceStatus:
        name = unit.name
        if self.project.services[name].model_provider is not None:
            return _served(name, self.runner or "")
        seen = [await C.in_thread(self.api.inspect_container, i) for i in self.running.get(name, [])]
        status = C.status(name, unit.replicas, seen)
        status.deployment_id = self.etag
        verdicts = [C.verdict(c, exited_ok=unit.once) for c in seen]
        failed = next((c for c, v in zip(seen, verdicts, strict=True) if v not in ("ok", "wait")), None)
        if failed is not None:
            status.state = State.SERVICE_DEPLOYMENT_FAILED
            status.message = await self._explain(failed, C.verdict(failed, exited_ok=unit.once))
        elif all(v == "ok" for v in verdicts):
            status.state = State.SERVICE_DEPLOYMENT_COMPLETED
            if unit.once:
                status.exit_code = seen[0]["State"]["ExitCode"] if seen else None
        else:
            status.state = State.SERVICE_DEPLOYMENT_PENDING
            status.message = f"health: {(C.health(seen[0]) if seen else None) or 'none'}"
        return status

    async def _explain(self, c: C.Container, verdict: str) -> str:
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
        raw = await C.in_thread(self.api.logs, c["Id"], stdout=True, stderr=True, tail=_LOG_TAIL)
        lines = raw.decode("utf-8", "replace").rstrip()
        return f"{why}\nlast log lines:\n{lines}" if lines else why

    async def remove(self, name: str, found: Found, progress: Progress) -> None:
        for c in self.containers.get(name, []):
            await C.in_thread(C.remove, self.api, c["Id"])


def _served(name: str, base: str) -> ServiceStatus:
    """A model service the runner serves."""
    return ServiceStatus(name=name, state=State.SERVICE_DEPLOYMENT_COMPLETED, endpoints=[base],
                         message="served by the Docker Model Runner")
