"""Token-bucket arithmetic: bursts, refill over the window, waits and Retry-After rounding."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

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

RATE = Rate(requests=3, per_ms=3000)  # a burst of 3, then one per second


def test_a_new_bucket_allows_a_burst_of_requests_then_waits_for_the_refill() -> None:
    bucket = None
    for _ in range(3):
        assert wait(RATE, level(RATE, bucket, 10.0)) == 0
        bucket = take(RATE, bucket, 10.0)
    assert level(RATE, bucket, 10.0) == 0
    assert wait(RATE, level(RATE, bucket, 10.0)) == 1.0
    assert wait(RATE, level(RATE, bucket, 10.25)) == 0.75
    assert wait(RATE, level(RATE, bucket, 11.0)) == 0


def test_the_bucket_refills_to_capacity_after_the_window_and_no_further() -> None:
    empty = Bucket(fill=0.0, at=5.0)
    assert level(RATE, empty, 8.0) == 3.0
    assert level(RATE, empty, 1000.0) == 3.0
    assert is_full(RATE, empty, 8.0) and not is_full(RATE, empty, 7.9)


def test_a_clock_reading_before_the_bucket_adds_no_tokens() -> None:
    assert level(RATE, Bucket(fill=0.5, at=5.0), 4.0) == 0.5


def test_retry_after_is_whole_seconds_rounded_up_and_at_least_one() -> None:
    assert [retry_after(s) for s in (0.0, 0.001, 1.0, 1.01, 59.5)] == [1, 1, 1, 2, 60]


def test_rules_list_only_the_kinds_set_widest_first() -> None:
    limit = RateLimit(per_user=Rate(1, 1), total=Rate(2, 2))
    assert limit.rules() == ((TOTAL, Rate(2, 2)), (PER_USER, Rate(1, 1)))
    assert RateLimit(per_key=Rate(1, 1)).rules() == ((PER_KEY, Rate(1, 1)),)
    assert RateLimit().rules() == ()


def test_dividing_by_replicas_rounds_down_but_keeps_at_least_one_request() -> None:
    assert Rate(60, 1000).divided(1) == Rate(60, 1000)
    assert Rate(60, 1000).divided(4) == Rate(15, 1000)
    assert Rate(10, 1000).divided(3) == Rate(3, 1000)
    assert Rate(2, 1000).divided(5) == Rate(1, 1000)


@given(
    requests=st.integers(1, 1000),
    per_ms=st.integers(1, 10**7),
    gaps=st.lists(st.floats(0, 100, allow_nan=False), max_size=50),
)
def test_calls_admitted_never_exceed_the_burst_plus_the_refill(
    requests: int, per_ms: int, gaps: list[float]
) -> None:
    rate = Rate(requests, per_ms)
    now, bucket, admitted = 0.0, None, 0
    for gap in gaps:
        now += gap
        if wait(rate, level(rate, bucket, now)) == 0:
            bucket = take(rate, bucket, now)
            admitted += 1
    assert admitted <= requests + now * rate.per_second + 1e-6
