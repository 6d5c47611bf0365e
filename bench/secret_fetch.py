"""Per-call secret fetch: ``store.get_secrets(username, server)`` on a populated store.

Usage: ``.venv/bin/python bench/secret_fetch.py [--backend sqlite|mongodb|both] [--rounds 3]
[--users 10000] [--secrets 10] [--servers 4] [--fetches 20000] [--mongo-fetches 2000]
[--mongodb-uri URI]``

Seeds ``users x secrets`` AES-256-GCM ciphertexts (``Keyring.encrypt_secret``, so each is bound
to its (username, server, name)) spread round-robin over ``servers`` servers, so one fetch
returns 2-3 secrets. Seeding writes rows straight into the adapter's table/collection in bulk
(same row/document shape as ``put_secret``); only the measured path goes through the store.

Each round runs, sequentially (concurrency 1) on random (user, server) pairs:
``fetch`` (get_secrets) and ``fetch+decrypt`` (get_secrets, then decrypt every value). On
SQLite it also runs ``fetch via thread``: the same query hopped to a worker thread with
anyio.to_thread, the design the adapter rejected for reads. Prints p50/p99 (ms) and ops/s per
round and the medians as a Markdown table.

Without ``--mongodb-uri`` the MongoDB rows use an in-process SecantusDB server (a slow,
test-only MongoDB-wire server sharing this process's GIL): they say nothing about MongoDB.
"""

from __future__ import annotations

import argparse
import random
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
from pymongo import AsyncMongoClient

from mcp_gateway.crypto.keyring import Keyring
from mcp_gateway.domain.records import StoredSecret
from mcp_gateway.storage.codec import to_doc
from mcp_gateway.storage.mongo import MongoStore
from mcp_gateway.storage.ports import Store
from mcp_gateway.storage.sqlite import SqliteStore
from mcp_gateway.storage.sqlite.db import DB_FILE

Pair = tuple[str, str]
Call = Callable[[Pair], Awaitable[Any]]


def dataset(args: argparse.Namespace, keyring: Keyring) -> list[StoredSecret]:
    servers = [f"server{i}" for i in range(args.servers)]
    rows = []
    for u in range(args.users):
        user = f"user{u:05d}"
        for s in range(args.secrets):
            server, name = servers[s % len(servers)], f"SECRET_{s}"
            blob = keyring.encrypt_secret(user, server, name, f"value-{secrets.token_hex(16)}")
            rows.append(StoredSecret(user, server, name, blob, time.time()))
    return rows


def seed_sqlite(data_dir: Path, rows: list[StoredSecret]) -> None:
    with sqlite3.connect(data_dir / DB_FILE) as conn:
        conn.executemany(
            "INSERT INTO secrets (username, server, name, ciphertext, updated_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [(r.username, r.server, r.name, r.ciphertext, r.updated_at) for r in rows],
        )


async def seed_mongo(uri: str, database: str, rows: list[StoredSecret]) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    try:
        for start in range(0, len(rows), 5000):
            await client[database]["mcpgw_secrets"].insert_many(
                [to_doc(r) for r in rows[start : start + 5000]], ordered=False
            )
    finally:
        await client.close()


