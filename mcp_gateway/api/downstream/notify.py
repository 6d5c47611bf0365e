"""``notifications/tools/list_changed``: to 2025-11-25 clients on their GET stream, to
2026-07-28 clients on their ``subscriptions/listen`` streams.

A client that listed tools on a legacy session is told when that list may have changed: a
server was added, removed, enabled or disabled, connected or lost, or an upstream announced
(and the pool re-listed) a new tool list. ``/mcp`` sessions hear about every server,
``/mcp/{server}`` sessions about theirs only.

Changes are found by comparing the pool's state snapshots (status and cached tool list per
server) every :data:`WATCH_INTERVAL` seconds rather than by hooks in the pool and the server
service: one reader of public state, nothing on the call path, at the price of up to a second
of delay. Sessions are forgotten when they end (the session manager no longer knows them) or
when a notification cannot be delivered.

2026-07-28 clients have no session: they open a ``subscriptions/listen`` stream (served by the
SDK's ``ListenHandler`` over a bus of that stream's own, so that a ``/mcp/{server}`` stream
hears about its server only); at most :data:`MAX_LISTENERS` at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.session import ServerSession
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ToolsListChanged
from mcp.shared.exceptions import MCPError
from mcp_types import SubscriptionsListenRequestParams, SubscriptionsListenResult, Tool

from mcp_gateway.api.downstream.caller import caller_of
from mcp_gateway.api.runtime_port import GatewayRuntime
from mcp_gateway.domain.servers import ServerStatus

logger = logging.getLogger(__name__)

WATCH_INTERVAL = 1.0  # seconds between two looks at the pool's state
MAX_LISTENERS = 1024  # open subscriptions/listen streams, all callers

_Print = tuple[ServerStatus, tuple[Tool, ...] | None]


@dataclass(frozen=True, slots=True)
class _Watcher:
    session: ServerSession
    server: str | None  # None: the aggregated endpoint


@dataclass(eq=False, slots=True)
class _Listener:
    bus: InMemorySubscriptionBus
    server: str | None


class ListChanges:
    def __init__(self, runtime: GatewayRuntime, is_live: Callable[[str], bool]) -> None:
        self._runtime = runtime
        self._is_live = is_live
        self._watchers: dict[str, _Watcher] = {}
        self._listeners: set[_Listener] = set()
        self._seen: dict[str, _Print] | None = None

    def watch(self, session_id: str, session: ServerSession, server: str | None) -> None:
        """Tell legacy session ``session_id`` (which listed tools) about later changes."""
        self._watchers[session_id] = _Watcher(session, server)

    async def listen(
        self, ctx: ServerRequestContext[Any, Any], params: SubscriptionsListenRequestParams
    ) -> SubscriptionsListenResult:
        """``subscriptions/listen`` (2026-07-28): tool list changes until the client leaves."""
        caller = caller_of(getattr(ctx.request, "scope", None))
        with self.listening(caller.server) as bus:
            return await ListenHandler(bus, max_subscriptions=1)(ctx, params)

    @contextmanager
    def listening(self, server: str | None) -> Iterator[InMemorySubscriptionBus]:
        """A bus that carries the changes of ``server`` (None: of every server) meanwhile.
        Raises MCPError beyond MAX_LISTENERS."""
        if len(self._listeners) >= MAX_LISTENERS:
            raise MCPError(types.INTERNAL_ERROR, "Subscription limit reached")
        listener = _Listener(InMemorySubscriptionBus(), server)
        self._listeners.add(listener)
        try:
            yield listener.bus
        finally:
            self._listeners.discard(listener)

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
        for listener in list(self._listeners):
            if listener.server is None or listener.server in changed:
                await listener.bus.publish(ToolsListChanged())
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
