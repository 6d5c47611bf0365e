"""Gateway overhead: ``POST /mcp/tool/call`` through ``mcp-gateway serve`` vs the direct SDK.

All paths call the ``echo`` tool of the same stdio fixture server (tests/fixtures), in one
invocation, so ratios compare the same minute of a noisy machine:

- ``direct``: ``mcp.Client`` over stdio in this process (the baseline);
- ``gw-httpx2``: httpx2 over loopback HTTP/1.1 keep-alive to a ``mcp-gateway serve``
  subprocess (SQLite store, one stored secret for the user so the injection query runs);
- ``gw-lean``: the same gateway driven by a minimal HTTP/1.1 keep-alive client (one fixed
  request, asyncio streams), so the load generator's own CPU (~0.15 ms per call vs ~0.6 ms
  for httpx2) is not charged to the gateway.

With ``--rate-limit`` each run also measures ``gw-*+rl``: the same calls to a second server
whose ``rateLimit`` sets all three buckets (total, perKey, perUser) so large that nothing is
refused, i.e. the limiter's cost on the hot path, in the same minute as the unlimited server.

Reports p50/p99 at concurrency 1 and calls/s at 16 and 64, and CPU milliseconds per call
of the gateway process (and of this process for ``direct``); ``--runs`` repeats the whole
comparison and prints medians.

Run: .venv/bin/python bench/gateway_overhead.py --runs 5 [--other-user] [--rate-limit]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.stdio import StdioServerParameters

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = str(ROOT / "tests" / "fixtures" / "mcp_fixture_server.py")
ADMIN = "mcpgw_bench-admin-key-0123456789abcdefghijkl"
ARGS = {"text": "hello"}
Call = Callable[[], Awaitable[Any]]
WARMUP = 50


async def latency(call: Call, n: int) -> tuple[float, float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - start)
    samples.sort()
    return samples[len(samples) // 2] * 1000, samples[int(len(samples) * 0.99)] * 1000


async def throughput(call: Call, concurrency: int, total: int) -> float:
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(worker)
    return total / (time.perf_counter() - start)


async def measure(call: Call, n: int) -> dict[str, float]:
    for _ in range(WARMUP):
        await call()  # warm-up
    p50, p99 = await latency(call, n)
    return {
        "p50_ms": p50,
        "p99_ms": p99,
        "rps16": await throughput(call, 16, n * 2),
        "rps64": await throughput(call, 64, n * 2),
    }


async def direct(n: int) -> dict[str, float]:
    params = StdioServerParameters(command=sys.executable, args=[FIXTURE])
    async with Client(params) as client:

        async def call() -> Any:
            result = await client.call_tool("echo", ARGS)
            assert not result.is_error

        return await measure_cpu(call, n)


class Gateway:
    def __init__(
        self,
        data_dir: Path,
        extra_env: dict[str, str] | None = None,
        prefix: tuple[str, ...] = (),
    ) -> None:
        """``extra_env``: more MCPGW_* settings (a replica id, a MongoDB URI, ...);
        ``prefix``: a command that execs the rest (``taskset -c 1``)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("MCPGW_")}
        env |= {
            "MCPGW_DATA_DIR": str(data_dir),
            "MCPGW_PACKAGES_DIR": str(data_dir / "packages"),
            "MCPGW_PORT": "0",
            "MCPGW_LOG_LEVEL": "warning",
            "MCPGW_ADMIN_API_KEY": ADMIN,
        }
        env |= extra_env or {}
        self.proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "mcp_gateway", "serve"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.url = ""
        self.errors: collections.deque[str] = collections.deque(maxlen=20)  # warnings and up
        ready = threading.Event()

        def pump() -> None:
            assert self.proc.stderr is not None
            for line in self.proc.stderr:
                if re.search(r" (WARNING|ERROR|CRITICAL) ", line):
                    self.errors.append(line.rstrip())
                match = re.search(r"Running on (http://[\d.]+:\d+)", line)
                if match and not self.url:
                    self.url = match.group(1)
                    ready.set()
            ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(60) or not self.url:
            self.proc.kill()
            raise RuntimeError("gateway did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class LeanClient:
    """A minimal HTTP/1.1 keep-alive client for one fixed request: a free list of
    connections (one per concurrent caller), no header parsing beyond status and length."""

    def __init__(self, url: str, path: str, body: dict[str, Any], headers: dict[str, str]):
        hostport = url.split("//", 1)[1]
        self.host, port = hostport.rsplit(":", 1)
        self.port = int(port)
        payload = json.dumps(body).encode()
        head = f"POST {path} HTTP/1.1\r\nHost: {hostport}\r\nContent-Type: application/json\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.request = (head + f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload
        self.free: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def call(self) -> None:
        if self.free:
            reader, writer = self.free.pop()
        else:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        writer.write(self.request)
        head = (await reader.readuntil(b"\r\n\r\n")).lower()
        at = head.index(b"content-length:") + 15
        body = await reader.readexactly(int(head[at : head.index(b"\r\n", at)]))
        assert head[9:12] == b"200", head + body
        if b"connection: close" in head:  # Hypercorn recycles a connection every 1000 requests
            writer.close()
        else:
            self.free.append((reader, writer))

    def close(self) -> None:
        for _, writer in self.free:
            writer.close()


HUGE = {"requests": 10**9, "perMs": 1000}
NO_REFUSALS = {"total": HUGE, "perKey": HUGE, "perUser": HUGE}


async def through_gateway(
    gw: Gateway, n: int, other_user: bool, name: str = "bench", rate_limit: bool = False
) -> dict[str, dict[str, float]]:
    auth = {"Authorization": f"Bearer {ADMIN}"}
    limits = httpx2.Limits(max_connections=64, max_keepalive_connections=64)
    suffix = "+rl" if rate_limit else ""
    async with httpx2.AsyncClient(base_url=gw.url, headers=auth, limits=limits) as client:
        server = {
            "name": name,
            "command": sys.executable,
            "args": [FIXTURE],
            "maxConcurrency": 128,
            "maxConcurrencyPerUser": 128,  # one username drives every call
            **({"rateLimit": NO_REFUSALS} if rate_limit else {}),
        }
        resp = await client.post("/mcp/servers", json=server)
        if resp.status_code != 409:  # 409: a later run against the same gateway
            resp.raise_for_status()
        secret = {"serverName": name, "secretName": "unused", "secretValue": "s3cret-value"}
        (await client.post("/secrets/set", json=secret)).raise_for_status()
        with anyio.fail_after(30):
            while True:
                view = (await client.get(f"/mcp/servers/{name}")).json()["server"]
                if view["status"] == "connected":
                    break
                await anyio.sleep(0.05)
        if other_user:
            # Another user's secret reaches the shared session first: from then on every
            # result for the measured user is masked (the multi-tenant shared-server case).
            other = {**secret, "username": "other", "secretValue": "0ther-users-s3cret"}
            (await client.post("/secrets/set", json=other)).raise_for_status()
            call_body = {"username": "other", "serverName": name, "methodName": "echo"}
            (
                await client.post("/mcp/tool/call", json={**call_body, "args": ARGS})
            ).raise_for_status()
        body = {"serverName": name, "methodName": "echo", "args": ARGS}

        async def call() -> Any:
            resp = await client.post("/mcp/tool/call", json=body)
            assert resp.status_code == 200, resp.text

        results = {f"gw-httpx2{suffix}": await measure_cpu(call, n, gw.proc.pid)}
    lean = LeanClient(gw.url, "/mcp/tool/call", body, auth)
    try:
        results[f"gw-lean{suffix}"] = await measure_cpu(lean.call, n, gw.proc.pid)
    finally:
        lean.close()
    return results


async def measure_cpu(call: Call, n: int, pid: int | None = None) -> dict[str, float]:
    """``measure`` plus CPU ms per call of ``pid`` (the gateway), else of this process."""
    before = cpu_seconds(pid) if pid else time.process_time()
    result = await measure(call, n)
    after = cpu_seconds(pid) if pid else time.process_time()
    result["cpu_ms"] = (after - before) * 1000 / (WARMUP + 5 * n)
    return result


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("-n", type=int, default=1000, help="calls per latency sample")
    parser.add_argument(
        "--other-user",
        action="store_true",
        help="another user's secret reaches the shared server first (results get masked)",
    )
    parser.add_argument(
        "--rate-limit",
        action="store_true",
        help="also measure a server with all three rate-limit buckets (none refusing)",
    )
    args = parser.parse_args()
    names: tuple[str, ...] = ("direct", "gw-httpx2", "gw-lean")
    if args.rate_limit:
        names += ("gw-httpx2+rl", "gw-lean+rl")
    results: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    print(f"load average at start: {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        gw = Gateway(Path(tmp) / "data")
        try:
            for run in range(args.runs):
                results["direct"].append(await direct(args.n))
                for name, result in (await through_gateway(gw, args.n, args.other_user)).items():
                    results[name].append(result)
                if args.rate_limit:
                    limited = await through_gateway(gw, args.n, args.other_user, "bench-rl", True)
                    for name, result in limited.items():
                        results[name].append(result)
                print(
                    f"run {run + 1}: p50 ms / c64 calls/s: "
                    + ", ".join(
                        f"{name} {results[name][-1]['p50_ms']:.3f} / "
                        f"{results[name][-1]['rps64']:.0f}"
                        for name in names
                    ),
                    flush=True,
                )
        finally:
            gw.stop()
    print(f"load average at end: {os.getloadavg()}")
    print(f"\nmedians of {args.runs} runs, {args.n} calls per latency sample:")
    print(f"{'':11}{'p50 ms':>9}{'p99 ms':>9}{'c16 /s':>9}{'c64 /s':>9}{'cpu ms':>9}")
    med: dict[str, dict[str, float]] = {}
    for name, runs in results.items():
        med[name] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        m = med[name]
        print(
            f"{name:11}{m['p50_ms']:9.3f}{m['p99_ms']:9.3f}{m['rps16']:9.0f}{m['rps64']:9.0f}"
            f"{m['cpu_ms']:9.3f}"
        )
    print("(cpu ms: per call, of the gateway process for gw-*, of this process for direct)")
    d = med["direct"]
    for name in names[1:]:
        g = med[name]
        print(
            f"{name}: gateway adds {g['p50_ms'] - d['p50_ms']:.3f} ms p50; throughput ratio "
            f"c16 {g['rps16'] / d['rps16']:.0%}, c64 {g['rps64'] / d['rps64']:.0%}"
        )


if __name__ == "__main__":
    anyio.run(main)
