"""Compose services as Cloud Run services, rendered without I/O; names within GCP's rules."""

from __future__ import annotations

import re

import pytest

from launchdeck.compose.load import load
from launchdeck.providers.gcp import names, render
from launchdeck.providers.gcp.session import qualified

INFRA = render.Infra(
    project="shop",
    stack="dev",
    gcp_project="shop-project",
    region="us-central1",
    account="ld-shop-dev@shop-project.iam.gserviceaccount.com",
    stores=frozenset({"db", "cache"}),
    endpoints={"db": "10.1.0.3", "cache": "10.2.0.4"},
    hosts={"api": "shop-dev-api-123.us-central1.run.app", "web": "shop-dev-web-123.us-central1.run.app"},
    internal=frozenset({"api"}),
)


def _service(project, body: str, name: str = "web"):
    root = project({"compose.yaml": f"name: shop\nservices:\n  {name}:\n" + body})
    return load(cwd=root, os_environ={}).project.services[name]


@pytest.mark.parametrize(
    ("resources", "size"),
    [
        ("", ("1", "512Mi")),
        ("reservations: {memory: 128M}", ("1", "512Mi")),
        ("reservations: {cpus: '0.5', memory: 1G}", ("1", "1024Mi")),
        ("limits: {memory: 5G}", ("2", "5120Mi")),
        ("reservations: {cpus: '3'}", ("4", "2048Mi")),
        ("limits: {cpus: '8', memory: 64G}", ("8", "32768Mi")),
    ],
)
def test_size_is_the_smallest_valid_cloud_run_size(project, resources: str, size: tuple[str, str]) -> None:
    """cpu and memory from deploy.resources, rounded up to what Cloud Run allows (at least one CPU)."""
    body = "    image: nginx\n" + (f"    deploy:\n      resources: {{{resources}}}\n" if resources else "")
    assert render.size(_service(project, body)) == size


@pytest.mark.parametrize(
    ("ports", "port"),
    [
        ("    ports: [{target: 3000, mode: ingress}]\n", 3000),
        ("    ports: [{target: 9000, mode: host}]\n", 9000),
        ("    expose: ['7000']\n", 7000),
        ("", 8080),
    ],
)
def test_container_port_is_the_ingress_port_else_the_first_declared(project, ports: str, port: int) -> None:
    """Cloud Run sends requests to the ingress port, else the first port or expose, else 8080."""
    assert render.port(_service(project, "    image: nginx\n" + ports)) == port


def test_an_http_healthcheck_becomes_startup_and_liveness_probes(project) -> None:
    """A healthcheck fetching a local URL on the container port: HTTP probes of its path, with its timing."""
    service = _service(
        project,
        "    image: nginx\n    ports: [{target: 8080, mode: ingress}]\n"
        "    healthcheck:\n      test: [CMD, curl, -f, 'http://localhost:8080/up?x=1']\n"
        "      interval: 15s\n      timeout: 3s\n      retries: 4\n      start_period: 20s\n",
    )
    probes = render.probes(service, 8080)
    assert probes["startup_probe"] == {
        "http_get": {"path": "/up?x=1"},
        "initial_delay_seconds": 20,
        "period_seconds": 15,
        "timeout_seconds": 3,
        "failure_threshold": 4,
    }
    assert probes["liveness_probe"]["http_get"] == {"path": "/up?x=1"}


def test_any_other_healthcheck_becomes_a_tcp_startup_probe(project) -> None:
    """Cloud Run cannot run a command as a probe: a non-HTTP healthcheck checks the port at startup only."""
    service = _service(
        project,
        "    image: redis\n    ports: [{target: 6379, mode: host}]\n"
        "    healthcheck:\n      test: [CMD, redis-cli, ping]\n",
    )
    probes = render.probes(service, 6379)
    assert probes["startup_probe"]["tcp_socket"] == {"port": 6379} and "liveness_probe" not in probes


