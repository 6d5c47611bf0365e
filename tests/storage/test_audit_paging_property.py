"""Property: paging the audit trail newest first while events keep arriving (newer, tied, or
late with an older time) returns every event that existed when the reading began, exactly once,
in order; nothing is ever returned twice (SQLite; the contract suite covers MongoDB's cases)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import anyio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcp_gateway.domain.audit import AuditQuery
from mcp_gateway.domain.records import AuditEvent
from mcp_gateway.storage.sqlite import SqliteStore

timestamps = st.lists(st.integers(0, 20).map(float), min_size=0, max_size=30)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    initial=timestamps,
    arrivals=st.lists(timestamps, min_size=1, max_size=8),
    page=st.integers(1, 7),
)
def test_pages_return_each_existing_event_once_in_order(
    initial: list[float], arrivals: list[list[float]], page: int
) -> None:
    async def scenario(data_dir: Path) -> None:
        store = await SqliteStore.open(data_dir)
        try:
            counter = iter(range(10_000))

            def events(times: list[float]) -> list[AuditEvent]:
                return [AuditEvent(ts=ts, request_id=f"e{next(counter)}", actor="k",
                                   role="admin", action="tool_call") for ts in times]  # fmt: skip

            existing = events(initial)
            await store.append_audits(existing)
            seen: list[AuditEvent] = []
            before = None
            for batch in [*arrivals, *([[]] * 100)]:
                rows = await store.query_audit(AuditQuery(limit=page, before=before))
                seen += [row.event for row in rows]
                if len(rows) < page:
                    break
                before = rows[-1].position
                await store.append_audits(events(batch))  # meanwhile, more arrive
            ids = [e.request_id for e in seen]
            assert len(ids) == len(set(ids)), "an event was returned twice"
            assert {e.request_id for e in existing} <= set(ids), "an event was skipped"
            assert [e.ts for e in seen] == sorted((e.ts for e in seen), reverse=True)
        finally:
            await store.aclose()

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir(mode=0o700)
        anyio.run(scenario, data_dir)
