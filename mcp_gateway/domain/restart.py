"""The restart policy of an upstream session, as a pure function of what happened.

After a failure (a connect attempt that failed, or a connection that ended) the owner asks
:func:`after_failure`. ``failures`` counts consecutive failures: a connection that stayed up
``healthy_reset`` seconds starts the count afresh, and so does one that died while serving a
call (its caller may have killed it on purpose: with a count, any user able to crash a shared
server a few times in a row could switch it off for everyone). The next attempt waits
``initial_delay * grow_factor**(failures - 1)`` (factor 2 by default) capped at ``max_delay``;
after ``max_retries`` restarts (default 5) the policy gives up and the server reads ``error``
until an operator enables or updates it. ``max_retries: None`` retries forever.
"""

from __future__ import annotations

from dataclasses import dataclass

from mcp_gateway.domain.servers import ReconnectionOptions


@dataclass(frozen=True, slots=True)
class RestartDecision:
    """``delay`` seconds before the next attempt, or None: give up (status ``error``).

    ``crashed_once`` marks the first failure of a connection that had been up: the server reads
    ``disconnected`` while the restart is pending, not ``error`` (that is for a crash loop).
    """

    failures: int
    delay: float | None
    crashed_once: bool = False

    @property
    def gives_up(self) -> bool:
        return self.delay is None


def after_failure(
    options: ReconnectionOptions,
    failures: int,
    uptime: float | None,
    *,
    during_call: bool = False,
) -> RestartDecision:
    """The decision after one more failure.

    ``failures``: consecutive failures before this one; ``uptime``: seconds the connection that
    just ended had been up, or None when the connect attempt itself failed; ``during_call``:
    that connection died while a call was in flight.
    """
    healthy = uptime is not None and (during_call or uptime >= options.healthy_reset)
    count = 1 if healthy else failures + 1
    crashed_once = uptime is not None and count == 1
    if not options.enabled or (options.max_retries is not None and count > options.max_retries):
        return RestartDecision(count, None, crashed_once)
    # The exponent is bounded: 2**1024 overflows a float after ~1000 failures (retry forever).
    growth = options.grow_factor ** min(count - 1, 60)
    delay = min(options.initial_delay * growth, options.max_delay)
    return RestartDecision(count, delay, crashed_once)
