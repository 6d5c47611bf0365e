"""What the tool-call path's per-call store reads cost the replica (issue 14).

Each call reads the caller's secrets (``get_secrets``) and, on HTTP servers, the caller's OAuth
tokens (``get_tokens``, from ``UpstreamCredentials.own_session``; a user without tokens is the
common case: no row). This measures both reads through the store adapters, sequentially, and
reports per read the wall time (p50/p99) and the CPU time of this process (the replica's side:
the driver, the event loop, decoding), which is what a cache would save a replica.

SQLite: a file in a temporary data dir. MongoDB: ``--mongodb-uri``, else a SecantusDB test server
in a child process: its wall times are SecantusDB's (slow, pure Python), but the CPU column is
this process's only, so it shows the driver's share of a MongoDB read.

Run: .venv/bin/python bench/hot_reads.py [--reads 2000] [--mongodb-uri URI]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import anyio
from change_feed import secantus_process  # bench/ sibling (run as a script)

from mcp_gateway.domain.records import StoredSecret
from mcp_gateway.storage.mongo import MongoStore
from mcp_gateway.storage.ports import Store
from mcp_gateway.storage.sqlite import SqliteStore


async def measure(store: Store, reads: int) -> dict[str, dict[str, float]]:
    now = time.time()
    for name in ("token", "other"):  # two secrets for the user on the server
        ciphertext = secrets.token_bytes(64)
        await store.put_secret(StoredSecret("alice", "srv", name, ciphertext, now))
    results: dict[str, dict[str, float]] = {}
    for label, read in (
        ("get_tokens (no row)", lambda: store.get_tokens("srv", "alice")),
        ("get_secrets (2 rows)", lambda: store.get_secrets("alice", "srv")),
    ):
        for _ in range(100):
            await read()  # warm-up
        walls: list[float] = []
        cpu = time.process_time()
        for _ in range(reads):
            start = time.perf_counter()
            await read()
            walls.append(time.perf_counter() - start)
        cpu_us = (time.process_time() - cpu) * 1e6 / reads
        q = statistics.quantiles(walls, n=100)
        results[label] = {"p50_us": q[49] * 1e6, "p99_us": q[98] * 1e6, "cpu_us": cpu_us}
    return results


async def main(args: argparse.Namespace) -> None:
    print(f"load average at start: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        stores: list[tuple[str, Store]] = [("SQLite", await SqliteStore.open(Path(tmp) / "data"))]
        secantus = None
        uri = args.mongodb_uri
        if not uri:
            secantus, uri = secantus_process(Path(tmp) / "secantus")
        name = "MongoDB" if args.mongodb_uri else "SecantusDB (child process)"
        stores.append((name, await MongoStore.open(uri, f"bench_reads_{secrets.token_hex(4)}")))
        try:
            for backend, store in stores:
                for label, r in (await measure(store, args.reads)).items():
                    print(
                        f"{backend:27} {label:21} wall p50 {r['p50_us']:8.1f} us, "
                        f"p99 {r['p99_us']:8.1f} us; CPU of this process {r['cpu_us']:6.1f} us"
                    )
        finally:
            for _, store in stores:
                await store.aclose()
            if secantus is not None and secantus.stdin is not None:
                secantus.stdin.close()
                secantus.wait(20)
                if secantus.stdout is not None:
                    secantus.stdout.close()
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--mongodb-uri", default="")
    anyio.run(main, parser.parse_args())
