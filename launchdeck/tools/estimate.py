"""estimate: what a project would cost a month on a cloud, priced offline from a shipped table.

Each provider prices itself (its package's ``prices`` module, the ``Pricing`` seam below):
services sized the way it sizes them, managed stores as the instance types it creates, and
the project's shared parts (load balancer, DNS zone, traffic) once. The prices come from
``launchdeck/prices/<table>.json`` (the provider's description names the table: public list
prices, dated, with their sources); nothing here calls a cloud API. Every figure is shown with the quantity,
unit and unit price it comes from, and the assumptions (hours, traffic) beside the total.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, Field

from launchdeck.errors import UsageError
from launchdeck.prices import Assumptions, LineItem
from launchdeck.tools.project import ProjectRef

if TYPE_CHECKING:
    from launchdeck.compose.model import Project, Service

__all__ = ["Assumptions", "EstimateResult", "LineItem", "ServiceCost", "estimate", "price",
           "prices", "region_for", "render", "summary"]


class Pricing(Protocol):
    """How a provider prices itself (its package's ``prices`` module)."""

    Prices: type[BaseModel]
    """One region's row of its price table."""
    MODELS: str
    """Who bills the model calls of x-defang-llm."""
    NOTES: list[str]
    """What it leaves out, in words."""

    def assumed(self, a: Assumptions) -> list[str]: ...
    def service_items(self, service: Service, p: Any, a: Assumptions) -> list[LineItem]: ...
    def store_items(self, kind: str, p: Any, a: Assumptions) -> list[LineItem]: ...
    def shared_items(self, project: Project, p: Any, a: Assumptions,
                     config: list[str]) -> list[LineItem]: ...


# -- the result ---------------------------------------------------------------------------------


class ServiceCost(BaseModel):
    name: str
    kind: str = Field(description="service, the managed store it is (postgres, redis), or "
                                  "shared: the load balancer, DNS zone, traffic and secrets.")
    monthly: float
    items: list[LineItem]


class EstimateResult(BaseModel):
    project: str
    provider: str
    region: str | None
    currency: str = "USD"
    monthly_total: float
    services: list[ServiceCost] = Field([], description="Each service and store, then the "
                                        "shared parts (kind shared), each with its line items.")
    assumed: list[str] = Field([], description="The assumptions made, in words.")
    notes: list[str] = Field([], description="What is not priced, and why.")
    prices_as_of: str | None = None


# -- prices ---------------------------------------------------------------------------------------


class PriceTable(BaseModel):
    """One cloud's prices file: dated, with its sources, per region."""

    provider: str
    currency: str
    as_of: str
    note: str
    sources: list[str]
    regions: dict[str, dict[str, Any]]
    """Each region's row, read by the provider's own prices model (``Pricing.Prices``)."""


@cache
def prices(table: str) -> PriceTable:
    """The shipped price table called ``table`` (a provider description's ``prices``)."""
    data = json.loads(resources.files("launchdeck.prices").joinpath(f"{table}.json").read_text())
    return PriceTable.model_validate(data)


def region_for(provider: str, region: str | None) -> str:
    """The region to price: the one given, else the provider's default; a UsageError naming
    the priced regions when the table has no such region."""
    from launchdeck.providers import description

    described = description(provider)
    if described.prices is None:
        raise UsageError(f"no prices for provider {provider!r}", hint="It costs nothing to run on.")
    chosen = region or described.default_region or ""
    known = list(prices(described.prices).regions)
    if chosen not in known:
        raise UsageError(f"no {provider} prices for region {chosen!r}",
                         hint=f"Priced regions: {', '.join(known)}. Estimate for one of them "
                              "(prices elsewhere are usually within 10-30% of these).")
    return chosen


# -- pricing --------------------------------------------------------------------------------------


def price(project: Project, provider: str, region: str | None = None,
          assumptions: Assumptions | None = None, config: list[str] | None = None) -> EstimateResult:
    """The monthly cost of ``project`` on ``provider`` in ``region`` (pure: no I/O beyond the
    shipped price table). ``config``: the config names it reads (priced on GCP)."""
    from launchdeck.providers import description

    a = assumptions or Assumptions()
    described = description(provider)
    if described.prices is None:
        return EstimateResult(project=project.name, provider=provider, region=None, monthly_total=0,
                              notes=[f"{provider} runs on this machine ({described.title}): "
                                     "it costs nothing beyond the machine."])
    from launchdeck.providers import pricing

    region = region_for(provider, region)
    table = prices(described.prices)
    priced: Pricing = pricing(provider)
    p = priced.Prices.model_validate(table.regions[region])
    notes: list[str] = []
    services = []
    for service in project.services.values():
        kind = service.managed_store
        if kind is not None and kind not in described.capabilities.stores:
            notes.append(f"{service.name}: x-defang-{kind} has no managed store on {provider} "
                         "(the deploy refuses it); not priced.")
            continue
        items = (priced.store_items(kind, p, a) if kind is not None
                 else priced.service_items(service, p, a))
        if service.llm is not None:
            notes.append(f"{service.name}: model calls (x-defang-llm) are billed per token by "
                         f"{priced.MODELS}; not priced.")
        services.append(ServiceCost(name=service.name, kind=kind or "service",
                                    monthly=round(sum(i.monthly for i in items), 2), items=items))
    shared = priced.shared_items(project, p, a, config or [])
    notes += priced.NOTES
    if shared:
        services.append(ServiceCost(name="(shared)", kind="shared",
                                    monthly=round(sum(i.monthly for i in shared), 2), items=shared))
    total = sum(i.monthly for s in services for i in s.items)
    return EstimateResult(project=project.name, provider=provider, region=region,
                          currency=table.currency, monthly_total=round(total, 2), services=services,
                          assumed=a.lines() + priced.assumed(a), notes=notes, prices_as_of=table.as_of)


async def estimate(ref: ProjectRef, *, region: str | None = None,
                   assumptions: Assumptions | None = None) -> EstimateResult:
    """Load the project and price it on ``ref.provider`` in ``region``, else the region in
    force for the stack (the environment's, else its file's); no cloud is called."""
    from launchdeck.compose.validate import required_config

    loaded = ref.load()
    return price(loaded.project, ref.provider_name, region or ref.settings.region, assumptions,
                 required_config(loaded))


def render(result: EstimateResult) -> str:
    """The estimate as a table (each line names the size or instance type priced), with the
    assumptions, for people."""
    if result.region is None:  # a target that costs nothing
        return "\n".join([f"estimate for {result.project} on {result.provider}: 0 a month",
                          *result.notes])
    rows = [("SERVICE", "ITEM", "DETAIL", "QUANTITY", f"{result.currency}/MONTH")]
    for service in result.services:
        rows += [(service.name, i.item, i.detail, f"{_quantity(i.quantity)} {i.unit}",
                  f"{i.monthly:.2f}") for i in service.items]
    rows.append(("TOTAL", "", "", "", f"{result.monthly_total:.2f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = [f"estimate for {result.project} on {result.provider} ({result.region}), list prices "
             f"of {result.prices_as_of}"]
    lines += ["  ".join([*(c.ljust(w) for c, w in zip(row[:4], widths, strict=False)),
                         row[4].rjust(widths[4])]).rstrip() for row in rows]
    lines.append("assumed: " + "; ".join(result.assumed))
    lines += [f"note: {note}" for note in result.notes]
    return "\n".join(lines)


def summary(result: EstimateResult) -> str:
    """A short text: each service's and the shared parts' monthly cost, the total, assumptions."""
    if result.region is None:
        return render(result)
    lines = [f"{result.project} on {result.provider} ({result.region}): about "
             f"{result.monthly_total:.2f} {result.currency} a month (list prices of "
             f"{result.prices_as_of})"]
    lines += [f"- {s.name} ({s.kind}): {s.monthly:.2f}" for s in result.services]
    lines.append("assumed: " + "; ".join(result.assumed))
    lines += result.notes
    return "\n".join(lines)


def _quantity(value: float) -> str:
    return f"{value:,.0f}" if value >= 10_000 else f"{value:g}"
