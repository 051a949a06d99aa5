"""The seed example in Python: an app with 2 replicas that reads an API key, on a managed
Postgres whose password is a config value. Both values are this stack's secrets:

    pulumi config set --secret API_KEY
    pulumi config set --secret POSTGRES_PASSWORD
    pulumi config set provider aws          # optional: local (the default) or aws
    pulumi up
"""

import pulumi

from launchdeck.pulumi import Postgres, Project, Service

PROBE = "import urllib.request; urllib.request.urlopen('http://localhost:8080/health')"

db = Postgres("db", user="app", database="app")

app = Service(
    "app",
    build="./app",
    ports=[{"target": 8080, "mode": "ingress"}],
    environment={
        "API_KEY": None,  # no value: read from config
        "DATABASE_URL": "postgres://app:${POSTGRES_PASSWORD}@db:5432/app",
    },
    healthcheck={
        "test": ["CMD", "python3", "-c", PROBE],
        "interval": "5s", "timeout": "3s", "retries": 5,
    },
    depends_on={db: "service_healthy"},
    deploy={"replicas": 2, "resources": {"reservations": {"cpus": 0.25, "memory": "256M"}}},
)

seed = Project("seed", services=[app, db], provider=pulumi.Config().get("provider") or "local")

pulumi.export("endpoints", seed.endpoints)
pulumi.export("app_state", app.state)
pulumi.export("db_state", db.state)
