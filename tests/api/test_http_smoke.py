"""Over real HTTP against ``mcp-gateway serve`` (Hypercorn): the smoke path, and a client that
disconnects mid-call cancels its upstream call."""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx2
import pytest

from tests.api.conftest import fixture_server
from tests.gateway_process import GatewayProcess, gateway_env

ADMIN = "mcpgw_smoke-admin-key-0123456789abcdefghij"


@pytest.mark.anyio
@pytest.mark.slow
async def test_serve_smoke_path_and_disconnect_cancels_the_upstream_call(tmp_path: Path) -> None:
    with GatewayProcess(gateway_env(tmp_path / "data", MCPGW_ADMIN_API_KEY=ADMIN)) as gw:
        auth = {"Authorization": f"Bearer {ADMIN}"}
        async with httpx2.AsyncClient(base_url=gw.url, headers=auth, timeout=20) as client:
            resp = await client.post("/mcp/servers", json=fixture_server("fx"))
            assert resp.status_code == 200, resp.text
            with anyio.fail_after(20):
                while True:
                    view = (await client.get("/mcp/servers/fx")).json()["server"]
                    if view["status"] == "connected":
                        break
                    await anyio.sleep(0.05)
            call = {"serverName": "fx", "methodName": "echo", "args": {"text": "over http"}}
            resp = await client.post("/mcp/tool/call", json=call)
            assert resp.json()["data"]["content"][0]["text"] == "over http"
            assert resp.headers["x-request-id"]

            slow = {"serverName": "fx", "methodName": "sleep", "args": {"seconds": 60}}
            async with httpx2.AsyncClient(base_url=gw.url, headers=auth) as impatient:
                with pytest.raises(httpx2.TimeoutException):
                    await impatient.post("/mcp/tool/call", json=slow, timeout=0.5)
            cancelled = 'mcpgw_tool_calls_total{outcome="cancelled",server="fx",tool="sleep"} 1.0'
            with anyio.fail_after(15):
                while True:
                    if cancelled in (await client.get("/metrics")).text:
                        break
                    await anyio.sleep(0.05)
            # The slot was freed: the server still answers at once.
            resp = await client.post("/mcp/tool/call", json=call)
            assert resp.status_code == 200
