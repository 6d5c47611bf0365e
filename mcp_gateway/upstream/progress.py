"""Progress notifications of a tool call, for whoever runs the call in the background.

A caller that wants the upstream's ``notifications/progress`` for its calls sets
:data:`CALL_PROGRESS` in its task (``services/runs.py`` does, for a run); the pool then asks
the upstream for progress (a ``progressToken``) and hands each notification over with its
message masked by the session's masker, as everything else the upstream reports. Calls made
without it (every synchronous call) send no token and pay nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar

from mcp.shared.dispatcher import ProgressFnT

from mcp_gateway.domain.redaction import Masker

# (progress, total, masked message)
ProgressSink = Callable[[float, float | None, str | None], Awaitable[None]]

CALL_PROGRESS: ContextVar[ProgressSink | None] = ContextVar("mcpgw_call_progress", default=None)


def masked_progress(masker: Callable[[], Masker]) -> ProgressFnT | None:
    """The SDK progress callback for this task's sink, or None when nobody listens."""
    sink = CALL_PROGRESS.get()
    if sink is None:
        return None

    async def report(progress: float, total: float | None, message: str | None) -> None:
        await sink(progress, total, masker().mask(message) if message else message)

    return report
