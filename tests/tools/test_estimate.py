"""The cost estimate: sizes as the providers make them, totals checked against hand sums."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from launchdeck.compose.load import load
from launchdeck.errors import UsageError
from launchdeck.providers import description
from launchdeck.providers.gcp.prices import cloud_run_size
from launchdeck.tools.estimate import (
    EstimateResult,
    estimate,
    prices,
    render,
)
from launchdeck.tools.project import ProjectRef

WEB_TWO_REPLICAS = """\
services:
  web:
    image: nginx
    ports: [{target: 80, mode: ingress}]
    deploy: {replicas: 2}
"""
# Hand sum, aws us-east-1: Fargate 0.25 vCPU / 0.5 GB x86, 2 replicas, 730 h:
#   vCPU 365 h x 0.04048 = 14.7752; memory 730 GB-h x 0.004445 = 3.24485;
#   task addresses 1460 h x 0.005 = 7.30; logs 1 GB x 0.50 + 1 GB-month x 0.03 = 0.53;
#   ALB 730 h x 0.0225 = 16.425; 1 LCU 730 h x 0.008 = 5.84; ALB addresses 1460 h x 0.005 = 7.30;
#   10 GB out x 0.09 = 0.90                                                   total 56.31505
SHOP_ARM = """\
services:
  api:
    build: .
    platform: linux/arm64
    domainname: api.example.org
    ports: [{target: 8080, mode: ingress}]
    environment: {DATABASE_URL: "postgres://app:${POSTGRES_PASSWORD}@db:5432/app"}
    deploy: {resources: {reservations: {cpus: "1", memory: 3G}}}
  db:
    image: postgres:16
    x-defang-postgres: true
    environment: {POSTGRES_PASSWORD: null}
  cache:
    image: redis:7
    x-defang-redis: true
"""
# Hand sum, aws eu-west-1: Fargate 1 vCPU / 3 GB arm64: vCPU 730 x 0.03238 = 23.6374,
#   memory 2190 GB-h x 0.00356 = 7.7964, address 3.65, logs 0.57 + 0.03, CodeBuild 30 min x
#   0.005 = 0.15, ECR 0.5 GB x 0.10 = 0.05; RDS db.t4g.micro 730 x 0.017 = 12.41, 20 GB gp3 x
#   0.127 = 2.54; ElastiCache cache.t4g.micro 730 x 0.0176 = 12.848; ALB 730 x 0.0252 = 18.396,
#   LCU 5.84, ALB addresses 7.30, 10 GB out 0.90, Route 53 zone example.org 0.50   total 96.6178
# Hand sum, gcp europe-west1 (Cloud Run 1 vCPU / 3 GiB, 2,628,000 s): vCPU x 0.000018 = 47.304,
#   memory 3 x 2,628,000 x 0.000002 = 15.768, logs 0.50, Cloud Build 30 x 0.006 = 0.18,
#   Artifact Registry 0.05; Cloud SQL db-f1-micro 730 x 0.0115 = 8.395, 10 GB SSD x 0.17 = 1.70,
#   backups 10 x 0.08 = 0.80; Memorystore Basic 1 GB 730 x 0.054 = 39.42; 10 GB out x 0.12 =
#   1.20, forwarding rules 730 x 0.025 = 18.25, LB data 10 x 0.008 = 0.08, DNS zone 0.20,
#   1 secret x 0.06                                                            total 133.907
BIG_AND_WORKER = """\
services:
  web:
    image: nginx
    ports: [{target: 80, mode: ingress}]
    deploy: {resources: {limits: {cpus: "0.5", memory: 6G}}}
  worker:
    image: busybox
    environment: {API_KEY: null}
