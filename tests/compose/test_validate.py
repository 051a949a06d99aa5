"""Cloud-readiness findings: what stops a project deploying to a target, and the fix."""

from __future__ import annotations

import pytest

from launchdeck.compose import has_errors, load, required_config
from launchdeck.compose.validate import CONFIG_NAME_MAX, config_name_problem
from launchdeck.tools.check import findings as check_findings


def _findings(project, service_yaml: str, provider: str = "aws", extra: str = ""):
    root = project({"compose.yaml": "services:\n  web:\n" + service_yaml + extra})
    return check_findings(load(cwd=root, os_environ={}), provider)


def test_a_cloud_ready_project_has_no_findings(project, cloud_ready) -> None:
    """A project written for the cloud passes every rule on every target."""
    root = project({"compose.yaml": cloud_ready})
    for provider in ("local", "aws", "gcp"):
        assert check_findings(load(cwd=root, os_environ={}), provider) == []


MEM = "    deploy: {resources: {reservations: {memory: 64M}}}\n"


@pytest.mark.parametrize(
    ("service", "severity", "field", "message"),
    [
        ("    image: x\n    hostname: web1\n" + MEM, "error", "services.web.hostname",
         "hostname is not supported"),
        ("    image: x\n    dns: 1.1.1.1\n" + MEM, "error", "services.web.dns", "dns is not"),
        ("    image: x\n    dns_search: [a]\n" + MEM, "error", "services.web.dns_search", "not supp"),
        ("    image: x\n    devices: [/dev/fuse]\n" + MEM, "error", "services.web.devices", "not"),
        ("    image: x\n    device_cgroup_rules: ['c 1:3 mr']\n" + MEM, "error",
         "services.web.device_cgroup_rules", "not supported"),
        ("    image: x\n    group_add: [audio]\n" + MEM, "error", "services.web.group_add", "not"),
        ("    build: {context: ., privileged: true}\n" + MEM, "error",
         "services.web.build.privileged", "privileged builds"),
        ("    build: {context: ., ssh: [default]}\n" + MEM, "error", "services.web.build.ssh",
         "build.ssh is not supported"),
        ("    build: {context: ., secrets: [s]}\n" + MEM, "error", "services.web.build.secrets", "not"),
        ("    build: {context: ., extra_hosts: ['a=1.1.1.1']}\n" + MEM, "error",
         "services.web.build.extra_hosts", "not supported"),
        ("    build: {context: ., network: host}\n" + MEM, "error", "services.web.build.network",
         "not supported"),
        ("    build: {context: ., platforms: [linux/arm64]}\n" + MEM, "error",
         "services.web.build.platforms", "not supported"),
        ("    build: {context: ., additional_contexts: {a: ./a}}\n" + MEM, "error",
         "services.web.build.additional_contexts", "not supported"),
        ("    build: {context: ., dockerfile_inline: 'FROM x'}\n" + MEM, "error",
         "services.web.build.dockerfile_inline", "not supported"),
        ("    build: {context: ., dockerfile: /etc/Dockerfile}\n" + MEM, "error",
         "services.web.build.dockerfile", "outside the build context"),
        ("    build: {context: ., dockerfile: ../Dockerfile}\n" + MEM, "error",
         "services.web.build.dockerfile", "outside the build context"),
        ("    image: x\n    deploy: {mode: global, resources: {reservations: {memory: 1g}}}\n",
         "error", "services.web.deploy.mode", "'global' is not supported"),
        ("    image: x\n    deploy: {update_config: {parallelism: 2}}\n", "error",
         "services.web.deploy.update_config", "not supported"),
        ("    image: x\n    deploy: {rollback_config: {parallelism: 2}}\n", "error",
         "services.web.deploy.rollback_config", "not supported"),
        ("    image: x\n    deploy: {restart_policy: {condition: any}}\n", "error",
         "services.web.deploy.restart_policy", "not supported"),
        ("    image: x\n    deploy: {endpoint_mode: dnsrr}\n", "error",
         "services.web.deploy.endpoint_mode", "not supported"),
        ("    image: x\n    deploy: {resources: {limits: {cpus: '-1'}, reservations: {memory: 1g}}}\n",
         "error", "services.web.deploy.resources.limits.cpus", "cannot be negative"),
        ("    image: x\n    healthcheck: {test: [CMD, 'true'], interval: 5s, timeout: 6s}\n" + MEM,
         "error", "services.web.healthcheck.timeout", "not be longer than its interval"),
        ("    provider: {type: awesomecloud, options: {type: mysql}}\n", "error",
         "services.web.provider.type", "'awesomecloud' is not supported"),
        ("    provider: {type: model}\n", "error", "services.web.provider.options",
         "needs options.model"),
        ("    image: x\n    ports: [{target: 70000, mode: host}]\n" + MEM, "error",
         "services.web.ports[0]", "outside 1-65535"),
        ("    image: x\n    ports: [{target: 0, mode: host}]\n" + MEM, "error",
         "services.web.ports[0]", "outside 1-65535"),
        ("    image: x\n    ports: [{target: 53, mode: host, host_ip: 127.0.0.1}]\n" + MEM,
         "error", "services.web.ports[0]", "host_ip cannot be chosen"),
        ("    image: x\n    ports: [{target: 53, mode: host, protocol: sctp}]\n" + MEM, "error",
         "services.web.ports[0]", "unknown protocol 'sctp'"),
        ("    image: x\n    ports: [{target: 53, mode: ingress, protocol: udp}]\n"
         "    healthcheck: {test: 'true'}\n" + MEM, "error", "services.web.ports[0]",
         "UDP cannot be an ingress port"),
        ("    image: x\n    ports: [{target: 80, mode: host},\n"
         "            {target: 80, published: 81, mode: host}]\n" + MEM,
         "error", "services.web.ports[1]", "listed twice"),
        ("    image: x\n    domainname: a.example.com\n" + MEM, "error",
         "services.web.domainname", "needs an ingress port"),
        ("    image: x\n    build: {context: ., args: {TOKEN: '${TOKEN}'}}\n"
         "    environment: [TOKEN]\n" + MEM, "error",
         "services.web.build.args.TOKEN", "baked into the image"),
        ("    image: x\n    build: {context: ., args: {TOKEN: '${TOKEN}'}}\n" + MEM, "warning",
         "services.web.build.args.TOKEN", "built with an empty value"),
        ("    image: x:${TAG}\n" + MEM, "error", "services.web.image", "TAG is not defined"),
        ("    " + MEM.strip() + "\n", "error", "services.web", "neither image nor build"),
        ("    image: x\n    volumes: [./data:/data]\n" + MEM, "warning", "services.web.volumes",
         "data is lost"),
        ("    image: x\n    volumes_from: [other]\n" + MEM, "warning",
         "services.web.volumes_from", "data is lost"),
        ("    image: x\n    ports: [{target: 80, mode: ingress}]\n" + MEM, "warning",
         "services.web.ports", "without a healthcheck"),
        ("    image: x\n    ports: [{target: 80, mode: ingress}]\n"
         "    healthcheck: {test: curl -f http://example.com/}\n" + MEM, "warning",
         "services.web.healthcheck.test", "does not probe localhost"),
        ("    image: x\n", "warning", "services.web", "no memory reservation"),
        ("    image: x\n    ports: ['8080:80']\n    healthcheck: {test: 'true'}\n" + MEM,
         "warning", "services.web.ports[0]", "has no mode"),
        ("    image: x\n    environment: {DB_PASSWORD: hunter2hunter2}\n" + MEM, "warning",
         "services.web.environment.DB_PASSWORD", "looks like a secret"),
        ("    image: x\n    environment: {KEY: AKIAABCDEFGHIJKLMNOP}\n" + MEM, "warning",
         "services.web.environment.KEY", "looks like a secret"),
        ("    image: x\n    x-defang-postgress: true\n" + MEM, "warning",
         "services.web.x-defang-postgress", "unsupported extension"),
    ],
)
def test_cloud_rule(project, service: str, severity: str, field: str, message: str) -> None:
    """The rule fires on its field, with a message and a fix."""
    extra = "  other: {image: x, volumes: [/d], deploy: {resources: {reservations: {memory: 1g}}}}\n"
    findings = [f for f in _findings(project, service, "aws", extra) if f.field == field]
    assert any(f.severity == severity and message in f.message and f.fix for f in findings), findings


