"""Graceful drain: what SIGTERM starts (``cli serve``) and what ``/readyz`` reports.

On SIGTERM the replica marks itself draining (``/readyz`` answers 503 ``draining`` so a load
balancer takes it out), stops listening, and gives the calls in flight up to
``MCPGW_DRAIN_TIMEOUT`` seconds to finish; the ones still running then are cancelled (the
request task is cancelled, which cancels the upstream call). Closing the runtime afterwards
releases the replica's leases (install leases, run liveness) and stops every child.
"""

from __future__ import annotations

import logging
import time

from mcp_gateway.errors import Draining

log = logging.getLogger("mcp_gateway")


class Drain:
    def __init__(self) -> None:
        self.started_at: float | None = None  # monotonic

    @property
    def draining(self) -> bool:
        return self.started_at is not None

    def begin(self, timeout: float) -> None:
        if self.started_at is None:
            self.started_at = time.monotonic()
            log.info("draining: no new connections, in-flight calls get %gs to finish", timeout)

    def check(self) -> None:
        """Raises Draining once :meth:`begin` was called."""
        if self.started_at is not None:
            raise Draining("this replica is shutting down (draining)")
