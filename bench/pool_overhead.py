"""Direct SDK call vs a call through UpstreamPool, same fixture tool (echo over stdio).

Usage: ``.venv/bin/python bench/pool_overhead.py [--rounds 3] [--calls 2000]``

Each round measures, for the direct SDK ``ClientSession`` and then the pool (each on its own
fixture process): p50/p99 latency at concurrency 1, and calls/s at concurrency 16 and 64.
Prints every round and the medians as a Markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from mcp_gateway.config import UpstreamSettings
from mcp_gateway.domain.records import UpstreamSession
from mcp_gateway.domain.servers import ServerConfig
from mcp_gateway.upstream.pool import UpstreamPool

FIXTURE = str(Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "mcp_fixture_server.py")
Call = Callable[[], Awaitable[Any]]


class _NoSessions:
    """stdio never persists sessions; the pool needs a SessionStore all the same."""

    async def put_session(self, session: UpstreamSession) -> None: ...

    async def get_session(self, server: str, scope: str) -> UpstreamSession | None:
        return None

    async def delete_session(self, server: str, scope: str) -> bool:
        return False

    async def delete_server_sessions(self, server: str) -> int:
        return 0


async def latency(call: Call, n: int) -> tuple[float, float]:
    for _ in range(50):
        await call()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - start)
    samples.sort()
    return samples[len(samples) // 2] * 1e3, samples[int(len(samples) * 0.99)] * 1e3


async def throughput(call: Call, concurrency: int, n: int) -> float:
    per_worker = n // concurrency

    async def worker() -> None:
        for _ in range(per_worker):
            await call()

    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(worker)
    return per_worker * concurrency / (time.perf_counter() - start)


async def measure(call: Call, n: int) -> dict[str, float]:
    p50, p99 = await latency(call, n)
    return {
        "p50_ms": p50,
        "p99_ms": p99,
        "rps16": await throughput(call, 16, n),
        "rps64": await throughput(call, 64, n),
    }


async def direct(n: int) -> dict[str, float]:
    params = StdioServerParameters(command=sys.executable, args=[FIXTURE])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()

        async def call() -> Any:
            return await session.call_tool("echo", {"text": "hello"})

        return await measure(call, n)


async def pooled(n: int) -> dict[str, float]:
    server = ServerConfig(  # one user drives every call: its own limit must not be the cap
        name="bench",
        command=sys.executable,
        args=(FIXTURE,),
        max_concurrency=64,
        max_concurrency_per_user=64,
    )
    settings = UpstreamSettings()
    async with UpstreamPool(sessions=_NoSessions(), settings=settings) as pool:
        await pool.call_tool(server, "echo", {"text": "warm"}, username="u")

        async def call() -> Any:
            return await pool.call_tool(server, "echo", {"text": "hello"}, username="u")

        return await measure(call, n)


async def main(rounds: int, n: int) -> None:
    results: dict[str, list[dict[str, float]]] = {"direct": [], "pool": []}
    for r in range(rounds):
        for name, fn in (("direct", direct), ("pool", pooled)):
            res = await fn(n)
            results[name].append(res)
            print(f"round {r + 1} {name}: " + ", ".join(f"{k}={v:.3f}" for k, v in res.items()))
    med = {
        name: {k: statistics.median(run[k] for run in runs) for k in runs[0]}
        for name, runs in results.items()
    }
    d, p = med["direct"], med["pool"]
    print("\n| metric | direct SDK | through pool | pool vs direct |")
    print("|---|---|---|---|")
    print(
        f"| p50 latency, c=1 | {d['p50_ms']:.3f} ms | {p['p50_ms']:.3f} ms | "
        f"{(p['p50_ms'] - d['p50_ms']) * 1000:+.0f} µs |"
    )
    print(
        f"| p99 latency, c=1 | {d['p99_ms']:.3f} ms | {p['p99_ms']:.3f} ms | "
        f"{(p['p99_ms'] - d['p99_ms']) * 1000:+.0f} µs |"
    )
    for c in (16, 64):
        key = f"rps{c}"
        print(f"| calls/s, c={c} | {d[key]:.0f} | {p[key]:.0f} | {p[key] / d[key] * 100:.0f}% |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    anyio.run(main, args.rounds, args.calls)