def test_findings_point_at_the_line(project) -> None:
    """A finding names the file and line of the offending key."""
    (finding,) = [f for f in _findings(project, "    image: x\n    hostname: h\n" + MEM)
                  if f.field == "services.web.hostname"]
    assert (finding.file, finding.line, finding.service) == ("compose.yaml", 4, "web")


def test_local_target_accepts_what_clouds_refuse(project) -> None:
    """hostname, dns, volumes and swarm keys are fine on the local Docker Engine."""
    service = ("    image: x\n    hostname: h\n    dns: 1.1.1.1\n    volumes: [./d:/d]\n"
               "    deploy: {restart_policy: {condition: any}}\n")
    assert _findings(project, service, "local") == []
    assert has_errors(_findings(project, service, "gcp"))


def test_same_normalised_service_names_conflict_on_cloud(project) -> None:
    """my_api and my-api would share cloud resource names."""
    root = project({"compose.yaml": "services:\n  my_api: {image: x}\n  my-api: {image: x}\n"})
    findings = check_findings(load(cwd=root, os_environ={}), "gcp")
    assert any("both become 'my-api'" in f.message for f in findings)


def test_secret_value_never_appears_in_findings(project) -> None:
    """A value that looks like a secret is named by its key, never quoted."""
    findings = _findings(project, "    image: x\n    environment:\n"
                                  "      API_TOKEN: sk-abcdefghijklmnopqrstuvwxyz\n")
    assert findings and all("sk-abc" not in f.model_dump_json() for f in findings)


