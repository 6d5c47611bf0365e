"""A client that cancels a call (or goes away) cancels the upstream call through the gateway."""

from __future__ import annotations

import anyio
import pytest

from tests.api.downstream.conftest import MODES, LiveGateway


async def _in_flight(live: LiveGateway, server: str, wanted: int) -> None:
    with anyio.fail_after(30):
        while True:
            if live.runtime.pool.status(server).in_flight == wanted:
                return
            await anyio.sleep(0.02)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_cancelling_a_call_frees_the_upstream_call_long_before_it_would_end(
    live: LiveGateway, mode: str
) -> None:
    await live.add_server("fx")
    alice = await live.new_key("user", "alice")
    async with live.mcp_client("/mcp/fx", alice, mode=mode) as client:
        with anyio.CancelScope() as scope:

            async def call() -> None:
                await client.call_tool("sleep", {"seconds": 120})

            async with anyio.create_task_group() as tg:
                tg.start_soon(call)
                await _in_flight(live, "fx", 1)
                scope.cancel()
        # The gateway stopped waiting on the upstream (its slot is free again) and the session
        # still works; the 120 s sleep would have kept it for minutes.
        await _in_flight(live, "fx", 0)
        result = await client.call_tool("echo", {"text": "still here"})
        assert not result.is_error
    with anyio.fail_after(20):
        while True:
            outcomes = [e.outcome for e in await live.runtime.store.list_audit(50)]
            if "cancelled" in outcomes:
                break
            await anyio.sleep(0.05)
