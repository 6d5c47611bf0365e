"""ToolsetService: the one writer of toolsets, on both stores; its observers are the hook a
change feed attaches to."""

from __future__ import annotations

import pytest

from mcp_gateway.domain.toolsets import Toolset, ToolsetEntry
from mcp_gateway.errors import InvalidRequest, ToolsetNotFound
from mcp_gateway.services.toolsets import ToolsetService
from mcp_gateway.storage.ports import Store

pytestmark = pytest.mark.anyio


async def test_writes_keep_created_at_notify_observers_and_a_refused_one_writes_nothing(
    store: Store,
) -> None:
    clock = iter([10.0, 20.0, 30.0])
    service = ToolsetService(store, clock=lambda: next(clock))
    changed: list[str] = []
    service.observers.append(changed.append)

    first, created = await service.put(Toolset("t", tools=(ToolsetEntry("fx", "echo"),)))
    assert created and (first.created_at, first.updated_at) == (10.0, 10.0)
    second, created = await service.put(Toolset("t", description="d"))
    assert not created and (second.created_at, second.updated_at) == (10.0, 20.0)
    assert await service.get("t") == second

    with pytest.raises(InvalidRequest, match="duplicate entry"):
        await service.put(Toolset("t", tools=(ToolsetEntry("fx"), ToolsetEntry("fx"))))
    assert await service.get("t") == second
    assert changed == ["t", "t"]  # the refused write told nobody

    assert await service.delete("t") is True
    assert await service.delete("t") is False  # nothing changed: no notification
    assert changed == ["t", "t", "t"]
    with pytest.raises(ToolsetNotFound, match="toolset 't' not found"):
        await service.get("t")


async def test_a_failing_observer_does_not_fail_the_write(store: Store) -> None:
    service = ToolsetService(store)

    def broken(name: str) -> None:
        raise RuntimeError("observer bug")

    service.observers.append(broken)
    stored, _ = await service.put(Toolset("t"))
    assert await service.get("t") == stored
