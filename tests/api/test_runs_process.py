"""Runs against a real ``mcp-gateway serve`` process: a run outlives the connection that
started it, and a gateway restart (SIGKILL, or SIGTERM) marks its unfinished runs interrupted
with a reason instead of losing them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from tests.api.conftest import fixture_server
from tests.gateway_process import GatewayProcess, gateway_env

ADMIN = "mcpgw_runs-admin-key-0123456789abcdefghijk"
AUTH = {"Authorization": f"Bearer {ADMIN}"}

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


async def _connected(client: httpx2.AsyncClient) -> None:
    with anyio.fail_after(60):
        while True:
            view = (await client.get("/mcp/servers/fx")).json()["server"]
            if view["status"] == "connected":
                return
            await anyio.sleep(0.05)


async def _start(url: str, args: dict[str, Any]) -> str:
    """Start a run on its own connection, closed as soon as the 202 is read."""
    body = {"serverName": "fx", "methodName": "sleep", "args": args, "async": True}
    async with httpx2.AsyncClient(base_url=url, headers=AUTH, timeout=30) as client:
        resp = await client.post("/mcp/tool/call", json=body)
    assert resp.status_code == 202, resp.text
    run_id: str = resp.json()["runId"]
    return run_id


async def _wait(client: httpx2.AsyncClient, run_id: str, *statuses: str) -> dict[str, Any]:
    with anyio.fail_after(60):
        while True:
            run: dict[str, Any] = (await client.get(f"/runs/{run_id}")).json()["run"]
            if run["status"] in statuses:
                return run
            await anyio.sleep(0.05)


async def test_a_run_outlives_its_connection_and_a_restart_marks_it_interrupted(
    tmp_path: Path,
) -> None:
    env = gateway_env(tmp_path / "data", MCPGW_ADMIN_API_KEY=ADMIN, MCPGW_REPLICA_ID="replica-a")
    with GatewayProcess(env) as gw:
        async with httpx2.AsyncClient(base_url=gw.url, headers=AUTH, timeout=30) as client:
            resp = await client.post("/mcp/servers", json=fixture_server("fx"))
            assert resp.status_code == 200, resp.text
            await _connected(client)
            short = await _start(gw.url, {"seconds": 0.5})
            assert (await _wait(client, short, "success", "error"))["result"]["content"][0][
                "text"
            ] == "slept 0.5"
            long = await _start(gw.url, {"seconds": 600})
            await _wait(client, long, "running")
        gw.kill()  # SIGKILL: no chance to write anything

    with GatewayProcess(env) as gw:
        async with httpx2.AsyncClient(base_url=gw.url, headers=AUTH, timeout=30) as client:
            run = (await client.get(f"/runs/{long}")).json()["run"]
            assert run["status"] == "interrupted" and run["finishedAt"]
            assert run["error"]["code"] == "interrupted"
            assert "restarted" in run["error"]["error"] and "replica-a" in run["error"]["error"]
            assert (await client.get(f"/runs/{short}")).json()["run"]["status"] == "success"
            await _connected(client)
            graceful = await _start(gw.url, {"seconds": 600})
            await _wait(client, graceful, "running")
        assert gw.terminate() == 0

    with GatewayProcess(env) as gw:
        async with httpx2.AsyncClient(base_url=gw.url, headers=AUTH, timeout=30) as client:
            run = (await client.get(f"/runs/{graceful}")).json()["run"]
            assert run["status"] == "interrupted"
            assert "shut down" in run["error"]["error"]


async def test_without_a_fixed_replica_id_a_killed_gateways_runs_are_interrupted_after_restart(
    tmp_path: Path,
) -> None:
    """Unset MCPGW_REPLICA_ID, each start is a new replica: the restarted gateway marks the
    killed one's runs interrupted once that one's liveness lease has lapsed."""
    env = gateway_env(tmp_path / "data", MCPGW_ADMIN_API_KEY=ADMIN, MCPGW_RUN_REPLICA_TIMEOUT="3s")
    with GatewayProcess(env) as gw:
        async with httpx2.AsyncClient(base_url=gw.url, headers=AUTH, timeout=30) as client:
            resp = await client.post("/mcp/servers", json=fixture_server("fx"))
            assert resp.status_code == 200, resp.text
            await _connected(client)
            long = await _start(gw.url, {"seconds": 600})
            first = await _wait(client, long, "running")
            replica = (await client.get("/healthz")).json()["replica"]
        gw.kill()

    with GatewayProcess(env) as gw:
        async with httpx2.AsyncClient(base_url=gw.url, headers=AUTH, timeout=30) as client:
            assert (await client.get("/healthz")).json()["replica"] != replica
            run = await _wait(client, long, "interrupted")
            assert run["error"]["code"] == "interrupted" and replica in run["error"]["error"]
            assert run["createdAt"] == first["createdAt"]
