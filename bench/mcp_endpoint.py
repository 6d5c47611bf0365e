"""The gateway's MCP endpoint vs the upstream directly, with the same SDK client and tool.

One invocation, so both sides see the same minute of a noisy machine:

- an upstream: the fixture MCP server over Streamable HTTP (tests/fixtures, ``--http``);
- ``direct``: the official SDK ``Client`` to that upstream's ``/mcp``;
- ``gateway REST``: ``POST /mcp/tool/call`` of the same gateway with httpx2 (the shared path);
- ``gateway``: the same client to ``/mcp/bench`` of a ``mcp-gateway serve`` subprocess (SQLite,
  one stored secret for the user so the injection lookup runs) whose server ``bench`` is that
  upstream: one more HTTP hop plus the gateway's tool-call path;
- ``floor`` (with ``--floor``): the same client through bench/floor_proxy.py, a Hypercorn app
  that only relays bytes to the upstream: the least any Hypercorn-served hop costs here.

On 2 cores the client, the upstream and the gateway share the CPU, so throughput through the
gateway measures its CPU cost as much as its delay. ``--pin`` gives the gateway (and the relay)
a CPU of its own, as a deployment would: the client and the upstream on CPU 0 in every row.

Each in both protocol eras (``legacy``: initialize + Mcp-Session-Id; ``2026-07-28``:
sessionless). Reports p50/p99 of an ``echo`` call at concurrency 1, calls/s at 16 and the
CPU time per call of the server processes (upstream; gateway + upstream);
``--runs`` repeats the comparison and prints medians. Then opens ``--sessions`` idle legacy
sessions and reports the gateway's RSS per session.

Run: .venv/bin/python bench/mcp_endpoint.py --runs 3 -n 300 --sessions 1000
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
from gateway_overhead import (  # bench/ sibling (run as a script)
    ADMIN,
    FIXTURE,
    Gateway,
    cpu_seconds,
    latency,
    throughput,
)
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

ARGS = {"text": "hello"}
WARMUP = 50
MODES = ("legacy", "2026-07-28")
Call = Callable[[], Awaitable[Any]]


@asynccontextmanager
async def client(url: str, mode: str, key: str | None) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    limits = httpx2.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx2.AsyncClient(headers=headers, limits=limits, timeout=60.0) as http:
        transport = streamable_http_client(url, http_client=http)
        async with Client(transport, mode=mode, cache=None) as c:
            yield c


async def measure(
    url: str, mode: str, key: str | None, n: int, servers: tuple[int, ...]
) -> dict[str, float]:
    """p50/p99 at concurrency 1, calls/s at 16, and ``cpu_ms``: CPU time per call of the
    ``servers`` processes (the upstream directly; gateway + upstream through the gateway),
    which the machine's load inflates far less than latency."""
    async with client(url, mode, key) as c:

        async def call() -> None:
            result = await c.call_tool("echo", ARGS)
            assert not result.is_error, result

        for _ in range(WARMUP):
            await call()
        cpu = sum(cpu_seconds(pid) for pid in servers)
        p50, p99 = await latency(call, n)
        rps = await throughput(call, 16, n)
        cpu_ms = (sum(cpu_seconds(pid) for pid in servers) - cpu) * 1000 / (2 * n)
        return {"p50_ms": p50, "p99_ms": p99, "rps16": rps, "cpu_ms": cpu_ms}


async def measure_rest(gw_url: str, n: int, servers: tuple[int, ...]) -> dict[str, float]:
    """The same call through the REST API of the same gateway (the path both surfaces share)."""
    auth = {"Authorization": f"Bearer {ADMIN}"}
    limits = httpx2.Limits(max_connections=32, max_keepalive_connections=32)
    body = {"serverName": "bench", "methodName": "echo", "args": ARGS}
    async with httpx2.AsyncClient(base_url=gw_url, headers=auth, limits=limits) as http:

        async def call() -> None:
            resp = await http.post("/mcp/tool/call", json=body)
            assert resp.status_code == 200, resp.text

        for _ in range(WARMUP):
            await call()
        cpu = sum(cpu_seconds(pid) for pid in servers)
        p50, p99 = await latency(call, n)
        rps = await throughput(call, 16, n)
        cpu_ms = (sum(cpu_seconds(pid) for pid in servers) - cpu) * 1000 / (2 * n)
        return {"p50_ms": p50, "p99_ms": p99, "rps16": rps, "cpu_ms": cpu_ms}


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


_INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "bench", "version": "0"},
    },
}


async def idle_sessions(gw: Gateway, count: int) -> tuple[float, float]:
    """Open ``count`` legacy sessions on ``/mcp/bench`` (initialize + initialized, then idle;
    spread over usernames to stay under the per-caller limit) and check each still answers.
    Returns (KiB of gateway RSS per idle session, seconds to open them all)."""
    base = {
        "Authorization": f"Bearer {ADMIN}",
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
    }
    done = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    before = rss_kib(gw.proc.pid)
    started = time.perf_counter()
    ids: list[tuple[str, str]] = []
    async with httpx2.AsyncClient(base_url=gw.url, headers=base, timeout=60.0) as http:

        async def open_one(i: int) -> None:
            user = {"X-MCPGW-Username": f"idle-{i % 50}"}
            resp = await http.post("/mcp/bench", json=_INIT, headers=user)
            resp.raise_for_status()
            sid = resp.headers["mcp-session-id"]
            ack = {**user, "Mcp-Session-Id": sid, "MCP-Protocol-Version": "2025-11-25"}
            (await http.post("/mcp/bench", json=done, headers=ack)).raise_for_status()
            ids.append((user["X-MCPGW-Username"], sid))

        for start in range(0, count, 50):
            async with anyio.create_task_group() as tg:
                for i in range(start, min(start + 50, count)):
                    tg.start_soon(open_one, i)
        elapsed = time.perf_counter() - started
        await anyio.sleep(2)
        after = rss_kib(gw.proc.pid)
        ping = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}
        for user, sid in ids[:: max(1, count // 20)]:
            headers = {"X-MCPGW-Username": user, "Mcp-Session-Id": sid}
            headers["MCP-Protocol-Version"] = "2025-11-25"
            (await http.post("/mcp/bench", json=ping, headers=headers)).raise_for_status()
    return (after - before) / count, elapsed


class Upstream:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, FIXTURE, "--http", "--port", "0"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("PORT="):
            self.proc.kill()
            raise RuntimeError("upstream fixture did not start")
        self.url = f"http://127.0.0.1:{int(line.strip().split('=')[1])}/mcp"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


class Floor:
    """bench/floor_proxy.py in front of ``upstream``."""

    def __init__(self, upstream: str, prefix: tuple[str, ...] = ()) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        script = Path(__file__).with_name("floor_proxy.py")
        self.proc = subprocess.Popen(
            [*prefix, sys.executable, str(script), str(port), upstream],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.url = f"http://127.0.0.1:{port}/mcp"
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.proc.kill()
                    raise RuntimeError("floor proxy did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


async def register(gw: Gateway, upstream: str) -> None:
    auth = {"Authorization": f"Bearer {ADMIN}"}
    async with httpx2.AsyncClient(base_url=gw.url, headers=auth, timeout=30.0) as http:
        server = {
            "name": "bench",
            "transportType": "streamable_http",
            "url": upstream,
            "maxConcurrency": 128,
            "maxConcurrencyPerUser": 128,
        }
        (await http.post("/mcp/servers", json=server)).raise_for_status()
        secret = {"serverName": "bench", "secretName": "unused", "secretValue": "s3cret-value"}
        (await http.post("/secrets/set", json=secret)).raise_for_status()
        with anyio.fail_after(60):
            while True:
                view = (await http.get("/mcp/servers/bench")).json()["server"]
                if view["status"] == "connected":
                    break
                await anyio.sleep(0.05)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("-n", type=int, default=500, help="calls per latency sample")
    parser.add_argument("--sessions", type=int, default=1000, help="idle legacy sessions to open")
    parser.add_argument("--floor", action="store_true", help="also through bench/floor_proxy.py")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="the client and the upstream on CPU 0, the gateway and the relay on CPU 1",
    )
    args = parser.parse_args()
    prefix: tuple[str, ...] = ()
    if args.pin:  # before any process or thread starts: they inherit it
        os.sched_setaffinity(0, {0})
        prefix = ("taskset", "-c", "1")
    results: dict[str, list[dict[str, float]]] = {}
    print(
        f"load average at start: {os.getloadavg()}; pin {args.pin}",
        flush=True,
    )
    upstream = Upstream()
    floor = Floor(upstream.url, prefix) if args.floor else None
    with tempfile.TemporaryDirectory() as tmp:
        gw = Gateway(Path(tmp) / "data", prefix=prefix)
        try:
            await register(gw, upstream.url)
            sides = [("direct", upstream.url, None, (upstream.proc.pid,))]
            if floor is not None:
                sides.append(("floor", floor.url, None, (floor.proc.pid, upstream.proc.pid)))
            gw_pids = (gw.proc.pid, upstream.proc.pid)
            sides.append(("gateway", gw.url + "/mcp/bench", ADMIN, gw_pids))
            for run in range(args.runs):
                rest = await measure_rest(gw.url, args.n, (gw.proc.pid, upstream.proc.pid))
                results.setdefault("gateway REST", []).append(rest)
                print(f"run {run + 1} gateway REST: p50 {rest['p50_ms']:.3f} ms", flush=True)
                for mode in MODES:
                    for side, url, key, pids in sides:
                        name = f"{side} {mode}"
                        result = await measure(url, mode, key, args.n, pids)
                        results.setdefault(name, []).append(result)
                        print(
                            f"run {run + 1} {name}: p50 {result['p50_ms']:.3f} ms, "
                            f"c16 {result['rps16']:.0f}/s, "
                            f"server cpu {result['cpu_ms']:.2f} ms/call",
                            flush=True,
                        )
            if args.sessions > 0:
                per_session, took = await idle_sessions(gw, args.sessions)
                print(
                    f"{args.sessions} idle legacy sessions: {per_session:.1f} KiB RSS each, "
                    f"opened in {took:.1f} s",
                    flush=True,
                )
        finally:
            gw.stop()
            if floor is not None:
                floor.stop()
            upstream.stop()
    print(f"load average at end: {os.getloadavg()}")
    if not results:
        return
    print(f"\nmedians of {args.runs} runs, {args.n} calls per latency sample:")
    print(f"{'':22}{'p50 ms':>9}{'p99 ms':>9}{'c16 /s':>9}{'cpu ms':>9}")
    med = {
        name: {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        for name, runs in results.items()
    }
    for name, m in med.items():
        cpu = f"{m['cpu_ms']:9.2f}" if "cpu_ms" in m else ""
        print(f"{name:22}{m['p50_ms']:9.3f}{m['p99_ms']:9.3f}{m['rps16']:9.0f}{cpu}")
    for mode in MODES:
        d, g = med[f"direct {mode}"], med[f"gateway {mode}"]
        if f"floor {mode}" in med:
            f = med[f"floor {mode}"]
            print(
                f"{mode}: a bare Hypercorn relay adds {f['p50_ms'] - d['p50_ms']:.3f} ms p50; "
                f"c16 throughput {f['rps16'] / d['rps16']:.0%} of direct"
            )
        print(
            f"{mode}: the gateway adds {g['p50_ms'] - d['p50_ms']:.3f} ms p50; "
            f"c16 throughput {g['rps16'] / d['rps16']:.0%} of direct; server CPU per call "
            f"{d['cpu_ms']:.2f} ms direct (upstream), {g['cpu_ms']:.2f} ms through the gateway "
            "(gateway + upstream)"
        )


if __name__ == "__main__":
    anyio.run(main)
