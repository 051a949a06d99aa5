"""A stack's mode and x-defang-autoscaling: parsing, findings, the stack file, the estimate."""

from __future__ import annotations

import anyio
import pytest

from launchdeck import stacks
from launchdeck.compose import load
from launchdeck.engine import modes
from launchdeck.errors import UsageError
from launchdeck.tools.check import findings as check_findings
from launchdeck.tools.estimate import estimate, price, render
from launchdeck.tools.project import ProjectRef
from launchdeck.tools.stacks import new

MEM = "    deploy: {resources: {reservations: {memory: 64M}}}\n"


def _findings(project, service: str, provider: str = "aws"):
    root = project({"compose.yaml": "services:\n  web:\n    image: x\n" + service})
    return [(f.severity.value, f.message) for f in check_findings(load(cwd=root, os_environ={}), provider)]


@pytest.mark.parametrize(
    ("service", "provider", "severity", "words"),
    [
        ("    x-defang-autoscaling: true\n", "local", "warning", "count is fixed at 1"),
        ("    x-launchdeck-autoscaling: {max: 3}\n    deploy: {replicas: 2}\n", "aws", "warning",
         "deploy.replicas 2 is the starting count"),
        ("    x-defang-autoscaling: {min: 2, max: 4}\n    deploy: {replicas: 6}\n", "gcp", "error",
         "deploy.replicas 6 is outside the range of x-defang-autoscaling (2 to 4)"),
        ("    x-defang-autoscaling: {min: 5, max: 4}\n", "aws", "error", "min 5 is more than max 4"),
        ("    x-defang-autoscaling: true\n    deploy: {replicas: 0}\n", "aws", "error",
         "deploy.replicas 0 turns the service off"),
    ],
)
def test_autoscaling_findings(project, service: str, provider: str, severity: str, words: str) -> None:
    """Each conflict of autoscaling with the target or a fixed count is a located finding."""
    if "deploy:" in service:  # one deploy section, with the memory the cloud rules ask for
        service = service.replace("deploy: {", "deploy: {resources: {reservations: {memory: 64M}}, ")
    else:
        service += MEM
    found = _findings(project, service, provider)
    assert any(s == severity and words in m for s, m in found), found


def test_autoscaling_within_its_range_is_no_error(project) -> None:
    """A starting count inside min..max deploys, with only the note that it is not fixed."""
    found = _findings(project, "    x-defang-autoscaling: {min: 1, max: 5}\n"
                               "    deploy: {replicas: 3, resources: {reservations: {memory: 64M}}}\n")
    assert [s for s, _ in found] == ["warning"]


def test_autoscaling_options_of_the_wrong_type_are_refused(project) -> None:
    """A min that is not a number is a load error naming the option."""
    from launchdeck.errors import LaunchdeckError

    root = project({"compose.yaml": "services:\n  web:\n    image: x\n"
                                    "    x-defang-autoscaling: {min: lots}\n"})
    with pytest.raises(LaunchdeckError, match="min"):
        load(cwd=root, os_environ={})


@pytest.mark.parametrize("text", ["ha", "HIGH", "cheap", ""])
def test_unknown_modes_are_refused_naming_the_modes(text: str) -> None:
    """An unknown mode is a UsageError that lists the three; empty is the default."""
    if not text:
        assert modes.parse(text) is modes.DEFAULT
        return
    with pytest.raises(UsageError) as caught:
        modes.parse(text)
    assert "affordable, balanced, high_availability" in caught.value.hint


def test_a_stack_keeps_its_mode(tmp_path) -> None:
    """stack new --mode writes MODE; resolve reads it; a deploy's mode replaces it."""
    new(str(tmp_path), "prod", provider="aws", mode="high_availability")
    assert "MODE=high_availability" in (tmp_path / ".launchdeck" / "prod").read_text()
    assert stacks.resolve(tmp_path, "prod").mode is modes.Mode.HIGH_AVAILABILITY
    assert stacks.resolve(tmp_path, "prod", mode="balanced").mode is modes.Mode.BALANCED
    assert stacks.record_mode(tmp_path, "prod", modes.Mode.BALANCED)
    assert stacks.read(tmp_path, "prod").mode == "balanced"
    assert not stacks.record_mode(tmp_path, "prod", modes.Mode.BALANCED)
    assert stacks.read(tmp_path, "prod").provider == "aws"


def test_the_default_mode_writes_no_line(tmp_path) -> None:
    """A stack in the default mode has no MODE line, and recording the default makes no file."""
    new(str(tmp_path), "dev", provider="aws")
    assert "MODE" not in (tmp_path / ".launchdeck" / "dev").read_text()
    assert not stacks.record_mode(tmp_path, "other", modes.DEFAULT)
    assert not (tmp_path / ".launchdeck" / "other").exists()


def test_a_bad_mode_in_a_stack_file_is_located(tmp_path) -> None:
    (tmp_path / ".launchdeck").mkdir()
    (tmp_path / ".launchdeck" / "prod").write_text("LAUNCHDECK_PROVIDER=aws\nMODE=turbo\n")
    with pytest.raises(UsageError, match="prod: unknown mode 'turbo'"):
        stacks.read(tmp_path, "prod")