async def measure(call: Call, pairs: list[Pair], n: int) -> tuple[float, float, float]:
    for pair in pairs[:200]:
        await call(pair)
    samples = []
    total_start = time.perf_counter()
    for i in range(n):
        pair = pairs[i % len(pairs)]
        start = time.perf_counter()
        await call(pair)
        samples.append(time.perf_counter() - start)
    total = time.perf_counter() - total_start
    samples.sort()
    return samples[len(samples) // 2] * 1e3, samples[int(len(samples) * 0.99)] * 1e3, n / total


def calls(store: Store, keyring: Keyring) -> dict[str, Call]:
    async def fetch(pair: Pair) -> Any:
        found = await store.get_secrets(*pair)
        assert found, pair
        return found

    async def fetch_decrypt(pair: Pair) -> Any:
        found = await store.get_secrets(*pair)
        return [keyring.decrypt_secret(s.username, s.server, s.name, s.ciphertext) for s in found]

    out: dict[str, Call] = {"fetch": fetch, "fetch+decrypt": fetch_decrypt}
    if isinstance(store, SqliteStore):
        sql = "SELECT name, ciphertext, updated_at FROM secrets WHERE username = ? AND server = ?"

        async def via_thread(pair: Pair) -> Any:
            return await store._db.read_in_thread(lambda c: c.execute(sql, pair).fetchall())

        out["fetch via thread"] = via_thread
    return out


async def run_backend(
    name: str, store: Store, keyring: Keyring, args: argparse.Namespace, n: int
) -> dict[str, list[tuple[float, float, float]]]:
    rng = random.Random(7)
    servers = [f"server{i}" for i in range(min(args.servers, args.secrets))]
    pairs = [(f"user{rng.randrange(args.users):05d}", rng.choice(servers)) for _ in range(n)]
    results: dict[str, list[tuple[float, float, float]]] = {}
    for round_no in range(1, args.rounds + 1):
        for label, call in calls(store, keyring).items():
            p50, p99, ops = await measure(call, pairs, n)
            results.setdefault(label, []).append((p50, p99, ops))
            print(
                f"round {round_no} {name:8} {label:17} p50 {p50:.3f} ms  p99 {p99:.3f} ms  "
                f"{ops:,.0f} ops/s",
                flush=True,
            )
    return results


async def main(args: argparse.Namespace) -> None:
    keyring = Keyring([("bench", secrets.token_bytes(32))])
    rows = dataset(args, keyring)
    table: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.backend in ("sqlite", "both"):
            store = await SqliteStore.open(Path(tmp) / "data")
            seed_sqlite(Path(tmp) / "data", rows)
            try:
                res = await run_backend("sqlite", store, keyring, args, args.fetches)
            finally:
                await store.aclose()
            table += rows_for("SQLite", res)
        if args.backend in ("mongodb", "both"):
            server = None
            uri = args.mongodb_uri
            label = "MongoDB" if uri else "SecantusDB (in-process)"
            if not uri:
                from secantus import SecantusDBServer

                server = SecantusDBServer(host="127.0.0.1", port=0, storage_path=f"{tmp}/secantus")
                server.start()
                uri = server.uri
            try:
                mstore = await MongoStore.open(uri, "bench_secret_fetch", io_timeout=30)
                try:
                    await seed_mongo(uri, "bench_secret_fetch", rows)
                    res = await run_backend("mongodb", mstore, keyring, args, args.mongo_fetches)
                finally:
                    await mstore._client.drop_database("bench_secret_fetch")
                    await mstore.aclose()
            finally:
                if server is not None:
                    server.stop()
            table += rows_for(label, res)
    print(
        f"\n{args.users} users x {args.secrets} secrets over {args.servers} servers, "
        f"medians of {args.rounds} rounds, concurrency 1\n"
    )
    print("| backend | operation | p50 (ms) | p99 (ms) | ops/s |")
    print("|---|---|---|---|---|")
    print("\n".join(table))


def rows_for(backend: str, res: dict[str, list[tuple[float, float, float]]]) -> list[str]:
    out = []
    for label, runs in res.items():
        p50 = statistics.median(r[0] for r in runs)
        p99 = statistics.median(r[1] for r in runs)
        ops = statistics.median(r[2] for r in runs)
        out.append(f"| {backend} | {label} | {p50:.3f} | {p99:.3f} | {ops:,.0f} |")
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "mongodb", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--secrets", type=int, default=10)
    parser.add_argument("--servers", type=int, default=4)
    parser.add_argument("--fetches", type=int, default=20_000)
    parser.add_argument("--mongo-fetches", type=int, default=2_000)
    parser.add_argument("--mongodb-uri", default=None)
    anyio.run(main, parser.parse_args())
    sys.exit(0)
