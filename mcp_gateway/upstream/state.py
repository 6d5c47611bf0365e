"""What the pool reports about one upstream server (``GET /mcp/servers``, ``/healthz``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mcp_types import Tool

from mcp_gateway.domain.servers import ServerStatus

if TYPE_CHECKING:
    from mcp_gateway.upstream.live import LiveSession
    from mcp_gateway.upstream.supervisor import Supervisor


@dataclass(frozen=True, slots=True)
class ServerState:
    """A snapshot; ``uptime`` and ``next_restart_at`` are seconds / a wall-clock epoch time.

    ``logs`` are the last stderr lines of the (shared) child. ``tools`` is the cached tool list
    of the shared session, or ``None`` before the first successful listing. ``instances`` is the
    number of live sessions (1 for a connected shared server, the per-user count otherwise);
    ``in_flight`` the calls admitted and not finished, across them. ``logs`` and
    ``last_error`` have the session's secrets masked; ``error_kind`` is ``last_error`` in the
    gateway's own words (no upstream text), for readers who may not see upstream output.
    ``tool_names`` are the names some session of the server listed (for a per-user server,
    where ``tools`` stays ``None``, any user's): metric labels only, never shown to users.
    """

    status: ServerStatus
    pid: int | None = None
    restarts: int = 0
    uptime: float | None = None
    last_error: str | None = None
    logs: tuple[str, ...] = ()
    tools: tuple[Tool, ...] | None = None
    next_restart_at: float | None = None
    instances: int = 0
    protocol_version: str | None = None
    in_flight: int = 0
    error_kind: str | None = None
    tool_names: tuple[str, ...] | None = None


def shared_state(sup: Supervisor) -> ServerState:
    live: LiveSession | None = sup.live
    connected = live is not None and sup.status is ServerStatus.CONNECTED
    return ServerState(
        status=sup.status,
        pid=live.pid if live is not None else None,
        restarts=sup.restarts,
        uptime=time.monotonic() - live.started_at if live is not None and connected else None,
        last_error=sup.mask(sup.last_error) if sup.last_error else None,
        error_kind=sup.error_kind,
        logs=sup.masked_logs(),
        tools=live.tools if live is not None else None,
        next_restart_at=sup.next_restart_at,
        instances=1 if connected else 0,
        protocol_version=live.protocol_version if live is not None else None,
        in_flight=sup.in_flight,
    )


def per_user_state(sups: list[Supervisor]) -> ServerState:
    """Aggregate; no logs or errors (they could carry one user's data to another reader)."""
    statuses = [s.status for s in sups]
    connected = statuses.count(ServerStatus.CONNECTED)
    if connected:
        status = ServerStatus.CONNECTED
    elif ServerStatus.CONNECTING in statuses:
        status = ServerStatus.CONNECTING
    elif sups and all(s is ServerStatus.ERROR for s in statuses):
        status = ServerStatus.ERROR
    else:
        status = ServerStatus.DISCONNECTED  # no user session open: started on first use
    failing = f"{len(sups)} per-user sessions failing" if status is ServerStatus.ERROR else None
    listed = next((s.live.tools for s in sups if s.live and s.live.tools is not None), None)
    return ServerState(
        status=status,
        restarts=sum(s.restarts for s in sups),
        instances=connected,
        in_flight=sum(s.in_flight for s in sups),
        last_error=failing,
        error_kind=failing,
        tool_names=tuple(tool.name for tool in listed) if listed is not None else None,
    )
