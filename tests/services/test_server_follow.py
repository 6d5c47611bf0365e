"""ServerService following other replicas (refresh/resync, called by services/follow.py) on a
real pool and SQLite store: what the feed reads never overrides a newer write of this process."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from mcp_gateway.config import UpstreamSettings
from mcp_gateway.domain.servers import ServerConfig, ServerStatus
from mcp_gateway.services.servers import ServerService
from mcp_gateway.storage.ports import Store
from mcp_gateway.upstream.pool import UpstreamPool

pytestmark = pytest.mark.anyio

TINY = str(Path(__file__).resolve().parents[1] / "fixtures" / "tiny_stdio_server.py")


class SlowReads:
    """The real store, except that an armed ``get_server`` holds its answer until released
    (a follower's read that a local write overtakes)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.armed = False
        self.read = anyio.Event()
        self.release = anyio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def get_server(self, name: str) -> ServerConfig | None:
        server = await self._store.get_server(name)
        if self.armed:
            self.armed = False
            self.read.set()
            await self.release.wait()
        return server


@pytest.fixture
async def pool(sqlite_store: Store) -> AsyncIterator[UpstreamPool]:
    async with UpstreamPool(sessions=sqlite_store, settings=UpstreamSettings()) as live:
        yield live


async def test_a_feed_read_overtaken_by_a_local_write_does_not_bring_the_old_state_back(
    sqlite_store: Store, pool: UpstreamPool
) -> None:
    store = SlowReads(sqlite_store)
    servers = ServerService(store, pool)  # type: ignore[arg-type]
    await servers.create(ServerConfig(name="fx", command=sys.executable, args=(TINY,)))
    async with anyio.create_task_group() as tg:
        store.armed = True
        tg.start_soon(servers.refresh, "fx")  # reads "enabled", then stalls
        await store.read.wait()
        tg.start_soon(servers.set_enabled, "fx", False)  # this replica disables it meanwhile
        await anyio.sleep(0.2)  # a window for the write to overtake the read (no condition)
        store.release.set()
    assert (await sqlite_store.get_server("fx")) is not None
    assert pool.status("fx").status is ServerStatus.DISABLED
    assert (await servers.config("fx")).enabled is False


async def test_a_rescan_starts_what_was_added_and_stops_what_was_removed_elsewhere(
    sqlite_store: Store, pool: UpstreamPool
) -> None:
    servers = ServerService(sqlite_store, pool)
    await servers.create(ServerConfig(name="gone", command=sys.executable, args=(TINY,)))
    # Written by another replica, whose changes this one missed:
    await sqlite_store.delete_server("gone")
    await sqlite_store.create_server(ServerConfig(name="new", command=sys.executable, args=(TINY,)))
    await servers.resync()
    assert "gone" not in pool.statuses()
    assert "new" in pool.statuses()
