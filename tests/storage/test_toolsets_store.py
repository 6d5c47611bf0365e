"""The toolsets port on both stores (SQLite migration 4, MongoDB ``mcpgw_toolsets``)."""

from __future__ import annotations

import pytest

from mcp_gateway.domain.toolsets import ALL_TOOLS, Toolset, ToolsetEntry
from mcp_gateway.storage.ports import Store

pytestmark = pytest.mark.anyio

TRIAGE = Toolset(
    name="triage",
    description="issue work",
    tools=(ToolsetEntry("My Server.v2", "files.read"), ToolsetEntry("docs", ALL_TOOLS)),
    created_at=1.5,
    updated_at=2.5,
)


async def test_a_toolset_round_trips_and_is_replaced_whole_by_name(store: Store) -> None:
    assert await store.get_toolset("triage") is None
    await store.put_toolset(TRIAGE)
    assert await store.get_toolset("triage") == TRIAGE
    smaller = Toolset("triage", tools=(ToolsetEntry("docs", "search"),), updated_at=3.0)
    await store.put_toolset(smaller)
    assert await store.get_toolset("triage") == smaller
    assert await store.get_toolset("Triage") is None  # names are case-sensitive


async def test_toolsets_list_by_name_and_delete_reports_whether_one_existed(store: Store) -> None:
    for name in ("b", "a", "c"):
        await store.put_toolset(Toolset(name))
    assert [t.name for t in await store.list_toolsets()] == ["a", "b", "c"]
    assert await store.delete_toolset("b") is True
    assert await store.delete_toolset("b") is False
    assert [t.name for t in await store.list_toolsets()] == ["a", "c"]