"""
# Hand sum, gcp us-central1: web Cloud Run 2 vCPU / 6 GiB (6 GiB needs 2 CPUs):
#   vCPU 2 x 2,628,000 x 0.000018 = 94.608, memory 6 x 2,628,000 x 0.000002 = 31.536, logs 0.50;
#   worker 1 vCPU / 0.5 GiB: 47.304 + 2.628 + 0.50; 10 GB out x 0.12 = 1.20; 1 secret 0.06
#                                                                             total 178.336


def _estimate(folder: Path, provider: str, region: str | None = None) -> EstimateResult:
    ref = ProjectRef(working_directory=str(folder), provider=provider)
    return anyio.run(lambda: estimate(ref, region=region))


@pytest.mark.parametrize(
    ("compose", "provider", "region", "total"),
    [
        (WEB_TWO_REPLICAS, "aws", "us-east-1", 56.31505),
        (SHOP_ARM, "aws", "eu-west-1", 96.6178),
        (SHOP_ARM, "gcp", "europe-west1", 133.907),
        (BIG_AND_WORKER, "gcp", "us-central1", 178.336),
    ],
)
def test_total_matches_the_hand_sum(project, compose: str, provider: str, region: str,
                                    total: float) -> None:
    """The total is the sum worked out by hand from the price table (comments above)."""
    result = _estimate(project({"compose.yaml": compose}), provider, region)
    assert result.monthly_total == pytest.approx(total, abs=0.005)
    assert result.monthly_total == pytest.approx(sum(s.monthly for s in result.services), abs=0.02)


def test_aws_sizes_and_instance_types_are_named(project) -> None:
    """Each line names what was priced: the Fargate size and architecture, the store types."""
    result = _estimate(project({"compose.yaml": SHOP_ARM}), "aws", "us-east-1")
    details = {s.name: {i.detail for i in s.items} for s in result.services}
    assert "1 x Fargate 1 vCPU / 3 GB arm64" in details["api"]
    assert "RDS PostgreSQL db.t4g.micro, single-AZ" in details["db"]
    assert "ElastiCache Redis cache.t4g.micro, one node" in details["cache"]
    assert [s.kind for s in result.services] == ["service", "postgres", "redis", "shared"]


@pytest.mark.parametrize(
    ("resources", "size"),
    [
        ("", (1, 512)),
        ("{reservations: {cpus: '0.25', memory: 256M}}", (1, 512)),
        ("{limits: {memory: 2G}}", (1, 2048)),
        ("{limits: {memory: 5G}}", (2, 5120)),
        ("{reservations: {cpus: '3'}}", (4, 2048)),
        ("{reservations: {cpus: '6'}}", (6, 4096)),
        ("{limits: {cpus: '16', memory: 40G}}", (8, 32768)),
    ],
)
def test_cloud_run_size(project, resources: str, size: tuple[int, int]) -> None:
    """Cloud Run gets the smallest valid (CPUs, MiB) covering what the service asks."""
    deploy = f"\n    deploy: {{resources: {resources}}}" if resources else ""
    folder = project({"compose.yaml": f"services:\n  app:\n    image: busybox{deploy}\n"})
    assert cloud_run_size(load((), cwd=str(folder)).project.services["app"]) == size


def test_region_comes_from_the_providers_variable(project, monkeypatch) -> None:
    """Without a region, AWS_REGION (or GCP_REGION) picks the prices."""
    folder = project({"compose.yaml": WEB_TWO_REPLICAS})
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("GCP_REGION", "europe-west1")
    assert _estimate(folder, "aws").region == "eu-west-1"
    assert _estimate(folder, "gcp").region == "europe-west1"


def test_region_comes_from_the_stacks_file(project, monkeypatch) -> None:
    """The stack's file names the provider and its region; the provider's variable overrides it."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "GCP_REGION"):
        monkeypatch.delenv(name, raising=False)
    folder = project({"compose.yaml": WEB_TWO_REPLICAS,
                      ".launchdeck/dev": "LAUNCHDECK_PROVIDER=gcp\nREGION=europe-west1\n"})
    ref = ProjectRef(working_directory=str(folder), stack="dev")
    assert anyio.run(lambda: estimate(ref)).region == "europe-west1"
    monkeypatch.setenv("GCP_REGION", "us-central1")
    ref = ProjectRef(working_directory=str(folder), stack="dev")
    assert anyio.run(lambda: estimate(ref)).region == "us-central1"


