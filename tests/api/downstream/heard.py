"""What an MCP client heard: notifications recorded by its message handler (2025-11-25) or
from a listen stream (2026-07-28), and a way to wait for them without sleeping."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable

import anyio
from mcp.client.session import IncomingMessage
from mcp.shared.subscriptions import (
    PromptsListChanged,
    ResourcesListChanged,
    ResourceUpdated,
    ServerEvent,
    ToolsListChanged,
)

TOOLS = "notifications/tools/list_changed"
RESOURCES = "notifications/resources/list_changed"
PROMPTS = "notifications/prompts/list_changed"
UPDATED = "notifications/resources/updated"
_METHODS: dict[type, str] = {
    ToolsListChanged: TOOLS,
    ResourcesListChanged: RESOURCES,
    PromptsListChanged: PROMPTS,
}


class Heard:
    """What one client heard: notification methods counted, updated URIs listed."""

    def __init__(self) -> None:
        self.count: Counter[str] = Counter()
        self.updated: list[str] = []
        self._news = anyio.Event()

    def add(self, method: str, uri: str | None = None) -> None:
        self.count[method] += 1
        if uri is not None:
            self.updated.append(uri)
        news, self._news = self._news, anyio.Event()
        news.set()

    async def __call__(self, message: IncomingMessage) -> None:  # a legacy message handler
        method = getattr(message, "method", None)
        if isinstance(method, str) and method.startswith("notifications/"):
            params = getattr(message, "params", None)
            self.add(method, getattr(params, "uri", None) if method == UPDATED else None)

    def event(self, event: ServerEvent) -> None:  # a 2026-07-28 listen stream's
        if isinstance(event, ResourceUpdated):
            self.add(UPDATED, event.uri)
        else:
            self.add(_METHODS[type(event)])

    async def wait(self, done: Callable[[], bool]) -> None:
        with anyio.fail_after(30):
            while not done():
                await self._news.wait()

    async def until(self, done: Callable[[], bool], poke: Callable[[], Awaitable[object]]) -> None:
        """Poke (make the change) until ``done``: a legacy client opens its GET stream in the
        background, and a notification sent before it is up is lost (nothing replays it)."""
        with anyio.fail_after(60):
            while not done():
                await poke()
                with anyio.move_on_after(5):
                    while not done():
                        await self._news.wait()
