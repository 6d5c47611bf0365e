"""The audit port's reading side on both stores: filters, newest-first pages with positions
that stay stable under concurrent inserts, ``after`` for following, the indexes in place."""

from __future__ import annotations

import pytest

from mcp_gateway.domain.audit import AuditFilter, AuditQuery
from mcp_gateway.domain.records import AuditEvent
from mcp_gateway.errors import InvalidRequest
from mcp_gateway.storage.ports import Store

pytestmark = pytest.mark.anyio


def _ev(i: int, ts: float | None = None, **fields: str) -> AuditEvent:
    base: dict[str, str] = {"actor": "k1", "username": "alice", "server": "s1", "tool": "t1"}
    base.update(fields)
    return AuditEvent(ts=float(i) if ts is None else ts, request_id=f"r{i}", role="service",
                      action="tool_call", **base)  # type: ignore[arg-type]  # fmt: skip


def _ids(rows: list) -> list[str]:  # type: ignore[type-arg]
    return [row.event.request_id for row in rows]


async def test_pages_newest_first_continue_below_the_cursor_despite_new_inserts(
    store: Store,
) -> None:
    await store.append_audits([_ev(i) for i in range(10)])
    first = await store.query_audit(AuditQuery(limit=4))
    assert _ids(first) == ["r9", "r8", "r7", "r6"]
    # Newer events (and one with the same ts as the cursor, inserted later) arrive in between.
    await store.append_audits([_ev(20), _ev(21), _ev(99, ts=6.0)])
    second = await store.query_audit(AuditQuery(limit=4, before=first[-1].position))
    assert _ids(second) == ["r5", "r4", "r3", "r2"]
    third = await store.query_audit(AuditQuery(limit=4, before=second[-1].position))
    assert _ids(third) == ["r1", "r0"]


async def test_ties_on_ts_keep_insertion_order_across_pages(store: Store) -> None:
    await store.append_audits([_ev(i, ts=5.0) for i in range(5)])
    first = await store.query_audit(AuditQuery(limit=2))
    rest = await store.query_audit(AuditQuery(limit=10, before=first[-1].position))
    assert _ids(first) + _ids(rest) == ["r4", "r3", "r2", "r1", "r0"]


async def test_after_returns_newer_events_oldest_first(store: Store) -> None:
    await store.append_audits([_ev(i) for i in range(3)])
    (newest,) = await store.query_audit(AuditQuery(limit=1))
    assert await store.query_audit(AuditQuery(after=newest.position)) == []
    await store.append_audits([_ev(3), _ev(4)])
    assert _ids(await store.query_audit(AuditQuery(after=newest.position))) == ["r3", "r4"]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (AuditFilter(server="s2"), ["r3"]),
        (AuditFilter(tool="t2"), ["r4"]),
        (AuditFilter(username="bob"), ["r5", "r2"]),
        (AuditFilter(outcome="upstream_error"), ["r1"]),
        (AuditFilter(actor="k2"), ["r6"]),
        (AuditFilter(since=2.0, until=4.0), ["r3", "r2"]),
        (AuditFilter(username="bob", since=3.0), ["r5"]),
        (AuditFilter(username="nobody"), []),
    ],
)
async def test_filters_match_exactly(store: Store, flt: AuditFilter, expected: list[str]) -> None:
    await store.append_audits(
        [
            _ev(0),
            AuditEvent(ts=1.0, request_id="r1", actor="k1", role="service", action="tool_call",
                       username="alice", server="s1", tool="t1", outcome="upstream_error"),
            _ev(2, username="bob"),
            _ev(3, server="s2"),
            _ev(4, tool="t2"),
            _ev(5, username="bob"),
            _ev(6, actor="k2"),
        ]
    )  # fmt: skip
    assert _ids(await store.query_audit(AuditQuery(flt))) == expected


async def test_events_keep_their_replica_and_duration(store: Store) -> None:
    event = AuditEvent(ts=1.0, request_id="r", actor="k", role="admin", action="tool_call",
                       duration_ms=12.5, replica="gw-1")  # fmt: skip
    await store.append_audits([event])
    (row,) = await store.query_audit(AuditQuery())
    assert row.event == event


async def test_a_cursor_from_nowhere_is_invalid_request(store: Store) -> None:
    from mcp_gateway.domain.audit import AuditPosition

    with pytest.raises(InvalidRequest):
        await store.query_audit(AuditQuery(before=AuditPosition(1.0, "not-a-position")))


async def test_sqlite_filtered_pages_use_an_index(sqlite_store: Store) -> None:
    from mcp_gateway.storage.sqlite.audit import _select
    from mcp_gateway.storage.sqlite.store import SqliteStore

    assert isinstance(sqlite_store, SqliteStore)
    for flt, index in [
        (AuditFilter(username="bob"), "audit_by_username"),
        (AuditFilter(actor="k"), "audit_by_actor"),
        (AuditFilter(server="s"), "audit_by_server"),
        (AuditFilter(outcome="x"), "audit_by_outcome"),
        (AuditFilter(since=1.0), "audit_by_ts"),
    ]:
        sql, params = _select(AuditQuery(flt))
        plan = await sqlite_store._db.read(
            lambda conn, sql=sql, params=params: conn.execute(
                "EXPLAIN QUERY PLAN " + sql, params
            ).fetchall()
        )
        text = " ".join(str(row[-1]) for row in plan)
        assert index in text and "TEMP B-TREE" not in text, text


def test_bulk_decoding_is_as_lenient_as_the_generic_codec() -> None:
    from mcp_gateway.storage.audit_codec import event_from_json
    from mcp_gateway.storage.codec import from_json

    older = '{"ts": 1.5, "request_id": "r", "actor": "k", "role": "admin", "action": "x"}'
    newer = older[:-1] + ', "replica": "gw", "field_from_the_future": [1]}'
    for text in (older, newer):
        assert event_from_json(text) == from_json(AuditEvent, text)
    assert event_from_json(older).replica is None and event_from_json(newer).replica == "gw"
