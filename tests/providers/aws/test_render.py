"""Compose services rendered for ECS, without a cloud: sizes, health, environment, names."""

from __future__ import annotations

import pytest

from launchdeck.compose.load import load
from launchdeck.providers.aws import render
from launchdeck.providers.aws.ingress import routes


def _service(project, body: str, name: str = "app"):
    root = project({"compose.yaml": f"name: demo\nservices:\n  {name}:\n" + body})
    return load(cwd=str(root), os_environ={}).project.services[name]


CA = render.RDS_CA_FILE
TLS = f"sslmode=verify-full&sslrootcert={CA}"


def _infra(**overrides) -> render.Infra:
    values = dict(project="demo", stack="dev", region="us-east-1", account="123456789012",
                  cluster="launchdeck", log_group="/launchdeck/demo/dev", execution_role="arn:exec",
                  task_role="arn:task", subnets=["subnet-1"], public_ip=True, namespace="arn:ns",
                  images={"app": "nginx"})
    values.update(overrides)
    return render.Infra(**values)


@pytest.mark.parametrize(("resources", "size"), [
    ("", (256, 512)),
    ("reservations: {memory: 512M}", (256, 512)),
    ("reservations: {memory: 600M}", (256, 1024)),
    ("reservations: {cpus: '0.5', memory: 1G}", (512, 1024)),
    ("limits: {cpus: '1', memory: 3G}", (1024, 3072)),
    ("reservations: {cpus: '2'}", (2048, 4096)),
    ("reservations: {memory: 20G}", (4096, 20480)),
    ("reservations: {cpus: '64', memory: 500G}", (16384, 122880)),
])
def test_fargate_size_is_the_smallest_valid_one_that_fits(project, resources, size) -> None:
    """cpu and memory from deploy.resources map to the smallest valid Fargate combination."""
    deploy = f"    deploy:\n      resources:\n        {resources}\n" if resources else ""
    body = "    image: nginx\n" + deploy
    assert render.fargate_size(_service(project, body)) == size


@pytest.mark.parametrize(("test", "port", "path"), [
    ('["CMD", "wget", "-q", "--spider", "http://localhost:8080/healthz"]', 8080, "/healthz"),
    ('"curl -f http://127.0.0.1:3000/api/health?deep=1 || exit 1"', 3000, "/api/health?deep=1"),
    ('["CMD", "curl", "http://localhost/"]', 80, "/"),
    ('["CMD", "curl", "http://localhost:9999/other"]', 8080, "/"),
    ('["CMD", "pg_isready"]', 8080, "/"),
])
def test_health_path_comes_from_the_healthcheck_url(project, test, port, path) -> None:
    """The target group probes the path the compose healthcheck probes on that port."""
    service = _service(project, f"    image: nginx\n    healthcheck:\n      test: {test}\n")
    assert render.health_path(service, port) == path


def test_environment_keeps_config_values_out_of_the_task_definition(project) -> None:
    """Bare names and ${NAME} read SSM; mixed templates become derived SecureStrings."""
    service = _service(project, """\
    image: nginx
    environment:
      PLAIN: hello
      API_KEY:
      TOKEN: ${TOKEN}
      DATABASE_URL: postgres://u:${PASSWORD}@db:5432/app
      CACHE: redis://cache:6379
      NOT_A_HOST: database-and-cache
""")
    infra = _infra(endpoints={"db": "db.rds.example", "cache": "cache.example"}, postgres=frozenset({"db"}))
    plain, secrets, derived = render.environment(service, infra, {"PASSWORD": "s3cret", "TOKEN": "t"})
    assert plain == {"PLAIN": "hello", "CACHE": "redis://cache.example:6379",
                     "NOT_A_HOST": "database-and-cache", "NODE_EXTRA_CA_CERTS": CA}
    assert secrets == {"API_KEY": "/launchdeck/demo/dev/API_KEY", "TOKEN": "/launchdeck/demo/dev/TOKEN",
                       "DATABASE_URL": "/launchdeck/demo/dev/.derived/app/DATABASE_URL"}
    assert derived == {"/launchdeck/demo/dev/.derived/app/DATABASE_URL":
                       f"postgres://u:s3cret@db.rds.example:5432/app?sslmode=verify-full&sslrootcert={CA}"}


