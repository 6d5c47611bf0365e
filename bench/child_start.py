"""Cost of the child sandbox per server start: spawn-to-first-response, sandbox off vs on.

Usage: ``.venv/bin/python bench/child_start.py [--starts 100] [--server tiny|sdk]``

Each start spawns the fixture stdio server through ``open_stdio`` (the gateway's own transport)
and times until its answer to ``initialize`` arrives (spawn + interpreter start-up + one round
trip); the stop that follows (stdin closed, tree kill with its /proc scan) is timed apart.
Starts alternate between "off" and "on" so both see the same machine load. Needs root (or
CAP_SETUID+CAP_SETGID+CAP_KILL) and bubblewrap for the "on" rows; prints a Markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio
from mcp.client.session import ClientSession

from mcp_gateway.process.env import child_environment
from mcp_gateway.process.output import OutputTail
from mcp_gateway.process.sandbox import Sandbox
from mcp_gateway.upstream.stdio_transport import open_stdio

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
SERVERS = {"tiny": FIXTURES / "tiny_stdio_server.py", "sdk": FIXTURES / "mcp_fixture_server.py"}


async def _one_start(script: Path, sandbox: Sandbox | None) -> tuple[float, float]:
    ring = OutputTail()
    started = time.perf_counter()
    async with open_stdio(
        sys.executable,
        [str(script)],
        env=child_environment({}),
        cwd=None,
        stderr_ring=ring,
        on_eof=lambda: None,
        sandbox=sandbox,
    ) as child:
        async with ClientSession(child.read_stream, child.write_stream) as session:
            await session.initialize()
            answered = time.perf_counter()
        stopping = time.perf_counter()
    return answered - started, time.perf_counter() - stopping


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--starts", type=int, default=100, help="starts per mode")
    parser.add_argument("--server", choices=sorted(SERVERS), default="tiny")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir="/var/tmp") as data:
        box = Sandbox.detect(
            "required",
            bwrap="/usr/bin/bwrap",
            setpriv="/usr/bin/setpriv",
            uid_base=170_000,
            uid_count=10,
            hidden=(Path(data),),
            exposed=(Path(sys.prefix), Path(sys.base_prefix)),
            homes=Path(data) / "sandbox-homes",
        )
        if not box.enabled:
            raise SystemExit(f"cannot sandbox here: {box.status.reason}")
        modes: dict[str, Sandbox | None] = {"off": None, "on": box}
        starts: dict[str, list[float]] = {m: [] for m in modes}
        stops: dict[str, list[float]] = {m: [] for m in modes}
        for _ in range(2):  # warm-up: page cache, imports
            for sandbox in modes.values():
                await _one_start(SERVERS[args.server], sandbox)
        for _ in range(args.starts):
            for mode, sandbox in modes.items():
                start, stop = await _one_start(SERVERS[args.server], sandbox)
                starts[mode].append(start)
                stops[mode].append(stop)
    print(f"server={args.server} starts/mode={args.starts}\n")
    print("| sandbox | start p50 (ms) | start p99 (ms) | stop p50 (ms) | stop p99 (ms) |")
    print("|---|---|---|---|---|")
    for mode in modes:
        s, t = starts[mode], stops[mode]
        print(
            f"| {mode} | {_pct(s, 0.5):.1f} | {_pct(s, 0.99):.1f} "
            f"| {_pct(t, 0.5):.1f} | {_pct(t, 0.99):.1f} |"
        )
    extra = statistics.median(starts["on"]) - statistics.median(starts["off"])
    print(f"\nmedian extra cost per start with the sandbox: {extra * 1000:.1f} ms")


if __name__ == "__main__":
    anyio.run(main)
