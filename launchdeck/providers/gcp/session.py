"""One deploy to GCP: the engine's seams for Cloud Run services, managed stores and the load balancer.

observe reads what exists (Cloud Run services, worker pools and stores by their labels, the
load balancer by its names, the DNS zones of the domains) without changing anything, so a plan
can render every unit; an API the deploy itself just turned on holds nothing and is not read.
prepare makes what every unit stands on (the image repository and the
build account, through prepare_builds, which a build waits for only to start: its context is
checked and uploaded meanwhile, and it runs beside the rest of prepare; the remote repositories
other registries' images are pulled through, the stack's service account and its project role,
the network's private services access and NAT when the project needs them); a worker (no port)
is a worker pool, every other container a service; each unit is then applied and waited for in
dependency order by the engine (services rolling out together are looked at through one list
of the region's services a poll). A service's digest is written with its spec in one call, after
its secrets and their access (a secret's newest version and its grant asked once a deploy);
the spec itself opens it to callers (``invoker_iam_disabled``), which observe reads, so a
deploy cut short is finished by the next.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import anyio

from launchdeck.compose.model import Project, Service
from launchdeck.engine import build as remote
from launchdeck.engine import model_service, modes
from launchdeck.engine.build_context import Source
from launchdeck.engine.events import Event, Sink, State
from launchdeck.engine.gather import Once, gather
from launchdeck.engine.kinds import LOAD_BALANCER
from launchdeck.engine.plan import Action
from launchdeck.engine.results import ServiceStatus
from launchdeck.engine.seams import (
    Balancer,
    DeployOptions,
    Found,
    Kind,
    Progress,
    Rendered,
    Resolution,
    Session,
    Unit,
)
from launchdeck.errors import LaunchdeckError, ProviderError
from launchdeck.providers.gcp import access, config, ingress, names, network, registries, render, stores
from launchdeck.providers.gcp import build as builds
from launchdeck.providers.gcp.api import APIS, PROPAGATION, Gcp, GcpError, if_enabled, if_found
from launchdeck.providers.gcp.bucket import Bucket

T = TypeVar("T")


class GcpSession(Session):
    resolution = Resolution.ONCE_MADE  # a store's endpoint (and an internal service's URL) is
    # known once it is made; the URL is fixed before the service exists: nothing is restarted
    def __init__(
        self,
        gcp: Gcp,
        bucket: Bucket,
        project_number: str,
        project: Project,
        stack: str,
        config_values: Mapping[str, str],
        etag: str,
        options: DeployOptions,
        sink: Sink,
        poll_interval: float,
        named: names.Names,
        *,
        turned_on: frozenset[str] = frozenset(),
    ) -> None:
        self.gcp, self.bucket, self.number = gcp, bucket, project_number
        self.turned_on = turned_on
        """The APIs (``run.googleapis.com``...) this deploy turned on: they hold nothing of the
        stack, so observe does not read them (a read would only wait out Google's propagation,
        minutes on a new project, to find nothing)."""
        self.project, self.stack, self.config = project, stack, config_values
        self.named = named
        """The names the stack's things have (``inventory.stack_names``)."""
        self.etag, self.options, self.sink, self.poll = etag, options, sink, poll_interval
        gcp.notify = lambda text: self.say(None, text)
        self.interval = poll_interval
        self.routes = ingress.routes(project, named)
        self.services, self.stores, self.ingress = _Services(self), _Stores(self), _Balancer(self)
        self.gateway = {"GCP_PROJECT_ID": gcp.project, "REGION": gcp.region}
        self.account = named.account(gcp.project)
        self.net = network.Network()
        self.build_account = ""
        """The service account builds run as (made or checked by prepare_builds)."""
        self._builds = Once(self._make_builds, lambda: ProviderError(
            "making what the builds stand on was interrupted", provider="gcp", hint="Deploy again."))
        """What the builds stand on, made once (prepare_builds)."""
        self.zones: dict[str, ingress.Zone] = {}
        self.address: str | None = None
        """The load balancer's address: as found, then as applied."""
        self.live: dict[str, Any] = {}
        """Compose service (or, for one the project no longer has, its label) -> Cloud Run service."""
        self.pools: dict[str, Any] = {}
        """Compose service (a worker) -> Cloud Run worker pool, found the same way."""
        self.found_stores: dict[str, stores.Existing] = {}
        self.others: dict[str, dict[str, str]] = {}
        """Path -> labels of each Cloud Run service and worker pool in the region that is not
        the stack's (observe lists them all): a deploy writes none of them."""
        self.endpoints: dict[str, str] = {}
        """Managed store service -> its private address."""
        self.mongo: dict[str, render.Mongo] = {}
        """MongoDB store service -> its database and user credential."""
        self.referenced: set[str] = set()
        """Every secret a rendered service reads."""
        self.refusal: ProviderError | None = None
        self.pins: dict[tuple[str, str, str], str | None] = {}
        """(service, revision, image) -> the image by digest (``pinned``)."""
        services = project.services
        self.store_names = frozenset(n for n, s in services.items() if s.managed_store)
        self.mongo_names = frozenset(n for n, s in services.items() if s.managed_store == "mongodb")
        self.store_kinds = store_kinds(project)
        callable_ = render.callable_services(services)
        self.hosts = {
            n: names.run_url(named.service(n), project_number, gcp.region).removeprefix("https://")
            for n in callable_
        }
        self.internal = frozenset(n for n in callable_ if not services[n].ingress_ports)

    @property
    def name(self) -> str:
        return self.project.name

    def parent(self) -> str:
        return f"projects/{self.gcp.project}/locations/{self.gcp.region}"

    # -- reading ---------------------------------------------------------------------------

    async def observe(self) -> dict[str, Found]:
        gcp = self.gcp
        zoned = anyio.Event()

        async def zones() -> dict[str, ingress.Zone]:
            self.zones = await self._zones()
            zoned.set()
            return self.zones

        async def found_zones() -> dict[str, ingress.Zone]:
            await zoned.wait()
            return self.zones

        # the balancer's parts are read beside the rest; only its domains' records need the zones
        _, self.net, self.live, self.pools, self.found_stores, balancer = await gather(
            zones,
            # an API not yet on (before a first deploy) holds nothing of the stack's
            lambda: if_enabled(
                lambda: network.lookup(gcp, self.options.network, needed=self._needs_network()),
                network.Network()),
            lambda: self._held("run", lambda: live(gcp, self.name, self.stack, self.others), {}),
            lambda: self._held("run", lambda: pools(gcp, self.name, self.stack, self.others), {}),
            lambda: stores.find_all(gcp, self.name, self.stack,
                                    {k for k in self.store_kinds if not self._new(stores.API[k])}),
            lambda: self._balancer(found_zones),
        )
        self.address = balancer.address
        out: dict[str, Found] = {}
        for name in sorted(set(self.live) | set(self.pools)):
            found = self.running(name)
            status = status_of(name, found, endpoints(self.project, self.routes, name, found))
            out[name] = Found(
                dict(found.labels).get(names.HASH, ""),
                replicas=instances(found),
                # a worker pool has no invoker check to open: it serves no requests; a name
                # with both kinds was cut short moving between them, which a deploy finishes
                ready=(is_pool(found) or access.is_open(found))
                and status.state is State.SERVICE_DEPLOYMENT_COMPLETED
                and not (name in self.live and name in self.pools),
                status=status,
            )
        await self._mongo_targets()
        for name in self.store_names:
            store = self.found_stores.get(names.label(name))
            if store is None:
                continue
            self._refuse_tier(name, store)
            if store.endpoint and store.kind != "mongodb":  # reached by connection string instead
                self.endpoints[name] = store.endpoint
            status = stores.status(name, store)
            out[name] = Found(store.digest, kind=Kind.STORE, ready=not status.state.failed, status=status)
        if balancer.digest or balancer.parts:
            out[LOAD_BALANCER] = Found(
                balancer.digest,
                kind=Kind.INGRESS,
                ready=balancer.complete,
                status=self.balancer_status(balancer),
            )
        return out

    def _new(self, api: str) -> bool:
        """Whether this deploy turned ``api`` on (it was off: nothing of the stack is in it)."""
        return APIS[api] in self.turned_on

    async def _held(self, api: str, step: Callable[[], Awaitable[T]], default: T) -> T:
        """What ``step`` reads of the stack in ``api``, or ``default`` where the API is off, or
        was until this deploy turned it on."""
        return default if self._new(api) else await if_enabled(step, default)

    def running(self, name: str) -> Any:
        """What runs compose service ``name``: its worker pool or Cloud Run service, the kind the
        project now wants first (both exist only while a deploy moves it from one to the other)."""
        wanted = name in self.project.services and render.is_worker(self.project.services[name])
        first, other = (self.pools, self.live) if wanted else (self.live, self.pools)
        return first.get(name) or other[name]

    async def _mongo_targets(self) -> None:
        """The database and user credential of each MongoDB store that has them, for the
        connection strings of the services that name it."""
        ready = [(n, f) for n in self.store_names
                 if (f := self.found_stores.get(names.label(n))) is not None
                 and f.kind == "mongodb" and f.state == "READY"]
        await gather(*[lambda n=n, f=f: self.mongo_target(n, f) for n, f in ready])

    async def mongo_target(self, name: str, found: stores.Existing) -> None:
        password = await stores.mongo_password(self.gcp, found)
        if found.endpoint and password is not None:
            self.mongo[name] = render.Mongo(found.endpoint, found.name, found.user, password)

    def _refuse_tier(self, name: str, store: stores.Existing) -> None:
        """A Memorystore instance whose tier the stack's mode changes must be made anew, and
        its data is lost: refused unless the store says it may go down (allow-downtime)."""
        wanted = stores.mode_settings(store.kind, self.options.mode).get("tier", "BASIC")
        service = self.project.services[name]
        if store.kind != "redis" or not store.tier or store.tier == wanted or \
                (service.redis is not None and service.redis.allow_downtime):
            return
        self.refusal = ProviderError(
            f"{name}: mode {self.options.mode.value} makes the Redis instance {wanted}, and "
            f"Memorystore cannot change the tier of an instance: a new one would be made and the "
            f"data of this one lost; nothing was changed", provider="gcp", service=name,
            hint=f"Keep the stack's mode, or confirm the loss with `allow-downtime: true` under "
                 f"x-defang-redis of {name} and deploy again.")

    async def _zones(self) -> dict[str, ingress.Zone]:
        """The Cloud DNS zone of each domain; a domain without one is the deploy's refusal."""
        try:
            return await ingress.zones(self.gcp, [r.domain for r in self.routes])
        except ProviderError as exc:
            self.refusal = exc
            return {}

    async def _balancer(self, zones: Callable[[], Awaitable[dict[str, ingress.Zone]]]
                        ) -> ingress.Existing:
        """The stack's load balancer; Compute not enabled (yet, or since no service has a domain)
        holds none."""

        async def find() -> ingress.Existing:
            return await ingress.find(self.gcp, self.named, self.routes, zones)

        return await self._held("compute", find, ingress.Existing())

    def balancer_status(self, balancer: ingress.Existing) -> ServiceStatus:
        message = ""
        if balancer.certificate and balancer.certificate != "ACTIVE":
            message = (
                f"certificate {balancer.certificate.lower()}: HTTPS answers once Google has issued it, "
                f"up to an hour after DNS points at {balancer.address}"
            )
        return ServiceStatus(
            name=LOAD_BALANCER,
            state=State.SERVICE_DEPLOYMENT_COMPLETED,
            message=message,
            endpoints=[f"https://{r.domain}" for r in self.routes],
        )

    async def image(self, service: Service, source: Source | None, *, build: bool, progress: Progress) -> str:
        """The image: for a built service, in the shared repository, tagged with its context's
        digest (built by Cloud Build when ``build`` and the repository does not have it)."""
        if service.model_provider is not None:
            return self.pulled(model_service.gateway_image(service))
        if service.managed_store:
            return service.image or ""
        if source is None or service.build is None:
            return self.pulled(service.image or "")
        path = names.image_path(self.name, self.stack, service.name)
        image = f"{names.registry(self.gcp.project, self.gcp.region)}/{path}:{source.digest}"
        if not build:
            return image
        builder = builds.CloudBuild(self.gcp, self.bucket)

        async def ready() -> None:
            """The repository's check and the context's upload need neither the build account
            nor its grants, whose propagation is most of a first build's wait: only the start does."""
            await self.prepare_builds()
            builder.account = self.build_account

        return await remote.image(builder, service, source, image, progress, interval=self.poll,
                                  ready=ready)

    def pulled(self, image: str) -> str:
        """An image that is not built, as Cloud Run pulls it: Docker Hub names in full, and an
        image of a registry Cloud Run does not pull from through the stack's remote repository
        of that registry (registries.py)."""
        if registries.remote(image):
            return registries.rewritten(image, self.named, self.gcp.project, self.gcp.region)
        return qualified(image)

    async def has_image(self, image: str) -> bool:
        """Whether Artifact Registry still has ``image`` (a rollback refuses one that is gone)."""
        from launchdeck.providers.gcp import images

        return await images.kept(self.gcp, image)

    async def pinned(self, service: str, image: str) -> str | None:
        """``image`` by the digest Cloud Run resolved for the service's latest ready revision
        (or the repository's for its tag), for the history: a rollback runs it even after the
        tag moved. One read per service and revision, none that changes anything: a service
        this deploy rolled out is read as soon as it is ready (``_Services.look``), not after
        the last one."""
        from launchdeck.providers.gcp import images

        found = self.services.looked.get(service)
        if found is None and (service in self.live or service in self.pools):
            found = self.running(service)  # unchanged by this deploy: as observe found it
        if found is None:  # not a Cloud Run service (a managed store), or not made
            return None
        revision = None if is_pool(found) else found.latest_ready_revision
        key = (service, revision or "", image)
        if key not in self.pins:
            self.pins[key] = await images.pinned(self.gcp, revision or None, image)
        return self.pins[key]

    def _needs_network(self) -> bool:
        """Whether any service reaches a store or an internal service (through the network)."""
        infra = self.infra()
        return any(
            any(render.reaches(s, infra, self.config))
            for s in self.project.services.values()
            if not s.managed_store
        )

    def infra(self) -> render.Infra:
        """What the services' Cloud Run settings point at, as far as it is known now."""
        return render.Infra(
            project=self.name,
            stack=self.stack,
            mark=self.named.mark,
            gcp_project=self.gcp.project,
            region=self.gcp.region,
            account=self.account,
            network=self.net.name,
            subnetwork=self.net.subnetwork,
            # a MongoDB store (Firestore) answers at a public TLS endpoint: no network to reach it
            stores=self.store_names - self.mongo_names,
            endpoints=dict(self.endpoints),
            hosts=self.hosts,
            internal=self.internal,
            mongo=dict(self.mongo),
            mode=self.options.mode,
        )

    # -- changing --------------------------------------------------------------------------

    async def prepare(self) -> None:
        """What every unit stands on, made where missing."""
        gcp, services, infra = self.gcp, self.project.services.values(), self.infra()
        calls_internal = any(
            render.reaches(s, infra, self.config)[1] for s in services if not s.managed_store
        )
        steps = [self._account, self.prepare_builds]
        if any(s.managed_store == "postgres" for s in services):
            steps.append(lambda: network.private_services_access(gcp, self.net, self.number, self.poll))
        if calls_internal:
            steps.append(lambda: network.internal_calls(gcp, self.net))
        steps += [lambda h=h: registries.ensure(gcp, self.named, h)
                  for h in registries.hosts(self.project)]
        await gather(*steps)

    async def prepare_builds(self) -> None:
        """What the builds stand on (the image repository, the build account and its grants;
        the context bucket is the provider's, made before the session): made once, whether the
        engine or ``prepare`` asks first, so the builds start without waiting for the rest of
        ``prepare`` (Private Services Access alone takes minutes on a new project)."""
        await self._builds()

    async def _make_builds(self) -> None:
        if any(s.build and not s.managed_store for s in self.project.services.values()):
            await gather(lambda: builds.repository(self.gcp), self._builder)

    async def _builder(self) -> None:
        self.build_account = await access.builder(self.gcp)

    async def _account(self) -> None:
        await access.account(self.gcp, self.named)
        # the secrets the services read, granted now: a grant takes minutes to reach Cloud Run,
        # which the builds and stores made meanwhile hide; a derived one (a store's URL with
        # its password) is made empty for it, its value added in apply once the store is there
        member = f"serviceAccount:{self.account}"
        configs = sorted(self.referenced)
        derived = names.labels(self.name, self.stack, kind="derived")

        async def granted(secret: str) -> bool:
            try:
                return await config.grant(self.gcp, secret, member)
            except GcpError as exc:
                kind = names.config_name(self.name, self.stack, secret) or "derived-"
                if exc.code != 404 or not kind.startswith("derived-"):
                    raise
            await config.made(self.gcp, secret, derived)  # a first deploy: not made yet
            return await config.grant(self.gcp, secret, member)

        wrote = await gather(*[lambda k=k: granted(k) for k in configs])
        now = time.monotonic()
        self.services.granted.update({k: now for k, w in zip(configs, wrote, strict=True) if w})
        self.services.held.update(configs)
        wanted = any(s.llm is not None for s in self.project.services.values()) or \
            model_service.uses_models(self.project)
        if await access.project_role(
            self.gcp, names.LLM_ROLE, f"serviceAccount:{self.account}", wanted=wanted
        ):
            self.say(None, "the services may now call Vertex AI" if wanted else "Vertex AI access removed")

    def say(self, service: str | None, message: str) -> None:
        self.sink(Event(service, None, message))

    def stack_labels(self, service: str, digest: str) -> dict[str, str]:
        return names.labels(self.name, self.stack, service=service, etag=self.etag, hash=digest)

    async def tidy(self) -> None:
        """Delete the derived secrets no service reads any more (a value that no longer mixes
        config, a service taken out). A store's data stays until `compose down`."""
        for secret in await config.listed(self.gcp, self.name, self.stack, "derived"):
            if secret not in self.referenced:
                await self.gcp.maybe(
                    "secretmanager", "delete_secret", name=f"projects/{self.gcp.project}/secrets/{secret}"
                )


