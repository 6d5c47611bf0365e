"""The MCP endpoint's legacy sessions on both stores (SQLite migration 7, MongoDB
``mcpgw_mcp_sessions``): what any replica reads to resume a session, the per-caller count
across replicas, last-seen refreshes, expiry sweeps, and the feed entries other replicas'
copies follow."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncGenerator

import anyio
import pytest

from mcp_gateway.domain.changes import Change, ChangeEvent, ChangeKind, Rescan
from mcp_gateway.domain.mcp_sessions import McpSessionOwner, McpSessionRecord, session_hash
from mcp_gateway.storage.ports import Store

pytestmark = pytest.mark.anyio

ALICE = McpSessionOwner("key-1", "alice", "/mcp")


def _record(owner: McpSessionOwner = ALICE, last_seen: float = 100.0) -> McpSessionRecord:
    return McpSessionRecord(
        id_hash=session_hash(secrets.token_hex(24)),
        owner=owner,
        protocol_version="2025-11-25",
        capabilities_json=json.dumps({"elicitation": {"form": {}}, "experimental": {"a.b": {}}}),
        client_info_json=json.dumps({"name": "client", "version": "1"}),
        created_at=last_seen,
        last_seen=last_seen,
    )


async def _next(feed: AsyncGenerator[ChangeEvent, None], within: float = 20.0) -> ChangeEvent:
    with anyio.fail_after(within):
        return await feed.__anext__()


def test_the_stored_key_is_a_sha256_of_the_id_never_the_id() -> None:
    session_id = secrets.token_hex(24)
    digest = session_hash(session_id)
    assert len(digest) == 64 and session_id not in digest
    assert digest == session_hash(session_id)


async def test_a_session_round_trips_by_hash_with_its_facts(store: Store) -> None:
    record = _record()
    assert await store.get_mcp_session(record.id_hash) is None
    await store.create_mcp_session(record)
    assert await store.get_mcp_session(record.id_hash) == record


async def test_the_per_caller_count_is_the_owners_sessions_seen_recently(store: Store) -> None:
    for _ in range(3):
        await store.create_mcp_session(_record())
    await store.create_mcp_session(_record(last_seen=10.0))  # idle: not counted
    await store.create_mcp_session(_record(McpSessionOwner("key-1", "bob", "/mcp")))
    await store.create_mcp_session(_record(McpSessionOwner("key-1", "alice", "/mcp/fx")))
    await store.create_mcp_session(_record(McpSessionOwner("key-2", "alice", "/mcp")))
    assert await store.count_mcp_sessions(ALICE, seen_since=50.0) == 3
    assert await store.count_mcp_sessions(ALICE, seen_since=0.0) == 4


async def test_touch_moves_last_seen_forward_only_and_names_the_sessions_that_exist(
    store: Store,
) -> None:
    kept, gone = _record(), _record()
    await store.create_mcp_session(kept)
    assert await store.touch_mcp_sessions([kept.id_hash, gone.id_hash], 200.0) == {kept.id_hash}
    assert await store.touch_mcp_sessions([kept.id_hash], 150.0) == {kept.id_hash}
    found = await store.get_mcp_session(kept.id_hash)
    assert found is not None and found.last_seen == 200.0
    assert await store.touch_mcp_sessions([], 300.0) == set()


async def test_the_idle_sweep_deletes_only_sessions_unused_since_the_cutoff(store: Store) -> None:
    old, fresh = _record(last_seen=10.0), _record(last_seen=100.0)
    await store.create_mcp_session(old)
    await store.create_mcp_session(fresh)
    assert await store.delete_idle_mcp_sessions(seen_before=50.0) == 1
    assert await store.get_mcp_session(old.id_hash) is None
    assert await store.get_mcp_session(fresh.id_hash) == fresh


async def test_a_log_level_is_kept_and_delete_reports_whether_one_existed(store: Store) -> None:
    record = _record()
    assert await store.set_mcp_session_log_level(record.id_hash, "error") is False
    await store.create_mcp_session(record)
    assert await store.set_mcp_session_log_level(record.id_hash, "error") is True
    found = await store.get_mcp_session(record.id_hash)
    assert found is not None and found.log_level == "error"
    assert await store.delete_mcp_session(record.id_hash) is True
    assert await store.delete_mcp_session(record.id_hash) is False
    assert await store.get_mcp_session(record.id_hash) is None


async def test_a_delete_and_a_log_level_change_are_on_the_feed_and_touches_are_not(
    store: Store,
) -> None:
    record = _record()
    feed = store.follow_changes(mode="auto", poll_interval=0.05)
    try:
        assert isinstance(await _next(feed), Rescan)
        await store.create_mcp_session(record)
        await store.touch_mcp_sessions([record.id_hash], 500.0)
        await store.set_mcp_session_log_level(record.id_hash, "warning")
        await store.delete_mcp_session(record.id_hash)
        change = Change(ChangeKind.MCP_SESSION, record.id_hash)
        assert [await _next(feed), await _next(feed)] == [change, change]
        # A change of the same kind looks the same whichever write made it: show that the
        # creation and the touch of another record wrote nothing before a sentinel's change.
        other, sentinel = _record(), _record()
        await store.create_mcp_session(sentinel)
        await store.create_mcp_session(other)
        await store.touch_mcp_sessions([other.id_hash], 600.0)
        await store.set_mcp_session_log_level(sentinel.id_hash, "error")
        assert await _next(feed) == Change(ChangeKind.MCP_SESSION, sentinel.id_hash)
    finally:
        await feed.aclose()
