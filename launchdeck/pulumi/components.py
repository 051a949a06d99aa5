"""Pulumi components for launchdeck projects: Services (and managed Postgres and Redis)
declared in Python, or a compose file, gathered in a Project that launchdeck's engine deploys.

A Project checks its services for the provider it names while the program runs (so a
preview shows every error finding), reads the config names they use from the stack's
secrets, and hands one ``Deployment`` dynamic resource the normalised compose document,
which the engine deploys (launchdeck/pulumi/provider.py). Outputs: the project's
``endpoints`` and each service's ``state`` and ``endpoints``.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar

import pulumi

from launchdeck.compose.load import normalize_project_name
from launchdeck.errors import LaunchdeckError
from launchdeck.identity import check_provider, check_stack
from launchdeck.providers import default
from launchdeck.pulumi import document, spec
from launchdeck.pulumi.errors import ProgramError
from launchdeck.pulumi.provider import Deployment
from launchdeck.pulumi.spec import (
    BuildArgs,
    Condition,
    DeployArgs,
    HealthcheckArgs,
    LlmArgs,
    PortArgs,
)

T = TypeVar("T")


class Service(pulumi.ComponentResource):
    """One service, with the compose keys as arguments; the Project it is given to deploys it.

    ``environment`` values of ``None`` (and ``${NAME}`` inside a value) are config values,
    read from the stack's secrets (``pulumi config set --secret NAME``).
    """

    _TYPE = "launchdeck:index:Service"

    def __init__(self, resource_name: str, *, service_name: str | None = None,
                 image: pulumi.Input[str] | None = None, build: str | BuildArgs | None = None,
                 command: str | Sequence[str] | None = None,
                 entrypoint: str | Sequence[str] | None = None,
                 ports: Sequence[int | str | PortArgs] = (),
                 environment: Mapping[str, pulumi.Input[str] | None] | None = None,
                 healthcheck: HealthcheckArgs | None = None,
                 depends_on: Sequence[Service | str] | Mapping[Service | str, Condition] = (),
                 deploy: DeployArgs | None = None, domainname: pulumi.Input[str] | None = None,
                 llm: bool | LlmArgs = False, opts: pulumi.ResourceOptions | None = None) -> None:
        needs: Sequence[str] | Mapping[str, Condition]
        if isinstance(depends_on, Mapping):
            needs = {_name(dep): condition for dep, condition in depends_on.items()}
        else:
            needs = [_name(dep) for dep in depends_on]
        self._setup(resource_name, service_name, spec.service(
            image=image, build=build, command=command, entrypoint=entrypoint, ports=ports,
            environment=environment, healthcheck=healthcheck, depends_on=needs, deploy=deploy,
            domainname=domainname, llm=llm), opts)

    def _setup(self, resource_name: str, service_name: str | None, doc: dict[str, Any],
               opts: pulumi.ResourceOptions | None) -> None:
        super().__init__(self._TYPE, resource_name, None, opts)
        self.service_name = service_name or resource_name
        self.document = doc
        """The compose service it stands for (values may be pulumi Inputs)."""
        self._outputs: tuple[pulumi.Output[str], pulumi.Output[list[str]]] | None = None

    @property
    def state(self) -> pulumi.Output[str]:
        """Its state after the last update (SERVICE_DEPLOYMENT_COMPLETED when all went well)."""
        return self._attached()[0]

    @property
    def endpoints(self) -> pulumi.Output[list[str]]:
        """Where its ingress ports are reached."""
        return self._attached()[1]

    def _attach(self, deployment: Deployment) -> None:
        if self._outputs is not None:
            raise ProgramError(f"service {self.service_name} is given to two projects",
                               hint="Declare a Service for each project.")
        name = self.service_name

        def field(key: str, empty: T) -> Callable[[Any], T]:
            return lambda services: ((services or {}).get(name) or {}).get(key, empty)

        self._outputs = (deployment.services.apply(field("state", "NOT_DEPLOYED")),
                         deployment.services.apply(field("endpoints", [])))
        self.register_outputs({"state": self._outputs[0], "endpoints": self._outputs[1]})

    def _attached(self) -> tuple[pulumi.Output[str], pulumi.Output[list[str]]]:
        if self._outputs is None:
            raise ProgramError(f"service {self.service_name} belongs to no project",
                               hint="Give it to a Project (services=[...]), which deploys it.")
        return self._outputs


class Postgres(Service):
    """A managed PostgreSQL (``x-defang-postgres``): a container with a volume locally, RDS on
    AWS. Its password is the config value named ``password``."""

    _TYPE = "launchdeck:index:Postgres"

    def __init__(self, resource_name: str, *, service_name: str | None = None,
                 image: str = "postgres:16", user: str = "postgres", database: str | None = None,
                 password: str = spec.POSTGRES_PASSWORD, port: int = 5432,
                 deploy: DeployArgs | None = None, opts: pulumi.ResourceOptions | None = None) -> None:
        self._setup(resource_name, service_name, spec.postgres(
            image=image, user=user, database=database, password=password, port=port, deploy=deploy), opts)


class Redis(Service):
    """A managed Redis (``x-defang-redis``): a container with a volume locally, ElastiCache on AWS."""

    _TYPE = "launchdeck:index:Redis"

    def __init__(self, resource_name: str, *, service_name: str | None = None, image: str = "redis:7",
                 port: int = 6379, deploy: DeployArgs | None = None,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        self._setup(resource_name, service_name, spec.redis(image=image, port=port, deploy=deploy), opts)


class Project(pulumi.ComponentResource):
    """A launchdeck project deployed to one provider (by default the registry's first) and
    stack (by default the Pulumi stack's name): either ``services`` declared in code or a
    ``compose`` file (or several, merged as compose merges them)."""

    services: dict[str, Service]
    """Each service by its compose name."""
    endpoints: pulumi.Output[dict[str, list[str]]]
    """Each service's endpoints, for those with an ingress port."""
    deployment: Deployment

    def __init__(self, resource_name: str, *, services: Sequence[Service] | None = None,
                 compose: str | Sequence[str] | None = None, provider: str | None = None,
                 stack: str | None = None, project_name: str | None = None,
                 profiles: Sequence[str] = (), wait_timeout: float = 300.0,
                 network: Literal["default", "dedicated"] = "default", delete_data: bool = False,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("launchdeck:index:Project", resource_name, None, opts)
        provider = _ours(check_provider, provider or default())
        stack = _ours(check_stack, stack or pulumi.get_stack())
        if network not in ("default", "dedicated"):
            raise ProgramError(f"unknown network {network!r}", hint="Use default or dedicated.")
        if (services is None) == (compose is None):
            raise ProgramError("a Project deploys either services declared in code or a compose file",
                               hint="Pass services=[...] or compose='compose.yaml', not both.")
        base = os.getcwd()  # Pulumi runs the program in its project's folder
        namespace = pulumi.get_project()
        if compose is not None:
            loaded = document.load_files([compose] if isinstance(compose, str) else list(compose), cwd=base,
                                         stack=stack, project_name=project_name, profiles=profiles)
            prepared = document.prepare(loaded, provider, located=True)
            _check_secrets(prepared, namespace, self)
            name, given = prepared.project, pulumi.Output.from_input(prepared)
            composed = prepared.compose["services"]
            members = [_child(resource_name, n, composed[n], self) for n in loaded.project.services]
        else:
            members = list(services or ())
            name = project_name or normalize_project_name(resource_name)
            _unique(members, name)

            def checked(docs: dict[str, Any]) -> document.Prepared:
                rooted = {n: spec.rooted(doc, base) for n, doc in docs.items()}
                out = document.prepare(document.declared(rooted, project=name, stack=stack), provider,
                                       located=False)
                _check_secrets(out, namespace, self)
                return out

            docs = {m.service_name: m.document for m in members}
            # checked at once when every value is known, so that an error stops the program
            # right here; values from other resources are checked once they resolve
            given = (pulumi.Output.from_input(checked(docs)) if _known(docs)
                     else pulumi.Output.from_input(docs).apply(checked))
        self.services = {m.service_name: m for m in members}
        self.deployment = Deployment(resource_name, {
            "provider": provider, "project": name, "stack": stack,
            "compose": given.apply(lambda p: document.dumps(p.compose)),
            "config": given.apply(lambda p: p.config), "namespace": namespace,
            "wait_timeout": wait_timeout, "network": network, "delete_data": delete_data,
        }, opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["digests"]))
        for member in members:
            member._attach(self.deployment)
        self.endpoints = self.deployment.endpoints
        self.register_outputs({"endpoints": self.endpoints})


def _name(dependency: Service | str) -> str:
    return dependency.service_name if isinstance(dependency, Service) else dependency


def _known(value: Any) -> bool:
    """Whether ``value`` holds no pulumi Output (nor anything else still to resolve)."""
    if isinstance(value, Mapping):
        return all(_known(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_known(v) for v in value)
    return not isinstance(value, pulumi.Output) and not inspect.isawaitable(value)


def _child(project: str, name: str, doc: dict[str, Any], parent: Project) -> Service:
    """A component for a service of a compose file, so that it has outputs of its own."""
    kind = Postgres if "x-defang-postgres" in doc else Redis if "x-defang-redis" in doc else Service
    member = kind.__new__(kind)
    member._setup(f"{project}-{name}", name, doc, pulumi.ResourceOptions(parent=parent))
    return member


def _unique(members: Sequence[Service], project: str) -> None:
    names = [m.service_name for m in members]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ProgramError(f"{project} has two services named {', '.join(twice)}",
                           hint="Give each a service_name of its own.")
    if not members:
        raise ProgramError(f"{project} has no services", hint="Pass at least one Service.")


def _check_secrets(prepared: document.Prepared, namespace: str, owner: pulumi.Resource) -> None:
    """Refuse, naming each, the config names the stack's config lacks; warn about any kept in
    plain text."""
    config = pulumi.Config(namespace)
    missing = [n for n in prepared.config if config.get_secret(n) is None]
    if missing:
        raise ProgramError(
            f"config not set in the stack: {', '.join(missing)}",
            hint=f"Set each as a secret of this stack (in the {namespace} namespace), then run the "
                 "update again.")
    secret = set(pulumi.runtime.get_config_secret_keys_env())
    for name in prepared.config:
        key = f"{namespace}:{name}"
        if key not in secret and not pulumi.runtime.is_config_secret(key):
            pulumi.log.warn(f"config {name} is kept in plain text in the stack's config; set it again "
                            "as a secret", resource=owner)
    for warning in prepared.warnings:
        pulumi.log.warn(warning, resource=owner)


def _ours(check: Callable[[str], str], value: str) -> str:
    try:
        return check(value)
    except LaunchdeckError as exc:
        raise ProgramError(exc.message, hint=exc.hint) from exc
