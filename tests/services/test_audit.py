"""AuditLog: written in the background, flushed on exit, dropped (counted) when full, pruned
to its retention in bounded batches (both stores)."""

from __future__ import annotations

import time

import anyio
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


def _at(ts: float, i: int) -> AuditEvent:
    return AuditEvent(ts=ts, request_id=f"r{i}", actor="k", role="service", action="tool_call")


@pytest.mark.anyio
async def test_store_prunes_by_age_and_count_in_bounded_batches(store: Store) -> None:
    await store.append_audits([_at(100.0 + i, i) for i in range(10)])
    # Older than ts 104: four events, at most three per call.
    assert await store.prune_audit(104.0, 0, 3) == 3
    assert await store.prune_audit(104.0, 0, 3) == 1
    assert await store.prune_audit(104.0, 0, 3) == 0
    # Keep the newest two of the seven left (ties on ts break by insertion order).
    await store.append_audits([_at(109.0, 10)])
    assert await store.prune_audit(0, 2, 100) == 5
    assert [e.request_id for e in await store.list_audit(100)] == ["r10", "r9"]


@pytest.mark.anyio
async def test_retention_deletes_old_and_excess_events_batch_by_batch(store: Store) -> None:
    now = time.time()
    old = [_at(now - 40 * 86400 + i, i) for i in range(95)]  # several batches
    recent = [_at(now - 60 + i, 10_000 + i) for i in range(20)]
    await store.append_audits(old + recent)
    # Not entered, so no periodic run races this one.
    audit = AuditLog(store, retention_days=30, max_events=15, prune_batch=20)
    assert await audit.prune() == 100
    kept = await store.list_audit(100)
    assert [e.request_id for e in kept] == [f"r{10_000 + i}" for i in range(19, 4, -1)]


@pytest.mark.anyio
async def test_retention_runs_by_itself_when_the_audit_log_starts(sqlite_store: Store) -> None:
    await sqlite_store.append_audits([_at(1.0, 1), _at(time.time(), 2)])
    async with AuditLog(sqlite_store, retention_days=1):
        with anyio.fail_after(10):
            while True:
                if len(await sqlite_store.list_audit(10)) == 1:
                    break
                await anyio.sleep(0.02)


@pytest.mark.anyio
async def test_events_are_stamped_with_the_replica_id(store: Store) -> None:
    async with AuditLog(store, replica="gw-a") as audit:
        audit.record(_event(1))
        audit.record(AuditEvent(ts=2.0, request_id="r2", actor="k", role="admin",
                                action="tool_call", replica="other"))  # fmt: skip
    assert [e.replica for e in await store.list_audit(10)] == ["other", "gw-a"]