@pytest.mark.parametrize(("value", "rendered"), [
    ("postgres://u:${PW}@db:5432/app", f"postgres://u:pw@db.rds.example:5432/app?{TLS}"),
    ("postgresql://u:${PW}@db/app?connect_timeout=5",
     f"postgresql://u:pw@db.rds.example/app?connect_timeout=5&{TLS}"),
    ("postgres://u:${PW}@db", f"postgres://u:pw@db.rds.example?{TLS}"),
    # what the URL says itself is kept as written
    ("postgres://u:${PW}@db:5432/app?sslmode=require",
     f"postgres://u:pw@db.rds.example:5432/app?sslmode=require&sslrootcert={CA}"),
    ("postgres://u:${PW}@db:5432/app?sslrootcert=/certs/rds.pem",
     "postgres://u:pw@db.rds.example:5432/app?sslrootcert=/certs/rds.pem&sslmode=verify-full"),
    ("postgres://u:${PW}@db:5432/app?sslmode=verify-ca&sslrootcert=system",
     "postgres://u:pw@db.rds.example:5432/app?sslmode=verify-ca&sslrootcert=system"),
    ("postgres://u:${PW}@elsewhere:5432/app", "postgres://u:pw@elsewhere:5432/app"),
    ("redis://:${PW}@cache:6379", "redis://:pw@cache.example:6379"),
])
def test_postgres_urls_to_a_store_ask_for_verified_tls(project, value, rendered) -> None:
    """A PostgreSQL URL rewritten to the RDS endpoint verifies it against the RDS CA bundle
    (sslmode=verify-full, sslrootcert) unless it says how itself."""
    service = _service(project, f"    image: nginx\n    environment:\n      URL: {value}\n")
    infra = _infra(endpoints={"db": "db.rds.example", "cache": "cache.example"}, postgres=frozenset({"db"}))
    _, _, derived = render.environment(service, infra, {"PW": "pw"})
    assert list(derived.values()) == [rendered]


@pytest.mark.parametrize(("environment", "node_ca"), [
    ("      DATABASE_URL: postgres://u:${PW}@db:5432/app\n", CA),
    ("      PGHOST: db\n", CA),  # named as a host, not in a URL: the CA is there for the client
    ("      DATABASE_URL: postgres://u:${PW}@db/app\n      NODE_EXTRA_CA_CERTS: /app/ca.pem\n",
     "/app/ca.pem"),
])
def test_a_service_naming_a_postgres_store_gets_the_rds_ca(project, environment, node_ca) -> None:
    """Its task fetches the RDS CA bundle before it starts, into a volume it reads at the path the
    URL names, and Node is told of it unless the service says otherwise."""
    service = _service(project, f"    image: node:20\n    environment:\n{environment}")
    infra = _infra(endpoints={"db": "db.rds.example"}, postgres=frozenset({"db"}))
    task = render.render(service, infra, {"PW": "pw"}, "etag1").task_definition
    app, fetch = task["containerDefinitions"]
    assert app["dependsOn"] == [{"containerName": render.RDS_CA_CONTAINER, "condition": "SUCCESS"}]
    assert app["mountPoints"] == [{"sourceVolume": render.RDS_CA_VOLUME, "containerPath": render.RDS_CA_DIR,
                                   "readOnly": True}]
    assert {"name": "NODE_EXTRA_CA_CERTS", "value": node_ca} in app["environment"]
    assert fetch["name"] == render.RDS_CA_CONTAINER and fetch["essential"] is False
    assert render.RDS_CA_BUNDLE in fetch["command"][-1] and CA in fetch["command"][-1]
    assert task["volumes"] == [{"name": render.RDS_CA_VOLUME}]


