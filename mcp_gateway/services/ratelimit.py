"""The rate limiter of the tool-call path: token buckets per server, API key and username.

:meth:`RateLimiter.check` runs once per tool call (``services.tool_calls``, the one path REST
and the MCP endpoint share), after the server's definition is known and before anything is
asked of the upstream. The server's ``rate_limit`` decides; a server without one gets the
gateway's defaults (``MCPGW_RATE_LIMIT_*``), and a server whose ``rate_limit`` sets no bucket
has no limit. The bucket arithmetic is :mod:`mcp_gateway.domain.ratelimit`.

Memory is bounded: buckets live in one LRU map of at most ``max_buckets`` entries. A bucket
that has refilled completely equals no bucket and is dropped as the map is swept (a few entries
from the least recently used end per call). When the map is full of live buckets the least
recently used one is dropped, which gives that subject a fresh, full bucket: a flood of
distinct usernames can at worst reset the buckets of the longest-idle users, never grow memory.
The per-key and total buckets still hold such a flood back.

Limits are per process: with several replicas each enforces its own buckets, so a cluster lets
through up to ``replicas`` times a limit unless ``replicas`` divides it (docs/scaling.md).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from mcp_gateway.domain.ratelimit import (
    PER_KEY,
    PER_USER,
    TOTAL,
    Bucket,
    Rate,
    RateLimit,
    is_full,
    level,
    retry_after,
    take,
    wait,
)
from mcp_gateway.domain.servers import ServerConfig
from mcp_gateway.errors import RateLimited

DEFAULT_MAX_BUCKETS = 20_000  # MCPGW_RATE_LIMIT_MAX_BUCKETS; ~400 B + the username each
SWEEP_PER_CALL = 4  # full buckets looked at (and dropped) per admitted call

_Key = tuple[str, str, str]  # (server, kind, subject)


class RateLimiter:
    """In-memory token buckets. ``clock`` returns seconds (monotonic); tests inject one."""

    def __init__(
        self,
        defaults: RateLimit | None = None,
        *,
        replicas: int = 1,
        max_buckets: int = DEFAULT_MAX_BUCKETS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._defaults = defaults
        self._replicas = max(1, replicas)
        self._max = max(1, max_buckets)
        self._clock = clock
        self._buckets: OrderedDict[_Key, tuple[Rate, Bucket]] = OrderedDict()
        self._refused: dict[tuple[str, str], int] = {}

    def __len__(self) -> int:
        """Buckets held now."""
        return len(self._buckets)

    def refusals(self) -> dict[tuple[str, str], int]:
        """Calls refused since start, by (server, limit kind): for metrics."""
        return dict(self._refused)

    def limit_of(self, server: ServerConfig) -> RateLimit | None:
        """The limit that applies to ``server``: its own, else the defaults."""
        return server.rate_limit if server.rate_limit is not None else self._defaults

    def check(self, server: ServerConfig, key_id: str, username: str) -> None:
        """Take one token from each bucket that applies to this call, or none at all.

        Raises :class:`RateLimited` naming the limit with the longest wait (its wait is the
        ``Retry-After``) when any bucket is empty; the call then consumes nothing."""
        limit = self.limit_of(server)
        if limit is None:
            return
        rules = limit.rules()
        if not rules:
            return
        now = self._clock()
        planned: list[tuple[_Key, Rate, Bucket]] = []
        refused: tuple[str, Rate, float] | None = None
        for kind, rate in rules:
            rate = rate.divided(self._replicas)
            subject = key_id if kind == PER_KEY else username if kind == PER_USER else ""
            key = (server.name, kind, subject)
            held = self._buckets.get(key)
            tokens = level(rate, held[1] if held else None, now)
            needed = wait(rate, tokens)
            if needed > 0:
                if refused is None or needed > refused[2]:
                    refused = (kind, rate, needed)
                continue
            planned.append((key, rate, take(rate, held[1] if held else None, now)))
        if refused is not None:
            self._refuse(server.name, *refused)
        for key, rate, bucket in planned:
            self._buckets[key] = (rate, bucket)
            self._buckets.move_to_end(key)
        self._sweep(now)

    def _refuse(self, server: str, kind: str, rate: Rate, seconds: float) -> None:
        counted = (server, kind)
        self._refused[counted] = self._refused.get(counted, 0) + 1
        whom = {TOTAL: "all callers", PER_KEY: "this API key", PER_USER: "this user"}[kind]
        raise RateLimited(
            f"rate limit {kind} of server {server!r} exceeded ({rate.describe()} for {whom}"
            f"{'' if self._replicas == 1 else ' on this replica'}); retry later",
            limit=kind,
            retry_after=retry_after(seconds),
        )

    def _sweep(self, now: float) -> None:
        """Drop refilled buckets from the least recently used end, then the oldest live ones
        beyond the cap."""
        buckets = self._buckets
        for _ in range(SWEEP_PER_CALL):
            if not buckets:
                break
            key, (rate, bucket) = next(iter(buckets.items()))
            if not is_full(rate, bucket, now):
                break
            del buckets[key]
        while len(buckets) > self._max:
            buckets.popitem(last=False)
