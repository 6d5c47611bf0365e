"""What the pool reports about one upstream server (``GET /mcp/servers``, ``/healthz``)."""

from __future__ import annotations

from dataclasses import dataclass

from mcp_types import Tool

from mcp_gateway.domain.servers import ServerStatus


@dataclass(frozen=True, slots=True)
class ServerState:
    """A snapshot; ``uptime`` and ``next_restart_at`` are seconds / a wall-clock epoch time.

    ``logs`` are the last stderr lines of the (shared) child. ``tools`` is the cached tool list
    of the shared session, or ``None`` before the first successful listing. ``instances`` is the
    number of live sessions (1 for a connected shared server, the per-user count otherwise).
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
