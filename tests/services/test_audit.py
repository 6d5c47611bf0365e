"""AuditLog: written in the background, flushed on exit, dropped (counted) when full."""

from __future__ import annotations

import pytest

from mcp_gateway.domain.records import AuditEvent
from mcp_gateway.services.audit import AuditLog
from mcp_gateway.storage.ports import Store


def _event(i: int) -> AuditEvent:
    return AuditEvent(ts=float(i), request_id=f"r{i}", actor="k", role="service",
                      action="tool_call", server="s", tool="t")  # fmt: skip


@pytest.mark.anyio
async def test_events_are_flushed_on_exit(sqlite_store: Store) -> None:
    async with AuditLog(sqlite_store) as audit:
        for i in range(300):
            audit.record(_event(i))
    assert audit.written == 300 and audit.dropped == 0
    assert len(await sqlite_store.list_audit(1000)) == 300


@pytest.mark.anyio
async def test_full_queue_drops_and_counts_instead_of_blocking(sqlite_store: Store) -> None:
    async with AuditLog(sqlite_store, queue_size=10) as audit:
        for i in range(50):  # no await: the drain task cannot run in between
            audit.record(_event(i))
        assert audit.dropped == 40
    assert audit.written == 10
    audit.record(_event(99))  # after close: counted, never raises
    assert audit.dropped == 41
