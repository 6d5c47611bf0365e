"""A/B of the gateway's CPU per ``/mcp`` call: the same client, upstream and calls against a
``serve`` of this tree and one of another checkout (``--other``, e.g. /work/main), alternating,
so both see the same minutes of a shared machine. CPU time per call of the gateway process
alone (utime+stime from /proc), at concurrency 16.

Run: .venv/bin/python bench/mcp_ab.py --other /work/main --rounds 3 -n 400
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

import anyio
import gateway_overhead
from gateway_overhead import ADMIN, Gateway, cpu_seconds, throughput
from mcp_endpoint import ARGS, MODES, Upstream, client, register


async def cpu_per_call(gw: Gateway, mode: str, n: int) -> tuple[float, float]:
    async with client(gw.url + "/mcp/bench", mode, ADMIN) as c:

        async def call() -> None:
            result = await c.call_tool("echo", ARGS)
            assert not result.is_error, result

        for _ in range(50):
            await call()
        before = cpu_seconds(gw.proc.pid)
        rps = await throughput(call, 16, n)
        return (cpu_seconds(gw.proc.pid) - before) * 1000 / n, rps


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--other", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("-n", type=int, default=400)
    args = parser.parse_args()
    here = gateway_overhead.ROOT
    print(f"load average at start: {os.getloadavg()}", flush=True)
    upstream = Upstream()
    results: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        gws: dict[str, Gateway] = {}
        try:
            for label, root in (("this tree", here), ("other", args.other)):
                gateway_overhead.ROOT = root  # serve runs with this cwd: its package is imported
                gws[label] = Gateway(Path(tmp) / label.replace(" ", "-"))
                await register(gws[label], upstream.url)
            for _ in range(args.rounds):
                for mode in MODES:
                    for label, gw in gws.items():
                        got = await cpu_per_call(gw, mode, args.n)
                        results.setdefault(f"{label} {mode}", []).append(got)
                        line = f"{label} {mode}: {got[0]:.2f} ms CPU/call, {got[1]:.0f}/s"
                        print(line, flush=True)
        finally:
            for gw in gws.values():
                gw.stop()
            upstream.stop()
    print(f"load average at end: {os.getloadavg()}")
    print(f"\nmedians of {args.rounds} rounds, {args.n} calls at c16, gateway process only:")
    for name, runs in results.items():
        cpu = statistics.median(r[0] for r in runs)
        rps = statistics.median(r[1] for r in runs)
        print(f"{name:28}{cpu:8.2f} ms CPU/call {rps:8.0f} calls/s")


if __name__ == "__main__":
    anyio.run(main)
