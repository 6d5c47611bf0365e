"""The change feed and fenced leases, against both stores (``store`` fixture): what a replica
follows, in order, and what it is told when it may have missed something."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import AsyncGenerator
from pathlib import Path

import anyio
import pytest

from mcp_gateway.domain.changes import Change, ChangeEvent, ChangeKind, Rescan
from mcp_gateway.domain.records import (
    ApiKeyRecord,
    PackageRecord,
    PackageRuntime,
    Role,
    StoredOAuthTokens,
    StoredSecret,
)
from mcp_gateway.domain.servers import ServerConfig
from mcp_gateway.domain.toolsets import Toolset, ToolsetEntry
from mcp_gateway.storage.ports import Store
from mcp_gateway.storage.sqlite import SqliteStore

pytestmark = pytest.mark.anyio


async def _next(feed: AsyncGenerator[ChangeEvent, None], within: float = 20.0) -> ChangeEvent:
    with anyio.fail_after(within):
        return await feed.__anext__()


def _key(key_id: str) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=key_id, name=key_id, role=Role.ADMIN, key_hash=f"h-{key_id}", prefix="p", created_at=1.0
    )


async def test_the_feed_starts_with_a_rescan_then_reports_each_change_in_order(
    store: Store,
) -> None:
    feed = store.follow_changes(mode="auto", poll_interval=0.05)
    try:
        assert isinstance(await _next(feed), Rescan)
        await store.create_server(ServerConfig(name="s1", command="x"))
        await store.update_server(ServerConfig(name="s1", command="y"))
        await store.create_api_key(_key("k1"))
        await store.touch_api_key("k1", 5.0)  # last use: not a change
        await store.delete_api_key("k1")
        await store.put_package(
            PackageRecord(server_name="s1", name="pkg", version="1", runtime=PackageRuntime.NODE)
        )
        await store.put_tokens(StoredOAuthTokens("s1", "alice", {"access_token": b"x"}))
        await store.put_secret(StoredSecret("alice", "s1", "TOKEN", b"ct"))
        await store.put_toolset(Toolset(name="dev", tools=(ToolsetEntry("s1"),)))
        await store.delete_toolset("dev")
        await store.record_change(Change(ChangeKind.TOOLSET, "recorded"))
        await store.delete_server("s1")
        expected = [
            Change(ChangeKind.SERVER, "s1"),
            Change(ChangeKind.SERVER, "s1"),
            Change(ChangeKind.API_KEY, "k1"),
            Change(ChangeKind.API_KEY, "k1"),
            Change(ChangeKind.PACKAGE, "s1"),
            Change(ChangeKind.OAUTH, "s1", "alice"),
            Change(ChangeKind.SECRET, "s1", "alice"),
            Change(ChangeKind.TOOLSET, "dev"),
            Change(ChangeKind.TOOLSET, "dev"),
            Change(ChangeKind.TOOLSET, "recorded"),
            Change(ChangeKind.SERVER, "s1"),
        ]
        assert [await _next(feed) for _ in expected] == expected
    finally:
        await feed.aclose()


async def test_a_rotated_secret_ciphertext_is_not_a_change(store: Store) -> None:
    await store.put_secret(StoredSecret("alice", "s1", "TOKEN", b"old"))
    feed = store.follow_changes(mode="auto", poll_interval=0.05)
    try:
        assert isinstance(await _next(feed), Rescan)
        assert await store.replace_secret_ciphertext("alice", "s1", "TOKEN", b"old", b"new")
        await store.record_change(Change(ChangeKind.TOOLSET, "marker"))
        assert await _next(feed) == Change(ChangeKind.TOOLSET, "marker")
    finally:
        await feed.aclose()


async def test_a_follower_whose_position_was_pruned_rescans(sqlite_store: Store) -> None:
    assert isinstance(sqlite_store, SqliteStore)
    feed = sqlite_store.follow_changes(mode="poll", poll_interval=0.05)
    try:
        assert isinstance(await _next(feed), Rescan)  # position fixed before these writes
        for name in ("a", "b", "c"):
            await sqlite_store.create_server(ServerConfig(name=name, command="x"))
        await sqlite_store._db.write(  # another follower pruned the log meanwhile
            lambda conn: conn.execute("DELETE FROM changes WHERE key IN ('a', 'b')")
        )
        assert isinstance(await _next(feed), Rescan)
        await sqlite_store.create_server(ServerConfig(name="d", command="x"))
        assert await _next(feed) == Change(ChangeKind.SERVER, "d")
    finally:
        await feed.aclose()


async def test_a_fenced_lease_goes_to_one_holder_and_its_token_grows_with_each_new_holder(
    store: Store,
) -> None:
    first = await store.acquire_fenced_lease("install:x", "a", 30.0)
    assert first is not None
    assert await store.acquire_fenced_lease("install:x", "b", 30.0) is None
    assert await store.renew_fenced_lease("install:x", "a", first, 30.0)
    await store.release_fenced_lease("install:x", "a", first)
    second = await store.acquire_fenced_lease("install:x", "b", 30.0)
    assert second is not None and second > first
    assert not await store.renew_fenced_lease("install:x", "a", first, 30.0)


async def test_an_expired_lease_is_taken_over_and_its_old_holder_cannot_renew(
    store: Store,
) -> None:
    first = await store.acquire_fenced_lease("install:y", "dead", 0.3)
    assert first is not None
    deadline = time.monotonic() + 20
    taken = None
    while taken is None and time.monotonic() < deadline:
        taken = await store.acquire_fenced_lease("install:y", "alive", 30.0)
        await anyio.sleep(0.05)
    assert taken is not None and taken > first
    assert not await store.renew_fenced_lease("install:y", "dead", first, 30.0)


async def _loss_child(mongodb_uri: str, mongodb_db: str, mode: str) -> list[str]:
    """Run tests/storage/change_stream_loss.py (a child process: see mongo_outage.py)."""
    with anyio.fail_after(120):
        done = await anyio.run_process(
            [sys.executable, "-m", "tests.storage.change_stream_loss", mongodb_uri, mongodb_db]
            + [mode],
            check=False,
            cwd=Path(__file__).parents[2],
        )
    assert done.returncode == 0, done.stderr.decode()
    seen: list[str] = json.loads(done.stdout)
    return seen


@pytest.mark.slow
async def test_a_lost_change_stream_resumes_after_its_token_without_missing_a_change(
    mongodb_uri: str, mongodb_db: str
) -> None:
    assert await _loss_child(mongodb_uri, mongodb_db, "resume") == ["c1", "c2", "c3"]


@pytest.mark.slow
async def test_a_change_stream_whose_history_is_gone_rescans_then_follows_again(
    mongodb_uri: str, mongodb_db: str
) -> None:
    assert await _loss_child(mongodb_uri, mongodb_db, "invalidate") == ["c1", "rescan", "c2"]
