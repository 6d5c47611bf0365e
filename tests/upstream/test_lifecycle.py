"""Start/stop cycles leak neither processes nor file descriptors; the pool exit stops all."""

from __future__ import annotations

import os
import sys

import anyio
import pytest

from mcp_gateway.config import UpstreamSettings
from mcp_gateway.domain.servers import ServerConfig, ServerStatus
from mcp_gateway.storage.ports import Store
from mcp_gateway.upstream.pool import UpstreamPool
from tests.upstream.conftest import TINY_SERVER, stdio_config, wait_status
from tests.upstream.test_isolation import _children

pytestmark = pytest.mark.anyio

CYCLES = 200
LANES = 4  # cycles run in parallel lanes to keep the test short


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def _cycle(pool: UpstreamPool, name: str) -> None:
    server = ServerConfig(name=name, command=sys.executable, args=("-S", TINY_SERVER))
    await pool.apply(server)
    await wait_status(pool, name, ServerStatus.CONNECTED)
    await pool.remove(name)


@pytest.mark.slow
async def test_200_start_stop_cycles_leave_no_child_and_a_flat_fd_count(
    pool: UpstreamPool,
) -> None:
    others = set(_children())  # long-lived fixture servers of other tests
    for lane in range(LANES):  # warm up lazily created resources (store, loop internals)
        await _cycle(pool, f"warm{lane}")
    fds_before = _fds()
    assert set(_children()) == others

    async def lane(index: int) -> None:
        for _ in range(CYCLES // LANES):
            await _cycle(pool, f"lane{index}")

    async with anyio.create_task_group() as tg:
        for index in range(LANES):
            tg.start_soon(lane, index)
    assert set(_children()) == others
    assert _fds() <= fds_before + 2, (fds_before, _fds())


async def test_leaving_the_pool_stops_every_child(sqlite_store: Store) -> None:
    others = set(_children())
    async with UpstreamPool(sessions=sqlite_store, settings=UpstreamSettings()) as pool:
        for name in ("a", "b", "c"):
            await pool.apply(stdio_config(name, script=TINY_SERVER))
        for name in ("a", "b", "c"):
            await wait_status(pool, name, ServerStatus.CONNECTED)
        assert len(set(_children()) - others) == 3
    assert set(_children()) == others