# -- the drivers of each kind -------------------------------------------------------------


_SECRET_DENIED = "Permission denied on secret"
"""What Cloud Run says of a revision whose service account may not (yet) read a secret."""
_ATTEMPT = "launchdeck_attempt"
"""A template label changed to make Cloud Run start a new revision of the same spec."""


SHARED_LOOKS = 2
"""Services rolling out at once from which their looks share one list of the region's services
(_Services._listed); one alone is read on its own (a list holds every service of the region)."""


@dataclasses.dataclass
class _Listing:
    """One list of the region's Cloud Run services (or worker pools), shared by the looks that
    wait for it."""

    number: int
    done: anyio.Event = dataclasses.field(default_factory=anyio.Event)
    found: dict[str, Any] = dataclasses.field(default_factory=dict)
    error: Exception | None = None


class _Services:
    """Compose services as Cloud Run services, and workers (no port) as Cloud Run worker pools."""

    def __init__(self, session: GcpSession) -> None:
        self.s = session
        self.granted: dict[str, float] = {}
        """Secret -> when this deploy granted the stack's account access to it (IAM takes
        minutes to propagate; services sharing a secret share its grant)."""
        self.applied: dict[str, dict[str, Any]] = {}
        """Service -> the Cloud Run spec last sent, to send again as a new revision."""
        self.looked: dict[str, Any] = {}
        """Service -> its Cloud Run service (or worker pool) as last looked at in this deploy."""
        self.held: set[str] = set()
        """Secrets the stack's account was granted, or found to hold, in this deploy: services
        sharing a secret do not each read its policy again."""
        self.versions: dict[str, str | None] = {}
        """Config secret -> the number of its newest version, read once in a deploy however
        many services read it."""
        self._reading: dict[str, Once] = {}
        self.settling: set[str] = set()
        """Services (and worker pools) sent a new spec whose rollout has not been seen to end."""
        self._lists: dict[bool, _Listing] = {}
        """Worker pools or not -> the latest list of the region's Cloud Run services (or pools)."""
        self._seen: dict[str, int] = {}
        """Service -> the number of the list it was last looked at in."""

    async def _listed(self, worker: bool, unit: str) -> dict[str, Any]:
        """The region's Cloud Run services (or worker pools) by name, from one list that every
        unit looked at meanwhile shares: one begun after the list ``unit`` was last looked at
        in. While many units roll out at once, one list a poll replaces a read of each."""
        latest = self._lists.get(worker)
        if latest is None or latest.number <= self._seen.get(unit, 0):
            latest = self._lists[worker] = _Listing(latest.number + 1 if latest else 1)
            client, method = ("run.worker_pools", "list_worker_pools") if worker else \
                ("run.services", "list_services")
            try:
                found = await self.s.gcp.all(client, method, parent=self.s.parent())
                latest.found = {str(r.name): r for r in found}
            except Exception as exc:
                latest.error = exc
                raise
            finally:
                latest.done.set()
        else:
            await latest.done.wait()
            if latest.error is not None:
                raise latest.error
        self._seen[unit] = latest.number
        return latest.found

    async def newest(self, secret: str) -> str | None:
        """The number of a config secret's newest version (``versions``)."""
        if secret not in self._reading:
            async def read() -> None:
                self.versions[secret] = await config.newest(self.s.gcp, secret)

            self._reading[secret] = Once(read, lambda: ProviderError(
                f"reading the versions of {secret} was interrupted", provider="gcp",
                hint="Deploy again."))
        await self._reading[secret]()
        return self.versions[secret]

    def render(self, service: Service, image: str) -> Rendered:
        rendered = render.render(service, self.s.infra(), self.s.config)
        self.s.referenced.update(rendered.secrets)
        if rendered.worker:
            count = rendered.spec["scaling"]["manual_instance_count"]
            moved = count != render.pool_instances(service, modes.DEFAULT)
            return Rendered(spec=(rendered, image), hash=rendered.hash, replicas=count, scales=False,
                            mode=self.s.options.mode.value if moved else None)
        bounds = rendered.spec["template"]["scaling"]
        moved = bounds != render.scaling(service, modes.DEFAULT)
        return Rendered(spec=(rendered, image), hash=rendered.hash,
                        replicas=bounds["min_instance_count"], scales="max_instance_count" in bounds,
                        mode=self.s.options.mode.value if moved else None)

    async def apply(self, unit: Unit, action: Action, progress: Progress) -> None:
        s = self.s
        gcp = s.gcp
        rendered, image = unit.spec
        member = f"serviceAccount:{s.account}"
        labels = dict(s.stack_labels(rendered.name, unit.digest))
        derived = dict(rendered.derived)
        written = await gather(
            *[lambda k=k, v=v: config.put(gcp, k, {**labels, names.KIND: "derived"}, v)
              for k, v in derived.items()]
        )
        versions = dict(zip(derived, written, strict=True))
        others = [k for k in rendered.secrets if k not in versions]
        found = await gather(*[lambda k=k: self.newest(k) for k in others])
        versions.update({k: v for k, v in zip(others, found, strict=True) if v is not None})
        asked = [k for k in rendered.secrets if k not in self.held]  # prepare granted the rest
        granted = await gather(*[lambda k=k: config.grant(gcp, k, member) for k in asked])
        self.held.update(asked)
        for secret, wrote in zip(asked, granted, strict=True):
            if wrote:
                self.granted[secret] = time.monotonic()
        spec = render.with_image(rendered, image, versions)
        spec["labels"].update(labels)
        spec["template"]["labels"].update(labels)
        kind, now, other = ("workerPools", s.pools, s.live) if rendered.worker else \
            ("services", s.live, s.pools)
        spec["name"] = f"{s.parent()}/{kind}/{rendered.service_id}"
        what = "worker pool" if rendered.worker else "service"
        progress(None, "rolling out a new revision" if unit.name in now
                 else f"creating the Cloud Run {what}")
        if spec["name"] in s.others:  # the write is an upsert: it would take another's
            names.refuse_foreign(f"Cloud Run {what}", rendered.service_id, s.others[spec["name"]],
                                 s.name, s.stack)
        await self._update(spec)
        if unit.name in other:  # it was the other kind (a worker given a port, or the reverse)
            progress(None, f"removing the Cloud Run {'service' if rendered.worker else 'worker pool'} "
                           f"it ran as before")
            await delete(s.gcp, other.pop(unit.name).name)

    async def _update(self, spec: dict[str, Any]) -> None:
        from google.cloud import run_v2

        self.applied[spec["annotations"][names.ANNOTATION]] = spec
        self.settling.add(spec["annotations"][names.ANNOTATION])
        if "/workerPools/" in spec["name"]:
            await self.s.gcp.call("run.worker_pools", "update_worker_pool",
                                  request={"worker_pool": run_v2.WorkerPool(spec), "allow_missing": True})
            return
        await self.s.gcp.call(
            "run.services", "update_service", request={"service": run_v2.Service(spec), "allow_missing": True}
        )

    async def look(self, unit: Unit, progress: Progress) -> ServiceStatus:
        """Whether Cloud Run has reconciled the service (or worker pool): its revision ready, or
        failed."""
        s = self.s
        rendered, _ = unit.spec
        kind = "workerPools" if rendered.worker else "services"
        name = f"{s.parent()}/{kind}/{rendered.service_id}"
        if len(self.settling) >= SHARED_LOOKS:
            listed = (await self._listed(rendered.worker, unit.name)).get(name)
            if listed is not None and not status_of(unit.name, listed, []).state.final:
                return status_of(unit.name, listed, [])  # still rolling out, as the list shows
        # what the list shows as ended is read on its own (strongly consistent) before it counts
        if rendered.worker:
            service = await s.gcp.call("run.worker_pools", "get_worker_pool", name=name)
        else:
            service = await s.gcp.call("run.services", "get_service", name=name)
        self.looked[unit.name] = service
        status = status_of(unit.name, service, endpoints(s.project, s.routes, unit.name, service))
        if status.state.final:
            self.settling.discard(unit.name)
        if status.state is State.SERVICE_DEPLOYMENT_COMPLETED:
            # read for the history now, while other units still roll out, not after the last
            with contextlib.suppress(LaunchdeckError):
                await s.pinned(unit.name, unit.spec[1])
        since = max((self.granted[k] for k in rendered.secrets if k in self.granted), default=None)
        if (status.state is State.SERVICE_DEPLOYMENT_FAILED and since is not None
                and _SECRET_DENIED in status.message and time.monotonic() - since < PROPAGATION
                and unit.name in self.applied):
            # the grant made for this revision had not reached Cloud Run yet: a new revision
            spec = self.applied[unit.name]
            attempt = int(spec["template"]["labels"].get(_ATTEMPT, "0")) + 1
            spec["template"]["labels"][_ATTEMPT] = str(attempt)
            progress(None, f"secret access not propagated yet; trying a new revision ({attempt})")
            await self._update(spec)
            return status.model_copy(update={"state": State.SERVICE_DEPLOYMENT_PENDING, "message": "",
                                             "start_error": None})
        return status

    async def remove(self, name: str, found: Found, progress: Progress) -> None:
        """Remove a service (or worker pool) the project no longer has, with its images."""
        s = self.s
        for found_ in (s.live.pop(name, None), s.pools.pop(name, None)):
            if found_ is not None:
                await delete(s.gcp, found_.name)
        await delete_package(s.gcp, names.image_path(s.name, s.stack, name))