@pytest.mark.parametrize(("provider", "region", "listed"),
                         [("aws", "ap-south-1", "us-east-1, eu-west-1"),
                          ("gcp", "asia-east1", "us-central1, europe-west1")])
def test_an_unpriced_region_is_refused_with_the_list(project, provider: str, region: str,
                                                     listed: str) -> None:
    """A region the table lacks is a usage error naming the regions it has."""
    with pytest.raises(UsageError) as caught:
        _estimate(project({"compose.yaml": WEB_TWO_REPLICAS}), provider, region)
    assert region in caught.value.message and listed in caught.value.hint


def test_local_costs_nothing_and_says_so(project) -> None:
    """On the local Docker Engine the estimate is zero, with a note why."""
    result = _estimate(project({"compose.yaml": SHOP_ARM}), "local")
    assert result.monthly_total == 0 and result.services == []
    assert "costs nothing" in result.notes[0]


def test_what_is_not_priced_is_said(project) -> None:
    """Model calls are named as not priced rather than left out silently."""
    compose = "services:\n  chat:\n    image: busybox\n    x-defang-llm: true\n"
    result = _estimate(project({"compose.yaml": compose}), "aws", "us-east-1")
    assert [s.name for s in result.services] == ["chat"]
    assert any(n.startswith("chat: model calls") for n in result.notes)


def test_a_mongodb_store_is_priced_as_documentdb_on_aws(project) -> None:
    """x-defang-mongodb is a DocumentDB db.t4g.medium with assumed storage and I/O: on
    us-east-1, 730 h x 0.073 = 53.29, 10 GB x 0.10 = 1.00, 1 million I/O x 0.20 = 0.20."""
    compose = "services:\n  docs:\n    image: mongo:7\n    x-defang-mongodb: true\n"
    result = _estimate(project({"compose.yaml": compose}), "aws", "us-east-1")
    [docs] = result.services
    assert docs.kind == "mongodb" and docs.monthly == pytest.approx(54.49, abs=0.005)
    assert "DocumentDB db.t4g.medium, one instance" in {i.detail for i in docs.items}
    assert not any("docs" in n for n in result.notes)


@pytest.mark.parametrize("provider", ["aws", "gcp"])
def test_price_tables_are_dated_sourced_and_cover_the_regions(provider: str) -> None:
    """Each shipped table has its date and sources, and the two regions the estimate promises."""
    table = prices(description(provider).prices)
    assert table.as_of and all(s.startswith("https://") for s in table.sources)
    assert len(table.regions) >= 2


def test_table_shows_items_total_and_assumptions(project) -> None:
    """The text names every line item, the total and the assumptions beside it."""
    text = render(_estimate(project({"compose.yaml": WEB_TWO_REPLICAS}), "aws", "us-east-1"))
    assert "Application Load Balancer" in text and "2 x Fargate 0.25 vCPU / 0.5 GB x86_64" in text
    assert "TOTAL" in text and "56.32" in text
    assert "730 hours a month" in text and "10 GB a month served to the internet" in text


def test_cli_json_and_assumptions(project) -> None:
    """`launchdeck estimate --format json` prints the result; --hours and --traffic-gb change it."""
    folder = project({"compose.yaml": WEB_TWO_REPLICAS})
    base = [sys.executable, "-m", "launchdeck", "estimate", "-C", str(folder), "--provider", "aws",
            "--region", "us-east-1", "--format", "json"]
    full = subprocess.run(base, capture_output=True, text=True, timeout=60, check=True)
    half = subprocess.run([*base, "--hours", "365", "--traffic-gb", "0"], capture_output=True,
                          text=True, timeout=60, check=True)
    assert json.loads(full.stdout)["monthly_total"] == pytest.approx(56.32, abs=0.01)
    # everything but logs (0.53) and traffic (0.90) runs by the hour: (56.31505 - 1.43) / 2 + 0.53
    assert json.loads(half.stdout)["monthly_total"] == pytest.approx(27.97, abs=0.01)
