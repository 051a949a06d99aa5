"""launchdeck projects as Pulumi components in Python, deployed by launchdeck's engine.

    import pulumi
    from launchdeck.pulumi import Postgres, Project, Service

    db = Postgres("db")                                    # password: config POSTGRES_PASSWORD
    app = Service("app", build="./app", ports=[{"target": 8080, "mode": "ingress"}],
                  environment={"API_KEY": None}, deploy={"replicas": 2}, depends_on=[db])
    seed = Project("seed", services=[app, db])        # the default provider; or provider=...
    pulumi.export("endpoints", seed.endpoints)

Needs the ``pulumi`` extra (``pip install launchdeck[pulumi]``).
"""

from launchdeck.pulumi.components import Postgres, Project, Redis, Service
from launchdeck.pulumi.errors import DeploymentFailed, ProgramError
from launchdeck.pulumi.provider import Deployment, LaunchdeckProvider
from launchdeck.pulumi.spec import (
    BuildArgs,
    DeployArgs,
    HealthcheckArgs,
    LlmArgs,
    PortArgs,
    ResourceArgs,
    ResourcesArgs,
)

__all__ = ["BuildArgs", "DeployArgs", "Deployment", "DeploymentFailed", "HealthcheckArgs",
           "LaunchdeckProvider", "LlmArgs", "PortArgs", "Postgres", "ProgramError", "Project", "Redis",
           "ResourceArgs", "ResourcesArgs", "Service"]
