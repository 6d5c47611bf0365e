"""Change propagation between replicas: from a write returning on replica A to replica B's
change feed reporting it (issue 14).

Usage: ``.venv/bin/python bench/change_feed.py [--backend sqlite|mongodb|both] [--changes 200]
[--poll-interval 0.25] [--gap-ms 20] [--mongodb-uri URI]``

The follower runs in a child process (as replica B would: its own interpreter, connections and
GIL) and prints the wall-clock time at which its feed yields each change; the parent (replica A)
registers ``--changes`` server definitions, ``--gap-ms`` apart (plus up to the same again at
random, so writes do not line up with polls), taking the time just before each write starts:
the latency includes the write itself (``write_p50_ms``: on SecantusDB most of it), because a
change stream may report a change before its writer has read the reply. Wall
clocks of two processes on one machine agree. Prints p50/p99/max (ms) per backend.

SQLite: two processes on one database file, the follower polling the change log every
``--poll-interval`` seconds. MongoDB: without ``--mongodb-uri``, a SecantusDB test server in a
third process (slow, test-only: its numbers say nothing about MongoDB), followed by change
stream (``--feed stream``) or by polling (``--feed poll``).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import aclosing
from pathlib import Path

import anyio

from mcp_gateway.domain.changes import Change
from mcp_gateway.domain.servers import ServerConfig
from mcp_gateway.storage.mongo import MongoStore
from mcp_gateway.storage.ports import Store
from mcp_gateway.storage.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parent.parent


async def open_store(args: argparse.Namespace) -> Store:
    if args.backend == "sqlite":
        return await SqliteStore.open(Path(args.data_dir))
    return await MongoStore.open(args.mongodb_uri, args.db)


async def follow(args: argparse.Namespace) -> None:
    """Child: print ``<key> <wall time>`` for every change, ``ready`` once the feed started."""
    store = await open_store(args)
    try:
        feed = store.follow_changes(mode=args.feed, poll_interval=args.poll_interval)
        async with aclosing(feed) as events:
            async for event in events:
                if isinstance(event, Change):
                    print(f"{event.key} {time.time()}", flush=True)
                else:
                    print("ready", flush=True)
    finally:
        await store.aclose()


async def write(args: argparse.Namespace, child: subprocess.Popen[str]) -> list[float]:
    assert child.stdout is not None
    stdout = child.stdout
    line = await anyio.to_thread.run_sync(stdout.readline)
    assert line.strip() == "ready", line
    store = await open_store(args)
    written: dict[str, float] = {}
    durations: list[float] = []
    try:
        for i in range(args.changes):
            name = f"c{i:04d}"
            written[name] = time.time()  # before the write: what A's caller would see first
            await store.create_server(ServerConfig(name=name, command="x"))
            durations.append((time.time() - written[name]) * 1000)
            await anyio.sleep(args.gap_ms / 1000 * (1 + random.random()))
    finally:
        await store.aclose()
    latencies: list[float] = []
    while len(latencies) < args.changes:
        line = await anyio.to_thread.run_sync(stdout.readline)
        if not line:
            raise RuntimeError("follower exited early")
        key, seen = line.split()
        if key in written:
            latencies.append((float(seen) - written[key]) * 1000)
    args.write_p50_ms = round(statistics.median(durations), 1)
    return latencies


def run_backend(args: argparse.Namespace) -> dict[str, object]:
    base = [sys.executable, __file__, "--follower", "--backend", args.backend]
    base += ["--poll-interval", str(args.poll_interval), "--feed", args.feed]
    base += ["--data-dir", args.data_dir, "--mongodb-uri", args.mongodb_uri or "", "--db", args.db]
    child = subprocess.Popen(base, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        latencies = anyio.run(write, args, child)
    finally:
        child.terminate()
        child.wait(10)
        if child.stdout is not None:
            child.stdout.close()
    q = statistics.quantiles(latencies, n=100)
    return {
        "backend": args.backend,
        "feed": args.feed if args.backend == "mongodb" else "poll",
        "poll_interval_s": args.poll_interval,
        "changes": len(latencies),
        "p50_ms": round(q[49], 1),
        "p99_ms": round(q[98], 1),
        "max_ms": round(max(latencies), 1),
        "write_p50_ms": args.write_p50_ms,
    }


def secantus_process(tmp: Path) -> tuple[subprocess.Popen[str], str]:
    code = (
        "import sys, time\n"
        "from secantus import SecantusDBServer\n"
        f"s = SecantusDBServer(host='127.0.0.1', port=0, storage_path={str(tmp)!r})\n"
        "s.start(); print(s.uri, flush=True)\n"
        "sys.stdin.read()\n"
        "s.stop()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="both", choices=["sqlite", "mongodb", "both"])
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--poll-interval", type=float, default=0.25)
    parser.add_argument("--gap-ms", type=float, default=20.0)
    parser.add_argument("--feed", default="auto", choices=["auto", "stream", "poll"])
    parser.add_argument("--mongodb-uri", default="")
    parser.add_argument("--follower", action="store_true")
    parser.add_argument("--data-dir", default="")
    parser.add_argument("--db", default="")
    args = parser.parse_args()
    if args.follower:
        anyio.run(follow, args)
        return
    backends = ["sqlite", "mongodb"] if args.backend == "both" else [args.backend]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        secantus = None
        for backend in backends:
            run = argparse.Namespace(**vars(args))
            run.backend = backend
            run.data_dir = str(Path(tmp) / "data")
            run.db = f"bench_feed_{random.randrange(1 << 30)}"
            if backend == "mongodb" and not run.mongodb_uri:
                secantus, run.mongodb_uri = secantus_process(Path(tmp) / "secantus")
            try:
                results.append(run_backend(run))
            finally:
                if secantus is not None and secantus.stdin is not None:
                    secantus.stdin.close()
                    secantus.wait(20)
                    if secantus.stdout is not None:
                        secantus.stdout.close()
                    secantus = None
    for result in results:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
