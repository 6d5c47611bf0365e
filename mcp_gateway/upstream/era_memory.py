"""How long the pool believes an upstream that refused the 2026-07-28 era.

A 2026-07-28 caller's request takes a 2026-07-28 session of its server (upstream/eras.py),
started with ``server/discover``. An upstream that answers that with an error (a JSON-RPC
error, an HTTP 400 or 404: :func:`~mcp_gateway.upstream.eras.refuses_modern`) is remembered
as legacy-only, so that later callers are served on its primary session without a probe per
request. But an upstream that is restarting, or a proxy in front of it meanwhile, gives the
same answers; so the memory expires: a first refusal is believed for
:data:`RECHECK_FIRST` seconds, each further one in a row twice as long as the last, at most
:data:`RECHECK_MAX`. After that the next 2026-07-28 request probes again (it waits for that
``server/discover``, as a first request does; concurrent ones share the probe). An upstream
that answers it resets the back-off. A changed definition starts from nothing (a new entry).
"""

from __future__ import annotations

from dataclasses import dataclass

RECHECK_FIRST = 60.0  # seconds: a restart is usually over by then
RECHECK_MAX = 3600.0  # a server that really is legacy-only costs one refused probe an hour
_MAX_DOUBLINGS = 6  # 60 s * 2**6 > RECHECK_MAX


@dataclass(eq=False, slots=True)
class EraMemory:
    """One server's remembered refusals of 2026-07-28 (``now``: a monotonic clock)."""

    refusals: int = 0  # in a row, since it last spoke 2026-07-28
    until: float = 0.0  # believed legacy-only until then

    def legacy_only(self, now: float) -> bool:
        return now < self.until

    def refused(self, now: float) -> float:
        """Remember one more refusal; for how many seconds it is believed."""
        self.refusals += 1
        delay = min(RECHECK_FIRST * (1 << min(self.refusals - 1, _MAX_DOUBLINGS)), RECHECK_MAX)
        self.until = now + delay
        return delay

    def spoke(self) -> None:
        """The upstream answered ``server/discover``: forget its refusals."""
        self.refusals = 0
        self.until = 0.0