class _Stores:
    """Managed stores as Cloud SQL for PostgreSQL and Memorystore for Redis instances, and
    Firestore databases with MongoDB compatibility."""

    def __init__(self, session: GcpSession) -> None:
        self.s = session
        self.said: dict[str, str] = {}
        self.creating: dict[str, Any] = {}
        """Store -> its create operation, polled until it ends: a failed create leaves no
        instance, only the operation with GCP's reason."""

    def render(self, service: Service) -> stores.Store:
        return stores.store(service, self.s.config, self.s.options.mode)

    async def apply(self, unit: Unit, action: Action, progress: Progress) -> None:
        s = self.s
        self.creating[unit.name] = await stores.ensure(
            s.gcp,
            self._spec(unit),
            s.found_stores.get(names.label(unit.name)),
            s.named,
            s.etag,
            s.net.link(s.gcp.project),
            lambda message: progress(None, message),
        )

    def _spec(self, unit: Unit) -> stores.Store:
        return dataclasses.replace(unit.spec, hash=unit.digest)

    async def look(self, unit: Unit, progress: Progress) -> ServiceStatus:
        s = self.s

        def say(message: str) -> None:
            if self.said.get(unit.name) != message:
                self.said[unit.name] = message
                progress(None, message)

        operation = self.creating.get(unit.name)
        if operation is not None:
            if not await stores.failed(s.gcp, self._spec(unit), operation):
                say(f"creating the {unit.spec.kind} store")
                return ServiceStatus(name=unit.name, state=State.SERVICE_DEPLOYMENT_PENDING,
                                     message=self.said.get(unit.name, ""))
            self.creating[unit.name] = None
        found = await stores.look(s.gcp, self._spec(unit), s.name, s.stack, s.etag, say)
        if found is None:
            return ServiceStatus(name=unit.name, state=State.SERVICE_DEPLOYMENT_PENDING,
                                 message=self.said.get(unit.name, ""))
        if found.kind == "mongodb":
            await s.mongo_target(unit.name, found)
        elif found.endpoint:
            s.endpoints[unit.name] = found.endpoint
        return stores.status(unit.name, dataclasses.replace(found, digest=unit.digest, etag=s.etag))

    async def remove(self, name: str, found: Found, progress: Progress) -> None:
        """A store the project no longer has stays, with its data, until `compose down`."""
        progress(None, "kept: a removed store keeps its data until `compose down`")


