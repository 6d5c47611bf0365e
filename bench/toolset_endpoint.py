"""``/mcp/toolsets/{name}`` vs ``/mcp`` on one gateway: what narrowing to a toolset costs.

Same ``mcp-gateway serve`` subprocess (SQLite), same upstream (the fixture server over
Streamable HTTP, registered as ``bench``), same SDK client and ``bench__echo`` call; the
toolset ``b`` holds ``bench/echo``. The toolset endpoint reads its toolset from the store on
every list and call (no cache: a change is seen at once on every replica), which is the
difference measured. Reports p50/p99 of a call at concurrency 1, calls/s at 16, and p50 of
``tools/list``, for both eras; ``--runs`` repeats and prints medians. First, in process, the
read itself: ``ToolsetService.get`` of a 20-entry toolset on SQLite, p50/p99.

Run: .venv/bin/python bench/toolset_endpoint.py --runs 3 -n 300
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

import anyio
import httpx2
from gateway_overhead import ADMIN, Gateway, latency, throughput  # bench/ siblings
from mcp_endpoint import MODES, WARMUP, Upstream, client, register

ARGS = {"text": "hello"}


async def measure(url: str, mode: str, n: int) -> dict[str, float]:
    async with client(url, mode, ADMIN) as c:

        async def call() -> None:
            result = await c.call_tool("bench__echo", ARGS)
            assert not result.is_error, result

        async def listing() -> None:
            assert (await c.list_tools()).tools

        for _ in range(WARMUP):
            await call()
        p50, p99 = await latency(call, n)
        list_p50, _ = await latency(listing, max(50, n // 5))
        rps = await throughput(call, 16, n)
        return {"p50_ms": p50, "p99_ms": p99, "rps16": rps, "list_p50_ms": list_p50}


async def store_read(n: int = 5000) -> tuple[float, float]:
    """p50/p99 in microseconds of ToolsetService.get on a SQLite store (in process)."""
    from mcp_gateway.domain.toolsets import Toolset, ToolsetEntry
    from mcp_gateway.services.toolsets import ToolsetService
    from mcp_gateway.storage.sqlite import SqliteStore

    with tempfile.TemporaryDirectory() as tmp:
        store = await SqliteStore.open(Path(tmp))
        try:
            service = ToolsetService(store)
            entries = tuple(ToolsetEntry(f"server{i % 4}", f"tool{i}") for i in range(20))
            await service.put(Toolset("b", tools=entries))

            async def get() -> None:
                await service.get("b")

            p50, p99 = await latency(get, n)
        finally:
            await store.aclose()
    return p50 * 1000, p99 * 1000


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("-n", type=int, default=300, help="calls per latency sample")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}", flush=True)
    read_p50, read_p99 = await store_read()
    print(f"ToolsetService.get on SQLite: p50 {read_p50:.1f} us, p99 {read_p99:.1f} us")
    results: dict[str, list[dict[str, float]]] = {}
    upstream = Upstream()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            gw = Gateway(Path(tmp) / "data")
            try:
                await register(gw, upstream.url)
                auth = {"Authorization": f"Bearer {ADMIN}"}
                async with httpx2.AsyncClient(base_url=gw.url, headers=auth) as http:
                    body = {"tools": [{"server": "bench", "tool": "echo"}]}
                    (await http.put("/admin/toolsets/b", json=body)).raise_for_status()
                for run in range(args.runs):
                    for mode in MODES:
                        for side, path in (("/mcp", "/mcp"), ("toolset", "/mcp/toolsets/b")):
                            name = f"{side} {mode}"
                            result = await measure(gw.url + path, mode, args.n)
                            results.setdefault(name, []).append(result)
                            print(
                                f"run {run + 1} {name}: p50 {result['p50_ms']:.3f} ms, "
                                f"c16 {result['rps16']:.0f}/s, "
                                f"list p50 {result['list_p50_ms']:.3f} ms",
                                flush=True,
                            )
            finally:
                gw.stop()
    finally:
        upstream.stop()
    print(f"\nmedians of {args.runs} runs (load average now: {os.getloadavg()}):")
    print(f"{'endpoint':<22}{'p50 ms':>9}{'p99 ms':>9}{'calls/s c16':>13}{'list p50 ms':>13}")
    for name, runs in results.items():
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(
            f"{name:<22}{med['p50_ms']:>9.3f}{med['p99_ms']:>9.3f}"
            f"{med['rps16']:>13.0f}{med['list_p50_ms']:>13.3f}"
        )


if __name__ == "__main__":
    anyio.run(main)
