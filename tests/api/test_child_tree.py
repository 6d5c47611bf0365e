"""Through the API: DELETE /mcp/servers/{name} leaves no process of that server behind, not even
a daemon that double-forked out of its group; /healthz reports the sandbox."""

from __future__ import annotations

import os
import secrets
import sys
from typing import Any

import pytest

from tests.api.conftest import Gateway, MakeGateway
from tests.process.procs import processes_with
from tests.upstream.conftest import TINY_SERVER, poll_until

pytestmark = pytest.mark.anyio

SANDBOXABLE = os.geteuid() == 0 and os.access("/usr/bin/bwrap", os.X_OK)


async def _daemon_survives_delete(gateway: Gateway) -> list[int]:
    body = {"name": "tree", "command": sys.executable, "args": [TINY_SERVER]}
    resp = await gateway.client.post("/mcp/servers", json=body, headers=gateway.admin)
    assert resp.status_code == 200, resp.text
    await gateway.wait_status("tree", "connected")
    token = f"mcpgw-daemon-{secrets.token_hex(6)}"
    resp = await gateway.call(gateway.admin_key, "tree", "daemonize", {"token": token})
    assert resp.status_code == 200, resp.text
    await poll_until(lambda: len(processes_with(token)) == 1, within=10)
    resp = await gateway.client.delete("/mcp/servers/tree", headers=gateway.admin)
    assert resp.status_code == 200, resp.text
    await poll_until(lambda: not processes_with(token), within=10)
    return processes_with(token)


@pytest.mark.parametrize("sandbox", ["auto", "off"])
async def test_delete_kills_a_daemon_the_server_started(
    make_gateway: MakeGateway, sandbox: str
) -> None:
    if sandbox == "auto" and not SANDBOXABLE:
        pytest.skip("the sandbox needs root and bubblewrap here (CI has both)")
    async with make_gateway(sandbox={"mode": sandbox}) as gateway:
        health: dict[str, Any] = (await gateway.client.get("/healthz")).json()
        assert health["sandbox"]["enabled"] is (sandbox == "auto")
        assert await _daemon_survives_delete(gateway) == []