class _Balancer:
    """The global external Application Load Balancer in front of the services with domains."""

    def __init__(self, session: GcpSession) -> None:
        self.s = session

    def render(self) -> Balancer:
        return Balancer(routes=self.s.routes, zones=self.s.zones)

    async def apply(self, unit: Unit, action: Action, progress: Progress) -> None:
        s = self.s
        s.address = await ingress.apply(
            s.gcp, s.named, s.routes, s.zones, unit.digest, lambda message: progress(None, message)
        )

    async def look(self, unit: Unit, progress: Progress) -> ServiceStatus:
        s = self.s
        certificate = await ingress.certificate_status(s.gcp, s.named, s.routes)
        return s.balancer_status(ingress.Existing(address=s.address, certificate=certificate))

    async def remove(self, name: str, found: Found, progress: Progress) -> None:
        progress(None, "removing the load balancer: no domain is left")
        await ingress.remove(self.s.gcp, self.s.named,
                             lambda what: progress(None, f"removed {what}"))


# -- what ps and destroy share ----------------------------------------------------------------


def qualified(image: str) -> str:
    """An image reference as Cloud Run pulls it: Docker Hub names in full."""
    first = image.split("/", 1)[0]
    if "/" in image and ("." in first or ":" in first or first == "localhost"):
        return image
    return f"docker.io/{image}" if "/" in image else f"docker.io/library/{image}"


