"""The estimate tool over MCP, through the SDK's own client on stdio."""

from __future__ import annotations

from pathlib import Path

import anyio

from tests.server.test_mcp import Seen, _data, _text, connect
from tests.tools.test_estimate import WEB_TWO_REPLICAS


def test_estimate_over_mcp(project, tmp_path: Path) -> None:
    """The tool returns the structured estimate with a short text; a bad region names the good ones."""
    folder = project({"compose.yaml": WEB_TWO_REPLICAS})

    async def scenario() -> None:
        async with connect("stdio", "legacy", Seen(), tmp_path / "state", None) as client:
            where = {"working_directory": str(folder), "provider": "aws"}
            done = await client.call_tool("estimate", {**where, "region": "us-east-1"})
            data = _data(done)
            assert abs(data["monthly_total"] - 56.32) < 0.01
            assert [s["name"] for s in data["services"]] == ["web", "(shared)"]
            assert "about 56.32 USD a month" in _text(done) and "730 hours" in _text(done)
            refused = await client.call_tool("estimate", {**where, "region": "mars-1"})
            assert refused.is_error and "us-east-1, eu-west-1" in _text(refused)

    anyio.run(scenario)


def test_estimate_over_mcp_prices_a_mode_and_refuses_an_unknown_one(project, tmp_path: Path) -> None:
    """mode and compare price high_availability beside affordable; an unknown mode is refused
    naming the modes, before anything is priced."""
    folder = project({"compose.yaml": WEB_TWO_REPLICAS})

    async def scenario() -> None:
        async with connect("stdio", "legacy", Seen(), tmp_path / "state", None) as client:
            where = {"working_directory": str(folder), "provider": "aws", "region": "us-east-1"}
            done = await client.call_tool("estimate", {**where, "mode": "high_availability",
                                                       "compare": "affordable"})
            data = _data(done)
            assert data["mode"] == "high_availability"
            assert data["compared"]["mode"] == "affordable"
            assert abs(data["compared"]["monthly_total"] - 56.32) < 0.01
            refused = await client.call_tool("estimate", {**where, "mode": "turbo"})
            assert refused.is_error
            assert "affordable" in _text(refused) and "high_availability" in _text(refused)

    anyio.run(scenario)
