"""Public list prices the cost estimate reads, shipped with the package (one JSON file per cloud),
and the shapes every provider's pricing answers in: the assumptions, and a line item.

Each provider that costs something prices itself (``launchdeck/providers/<name>/prices.py``:
its services sized as it sizes them, its stores as it makes them); tools/estimate.py adds
them up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from launchdeck.compose.model import Project, Service


class Assumptions(BaseModel):
    """What the estimate cannot read from the compose file; each figure depends on these."""

    hours_per_month: float = Field(730, description="Hours every replica and store runs.")
    egress_gb: float = Field(10, description="GB a month served to the internet.")
    log_gb: float = Field(1, description="GB of logs each service writes a month.")
    build_minutes: float = Field(30, description="Build minutes a month per built service.")
    image_gb: float = Field(0.5, description="GB of images kept per built service.")
    lb_capacity_units: float = Field(1, description="Average ALB capacity units (AWS).")

    def lines(self) -> list[str]:
        """The assumptions every cloud's figures rest on, in words."""
        return [f"{self.hours_per_month:g} hours a month: every replica and store runs all month",
                f"{self.egress_gb:g} GB a month served to the internet",
                f"{self.log_gb:g} GB of logs a month per service",
                f"{self.build_minutes:g} build minutes and {self.image_gb:g} GB of images per "
                "built service"]


class LineItem(BaseModel):
    item: str = Field(description="What is paid for: vCPU, memory, instance, storage ...")
    detail: str = Field(description="The size or instance type priced.")
    quantity: float
    unit: str
    unit_price: float
    monthly: float


def line(item: str, detail: str, quantity: float, unit: str, price: float) -> LineItem:
    return LineItem(item=item, detail=detail, quantity=round(quantity, 6), unit=unit,
                    unit_price=price, monthly=round(quantity * price, 6))


def architecture(service: Service) -> str:
    return "arm64" if service.platform and "arm64" in service.platform else "x86_64"


def gib(mib: float) -> str:
    return f"{mib / 1024:g} GB"


def zones(project: Project) -> list[str]:
    """The DNS zones the project's domains live in (each domain's parent, as a guess)."""
    zones = set()
    for service in project.services.values():
        if service.domainname and service.ingress_ports:
            labels = service.domainname.rstrip(".").split(".")
            zones.add(".".join(labels[1:] if len(labels) > 2 else labels))
    return sorted(zones)