async def live(gcp: Gcp, project: str, stack: str,
               others: dict[str, dict[str, str]] | None = None) -> dict[str, Any]:
    """The stack's Cloud Run services, found by their labels, by the compose service name each
    one's annotation keeps (so also one the project no longer has); the labels of the rest are
    put in ``others`` by path, when given."""
    return await _listed(gcp, "run.services", "list_services", project, stack, others)


async def pools(gcp: Gcp, project: str, stack: str,
                others: dict[str, dict[str, str]] | None = None) -> dict[str, Any]:
    """The stack's Cloud Run worker pools, found like its services (``live``)."""
    return await _listed(gcp, "run.worker_pools", "list_worker_pools", project, stack, others)


async def _listed(gcp: Gcp, client: str, method: str, project: str, stack: str,
                  others: dict[str, dict[str, str]] | None) -> dict[str, Any]:
    found = await gcp.all(client, method, parent=f"projects/{gcp.project}/locations/{gcp.region}")
    mine = [r for r in found if names.owned(dict(r.labels), project, stack)]
    if others is not None:
        others.update({r.name: dict(r.labels) for r in found
                       if not names.owned(dict(r.labels), project, stack)})
    return {dict(r.annotations).get(names.ANNOTATION, service_id(r)): r for r in mine}


