"""A legacy-era client that goes away mid-call (no notifications/cancelled) frees the upstream."""

from __future__ import annotations

import anyio
import httpx2
import pytest

from tests.api.downstream.conftest import LiveGateway
from tests.api.downstream.test_cancellation import _in_flight
from tests.api.downstream.test_edge import _INIT, _headers, _in_session


@pytest.mark.anyio
async def test_legacy_client_disconnecting_mid_call_frees_the_upstream_call(
    live: LiveGateway,
) -> None:
    await live.add_server("fx")
    alice = await live.new_key("user", "alice")
    opened = await live.client.post("/mcp/fx", json=_INIT, headers=_headers(alice))
    session = opened.headers["mcp-session-id"]
    ack = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    await live.client.post("/mcp/fx", json=ack, headers=_in_session(alice, session))
    call = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {"name": "sleep", "arguments": {"seconds": 120}},
    }
    async with httpx2.AsyncClient(base_url=live.url) as own:  # its own connection, closed below
        async with anyio.create_task_group() as tg:

            async def hang() -> None:
                await own.post("/mcp/fx", json=call, headers=_in_session(alice, session))

            tg.start_soon(hang)
            await _in_flight(live, "fx", 1)
            tg.cancel_scope.cancel()  # the client goes away: its connection closes
    await _in_flight(live, "fx", 0)
