"""Rate limiter hot-path cost: ``RateLimiter.check`` per tool call, in microseconds.

Scenarios (each on a fresh limiter, the real monotonic clock):

- ``off``: the server has no ``rateLimit`` and there are no defaults (the default set-up);
- ``perUser``: one bucket, one username;
- ``all3``: total + perKey + perUser buckets, one key and one username;
- ``all3-10k-users``: the same, 10 000 usernames in turn (10 000 live buckets);
- ``flood-cap1000``: perUser with ``max_buckets=1000`` and a new username on every call (every
  call evicts the least recently used bucket);
- ``refused``: every call over the limit (builds and raises the 429 error).

Each scenario reports the mean over ``-n`` calls (one timed loop) and p50/p99 of batches of 100
calls (per-call figures below the timer's resolution are not trustworthy one by one).

``--memory`` instead reports the memory held by 20 000 and 100 000 live perUser buckets
(usernames of 10 and 256 characters), measured with tracemalloc.

Run: .venv/bin/python bench/rate_limit.py [-n 200000] [--runs 3] [--memory]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import tracemalloc
from collections.abc import Callable

from mcp_gateway.domain.ratelimit import Rate, RateLimit
from mcp_gateway.domain.servers import ServerConfig
from mcp_gateway.errors import RateLimited
from mcp_gateway.services.ratelimit import RateLimiter

HUGE = Rate(10**9, 1000)  # never refuses
BATCH = 100


def scenario(name: str) -> Callable[[int], None]:
    """A function making call number ``i`` of the scenario."""
    if name == "off":
        lim, srv = RateLimiter(), ServerConfig(name="s", command="x")
        return lambda i: lim.check(srv, "key", "alice")
    if name == "perUser":
        lim = RateLimiter()
        srv = ServerConfig(name="s", command="x", rate_limit=RateLimit(per_user=HUGE))
        return lambda i: lim.check(srv, "key", "alice")
    all3 = RateLimit(per_user=HUGE, per_key=HUGE, total=HUGE)
    if name == "all3":
        lim, srv = RateLimiter(), ServerConfig(name="s", command="x", rate_limit=all3)
        return lambda i: lim.check(srv, "key", "alice")
    if name == "all3-10k-users":
        lim, srv = RateLimiter(), ServerConfig(name="s", command="x", rate_limit=all3)
        users = [f"user-{u}" for u in range(10_000)]
        return lambda i: lim.check(srv, "key", users[i % 10_000])
    if name == "flood-cap1000":
        lim = RateLimiter(max_buckets=1000)
        srv = ServerConfig(name="s", command="x", rate_limit=RateLimit(per_user=HUGE))
        return lambda i: lim.check(srv, "key", f"flood-{i}")
    if name == "refused":
        lim = RateLimiter()
        srv = ServerConfig(name="s", command="x", rate_limit=RateLimit(per_user=Rate(1, 10**8)))

        def refused(i: int) -> None:
            try:
                lim.check(srv, "key", "alice")
            except RateLimited:
                pass

        return refused
    raise ValueError(name)


def measure(name: str, n: int) -> dict[str, float]:
    call = scenario(name)
    for i in range(1000):
        call(i)  # warm-up (and, for "refused", the one admitted call)
    start = time.perf_counter()
    for i in range(n):
        call(i)
    mean_us = (time.perf_counter() - start) * 1e6 / n
    batches = []
    for b in range(n // BATCH):
        t0 = time.perf_counter()
        for i in range(b * BATCH, (b + 1) * BATCH):
            call(n + i)
        batches.append((time.perf_counter() - t0) * 1e6 / BATCH)
    batches.sort()
    return {
        "mean": mean_us,
        "p50": batches[len(batches) // 2],
        "p99": batches[int(len(batches) * 0.99)],
    }


def memory() -> None:
    slow = RateLimit(per_user=Rate(100, 3_600_000))  # buckets stay live (not refilled)
    for count in (20_000, 100_000):
        for length in (10, 256):
            tracemalloc.start()
            lim = RateLimiter(max_buckets=count)
            srv = ServerConfig(name="s", command="x", rate_limit=slow)
            for i in range(count):
                lim.check(srv, "key", f"{i:0{length}d}")
            held, _ = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            assert len(lim) == count
            print(
                f"{count:>7} buckets, {length:>3}-char usernames: {held / 1e6:6.1f} MB "
                f"({held / count:.0f} B per bucket)"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--memory", action="store_true", help="memory per bucket instead")
    args = parser.parse_args()
    if args.memory:
        memory()
        return
    names = ("off", "perUser", "all3", "all3-10k-users", "flood-cap1000", "refused")
    print(f"load average at start: {os.getloadavg()}")
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for _ in range(args.runs):
        for name in names:
            runs[name].append(measure(name, args.n))
    print(f"load average at end: {os.getloadavg()}")
    print(f"medians of {args.runs} runs, {args.n} calls each; microseconds per check")
    print(f"{'':16}{'mean':>8}{'p50':>8}{'p99':>8}  (p50/p99 of {BATCH}-call batches)")
    for name in names:
        m = {k: statistics.median(r[k] for r in runs[name]) for k in runs[name][0]}
        print(f"{name:16}{m['mean']:8.2f}{m['p50']:8.2f}{m['p99']:8.2f}")


if __name__ == "__main__":
    main()
