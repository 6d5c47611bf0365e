"""Counting per-user upstream sessions (instances) as they start and end, for metrics."""

from __future__ import annotations

from collections.abc import Callable

from mcp_gateway.domain.servers import SHARED_SCOPE
from mcp_gateway.upstream.supervisor import Supervisor

#: ``observe(server, delta)``: +1 when a per-user session starts, -1 when it has ended.
InstanceObserver = Callable[[str, int], None]


async def run_observed(sup: Supervisor, observe: InstanceObserver | None) -> None:
    """``sup.run()``, reported to ``observe`` when it is a per-user session."""
    if observe is None or sup.scope == SHARED_SCOPE:
        await sup.run()
        return
    name = sup.server.name
    observe(name, 1)
    try:
        await sup.run()
    finally:
        observe(name, -1)
