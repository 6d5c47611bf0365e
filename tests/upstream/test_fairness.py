"""Fair admission: one user flooding a server cannot starve another user's calls."""

from __future__ import annotations

import anyio
import pytest

from mcp_gateway.config import UpstreamSettings
from mcp_gateway.domain.servers import Isolation
from mcp_gateway.errors import UpstreamBusy
from mcp_gateway.storage.ports import Store
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


async def test_a_per_user_session_whose_call_waits_for_a_slot_is_not_evicted_for_another_user(
    sqlite_store: Store,
) -> None:
    # One server-wide slot, two instances: alice holds the slot, bob's admitted call waits for
    # it on his own (connected) instance. Carol must be refused, not take bob's instance away.
    server = stdio_config(
        script=TINY_SERVER, isolation=Isolation.PER_USER, max_instances=2, max_concurrency=1
    )
    settings = UpstreamSettings(user_session_idle=600.0, busy_wait=30.0)
    bob: list[str] = []
    async with UpstreamPool(sessions=sqlite_store, settings=settings) as pool:

        async def call_as_bob() -> None:
            result = await pool.call_tool(server, "echo", {"text": "bob"}, username="bob")
            bob.append(text_of(result))

        alice = anyio.CancelScope()

        async def call_as_alice() -> None:
            with alice:
                await pool.call_tool(server, "sleep", {"seconds": 30}, username="alice")

        async with anyio.create_task_group() as tg:
            tg.start_soon(call_as_alice)
            # In flight counts from the moment a session is chosen: wait until alice's session
            # is up too, so her call (not bob's, on a session still starting) takes the slot.
            await poll_until(
                lambda: in_flight(pool, "fx") == 1 and pool.status("fx").instances == 1
            )
            tg.start_soon(call_as_bob)
            await poll_until(lambda: pool.status("fx").instances == 2)
            with pytest.raises(UpstreamBusy, match="no free per-user session slot"):
                await pool.call_tool(server, "echo", {"text": "carol"}, username="carol")
            alice.cancel()  # alice's call ends: bob gets the slot
    assert bob == ["bob"]
