"""Fair admission: one user flooding a server cannot starve another user's calls."""

from __future__ import annotations

import anyio
import pytest

from mcp_gateway.domain.servers import Isolation
from mcp_gateway.errors import UpstreamBusy
from mcp_gateway.upstream.pool import UpstreamPool
from tests.upstream.conftest import TINY_SERVER, in_flight, poll_until, stdio_config, text_of

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("isolation", [Isolation.SHARED, Isolation.PER_USER])
async def test_a_flooding_user_gets_busy_while_another_users_call_is_admitted(
    pool: UpstreamPool, isolation: Isolation
) -> None:
    server = stdio_config(
        script=TINY_SERVER, max_concurrency=4, max_concurrency_per_user=2, isolation=isolation
    )
    await pool.call_tool(server, "echo", {"text": "warm"}, username="alice")
    busy: list[UpstreamBusy] = []

    async def flood() -> None:
        try:
            await pool.call_tool(server, "sleep", {"seconds": 2}, username="alice")
        except UpstreamBusy as exc:
            busy.append(exc)

    async with anyio.create_task_group() as tg:
        for _ in range(2):
            tg.start_soon(flood)
        await poll_until(lambda: in_flight(pool, "fx") == 2)
        for _ in range(10):
            tg.start_soon(flood)
        await poll_until(lambda: len(busy) == 10)
        result = await pool.call_tool(server, "echo", {"text": "bob here"}, username="bob")
        assert text_of(result) == "bob here"
        tg.cancel_scope.cancel()
    assert busy[0].status == 503 and busy[0].headers() == {"Retry-After": "1"}
    assert "per user" in busy[0].message


async def test_the_gateway_default_per_user_limit_applies_when_the_server_sets_none(
    pool: UpstreamPool,
) -> None:
    # conftest's settings keep the default MCPGW_MAX_CONCURRENCY_PER_USER (16)
    server = stdio_config(script=TINY_SERVER, max_concurrency=64)
    await pool.call_tool(server, "echo", {"text": "warm"}, username="alice")
    refused = 0

    async def one() -> None:
        nonlocal refused
        try:
            await pool.call_tool(server, "sleep", {"seconds": 0.5}, username="alice")
        except UpstreamBusy:
            refused += 1

    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(one)
    assert refused == 4