@pytest.mark.parametrize(
    ("value", "rewritten"),
    [
        ("http://api:8080", "https://shop-dev-api-123.us-central1.run.app"),
        ("http://api:8080/v1/items?x=1", "https://shop-dev-api-123.us-central1.run.app/v1/items?x=1"),
        ("ws://api:8080/socket", "wss://shop-dev-api-123.us-central1.run.app/socket"),
        ("api:8080", "shop-dev-api-123.us-central1.run.app:443"),
        ("api", "shop-dev-api-123.us-central1.run.app"),
        ("postgres://u:p@db:5432/app", "postgres://u:p@10.1.0.3:5432/app"),
        ("redis://cache:6379/0", "redis://10.2.0.4:6379/0"),
        ("http://apiary:8080", "http://apiary:8080"),
        ("see the api docs", "see the api docs"),
    ],
)
def test_service_and_store_names_become_their_addresses(value: str, rewritten: str) -> None:
    """A service name as a host: its Cloud Run URL (HTTPS, port dropped); a store's: its private address."""
    assert render.rewrite(value, INFRA, own="web") == rewritten


def test_config_reads_become_secret_references_and_mixed_values_derived_secrets(project) -> None:
    """A bare key or ${ONE} reads that config's secret; text around config gets a secret of its own."""
    service = _service(
        project,
        "    image: nginx\n    environment:\n      API_KEY:\n      TOKEN: ${TOKEN}\n"
        "      DATABASE_URL: postgres://app:${PW}@db:5432/app\n      MODE: fast\n",
    )
    env, derived, secrets = render.environment(service, INFRA, {"API_KEY": "k", "TOKEN": "t", "PW": "pw"}, 80)
    refs = {e["name"]: e["value_source"]["secret_key_ref"]["secret"] for e in env if "value_source" in e}
    assert refs == {
        "API_KEY": names.secret_id("shop", "dev", "API_KEY"),
        "TOKEN": names.secret_id("shop", "dev", "TOKEN"),
        "DATABASE_URL": names.derived_secret_id("shop", "dev", "web", "DATABASE_URL"),
    }
    assert derived == {refs["DATABASE_URL"]: "postgres://app:pw@10.1.0.3:5432/app"}
    assert [e for e in env if "value" in e] == [{"name": "MODE", "value": "fast"}]
    assert sorted(secrets) == sorted(refs.values())


def test_a_config_value_mixed_into_a_url_is_never_rewritten(project) -> None:
    """Host names are rewritten in the text around config, not in the config value itself (a
    password may hold a store's name as a word)."""
    service = _service(
        project,
        "    image: nginx\n    environment:\n      DATABASE_URL: postgres://app:${PW}@db:5432/app\n",
    )
    _, derived, _ = render.environment(service, INFRA, {"PW": "my db,cache pass"}, 80)
    assert list(derived.values()) == ["postgres://app:my db,cache pass@10.1.0.3:5432/app"]


def test_no_config_value_enters_the_service_spec(project) -> None:
    """The rendered Cloud Run service holds secret names, never a config value."""
    service = _service(
        project,
        "    image: nginx\n    environment:\n      API_KEY:\n      URL: https://x:${PW}@example.com\n",
    )
    rendered = render.render(service, INFRA, {"API_KEY": "sk-live-123456", "PW": "hunter2-hunter2"})
    assert "sk-live-123456" not in str(rendered.spec) and "hunter2-hunter2" not in str(rendered.spec)


@pytest.mark.parametrize(("port", "refused"), [("80", False), ("3000", True)])
def test_port_in_the_environment_is_cloud_runs_own(project, port: str, refused: bool) -> None:
    """PORT equal to the container port is dropped (Cloud Run sets it); another PORT is a
    problem found before deploy, and never rendered."""
    service = _service(
        project,
        f"    image: nginx\n    ports: [{{target: 80, mode: ingress}}]\n"
        f"    environment:\n      PORT: '{port}'\n",
    )
    found = [p.message for p in render.problems(service)]
    assert found == (["PORT is set by Cloud Run to the container port (80)"] if refused else [])
    assert render.render(service, INFRA, {}).spec["template"]["containers"][0]["env"] == []


@pytest.mark.parametrize(
    ("environment", "egress"),
    [
        ("      NOTHING: here\n", None),
        ("      DB: postgres://u@db:5432/x\n", "PRIVATE_RANGES_ONLY"),
        ("      API: http://api:8080\n", "ALL_TRAFFIC"),
    ],
)
def test_direct_vpc_egress_only_where_the_environment_needs_the_network(
    project, environment: str, egress: str | None
) -> None:
    """No VPC for a self-contained service; private ranges for stores; all traffic to reach internal ones."""
    service = _service(project, "    image: nginx\n    environment:\n" + environment)
    vpc = render.render(service, INFRA, {}).spec["template"].get("vpc_access")
    assert (vpc or {}).get("egress") == egress


