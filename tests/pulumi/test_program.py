"""Pulumi programs under Pulumi's own mocks: the resources and inputs they declare, what they
refuse while the program runs, and the outputs they hand on. Nothing is deployed here."""

from __future__ import annotations

import json
import logging
import runpy
from pathlib import Path
from typing import Any

import pytest

from launchdeck.pulumi import Postgres, ProgramError, Project, Redis, Service
from launchdeck.pulumi.provider import LaunchdeckProvider
from tests.pulumi.conftest import DEPLOYMENT, Ran, run_program

EXAMPLE = Path(__file__).parents[2] / "examples" / "pulumi"
SECRETS = {"API_KEY": "sk-seed-4b7d0e2a9c", "POSTGRES_PASSWORD": "pw-seed-8e1f3a6b"}
URL = "http://127.0.0.1:49153"
ANSWER = {"services": {"app": {"state": "SERVICE_DEPLOYMENT_COMPLETED", "endpoints": [URL]},
                       "db": {"state": "SERVICE_DEPLOYMENT_COMPLETED", "endpoints": []}},
          "endpoints": {"app": [URL]}}


def _example(monkeypatch: pytest.MonkeyPatch, config: dict[str, str] = SECRETS, **options: Any) -> Ran:
    """Run examples/pulumi as Pulumi would: in its folder, with the stack's config."""
    monkeypatch.chdir(EXAMPLE)

    def program() -> Any:
        names = runpy.run_path(str(EXAMPLE / "__main__.py"))
        return {"endpoints": names["seed"].endpoints, "app": names["app"].state, "db": names["db"].state}

    return run_program(program, config=config, answer=ANSWER, **options)


def test_the_example_declares_its_components_and_one_deployment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The seed example is a Project of a Service and a Postgres, deployed by one Deployment."""
    ran = _example(monkeypatch)
    assert sorted((r.typ, r.name) for r in ran.mocks.resources) == [
        ("launchdeck:index:Postgres", "db"), ("launchdeck:index:Project", "seed"),
        ("launchdeck:index:Service", "app"), (DEPLOYMENT, "seed")]


def test_the_deployment_gets_the_target_and_the_config_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its inputs name the provider, project, stack (the Pulumi stack's) and config names."""
    inputs = _example(monkeypatch).inputs
    assert {k: inputs[k] for k in ("provider", "project", "stack", "config", "namespace")} == {
        "provider": "local", "project": "seed", "stack": "dev",
        "config": ["API_KEY", "POSTGRES_PASSWORD"], "namespace": "seed"}


def test_the_services_become_the_compose_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """2 replicas, an ingress port, an API key from config, a build context from the program's
    folder, and a managed Postgres whose password is config."""
    services = _example(monkeypatch).compose["services"]
    app, db = services["app"], services["db"]
    assert app["deploy"]["replicas"] == 2
    assert app["ports"] == [{"mode": "ingress", "protocol": "tcp", "target": 8080}]
    assert app["environment"]["API_KEY"] is None
    assert app["build"]["context"] == str(EXAMPLE / "app")
    assert app["depends_on"] == {"db": {"condition": "service_healthy", "required": True}}
    assert db["x-defang-postgres"] is True and db["environment"]["POSTGRES_PASSWORD"] is None


