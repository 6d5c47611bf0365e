"""The rate limiter with an injected clock: which bucket refuses, Retry-After, refill,
isolation between users and keys, defaults, replicas and the memory bound."""

from __future__ import annotations

import pytest

from mcp_gateway.domain.ratelimit import Rate, RateLimit
from mcp_gateway.domain.servers import ServerConfig
from mcp_gateway.errors import RateLimited
from mcp_gateway.services.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def server(limit: RateLimit | None, name: str = "fx") -> ServerConfig:
    return ServerConfig(name=name, command="x", rate_limit=limit)


def limiter(defaults: RateLimit | None = None, **kwargs: int) -> tuple[RateLimiter, Clock]:
    clock = Clock()
    return RateLimiter(defaults, clock=clock, **kwargs), clock  # type: ignore[arg-type]


def admitted(lim: RateLimiter, srv: ServerConfig, key: str, user: str, n: int) -> int:
    count = 0
    for _ in range(n):
        try:
            lim.check(srv, key, user)
        except RateLimited:
            continue
        count += 1
    return count


def test_over_the_per_user_limit_raises_rate_limited_naming_it_with_retry_after() -> None:
    lim, _ = limiter()
    srv = server(RateLimit(per_user=Rate(2, 10_000)))
    assert admitted(lim, srv, "k1", "alice", 2) == 2
    with pytest.raises(RateLimited) as info:
        lim.check(srv, "k1", "alice")
    err = info.value
    assert (err.status, err.code, err.limit) == (429, "rate_limited", "perUser")
    assert err.headers() == {"Retry-After": "5"}  # one token of 2 per 10 s
    assert "perUser" in err.message and "'fx'" in err.message
    assert "2 requests per 10000 ms" in err.message
    assert lim.refusals() == {("fx", "perUser"): 1}


def test_the_bucket_refills_after_the_window() -> None:
    lim, clock = limiter()
    srv = server(RateLimit(per_user=Rate(2, 1000)))
    assert admitted(lim, srv, "k", "alice", 5) == 2
    clock.now += 0.5
    assert admitted(lim, srv, "k", "alice", 5) == 1
    clock.now += 1.0
    assert admitted(lim, srv, "k", "alice", 5) == 2


def test_one_user_over_the_limit_does_not_limit_another() -> None:
    lim, _ = limiter()
    srv = server(RateLimit(per_user=Rate(1, 60_000)))
    assert admitted(lim, srv, "service", "alice", 3) == 1
    assert admitted(lim, srv, "service", "bob", 3) == 1


def test_per_key_limits_each_api_key_across_its_usernames() -> None:
    lim, _ = limiter()
    srv = server(RateLimit(per_key=Rate(2, 60_000)))
    assert admitted(lim, srv, "k1", "alice", 1) + admitted(lim, srv, "k1", "bob", 3) == 2
    assert admitted(lim, srv, "k2", "carol", 3) == 2
    with pytest.raises(RateLimited) as info:
        lim.check(srv, "k1", "dave")
    assert info.value.limit == "perKey" and "this API key" in info.value.message


def test_total_limits_the_server_for_every_caller_and_other_servers_are_apart() -> None:
    lim, _ = limiter()
    srv = server(RateLimit(total=Rate(3, 60_000)))
    calls = [admitted(lim, srv, f"k{i}", f"u{i}", 1) for i in range(5)]
    assert calls == [1, 1, 1, 0, 0]
    assert admitted(lim, server(RateLimit(total=Rate(3, 60_000)), "other"), "k", "u", 1) == 1


def test_a_refused_call_takes_no_token_from_the_other_buckets() -> None:
    lim, _ = limiter()
    srv = server(RateLimit(per_user=Rate(1, 60_000), total=Rate(2, 60_000)))
    assert admitted(lim, srv, "k", "alice", 5) == 1  # alice's refusals leave total alone
    assert admitted(lim, srv, "k", "bob", 1) == 1


def test_the_limit_with_the_longest_wait_is_named() -> None:
    lim, _ = limiter()
    srv = server(RateLimit(per_user=Rate(1, 60_000), total=Rate(1, 1000)))
    lim.check(srv, "k", "alice")
    with pytest.raises(RateLimited) as info:
        lim.check(srv, "k", "alice")
    assert info.value.limit == "perUser" and info.value.retry_after == 60


def test_defaults_apply_to_servers_without_their_own_and_an_empty_limit_means_none() -> None:
    lim, _ = limiter(RateLimit(per_user=Rate(1, 60_000)))
    assert admitted(lim, server(None), "k", "alice", 3) == 1
    assert admitted(lim, server(RateLimit(), "free"), "k", "alice", 3) == 3
    own = server(RateLimit(per_user=Rate(2, 60_000)), "own")
    assert admitted(lim, own, "k", "alice", 3) == 2


def test_no_limit_keeps_no_buckets() -> None:
    lim, _ = limiter()
    assert admitted(lim, server(None), "k", "alice", 100) == 100
    assert len(lim) == 0


def test_replicas_divide_each_limit_and_the_message_says_per_replica() -> None:
    lim, _ = limiter(replicas=4)
    srv = server(RateLimit(per_user=Rate(8, 60_000)))
    assert admitted(lim, srv, "k", "alice", 10) == 2
    with pytest.raises(RateLimited, match="on this replica"):
        lim.check(srv, "k", "alice")


def test_a_flood_of_distinct_usernames_never_holds_more_than_max_buckets() -> None:
    lim, clock = limiter(max_buckets=100)
    srv = server(RateLimit(per_user=Rate(5, 60_000)))
    for i in range(10_000):
        lim.check(srv, "k", f"user-{i}")
        clock.now += 0.001
        assert len(lim) <= 100
    assert len(lim) == 100


def test_idle_buckets_are_dropped_once_refilled() -> None:
    lim, clock = limiter()
    srv = server(RateLimit(per_user=Rate(5, 1000)))
    for i in range(50):
        lim.check(srv, "k", f"user-{i}")
    assert len(lim) == 50
    clock.now += 2.0  # every bucket is full again: the same as no bucket
    for _ in range(20):  # each admitted call sweeps a few from the least recently used end
        clock.now += 0.2
        lim.check(srv, "k", "alice")
    assert len(lim) == 1


def test_a_lowered_limit_caps_the_tokens_a_bucket_holds() -> None:
    lim, _ = limiter()
    srv = server(RateLimit(per_user=Rate(10, 60_000)))
    assert admitted(lim, srv, "k", "alice", 3) == 3  # 7 tokens left
    lowered = server(RateLimit(per_user=Rate(2, 60_000)))
    assert admitted(lim, lowered, "k", "alice", 5) == 2


def test_past_the_cap_the_least_recently_used_bucket_is_dropped_and_starts_full() -> None:
    lim, _ = limiter(max_buckets=100)
    srv = server(RateLimit(per_user=Rate(1, 60_000)))
    assert admitted(lim, srv, "k", "alice", 2) == 1
    for i in range(99):
        lim.check(srv, "k", f"user-{i}")
    assert admitted(lim, srv, "k", "alice", 1) == 0  # still held: 100 buckets
    lim.check(srv, "k", "user-99")  # the 101st: alice's, the least recently used, goes
    assert admitted(lim, srv, "k", "alice", 1) == 1
