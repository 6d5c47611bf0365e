"""Where the gateway's CPU goes on ``/mcp`` calls: py-spy on the ``serve`` process of
bench/mcp_endpoint.py's set-up while the SDK client calls ``echo`` at concurrency 16.

Samples are grouped by the innermost frame outside the standard library (its package, or
the gateway's own module), as in docs/benchmarks.md. Needs ``py-spy`` on PATH (or in the venv).

Run: .venv/bin/python bench/mcp_profile.py --mode legacy --seconds 20
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import anyio
from gateway_overhead import ADMIN, Gateway  # bench/ sibling (run as a script)
from mcp_endpoint import ARGS, Upstream, client, register

_STDLIB = {"asyncio", "selectors", "socket", "threading", "contextlib", "json", "weakref", "ssl"}
_STDLIB |= {"functools", "typing", "enum", "re", "logging", "collections", "abc", "dataclasses"}
_STDLIB |= {"copy", "uuid", "http", "inspect", "queue", "base64", "hmac", "hashlib", "sqlite3"}
_STDLIB |= {"contextvars", "types", "os", "posixpath", "secrets", "warnings", "ipaddress"}
_PHASES = (
    ("upstream client (pool, SDK client, httpx2)", ("mcp_gateway/upstream", "mcp/client/")),
    ("SDK kernel + gateway handlers (serve_one)", ("serve_one", "ServerRunner")),
    ("SDK server transport (legacy SSE, modern entry)", ("mcp/server/streamable", "sse_starlette")),
    ("gateway MCP edge and fast path", ("mcp_gateway/api/downstream",)),
    ("gateway REST/middleware", ("mcp_gateway/api",)),
    ("Hypercorn (downstream HTTP)", ("hypercorn",)),
)


def _package(frame: str) -> str | None:
    """``function (path:line)`` -> its top-level package (the gateway's: its module), or None
    for the standard library."""
    path = frame.rsplit("(", 1)[-1].split(":")[0]
    top = path.split("/")[0].removesuffix(".py")
    if top in _STDLIB or top.startswith("<"):
        return None
    return "/".join(path.split("/")[:3]) if top == "mcp_gateway" else top


def summarise(raw: Path) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """Shares of samples by phase (the first matching frame pattern), and by the innermost
    frame outside the standard library."""
    phases: collections.Counter[str] = collections.Counter()
    inner: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        phase = next((p for p, keys in _PHASES if any(k in stack for k in keys)), "other")
        phases[phase] += n
        frames = reversed(stack.split(";"))
        inner[next((p for f in frames if (p := _package(f)) is not None), "stdlib")] += n
    total = max(total, 1)
    return (
        [(k, 100 * v / total) for k, v in phases.most_common()],
        [(k, 100 * v / total) for k, v in inner.most_common(20)],
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", default="legacy", choices=["legacy", "2026-07-28"])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--raw", type=Path, help="keep py-spy's raw output here")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    upstream = Upstream()
    with tempfile.TemporaryDirectory() as tmp:
        gw = Gateway(Path(tmp) / "data")
        raw = args.raw or Path(tmp) / "profile.txt"
        try:
            await register(gw, upstream.url)
            async with client(gw.url + "/mcp/bench", args.mode, ADMIN) as c:
                for _ in range(50):
                    await c.call_tool("echo", ARGS)
                record = subprocess.Popen(  # noqa: ASYNC220 (started once, waited in a thread)
                    [spy, "record", "-r", "200", "--format", "raw", "-d", str(int(args.seconds))]
                    + ["-p", str(gw.proc.pid), "-o", str(raw), "--nonblocking"],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                try:
                    with anyio.move_on_after(args.seconds):
                        async with anyio.create_task_group() as tg:
                            for _ in range(args.concurrency):

                                async def loop() -> None:
                                    while True:
                                        await c.call_tool("echo", ARGS)

                                tg.start_soon(loop)
                finally:
                    await anyio.to_thread.run_sync(record.wait)
        finally:
            gw.stop()
            upstream.stop()
        phases, inner = summarise(raw)
        print("busy samples by phase:")
        for where, share in phases:
            print(f"{share:5.1f}%  {where}")
        print("by innermost non-stdlib frame:")
        for where, share in inner:
            print(f"{share:5.1f}%  {where}")


if __name__ == "__main__":
    anyio.run(main)
