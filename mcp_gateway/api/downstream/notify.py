"""``notifications/tools/list_changed`` to 2025-11-25 clients, on their GET stream.

A client that listed tools on a legacy session is told when that list may have changed: a
server was added, removed, enabled or disabled, connected or lost, or an upstream announced
(and the pool re-listed) a new tool list. ``/mcp`` sessions hear about every server,
``/mcp/{server}`` sessions about theirs only.

Changes are found by comparing the pool's state snapshots (status and cached tool list per
server) every :data:`WATCH_INTERVAL` seconds rather than by hooks in the pool and the server
service: one reader of public state, nothing on the call path, at the price of up to a second
of delay. Sessions are forgotten when they end (the session manager no longer knows them) or
when a notification cannot be delivered.

2026-07-28 clients have no session to notify; ``subscriptions/listen`` is not served yet.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import anyio
from mcp.server.session import ServerSession
from mcp_types import Tool

from mcp_gateway.api.runtime_port import GatewayRuntime
from mcp_gateway.domain.servers import ServerStatus

logger = logging.getLogger(__name__)

WATCH_INTERVAL = 1.0  # seconds between two looks at the pool's state

_Print = tuple[ServerStatus, tuple[Tool, ...] | None]


@dataclass(frozen=True, slots=True)
class _Watcher:
    session: ServerSession
    server: str | None  # None: the aggregated endpoint


class ListChanges:
    def __init__(self, runtime: GatewayRuntime, is_live: Callable[[str], bool]) -> None:
        self._runtime = runtime
        self._is_live = is_live
        self._watchers: dict[str, _Watcher] = {}
        self._seen: dict[str, _Print] | None = None

    def watch(self, session_id: str, session: ServerSession, server: str | None) -> None:
        """Tell legacy session ``session_id`` (which listed tools) about later changes."""
        self._watchers[session_id] = _Watcher(session, server)

    async def run(self) -> None:
        """Watch until cancelled (the endpoint's lifespan)."""
        while True:
            await anyio.sleep(WATCH_INTERVAL)
            changed = self.changed_servers()
            if changed:
                await self.notify(changed)

    def changed_servers(self) -> set[str]:
        """The servers whose state differs from the last look (none on the first look)."""
        if not self._runtime.is_open:
            return set()
        now = {name: (s.status, s.tools) for name, s in self._runtime.pool.statuses().items()}
        before, self._seen = self._seen, now
        if before is None:
            return set()
        changed = set(before) ^ set(now)
        for name in set(before) & set(now):
            (status, tools), (was, had) = now[name], before[name]
            if status is not was or not (tools is had or tools == had):
                changed.add(name)
        return changed

    async def notify(self, changed: set[str]) -> None:
        for session_id, watcher in list(self._watchers.items()):
            if not self._is_live(session_id):
                del self._watchers[session_id]
                continue
            if watcher.server is not None and watcher.server not in changed:
                continue
            try:
                await watcher.session.send_tool_list_changed()
            except Exception:  # noqa: BLE001 (a client gone meanwhile: forget it)
                logger.debug("could not notify an MCP session of a tool list change")
                self._watchers.pop(session_id, None)