def is_pool(found: Any) -> bool:
    """Whether a Cloud Run resource is a worker pool (not a service)."""
    return "/workerPools/" in str(found.name)


def instances(found: Any) -> int:
    """The instances a service keeps at the least, or a worker pool's fixed count."""
    if is_pool(found):
        return found.scaling.manual_instance_count
    return found.template.scaling.min_instance_count


def store_kinds(project: Project) -> set[str]:
    """The kinds of managed store the project has (only their APIs are asked)."""
    return {s.managed_store for s in project.services.values() if s.managed_store}


def endpoints(project: Project, routes: list[ingress.Route], name: str, service: Any) -> list[str]:
    """Where a Cloud Run service answers, when it has an ingress port: its URL, then its domains
    (a worker pool answers nowhere)."""
    compose = project.services.get(name)
    if is_pool(service) or compose is None or not compose.ingress_ports or not service.uri:
        return []
    return [service.uri] + [f"https://{r.domain}" for r in routes if r.service == name]


def service_id(service: Any) -> str:
    """A Cloud Run service's id: the last part of its name."""
    return str(service.name).rsplit("/", 1)[-1]


def status_of(name: str, service: Any, endpoints: list[str]) -> ServiceStatus:
    """A Cloud Run service's (or worker pool's) state in the shared vocabulary. Cloud Run does
    not say how many instances run; a ready service runs at least its minimum, a ready worker
    pool its fixed count, which is what it reports."""
    desired = instances(service)
    highest = 0 if is_pool(service) else service.template.scaling.max_instance_count
    condition = service.terminal_condition
    settled = not service.reconciling and service.observed_generation == service.generation
    message = ""
    if condition.state.name == "CONDITION_FAILED" and settled:
        state = State.SERVICE_DEPLOYMENT_FAILED
        message = condition.message or "the revision failed"
    elif condition.state.name == "CONDITION_SUCCEEDED" and settled:
        state = State.SERVICE_DEPLOYMENT_COMPLETED
    else:
        state = State.SERVICE_DEPLOYMENT_PENDING
    return ServiceStatus(
        name=name,
        state=state,
        replicas_desired=desired,
        replicas_range=f"{desired}-{highest}" if highest else None,
        replicas_running=desired if state is State.SERVICE_DEPLOYMENT_COMPLETED else 0,
        endpoints=endpoints if state is State.SERVICE_DEPLOYMENT_COMPLETED else [],
        image=service.template.containers[0].image if service.template.containers else None,
        deployment_id=dict(service.labels).get(names.ETAG),
        message=message,
        start_error=message or None,
    )