def test_ingress_services_take_all_traffic_and_others_only_the_networks(project) -> None:
    """An ingress port makes the service public; without one it is internal-only."""
    public = render.render(
        _service(project, "    image: nginx\n    ports: [{target: 80, mode: ingress}]\n"), INFRA, {}
    )
    internal = render.render(_service(project, "    image: nginx\n    expose: ['80']\n"), INFRA, {})
    assert (public.spec["ingress"], internal.spec["ingress"]) == (
        "INGRESS_TRAFFIC_ALL",
        "INGRESS_TRAFFIC_INTERNAL_ONLY",
    )


def test_entrypoint_and_command_map_to_command_and_args(project) -> None:
    """Compose's entrypoint is Cloud Run's command; compose's command is its args."""
    service = _service(project, "    image: nginx\n    entrypoint: [/bin/sh, -c]\n    command: [echo hi]\n")
    container = render.render(service, INFRA, {}).spec["template"]["containers"][0]
    assert (container["command"], container["args"]) == (["/bin/sh", "-c"], ["echo hi"])


def test_digest_changes_with_a_config_value_but_not_with_the_etag(project) -> None:
    """A new config value changes the digest (a new revision reads it); rendering twice does not."""
    service = _service(project, "    image: nginx\n    environment:\n      API_KEY:\n")
    first = render.render(service, INFRA, {"API_KEY": "a"}).hash
    assert render.render(service, INFRA, {"API_KEY": "a"}).hash == first
    assert render.render(service, INFRA, {"API_KEY": "b"}).hash != first


@pytest.mark.parametrize(
    ("image", "pulled"),
    [
        ("nginx", "docker.io/library/nginx"),
        ("nginx:1.27", "docker.io/library/nginx:1.27"),
        ("bitnami/redis:7", "docker.io/bitnami/redis:7"),
        ("ghcr.io/o/app:1", "ghcr.io/o/app:1"),
        ("us-docker.pkg.dev/p/r/app", "us-docker.pkg.dev/p/r/app"),
        ("localhost:5000/app", "localhost:5000/app"),
    ],
)
def test_docker_hub_images_are_named_in_full(image: str, pulled: str) -> None:
    """Cloud Run pulls Docker Hub images by their full name."""
    assert qualified(image) == pulled


@pytest.mark.parametrize(
    ("project", "stack", "service"),
    [
        ("shop", "dev", "web"),
        ("1st-shop", "dev", "web"),
        ("a_very_long_project_name_with_underscores", "production-eu-west", "the_frontend_service_name"),
    ],
)
def test_generated_names_are_valid_gcp_names(project: str, stack: str, service: str) -> None:
    """Service ids, accounts, Redis ids, buckets and labels keep to each API's rules."""
    named = names.Names.fresh(project, stack)
    assert re.fullmatch(r"[a-z]([-a-z0-9]{0,47}[a-z0-9])?", named.service(service))
    assert re.fullmatch(r"[a-z]([-a-z0-9]{4,28}[a-z0-9])", named.account_id())
    assert re.fullmatch(r"[a-z][a-z0-9-]{0,38}[a-z0-9]", named.redis(service))
    assert re.fullmatch(
        r"[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]", names.bucket("my-gcp-project-123456", "northamerica-northeast1")
    )
    assert all(
        re.fullmatch(r"[a-z0-9_-]{0,63}", v) for v in names.labels(project, stack, service=service).values()
    )


def test_two_stacks_never_share_a_secret_name() -> None:
    """(a, b-c) and (a-b, c) read different secrets, though their parts join alike."""
    assert names.secret_id("a", "b-c", "KEY") != names.secret_id("a-b", "c", "KEY")
    assert names.config_name("a", "b-c", names.secret_id("a", "b-c", "KEY")) == "KEY"
    assert names.config_name("a-b", "c", names.secret_id("a", "b-c", "KEY")) is None


@pytest.mark.parametrize("key", ["app.url", "SPRING_DATASOURCE_URL", "a/b c", "K" * 300])
def test_derived_secret_ids_are_ids_secret_manager_takes(key: str) -> None:
    """An environment key with a dot (or worse) still makes a valid secret id, distinct per key."""
    made = names.derived_secret_id("shop", "dev", "web", key)
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,255}", made)
    assert made != names.derived_secret_id("shop", "dev", "web", key.replace(".", "_") + "x")