def test_no_secret_value_reaches_any_resource(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every resource's inputs, the serialized provider among them, are free of the values."""
    ran = _example(monkeypatch)
    declared = json.dumps([r.inputs for r in ran.mocks.resources], default=str)
    assert [v for v in SECRETS.values() if v in declared] == []


def test_service_and_project_outputs_come_from_the_deployment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each service's state and the project's endpoints are what the deployment reports."""
    ran = _example(monkeypatch)
    assert ran.result == {"endpoints": {"app": ["http://127.0.0.1:49153"]},
                          "app": "SERVICE_DEPLOYMENT_COMPLETED", "db": "SERVICE_DEPLOYMENT_COMPLETED"}


def test_the_provider_is_pickled_by_reference_and_not_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pulumi's host unpickles launchdeck's provider class (installed with launchdeck), and the
    pickle is small and plain: it captures no value."""
    ran = _example(monkeypatch)
    assert isinstance(ran.inputs["__provider"], str) and len(ran.inputs["__provider"]) < 1000
    assert type(ran.provider()) is LaunchdeckProvider


def test_a_config_name_the_stack_lacks_is_refused_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A value missing from the stack's config stops the program, naming it."""
    with pytest.raises(ProgramError) as raised:
        _example(monkeypatch, config={"API_KEY": SECRETS["API_KEY"]})
    assert raised.value.message == "config not set in the stack: POSTGRES_PASSWORD"


def test_a_value_kept_in_plain_text_is_warned_about(monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    """A config value set without --secret deploys, with a warning naming it."""
    with caplog.at_level(logging.WARNING):
        _example(monkeypatch, secret=False)
    warned = [r.getMessage() for r in caplog.records if "plain text" in r.getMessage()]
    assert len(warned) == 2 and "config API_KEY" in warned[0]


@pytest.mark.parametrize(("service", "provider", "expected"), [
    (lambda: Service("web", image="nginx", ports=[{"target": 80, "mode": "sideways"}]), "local",
     "services.web.ports[0].mode"),
    (lambda: Service("web", image="nginx", domainname="shop.example.com",
                     deploy={"resources": {"reservations": {"memory": "256M"}}}), "aws",
     "services.web.domainname"),
    (lambda: Service("web"), "local", "services.web"),
])
def test_a_service_that_cannot_deploy_is_refused_by_its_argument(service: Any, provider: str,
                                                                 expected: str) -> None:
    """Problems are named by the argument's path (the compose file is not the user's)."""
    with pytest.raises(ProgramError) as raised:
        run_program(lambda: Project("p", services=[service()], provider=provider).endpoints)
    assert expected in raised.value.message and "compose.yaml" not in raised.value.message


def test_a_compose_file_project_has_a_component_per_service(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Project(compose=...) loads the file and gives each service (kind kept) its component."""
    (tmp_path / "compose.yaml").write_text(
        "name: shop\nservices:\n  web:\n    image: nginx\n    environment: [API_KEY]\n"
        "  cache:\n    image: redis:7\n    x-defang-redis: true\n")
    monkeypatch.chdir(tmp_path)
    ran = run_program(lambda: Project("shop", compose="compose.yaml").endpoints, config={"API_KEY": "k-1"})
    assert sorted((r.typ, r.name) for r in ran.mocks.resources if r.typ != DEPLOYMENT) == [
        ("launchdeck:index:Project", "shop"), ("launchdeck:index:Redis", "shop-cache"),
        ("launchdeck:index:Service", "shop-web")]
    assert ran.inputs["config"] == ["API_KEY"] and ran.compose["name"] == "shop"


def test_a_compose_file_error_names_its_file_and_line(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Findings on the user's own file keep its file and line."""
    (tmp_path / "compose.yaml").write_text(
        "services:\n  web:\n    image: nginx\n    domainname: shop.example.com\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ProgramError) as raised:
        run_program(lambda: Project("shop", compose="compose.yaml", provider="aws").endpoints)
    assert "compose.yaml:4" in raised.value.message


@pytest.mark.parametrize(("arguments", "expected"), [
    ({}, "either services declared in code or a compose file"),
    ({"services": [], "provider": "heroku"}, "unknown provider 'heroku'"),
    ({"services": [], "stack": "Prod!"}, "invalid stack name 'Prod!'"),
    ({"services": []}, "has no services"),
])
def test_a_project_declared_wrong_is_refused(arguments: dict[str, Any], expected: str) -> None:
    """Bad Project arguments stop the program with what is wrong."""
    with pytest.raises(ProgramError) as raised:
        run_program(lambda: Project("p", **arguments).endpoints)
    assert expected in raised.value.message


def test_two_services_with_one_name_are_refused() -> None:
    """Service names must be unique within a project."""
    with pytest.raises(ProgramError) as raised:
        run_program(lambda: Project("p", services=[Service("a", image="nginx"),
                                                   Service("b", service_name="a", image="nginx")]).endpoints)
    assert raised.value.message == "p has two services named a"


def test_a_service_outside_any_project_has_no_state() -> None:
    """Reading a service's outputs before a Project deploys it says to give it to one."""
    with pytest.raises(ProgramError) as raised:
        run_program(lambda: Service("lonely", image="nginx").state)
    assert raised.value.message == "service lonely belongs to no project"


def test_stores_get_their_image_health_and_password_reference() -> None:
    """Postgres reads another config name through a reference; Redis is a managed store."""
    ran = run_program(lambda: Project("p", services=[Postgres("db", password="DB_PASSWORD"),
                                                     Redis("cache")]).endpoints,
                      config={"DB_PASSWORD": "pw-1"})
    services = ran.compose["services"]
    assert services["db"]["environment"]["POSTGRES_PASSWORD"] == "${DB_PASSWORD}"
    assert services["cache"]["x-defang-redis"] is True and services["cache"]["image"] == "redis:7"
    assert ran.inputs["config"] == ["DB_PASSWORD"]


def test_values_from_other_resources_land_once_resolved() -> None:
    """An argument may be another resource's output: the document gets its value."""
    import pulumi

    ran = run_program(lambda: Project("p", services=[
        Service("web", image=pulumi.Output.from_input("registry.example.com/web:1"),
                environment={"REGION": pulumi.Output.from_input("eu-west-1"), "TOKEN": None})]).endpoints,
                      config={"TOKEN": "tok-1"})
    web = ran.compose["services"]["web"]
    assert (web["image"], web["environment"]) == ("registry.example.com/web:1",
                                                  {"REGION": "eu-west-1", "TOKEN": None})
    assert ran.inputs["config"] == ["TOKEN"]


def test_a_preview_with_values_not_known_yet_is_a_change() -> None:
    """Before the values it depends on exist, check passes the inputs on and diff says changed."""
    from pulumi.runtime.rpc import UNKNOWN

    provider = LaunchdeckProvider()
    news = {"provider": "local", "project": "p", "stack": "dev", "compose": UNKNOWN, "config": UNKNOWN,
            "namespace": "seed"}
    checked = provider.check({}, news)
    assert (checked.inputs, checked.failures) == (news, [])
    assert provider.diff("local/p/dev", {**news, "compose": "{}", "config": []}, news).changes is True


def test_properties_pulumi_wraps_as_secrets_are_read_as_values() -> None:
    """An output kept secret (the digests) reads as its value, not as Pulumi's wrapper."""
    from pulumi.runtime.rpc import wrap_rpc_secret

    olds = {"provider": "local", "project": "p", "stack": "dev", "compose": "{}", "config": [],
            "namespace": "seed", "digests": wrap_rpc_secret({"API_KEY": "4697794cb894"})}
    news = {**olds, "digests": {}, "stack": "prod"}
    assert LaunchdeckProvider().diff("local/p/dev", olds, news).replaces == ["stack"]


def test_every_argument_reaches_the_document_under_its_compose_key(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """command, entrypoint, ports with mode, domainname, x-defang-llm, replicas and resources."""
    monkeypatch.chdir(tmp_path)
    ran = run_program(lambda: Project("p", provider="aws", services=[Service(
        "chat", build={"context": "chat", "dockerfile": "Dockerfile.prod"}, command="serve --port 80",
        entrypoint=["/bin/app"], ports=[{"target": 80, "published": 443, "mode": "ingress"}],
        domainname="chat.example.com", llm=True,
        healthcheck={"test": ["CMD", "wget", "-q", "--spider", "http://localhost/health"]},
        deploy={"replicas": 3, "resources": {"reservations": {"cpus": 0.5, "memory": "512M"}}})]).endpoints)
    chat = ran.compose["services"]["chat"]
    assert chat["build"] == {"context": str(tmp_path / "chat"), "dockerfile": "Dockerfile.prod"}
    assert (chat["command"], chat["entrypoint"]) == (["serve", "--port", "80"], ["/bin/app"])
    assert chat["ports"] == [{"mode": "ingress", "protocol": "tcp", "target": 80, "published": "443"}]
    assert (chat["domainname"], chat["x-defang-llm"]) == ("chat.example.com", True)
    assert chat["deploy"] == {"replicas": 3, "resources": {"reservations": {"cpus": 0.5,
                                                                          "memory": "536870912"}}}