def test_llm_extension_on_local_says_it_needs_a_cloud(project) -> None:
    """x-defang-llm locally warns that only a cloud provides the endpoint."""
    findings = _findings(project, "    image: x\n    x-defang-llm: true\n", "local")
    assert [f.severity for f in findings] == ["warning"]
    assert "needs a cloud provider" in findings[0].message


def test_required_config_names(project) -> None:
    """Keys without a value and undefined ${VAR} in environment are the required config."""
    root = project({"compose.yaml": "services:\n  web:\n    image: x\n    environment:\n"
                                    "      - API_KEY\n      - URL=pg://${DB_USER}:${DB_PW}@db\n"
                                    "  db:\n    image: postgres\n    environment: [DB_PW]\n"})
    assert required_config(load(cwd=root, os_environ={})) == ["API_KEY", "DB_PW", "DB_USER"]


def test_invalid_config_name_is_an_error(project) -> None:
    """An environment key read from config must be a valid config name."""
    findings = _findings(project, "    image: x\n    environment: [MY-KEY]\n" + MEM, "local")
    assert [(f.severity, f.field) for f in findings] == [("error", "services.web.environment.MY-KEY")]


@pytest.mark.parametrize("provider", ["local", "aws", "gcp"])
def test_depends_on_cycle_is_an_error_at_its_line(project, provider: str) -> None:
    """A depends_on loop is an error finding at the dependency that closes it, on every target."""
    root = project({"compose.yaml": "services:\n  a:\n    image: x\n    depends_on: [b]\n"
                                    "  b:\n    image: x\n    depends_on:\n"
                                    "      c: {condition: service_started}\n"
                                    "  c:\n    image: x\n    depends_on: [a]\n"})
    (finding,) = [f for f in check_findings(load(cwd=root, os_environ={}), provider)
                  if "cycle" in f.message]
    assert (finding.severity, finding.file, finding.line, finding.message) == (
        "error", "compose.yaml", 4, "dependency cycle detected: a -> b -> c -> a")


def test_a_long_dependency_chain_is_not_a_cycle(project) -> None:
    """A thousand services each waiting for the previous one give no cycle (and no recursion error)."""
    services = "".join(f"  s{i}:\n    image: x\n" + (f"    depends_on: [s{i - 1}]\n" if i else "")
                       for i in range(1000))
    root = project({"compose.yaml": "services:\n" + services})
    assert not [f for f in check_findings(load(cwd=root, os_environ={}), "local") if "cycle" in f.message]


@pytest.mark.parametrize("provider", ["local", "aws", "gcp"])
def test_healthcheck_timeout_equal_to_interval_is_accepted(project, provider: str) -> None:
    """ECS and Cloud Run accept a timeout equal to the interval, so it is no finding."""
    findings = _findings(project, "    image: x\n    healthcheck: {test: [CMD, 'true'], "
                                  "interval: 5s, timeout: 5s}\n" + MEM, provider)
    assert not [f for f in findings if f.field.startswith("services.web.healthcheck")]


def test_managed_store_healthcheck_is_not_checked_as_a_container(project) -> None:
    """A managed Postgres becomes RDS: its healthcheck is not held to container rules."""
    findings = _findings(project, "    image: postgres:16\n    x-defang-postgres: true\n"
                                  "    ports: [{target: 5432, mode: ingress}]\n"
                                  "    healthcheck: {test: [CMD, pg_isready], interval: 2s, "
                                  "timeout: 10s}\n", "aws")
    assert not [f for f in findings if "healthcheck" in f.field or "healthcheck" in f.message]


@pytest.mark.parametrize("provider", ["local", "aws", "gcp"])
def test_model_provider_service_has_no_container_findings(project, provider: str) -> None:
    """A provider: {type: model} service has neither image nor build, and that is fine."""
    root = project({"compose.yaml": "services:\n  llm:\n    provider:\n      type: model\n"
                                    "      options: {model: ai/smollm2}\n    x-defang-llm: true\n"
                                    "  app:\n    image: x\n    depends_on: [llm]\n" + MEM})
    findings = check_findings(load(cwd=root, os_environ={}), provider)
    assert not [f for f in findings if f.service == "llm"]


@pytest.mark.parametrize(
    ("name", "problem"),
    [("DATABASE_PASSWORD", False), ("_x1", False), ("A" * CONFIG_NAME_MAX, False),
     ("A" * (CONFIG_NAME_MAX + 1), True), ("1ABC", True), ("MY-KEY", True), ("OK\n", True),
     ("", True), ("A B", True)],
)
def test_config_name_problem(name: str, problem: bool) -> None:
    """A config name follows the pattern and the length limit (a trailing newline is refused)."""
    assert (config_name_problem(name) is not None) == problem


def test_config_name_problem_states_both_rules() -> None:
    """The message says what characters are allowed and how long a name may be."""
    message = config_name_problem("X" * 300) or ""
    assert "letters, digits and _" in message and "at most 255 characters" in message
    assert "X" * 41 not in message
