"""Compose model services (``provider: {type: model}``) on every target.

A model service runs no container of its own in Compose: the platform provides the model.
On a cloud, launchdeck runs an OpenAI-compatible gateway in its place (in front of Bedrock
or Vertex AI, with the rights to call it); locally, the Docker Model Runner serves it. Either
way the services that depend on it receive ``<NAME>_URL`` and ``<NAME>_MODEL``, as Compose
defines for model services.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from launchdeck.compose.model import Project, Service

GATEWAY_IMAGE = "defangio/openai-access-gateway"
"""The public OpenAI-compatible gateway the platform's users already run (Bedrock, Vertex)."""
GATEWAY_PORT = 80
GATEWAY_PATH = "/api/v1/"


def gateway_image(service: Service) -> str:
    """The gateway image: the service's ``options.image``, else LAUNCHDECK_MODEL_GATEWAY_IMAGE,
    else the public default."""
    chosen = (service.provider.options.get("image") or [""])[0] if service.provider else ""
    return chosen or os.environ.get("LAUNCHDECK_MODEL_GATEWAY_IMAGE") or GATEWAY_IMAGE


def gateway(service: Service, environment: Mapping[str, str]) -> Service:
    """The container a cloud runs for a model service: the gateway, reachable by the service's
    name on port 80, with the model's rights (``x-defang-llm``) and ``environment``."""
    from launchdeck.compose.model import ManagedLLM, Port

    return service.model_copy(update={
        "image": gateway_image(service), "provider": None, "build": None,
        "ports": [Port(target=GATEWAY_PORT, mode="host")],
        "environment": {**service.environment, **environment,
                        "USE_MODEL_MAPPING": "true"},
        "llm": service.llm or ManagedLLM()})


def cloud_endpoints(project: Project) -> dict[str, str]:
    """Where each model service's gateway answers, for the services that depend on it."""
    return {name: f"http://{name}{GATEWAY_PATH}" for name, s in project.services.items()
            if s.model_provider is not None}


def with_models(project: Project, name: str, endpoints: Mapping[str, str]) -> Service:
    """Service ``name`` with the variables its model dependencies give it (these win over the
    file's own, as in Compose)."""
    service = project.services[name]
    extra = project.model_environment(name, endpoints)
    if not extra:
        return service
    return service.model_copy(update={"environment": {**service.environment, **extra}})


def uses_models(project: Project) -> bool:
    return any(s.model_provider is not None for s in project.services.values())
