"""The stdio reader on large messages: framing throughput old vs new, and event-loop lag.

Usage: ``.venv/bin/python bench/stdio_reader.py [--sizes 1,5,20] [--runs 3]``

Part 1 (framing, in process): one JSON-RPC line of N MB fed in 64 KiB chunks (what the child's
pipe delivers) to the previous reader's loop (``(buffer + chunk).split(b"\\n")`` per chunk) and
to :class:`~mcp_gateway.upstream.limits.LineSplitter`, under a cap above the message. Reports MB/s
and the longest time spent on one chunk (the longest the event loop is blocked between awaits).

Part 2 (end to end): ``UpstreamPool.call_tool`` of the tiny fixture's ``big`` tool over stdio,
while a ticker task sleeps 5 ms in a loop; reports the call's wall time and the ticker's worst
lag (how long other users' work waited), for an answer under the cap and a 50 MB one over it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import anyio

from mcp_gateway.config import UpstreamSettings
from mcp_gateway.domain.records import UpstreamSession
from mcp_gateway.domain.servers import ServerConfig
from mcp_gateway.errors import UpstreamError
from mcp_gateway.upstream.limits import LineSplitter
from mcp_gateway.upstream.pool import UpstreamPool

TINY = str(Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "tiny_stdio_server.py")
CHUNK = 64 * 1024
MB = 1024 * 1024


def old_reader(chunks: list[bytes]) -> tuple[int, float]:
    """The reader before issue 10: re-splits the whole buffer on every chunk."""
    buffer = b""
    worst = 0.0
    found = 0
    for chunk in chunks:
        start = time.perf_counter()
        *lines, buffer = (buffer + chunk).split(b"\n")
        found += len(lines)
        worst = max(worst, time.perf_counter() - start)
    return found, worst


def new_reader(chunks: list[bytes], limit: int) -> tuple[int, float]:
    splitter = LineSplitter(limit)
    worst = 0.0
    found = 0
    for chunk in chunks:
        start = time.perf_counter()
        found += len(splitter.feed(chunk))
        worst = max(worst, time.perf_counter() - start)
    return found, worst


def framing(size_mb: int, runs: int) -> dict[str, float]:
    body = b'{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"'
    line = body + b"x" * (size_mb * MB - len(body) - 3) + b'"}]}}\n'
    chunks = [line[i : i + CHUNK] for i in range(0, len(line), CHUNK)]
    out: dict[str, list[float]] = {"old_s": [], "old_lag": [], "new_s": [], "new_lag": []}
    for _ in range(runs):
        for name, run in (
            ("old", lambda: old_reader(chunks)),
            ("new", lambda: new_reader(chunks, 2 * len(line))),
        ):
            start = time.perf_counter()
            found, worst = run()
            assert found == 1
            out[f"{name}_s"].append(time.perf_counter() - start)
            out[f"{name}_lag"].append(worst)
    return {key: statistics.median(values) for key, values in out.items()}


class _NoSessions:
    async def put_session(self, session: UpstreamSession) -> None: ...

    async def get_session(self, server: str, scope: str) -> UpstreamSession | None:
        return None

    async def delete_session(self, server: str, scope: str) -> bool:
        return False

    async def delete_server_sessions(self, server: str) -> int:
        return 0


async def end_to_end(size_mb: int, cap_mb: int) -> tuple[float, float, str]:
    settings = UpstreamSettings(max_message_bytes=cap_mb * MB)
    server = ServerConfig(name="big", command=sys.executable, args=(TINY,))
    worst = 0.0
    async with UpstreamPool(sessions=_NoSessions(), settings=settings) as pool:  # type: ignore[arg-type]
        await pool.call_tool(server, "echo", {"text": "warm"}, username="u")

        async def ticker() -> None:
            nonlocal worst
            while True:
                start = time.perf_counter()
                await anyio.sleep(0.005)
                worst = max(worst, time.perf_counter() - start - 0.005)

        async with anyio.create_task_group() as tg:
            tg.start_soon(ticker)
            start = time.perf_counter()
            try:
                result = await pool.call_tool(server, "big", {"size": size_mb * MB}, username="u")
                outcome = f"ok ({len(result.content[0].text) // MB} MB)"  # type: ignore[union-attr]
            except UpstreamError as exc:
                outcome = f"{exc.status} {exc.code}"
            elapsed = time.perf_counter() - start
            tg.cancel_scope.cancel()
    return elapsed, worst, outcome


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1,5,20", help="message sizes in MB (framing)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print("| message | old reader | old worst chunk | new reader | new worst chunk |")
    print("|---|---|---|---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        r = framing(size, args.runs)
        print(
            f"| {size} MB | {r['old_s']:.3f} s ({size / r['old_s']:.0f} MB/s) "
            f"| {r['old_lag'] * 1e3:.1f} ms | {r['new_s'] * 1e3:.1f} ms "
            f"({size / r['new_s']:.0f} MB/s) | {r['new_lag'] * 1e3:.2f} ms |"
        )
    print()
    print("| end to end (stdio, pool) | cap | outcome | call time | worst loop lag |")
    print("|---|---|---|---|---|")
    for size, cap in ((5, 16), (50, 16)):
        elapsed, lag, outcome = anyio.run(end_to_end, size, cap)
        row = f"| {size} MB answer | {cap} MiB | {outcome} | {elapsed:.2f} s | {lag * 1e3:.1f} ms |"
        print(row)


if __name__ == "__main__":
    main()
