"""Resuming a legacy MCP session on another replica vs serving it where it lives (issue 14).

Two ``mcp-gateway serve`` processes (replicas A and B) on one store: one SQLite file (one data
dir), or one database on a SecantusDB test server (slow and test-only: its absolute numbers
say nothing about MongoDB). For each of ``-n`` sessions of ``/mcp``: ``initialize`` and
``notifications/initialized`` on A, then one ``ping`` on A (the session is local there), one
on B (B does not hold it: it reads the store and resumes it), and a second on B (local now).
``ping`` is the cheapest request a session serves, so the difference is the resume itself: one
indexed store read, a transport and a server task. Prints p50/p99 (ms) of each and B's CPU
time per request (utime + stime from /proc, steadier than wall time on a loaded box).

Run: .venv/bin/python bench/mcp_sessions.py -n 300 [--backend sqlite|mongodb|both]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2

ROOT = Path(__file__).resolve().parent.parent
ADMIN = "mcpgw_bench-admin-key-0123456789abcdefghijklmn"
KEYS = "k1:a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s="
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {"elicitation": {"form": {}}},
        "clientInfo": {"name": "bench", "version": "0"},
    },
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
PING = {"jsonrpc": "2.0", "id": 2, "method": "ping"}


class Replica:
    """One ``serve`` process; its URL once it listens."""

    def __init__(self, data_dir: Path, name: str, extra: dict[str, str]) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MCPGW_")}
        env |= {
            "MCPGW_DATA_DIR": str(data_dir),
            "MCPGW_PACKAGES_DIR": str(data_dir / "packages"),
            "MCPGW_PORT": "0",
            "MCPGW_LOG_LEVEL": "warning",
            "MCPGW_ADMIN_API_KEY": ADMIN,
            "MCPGW_SECRETS_KEYS": KEYS,
            "MCPGW_REPLICA_ID": name,
            **extra,
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mcp_gateway", "serve"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.url = ""
        ready = threading.Event()

        def pump() -> None:
            assert self.proc.stderr is not None
            for line in self.proc.stderr:
                match = re.search(r"Running on (http://[\d.]+:\d+)", line)
                if match and not self.url:
                    self.url = match.group(1)
                    ready.set()
            ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(60) or not self.url:
            self.proc.kill()
            raise RuntimeError("gateway did not start")

    def cpu(self) -> float:
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


@contextmanager
def store_env(backend: str, tmp: Path) -> Iterator[tuple[dict[str, str], tuple[Path, Path]]]:
    if backend == "sqlite":
        yield {}, (tmp / "shared", tmp / "shared")
        return
    from secantus import SecantusDBServer  # test dependency (dev extra)

    server = SecantusDBServer(host="127.0.0.1", port=0, storage_path=str(tmp / "secantus"))
    server.start()
    try:
        env = {"MCPGW_MONGODB_URI": str(server.uri), "MCPGW_MONGODB_DB": "mcpgw_bench"}
        yield env, (tmp / "a", tmp / "b")
    finally:
        server.stop()


def pct(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2] * 1000, ordered[int(len(ordered) * 0.99)] * 1000


async def timed(call: Callable[[], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    await call()
    return time.perf_counter() - start


async def run(backend: str, n: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, store_env(backend, Path(tmp)) as (env, dirs):
        a = Replica(dirs[0], "replica-a", env)
        try:
            b = Replica(dirs[1], "replica-b", env)  # after A: A made the store's admin key
            try:
                return await measure(a, b, n)
            finally:
                b.stop()
        finally:
            a.stop()


async def measure(a: Replica, b: Replica, n: int) -> dict[str, Any]:
    admin = {"Authorization": f"Bearer {ADMIN}"}
    async with (
        httpx2.AsyncClient(base_url=a.url, timeout=60) as ca,
        httpx2.AsyncClient(base_url=b.url, timeout=60) as cb,
    ):
        body = {"name": "bench", "role": "user", "username": "alice"}
        resp = await ca.post("/admin/apikeys", json=body, headers=admin)
        key = resp.json()["key"]
        auth = {**ACCEPT, "Authorization": f"Bearer {key}"}
        samples: dict[str, list[float]] = {"A local": [], "B resume": [], "B local": []}
        cpu: dict[str, float] = {"B resume": 0.0, "B local": 0.0}
        for i in range(n + 20):  # the first 20 warm both up
            resp = await ca.post("/mcp", json=INIT, headers=auth)
            session = {**auth, "Mcp-Session-Id": resp.headers["mcp-session-id"]}
            session["MCP-Protocol-Version"] = "2025-11-25"
            await ca.post("/mcp", json=INITIALIZED, headers=session)
            spans = [("A local", ca, None), ("B resume", cb, b), ("B local", cb, b)]
            for label, client, replica in spans:
                before = replica.cpu() if replica else 0.0

                async def ping(
                    client: httpx2.AsyncClient = client, headers: dict[str, str] = session
                ) -> None:
                    resp = await client.post("/mcp", json=PING, headers=headers)
                    assert resp.status_code == 200, resp.text

                took = await timed(ping)
                if i >= 20:
                    samples[label].append(took)
                    if replica is not None:
                        cpu[label] += replica.cpu() - before
            await ca.delete("/mcp", headers=session)
    out: dict[str, Any] = {}
    for label, values in samples.items():
        p50, p99 = pct(values)
        out[label] = {"p50_ms": round(p50, 2), "p99_ms": round(p99, 2)}
        if label in cpu:
            out[label]["cpu_ms_per_request"] = round(cpu[label] / n * 1000, 2)
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=300, help="sessions (one resume each)")
    parser.add_argument("--backend", choices=["sqlite", "mongodb", "both"], default="both")
    args = parser.parse_args()
    backends = ["sqlite", "mongodb"] if args.backend == "both" else [args.backend]
    for backend in backends:
        result = await run(backend, args.n)
        print(backend)
        for label, values in result.items():
            print(f"  {label:9} " + "  ".join(f"{k} {v}" for k, v in values.items()))
    print(f"({args.n} sessions; cpu: replica B's utime+stime per request, averaged)")


if __name__ == "__main__":
    anyio.run(main)
