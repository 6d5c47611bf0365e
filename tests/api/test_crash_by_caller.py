"""A caller who can crash a shared server (any tool input that kills it) must not be able to
switch it off for everyone: the bounded restart policy is for servers that fail to start or die
on their own, not for a connection that died while serving a call."""

from __future__ import annotations

import anyio
import pytest

from tests.api.conftest import Gateway

pytestmark = pytest.mark.anyio


async def _connected_or_given_up(gateway: Gateway, name: str) -> dict[str, object]:
    with anyio.fail_after(20):
        while True:
            resp = await gateway.client.get(f"/mcp/servers/{name}", headers=gateway.admin)
            server: dict[str, object] = resp.json()["server"]
            if server["status"] == "connected" and server["toolsList"]:
                return server
            if server["status"] == "error" and server["nextRestartAt"] is None:
                return server
            await anyio.sleep(0.02)


async def test_a_user_crashing_a_shared_server_in_calls_cannot_make_it_give_up_restarting(
    gateway: Gateway,
) -> None:
    reconnect = {"initialDelay": 50, "maxDelay": 200, "maxRetries": 2}  # ms
    await gateway.add_server("fx", reconnectionOptions=reconnect)
    mallory = await gateway.new_key("user", "mallory")
    alice = await gateway.new_key("user", "alice")

    for _ in range(5):  # more crashes than maxRetries
        crashed = await gateway.call(mallory, "fx", "crash")
        assert crashed.status_code in (502, 503), crashed.text
        server = await _connected_or_given_up(gateway, "fx")
        assert server["status"] == "connected", server["lastError"]

    resp = await gateway.call(alice, "fx", "echo", {"text": "still here"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["data"]["content"][0]["text"] == "still here"
