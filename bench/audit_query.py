"""Audit queries (``GET /audit``'s store path) on a SQLite store holding many events.

Usage: ``.venv/bin/python bench/audit_query.py [--events 1000000] [--queries 200]
[--db PATH]``

Seeds ``events`` audit events (1,000 usernames, 10 service keys, 20 servers x 5 tools, 1 %
errors, one event every 50 ms of virtual time) with ``append_audits`` in batches of 20,000, the
store's own batched write. ``--db`` keeps the file and reuses it when it is already seeded.
Then runs each query shape ``queries`` times, sequentially, through
:class:`~mcp_gateway.services.audit_reader.AuditReader` (scoping, cursor encoding, one store
query for a 100-row page + 1) and prints p50/p99 in ms as a Markdown table.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio

from mcp_gateway.domain.audit import AuditFilter
from mcp_gateway.domain.records import AuditEvent, Role
from mcp_gateway.services.audit_reader import AuditReader
from mcp_gateway.services.principal import Principal
from mcp_gateway.storage.sqlite import SqliteStore

ADMIN = Principal(key_id="admin", name="admin", role=Role.ADMIN)
START = 1_780_000_000.0
STEP = 0.05  # seconds of virtual time between events
BATCH = 20_000
OUTCOMES = ["ok"] * 90 + ["tool_error"] * 9 + ["upstream_error"]


def _event(i: int, rng: random.Random) -> AuditEvent:
    server = rng.randrange(20)
    return AuditEvent(
        ts=START + i * STEP,
        request_id=f"{i:012x}",
        actor=f"key{rng.randrange(10):02d}",
        role="service",
        action="tool_call",
        username=f"user{rng.randrange(1000):04d}",
        server=f"server{server:02d}",
        tool=f"tool{rng.randrange(5)}",
        duration_ms=round(rng.uniform(1, 500), 3),
        outcome=rng.choice(OUTCOMES),
        replica="bench-1",
    )


async def seed(store: SqliteStore, events: int) -> None:
    rng = random.Random(7)
    started = time.perf_counter()
    for base in range(0, events, BATCH):
        await store.append_audits([_event(i, rng) for i in range(base, min(events, base + BATCH))])
    took = time.perf_counter() - started
    print(f"seeded {events:,} events in {took:.1f} s ({events / took:,.0f}/s)", file=sys.stderr)


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def run(args: argparse.Namespace, db_dir: Path) -> None:
    store = await SqliteStore.open(db_dir)
    try:
        have = len(await store.list_audit(1))
        if not have:
            await seed(store, args.events)
        reader = AuditReader(store)
        end = START + args.events * STEP
        middle = (START + end) / 2
        rng = random.Random(11)
        mid_page = await reader.page(ADMIN, AuditFilter(until=middle), limit=1)
        mid_cursor = mid_page.next_cursor or ""
        shapes: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
            ("newest 100, no filter", lambda: reader.page(ADMIN, AuditFilter())),
            ("by username (1 of 1,000)", lambda: reader.page(
                ADMIN, AuditFilter(username=f"user{rng.randrange(1000):04d}"))),
            ("by key (1 of 10)", lambda: reader.page(
                ADMIN, AuditFilter(actor=f"key{rng.randrange(10):02d}"))),
            ("by server (1 of 20)", lambda: reader.page(
                ADMIN, AuditFilter(server=f"server{rng.randrange(20):02d}"))),
            ("by outcome upstream_error (1 %)", lambda: reader.page(
                ADMIN, AuditFilter(outcome="upstream_error"))),
            ("by server + tool (tool not indexed)", lambda: reader.page(
                ADMIN, AuditFilter(server=f"server{rng.randrange(20):02d}", tool="tool3"))),
            ("time range, 1 h in the middle", lambda: reader.page(
                ADMIN, AuditFilter(since=middle, until=middle + 3600))),
            ("user + time range", lambda: reader.page(
                ADMIN, AuditFilter(username=f"user{rng.randrange(1000):04d}", since=middle))),
            ("next page from the middle (cursor)", lambda: reader.page(
                ADMIN, AuditFilter(), cursor=mid_cursor)),
        ]  # fmt: skip
        print("| query (page of 100) | p50 ms | p99 ms |")
        print("|---|---:|---:|")
        for name, query in shapes:
            for _ in range(5):  # warm the page cache
                await query()
            samples = []
            for _ in range(args.queries):
                began = time.perf_counter()
                await query()
                samples.append((time.perf_counter() - began) * 1000)
            p50, p99 = _percentiles(samples)
            print(f"| {name} | {p50:.2f} | {p99:.2f} |")
    finally:
        await store.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--db", type=Path, default=None, help="data dir to keep/reuse")
    args = parser.parse_args()
    if args.db is not None:
        args.db.mkdir(parents=True, exist_ok=True)
        anyio.run(run, args, args.db)
        return
    with tempfile.TemporaryDirectory() as tmp:
        anyio.run(run, args, Path(tmp))


if __name__ == "__main__":
    main()
