"""A definition changed by another replica is switched to without failing the calls in flight
(ServerService.refresh hands over: the old session finishes them, new calls go to the new one)
on a real pool and SQLite store."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
from mcp_types import CallToolResult, TextContent

from mcp_gateway.config import UpstreamSettings
from mcp_gateway.domain.servers import ServerConfig
from mcp_gateway.services.servers import ServerService
from mcp_gateway.storage.ports import Store
from mcp_gateway.upstream.pool import UpstreamPool

pytestmark = pytest.mark.anyio

TINY = str(Path(__file__).resolve().parents[1] / "fixtures" / "tiny_stdio_server.py")


@pytest.fixture
async def pool(sqlite_store: Store) -> AsyncIterator[UpstreamPool]:
    async with UpstreamPool(sessions=sqlite_store, settings=UpstreamSettings()) as live:
        yield live


def _text(result: CallToolResult) -> str:
    content = result.content[0]
    assert isinstance(content, TextContent)
    return content.text


async def test_a_call_in_flight_finishes_on_the_old_session_while_new_calls_get_the_new_one(
    sqlite_store: Store, pool: UpstreamPool
) -> None:
    servers = ServerService(sqlite_store, pool)
    old = ServerConfig(name="fx", command=sys.executable, args=(TINY,), env={"V": "old"})
    await servers.create(old)
    results: list[CallToolResult] = []

    async def slow_call() -> None:
        config = await servers.config("fx")
        results.append(await pool.call_tool(config, "sleep", {"seconds": 2}, username="u"))

    async with anyio.create_task_group() as tg:
        tg.start_soon(slow_call)
        with anyio.fail_after(30):
            while True:  # the call reached the old session
                if pool.status("fx").in_flight:
                    break
                await anyio.sleep(0.02)
        # Another replica's write, then this replica's feed reading it.
        await sqlite_store.update_server(dataclasses.replace(old, env={"V": "new"}))
        assert await servers.refresh("fx")
        config = await servers.config("fx")
        new = await pool.call_tool(config, "print_env", {"name": "V"}, username="u")
        assert _text(new) == "new"
    (finished,) = results
    assert not finished.is_error


@pytest.mark.slow  # the call in flight lasts 2 s
async def test_a_change_a_call_reads_first_is_switched_to_without_failing_the_calls_in_flight(
    sqlite_store: Store, pool: UpstreamPool
) -> None:
    """A call whose cached definition expired reads another replica's change before this
    replica's feed does (ServerService.config): it hands over as the feed's refresh would."""
    servers = ServerService(sqlite_store, pool, cache_ttl=0)  # every call re-reads
    old = ServerConfig(name="fx", command=sys.executable, args=(TINY,), env={"V": "old"})
    await servers.create(old)
    results: list[CallToolResult] = []

    async def slow_call() -> None:
        config = await servers.config("fx")
        results.append(await pool.call_tool(config, "sleep", {"seconds": 2}, username="u"))

    async with anyio.create_task_group() as tg:
        tg.start_soon(slow_call)
        with anyio.fail_after(30):
            while True:  # the call reached the old session
                if pool.status("fx").in_flight:
                    break
                await anyio.sleep(0.02)
        await sqlite_store.update_server(dataclasses.replace(old, env={"V": "new"}))
        config = await servers.config("fx")  # the next call's re-read: not the feed
        new = await pool.call_tool(config, "print_env", {"name": "V"}, username="u")
        assert _text(new) == "new"
    (finished,) = results
    assert not finished.is_error