STORES = """\
services:
  web:
    image: nginx
    ports: [{target: 80, mode: ingress}]
  db:
    image: postgres:16
    x-defang-postgres: true
  cache:
    image: redis:7
    x-defang-redis: true
"""


def test_estimate_prices_each_mode_from_the_table(project) -> None:
    """high_availability adds an RDS standby and its storage, an ElastiCache replica and a
    second task; affordable is what the estimate priced before modes."""
    loaded = load(cwd=project({"compose.yaml": STORES}), os_environ={})
    cheap = price(loaded.project, "aws", "us-east-1")
    same = price(loaded.project, "aws", "us-east-1", mode="affordable")
    high = price(loaded.project, "aws", "us-east-1", mode="high_availability", compare="affordable")
    assert cheap.monthly_total == same.monthly_total
    db = {i.item: i.monthly for i in next(s for s in high.services if s.name == "db").items}
    # db.t4g.micro 730 h x 0.016 = 11.68 again for the standby; 20 GB x 0.115 = 2.30
    assert db["Multi-AZ standby"] == pytest.approx(11.68)
    assert db["standby storage"] == pytest.approx(2.30)
    cache = {i.item: i.monthly for i in next(s for s in high.services if s.name == "cache").items}
    assert cache["replica"] == pytest.approx(11.68)
    web = next(s for s in high.services if s.name == "web")
    assert web.items[0].detail.startswith("2 x Fargate")
    assert high.compared is not None and high.compared.mode == "affordable"
    assert high.compared.difference == pytest.approx(high.monthly_total - cheap.monthly_total, abs=0.01)
    assert high.compared.difference > 11.68 * 2
    assert "more than mode affordable" in render(high)


def test_estimate_prices_a_documentdb_replica_instance_for_high_availability(project) -> None:
    """A DocumentDB cluster in high_availability bills one more instance, not more storage."""
    text = "services:\n  db:\n    image: mongo:7\n    x-defang-mongodb: true\n"
    loaded = load(cwd=project({"compose.yaml": text}), os_environ={})
    cheap = price(loaded.project, "aws", "us-east-1")
    high = price(loaded.project, "aws", "us-east-1", mode="high_availability")
    base = {i.item: i.monthly for i in cheap.services[0].items}
    more = {i.item: i.monthly for i in high.services[0].items}
    assert set(more) - set(base) == {"replica instance"}
    assert more["replica instance"] == pytest.approx(base["instance"])


def test_estimate_on_gcp_doubles_cloud_sql_for_high_availability(project) -> None:
    """Cloud SQL REGIONAL bills a second instance and its storage."""
    loaded = load(cwd=project({"compose.yaml": STORES}), os_environ={})
    high = price(loaded.project, "gcp", "us-central1", mode="high_availability")
    db = {i.item: i.monthly for i in next(s for s in high.services if s.name == "db").items}
    assert db["high availability"] == pytest.approx(730 * 0.0105)
    cache = {i.item: i.monthly for i in next(s for s in high.services if s.name == "cache").items}
    # Standard M1 0.064 over Basic 0.049 per GB-hour, for the 1 GB instance
    assert cache["Standard tier"] == pytest.approx(730 * (0.064 - 0.049))
    assert not high.notes or not any("Standard tier" in n for n in high.notes)


def test_estimate_refuses_an_unknown_mode_to_compare(project) -> None:
    root = project({"compose.yaml": STORES})
    ref = ProjectRef(working_directory=str(root), provider="aws", mode="balanced")
    with pytest.raises(UsageError, match="unknown mode"):
        anyio.run(lambda: estimate(ref, compare="fastest"))
    assert anyio.run(lambda: estimate(ref)).mode == "balanced"


def test_the_cli_keeps_a_stacks_mode_and_prices_modes(project) -> None:
    """stack new --mode writes it, stack ls shows it, estimate --mode --compare prices both;
    an unknown mode is refused with the modes listed and no traceback."""
    import subprocess
    import sys

    def run(*args: str):
        return subprocess.run([sys.executable, "-m", "launchdeck", *args], cwd=root,
                              capture_output=True, text=True, timeout=60)

    root = project({"compose.yaml": STORES})
    made = run("stack", "new", "prod", "--provider", "aws", "--mode", "high_availability")
    assert made.returncode == 0, made.stderr
    listed = run("stack", "ls")
    assert "high_availability" in listed.stdout
    kept = run("estimate", "--provider", "aws", "--region", "us-east-1", "--stack", "prod")
    assert kept.returncode == 0, kept.stderr
    assert "in mode high_availability" in kept.stdout
    assert "in mode affordable" in run("estimate", "--provider", "aws", "--region", "us-east-1").stdout
    priced = run("estimate", "--provider", "aws", "--region", "us-east-1", "--mode",
                 "high_availability", "--compare", "affordable")
    assert priced.returncode == 0, priced.stderr
    assert "in mode high_availability" in priced.stdout and "more than mode affordable" in priced.stdout
    refused = run("stack", "new", "qa", "--provider", "aws", "--mode", "turbo")
    assert refused.returncode != 0
    assert "affordable" in refused.stderr and "Traceback" not in refused.stderr
