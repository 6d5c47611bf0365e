"""SIGTERM drains a replica: every call in flight is answered, then it exits 0."""

from __future__ import annotations

import re
from pathlib import Path

import anyio
import httpx2
import pytest

from tests.cluster.conftest import ADMIN, AUTH, KEYS, tiny_server
from tests.gateway_process import GatewayProcess, gateway_env

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

CALLS = 100


async def _in_flight(client: httpx2.AsyncClient, server: str) -> int:
    text = (await client.get("/metrics")).text
    match = re.search(rf'mcpgw_server_in_flight{{[^}}]*server="{server}"[^}}]*}} (\d+)', text)
    return int(match.group(1)) if match else 0


async def test_sigterm_during_100_calls_answers_every_call_and_exits_0(tmp_path: Path) -> None:
    env = gateway_env(
        tmp_path / "data",
        MCPGW_ADMIN_API_KEY=ADMIN,
        MCPGW_SECRETS_KEYS=KEYS,
        MCPGW_DRAIN_TIMEOUT="60",
    )
    results: list[int] = []
    errors: list[str] = []
    limits = httpx2.Limits(max_connections=CALLS + 10)
    with GatewayProcess(env, startup_timeout=60) as gw:
        async with httpx2.AsyncClient(
            base_url=gw.url, headers=AUTH, timeout=120, limits=limits
        ) as client:
            body = tiny_server("fx", maxConcurrency=CALLS, maxConcurrencyPerUser=CALLS)
            assert (await client.post("/mcp/servers", json=body)).status_code == 200

            async def call(i: int) -> None:
                resp = await client.post(
                    "/mcp/tool/call",
                    json={"serverName": "fx", "methodName": "sleep", "args": {"seconds": 3}},
                )
                results.append(resp.status_code)
                if resp.status_code != 200:
                    errors.append(resp.text)

            async with anyio.create_task_group() as tg:
                for i in range(CALLS):
                    tg.start_soon(call, i)
                with anyio.fail_after(60):
                    while True:
                        if await _in_flight(client, "fx") >= CALLS:
                            break
                        await anyio.sleep(0.05)
                assert gw.proc is not None
                gw.proc.terminate()  # SIGTERM while all of them are in flight
        code = await anyio.to_thread.run_sync(gw.wait_exit, 60.0)
    assert results == [200] * CALLS, errors[:3]
    assert code == 0, gw.stderr
    assert "draining" in gw.stderr
