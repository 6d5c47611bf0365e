"""The restart policy (domain/restart.py): pure decisions from failure counts and uptime."""

from __future__ import annotations

from mcp_gateway.domain.restart import after_failure
from mcp_gateway.domain.servers import ReconnectionOptions

OPTIONS = ReconnectionOptions(initial_delay=0.5, max_delay=4.0, healthy_reset=60.0)


def test_delays_double_up_to_max_delay_then_the_default_policy_gives_up() -> None:
    failures, delays = 0, []
    while True:
        decision = after_failure(OPTIONS, failures, uptime=None)
        failures = decision.failures
        if decision.gives_up:
            break
        delays.append(decision.delay)
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0]  # maxRetries defaults to 5 restarts
    assert failures == 6


def test_a_connection_that_stayed_up_healthy_reset_starts_the_count_afresh() -> None:
    decision = after_failure(OPTIONS, failures=4, uptime=61.0)
    assert decision.failures == 1 and decision.delay == 0.5 and decision.crashed_once


def test_a_short_lived_connection_keeps_counting_and_is_not_a_single_crash() -> None:
    decision = after_failure(OPTIONS, failures=2, uptime=1.0)
    assert decision.failures == 3 and decision.delay == 2.0 and not decision.crashed_once


def test_first_crash_of_a_connection_reads_crashed_once_but_a_failed_connect_does_not() -> None:
    assert after_failure(OPTIONS, 0, uptime=0.1).crashed_once
    assert not after_failure(OPTIONS, 0, uptime=None).crashed_once


def test_max_retries_none_retries_forever_and_disabled_never_restarts() -> None:
    forever = ReconnectionOptions(max_retries=None, max_delay=30.0)
    assert after_failure(forever, 10_000, None).delay == 30.0
    assert after_failure(ReconnectionOptions(enabled=False), 0, None).gives_up
    assert after_failure(ReconnectionOptions(max_retries=0), 0, None).gives_up


def test_a_connection_that_died_during_a_call_never_counts_toward_giving_up() -> None:
    decision = after_failure(OPTIONS, failures=10, uptime=0.1, during_call=True)
    assert decision.failures == 1 and decision.crashed_once and not decision.gives_up
    # A connect attempt that failed still counts, call or not.
    assert after_failure(OPTIONS, 10, uptime=None, during_call=True).gives_up
