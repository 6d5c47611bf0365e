"""Runs: what ``"async": true`` costs compared with a synchronous ``POST /mcp/tool/call``.

Against one ``mcp-gateway serve`` subprocess (SQLite store) and the stdio fixture server's
``echo`` tool, over httpx2 keep-alive on loopback, reports p50/p99 of:

- ``sync``: a synchronous call (the baseline);
- ``accept``: the 202 answer of an async call (the run recorded in the store and started);
- ``done``: an async call until its run is read back finished (202, then ``GET /runs/{id}``
  every 1 ms until ``success``): the run's whole latency as a polling client sees it;
- ``events``: an async call followed by ``GET /runs/{id}/events`` until the ``result`` event;

and runs accepted per second at concurrency 16 (every run executes too).

Run: .venv/bin/python bench/runs.py [-n 300]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.gateway_process import GatewayProcess, gateway_env  # noqa: E402

FIXTURE = str(ROOT / "tests" / "fixtures" / "mcp_fixture_server.py")
ADMIN = "mcpgw_bench-runs-admin-key-0123456789abcdefgh"
CALL = {"serverName": "fx", "methodName": "echo", "args": {"text": "hello"}}
WARMUP = 30


def percentiles(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return samples[len(samples) // 2] * 1000, samples[int(len(samples) * 0.99)] * 1000


async def timed(call: Callable[[], Awaitable[Any]], n: int) -> tuple[float, float]:
    for _ in range(WARMUP):
        await call()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - start)
    return percentiles(samples)


async def main(n: int) -> None:
    data = Path(tempfile.mkdtemp(prefix="mcpgw-bench-runs-"))
    env = gateway_env(
        data, MCPGW_ADMIN_API_KEY=ADMIN, MCPGW_LOG_LEVEL="warning", MCPGW_RUN_MAX_ACTIVE="100000"
    )
    with GatewayProcess(env) as gw:
        auth = {"Authorization": f"Bearer {ADMIN}"}
        async with httpx2.AsyncClient(base_url=gw.url, headers=auth, timeout=60) as client:
            server = {"name": "fx", "command": sys.executable, "args": [FIXTURE]}
            (await client.post("/mcp/servers", json=server)).raise_for_status()
            while True:
                view = (await client.get("/mcp/servers/fx")).json()["server"]
                if view["status"] == "connected":
                    break
                await anyio.sleep(0.05)

            async def sync() -> None:
                (await client.post("/mcp/tool/call", json=CALL)).raise_for_status()

            async def accept() -> str:
                resp = await client.post("/mcp/tool/call", json={**CALL, "async": True})
                assert resp.status_code == 202, resp.text
                run_id: str = resp.json()["runId"]
                return run_id

            async def done() -> None:
                run_id = await accept()
                while True:
                    run = (await client.get(f"/runs/{run_id}")).json()["run"]
                    if run["status"] == "success":
                        return
                    await anyio.sleep(0.001)

            async def events() -> None:
                run_id = await accept()
                async with client.stream("GET", f"/runs/{run_id}/events") as resp:
                    async for line in resp.aiter_lines():
                        if line == "event: result":
                            break

            for name, call in (
                ("sync", sync),
                ("accept", accept),
                ("done", done),
                ("events", events),
            ):
                p50, p99 = await timed(call, n)
                print(f"{name:7s} p50 {p50:7.2f} ms   p99 {p99:7.2f} ms")

            total = n * 4
            remaining = total

            async def worker() -> None:
                nonlocal remaining
                while remaining > 0:
                    remaining -= 1
                    await accept()

            start = time.perf_counter()
            async with anyio.create_task_group() as tg:
                for _ in range(16):
                    tg.start_soon(worker)
            print(f"accepted at c16: {total / (time.perf_counter() - start):.0f} runs/s")
        gw.terminate()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=300, help="calls per measurement")
    anyio.run(main, parser.parse_args().n)
