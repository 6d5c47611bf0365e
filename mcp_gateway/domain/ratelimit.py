"""Rate limits: what a server allows (``RateLimit``) and the token-bucket arithmetic.

A :class:`Rate` of ``requests`` per ``per_ms`` milliseconds is a bucket holding at most
``requests`` tokens that refills continuously at ``requests / per_ms``: a burst of ``requests``
calls is allowed at once, then one call every ``per_ms / requests`` milliseconds. Each call
takes one token. The functions here are pure: the caller passes the clock reading (seconds, any
monotonic origin) and keeps the returned :class:`Bucket`; nothing here reads a clock or stores
anything (``services.ratelimit`` does).

A bucket that has refilled to its capacity is the same as no bucket at all, which is what lets
the limiter forget idle buckets without changing any answer.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

# The three kinds of bucket, by their wire names (used in messages and metrics labels too).
TOTAL = "total"  # one bucket per server, every caller
PER_KEY = "perKey"  # one per (server, API key)
PER_USER = "perUser"  # one per (server, username)


@dataclass(frozen=True, slots=True)
class Rate:
    """``requests`` calls per ``per_ms`` milliseconds (both at least 1)."""

    requests: int
    per_ms: int

    @property
    def per_second(self) -> float:
        """Tokens added per second."""
        return self.requests * 1000.0 / self.per_ms

    def divided(self, replicas: int) -> Rate:
        """This rate's share on one of ``replicas`` gateways: ``requests // replicas`` over the
        same window, at least 1 (so a rate below the replica count still lets calls through,
        and the cluster total can then exceed it)."""
        if replicas <= 1:
            return self
        return Rate(max(1, self.requests // replicas), self.per_ms)

    def describe(self) -> str:
        return f"{self.requests} requests per {self.per_ms} ms"


_RATE_TEXT = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def parse_rate(text: str | None) -> Rate | None:
    """``REQUESTS/MILLISECONDS`` (e.g. ``60/60000``, the settings' form) as a Rate; empty or
    None: None. Raises ValueError naming the expected form (never echoing the text)."""
    if text is None or not text.strip():
        return None
    match = _RATE_TEXT.match(text)
    if match is None or int(match.group(1)) < 1 or int(match.group(2)) < 1:
        raise ValueError("expected REQUESTS/MILLISECONDS with both at least 1, e.g. 60/60000")
    return Rate(int(match.group(1)), int(match.group(2)))


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A server's limits; ``None`` is "no bucket of this kind". An all-``None`` limit is a
    server without limits (even when the gateway has defaults)."""

    per_user: Rate | None = None
    per_key: Rate | None = None
    total: Rate | None = None

    def rules(self) -> tuple[tuple[str, Rate], ...]:
        """(kind, rate) of every bucket kind this limit sets, widest first."""
        pairs = ((TOTAL, self.total), (PER_KEY, self.per_key), (PER_USER, self.per_user))
        return tuple((kind, rate) for kind, rate in pairs if rate is not None)


@dataclass(frozen=True, slots=True)
class Bucket:
    """``fill`` tokens left at clock reading ``at`` (seconds)."""

    fill: float
    at: float


def level(rate: Rate, bucket: Bucket | None, now: float) -> float:
    """Tokens in the bucket at ``now``: what it held plus the refill since, at most the
    capacity. No bucket is a full one. A clock reading before ``bucket.at`` adds nothing."""
    if bucket is None:
        return float(rate.requests)
    elapsed = max(0.0, now - bucket.at)
    return min(float(rate.requests), bucket.fill + elapsed * rate.per_second)


def wait(rate: Rate, tokens: float) -> float:
    """Seconds until a bucket holding ``tokens`` has one whole token (0 when it has)."""
    return 0.0 if tokens >= 1.0 else (1.0 - tokens) / rate.per_second


def take(rate: Rate, bucket: Bucket | None, now: float) -> Bucket:
    """The bucket after one call at ``now`` (the caller has checked :func:`wait` is 0)."""
    return Bucket(level(rate, bucket, now) - 1.0, now)


def is_full(rate: Rate, bucket: Bucket, now: float) -> bool:
    """True when the bucket has refilled completely: it can be forgotten."""
    return level(rate, bucket, now) >= rate.requests


def retry_after(seconds: float) -> int:
    """A ``Retry-After`` header value: whole seconds, rounded up, at least 1."""
    return max(1, math.ceil(seconds))