def test_a_service_naming_no_postgres_store_is_as_before(project) -> None:
    """A service naming only a Redis store (or no store) gets no CA container, volume or variable."""
    service = _service(project, "    image: node:20\n    environment:\n      REDIS_URL: redis://cache:6379\n")
    infra = _infra(endpoints={"db": "db.rds.example", "cache": "cache.example"}, postgres=frozenset({"db"}))
    task = render.render(service, infra, {}, "etag1").task_definition
    [app] = task["containerDefinitions"]
    assert "volumes" not in task and "mountPoints" not in app and "dependsOn" not in app
    assert app["environment"] == [{"name": "REDIS_URL", "value": "redis://cache.example:6379"}]


def test_a_config_value_is_never_searched_for_store_names(project) -> None:
    """A password that happens to read like a host (``x@db:1``) stays as it is."""
    service = _service(project, "    image: nginx\n    environment:\n      URL: postgres://u:${PW}@db/app\n")
    infra = _infra(endpoints={"db": "db.rds.example"}, postgres=frozenset({"db"}))
    _, _, derived = render.environment(service, infra, {"PW": "x@db:1"})
    assert list(derived.values()) == [f"postgres://u:x@db:1@db.rds.example/app?{TLS}"]


def test_render_is_stable_and_changes_with_config_values(project) -> None:
    """The digest ignores the deployment id but follows settings and config values."""
    service = _service(project, "    image: nginx\n    environment:\n      - API_KEY\n")
    one = render.render(service, _infra(), {"API_KEY": "key-one-7f3a"}, "etag1")
    again = render.render(service, _infra(), {"API_KEY": "key-one-7f3a"}, "etag2")
    rotated = render.render(service, _infra(), {"API_KEY": "key-two-9c1d"}, "etag1")
    assert one.hash == again.hash != rotated.hash
    assert "key-one" not in str(one.task_definition)
    prefix = one.task_definition["containerDefinitions"][0]["logConfiguration"]["options"]
    assert prefix["awslogs-stream-prefix"] == "app/etag1"


def test_service_connect_names_every_port_after_the_service(project) -> None:
    """Others reach the service as http://<name>:<port>, as in compose."""
    service = _service(project, "    image: nginx\n    ports: ['8080:80']\n    expose: ['9090']\n")
    unit = render.render(service, _infra(), {}, "e")
    aliases = [a for s in unit.service["serviceConnectConfiguration"]["services"] for a in s["clientAliases"]]
    assert aliases == [{"port": 80, "dnsName": "app"}, {"port": 9090, "dnsName": "app"}]
    assert unit.service["deploymentConfiguration"]["deploymentCircuitBreaker"] == {"enable": True,
                                                                                   "rollback": True}
    assert unit.service["deploymentConfiguration"]["minimumHealthyPercent"] == 100


def test_ingress_routes_listen_on_the_published_port(project) -> None:
    """An ingress port is served on its published port; a domain goes on the first one."""
    root = project({"compose.yaml": """\
name: demo
services:
  web:
    image: nginx
    domainname: www.example.com
    ports: ["80:8080", {target: 9000, mode: host}]
  api:
    image: nginx
    ports: [{target: 3000, mode: ingress}]
"""})
    loaded = load(cwd=str(root), os_environ={}).project
    found = {(r.service, r.port): (r.listen, r.domain) for r in routes(loaded)}
    assert found == {("web", 8080): (80, "www.example.com"), ("api", 3000): (3000, None)}


def test_an_oversized_build_context_is_refused_with_the_fix(tmp_path) -> None:
    from launchdeck.compose.model import Build
    from launchdeck.engine import build_context
    from launchdeck.errors import BuildError

    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "data.bin").write_bytes(b"0" * 4096)
    with pytest.raises(BuildError, match="holds more than") as caught:
        build_context.scan(Build(context=str(tmp_path), dockerfile="Dockerfile"), "web", limit=1024)
    assert ".dockerignore" in caught.value.hint