async def delete_service(gcp: Gcp, path: str) -> bool:
    """Delete a Cloud Run service and wait until it is gone; False when it was not there."""
    return await _delete(gcp, "run.services", "delete_service", path)


async def delete_pool(gcp: Gcp, path: str) -> bool:
    """Delete a Cloud Run worker pool and wait until it is gone; False when it was not there."""
    return await _delete(gcp, "run.worker_pools", "delete_worker_pool", path)


async def _delete(gcp: Gcp, client: str, method: str, path: str) -> bool:
    op = await gcp.maybe(client, method, name=path)
    if op is None:
        return False
    await if_found(lambda: gcp.wait(op, what=f"delete {path.rsplit('/', 1)[-1]}", api="run"))
    return True


async def delete(gcp: Gcp, path: str) -> bool:
    """Delete a Cloud Run service or worker pool by its path."""
    return await (delete_pool(gcp, path) if "/workerPools/" in path else delete_service(gcp, path))


async def delete_package(gcp: Gcp, path: str) -> bool:
    """Delete every image of ``path`` in the shared repository; False when it had none."""
    op = await gcp.maybe(
        "artifactregistry", "delete_package", name=names.package(gcp.project, gcp.region, path)
    )
    if op is None:
        return False
    await gcp.wait(op, what=f"delete the images of {path}", api="artifactregistry")
    return True
