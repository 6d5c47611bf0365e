"""Toolsets: the one writer of the toolset records, and the reader the MCP endpoint uses.

Every change (put, delete) goes through :class:`ToolsetService`, which validates the whole
toolset before its one store write (never a partial write) and then tells its ``observers``
the toolset's name: the hook where a change feed (replicas following each other) or a
``list_changed`` notification attaches.

Reads are not cached: ``/mcp/toolsets/{name}`` reads its toolset on each list or call (one
indexed read), so a change made through any replica is seen by every replica at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace

from mcp_gateway.domain.toolsets import (
    MAX_TOOLSET_NAME,
    Toolset,
    validate_toolset,
    validate_toolset_name,
)
from mcp_gateway.errors import InvalidRequest, ToolsetNotFound
from mcp_gateway.storage.ports import ToolsetStore

log = logging.getLogger("mcp_gateway.toolsets")

ToolsetObserver = Callable[[str], None]
"""Called with a toolset's name after it was created, replaced or deleted."""


class ToolsetService:
    def __init__(self, store: ToolsetStore, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        self.observers: list[ToolsetObserver] = []

    async def list(self) -> list[Toolset]:
        """Every toolset, ordered by name."""
        return await self._store.list_toolsets()

    async def get(self, name: str) -> Toolset:
        """Raises ToolsetNotFound (at once, without a store read, for a name no toolset can
        have: the MCP endpoint takes any path segment)."""
        try:
            validate_toolset_name(name)
        except InvalidRequest:
            raise ToolsetNotFound(name[:MAX_TOOLSET_NAME]) from None
        found = await self._store.get_toolset(name)
        if found is None:
            raise ToolsetNotFound(name)
        return found

    async def put(self, toolset: Toolset) -> tuple[Toolset, bool]:
        """Create or replace ``toolset`` (by name); returns the stored record and whether it
        was created. Raises InvalidRequest naming the first problem (nothing is written)."""
        validate_toolset(toolset)
        existing = await self._store.get_toolset(toolset.name)
        now = self._clock()
        stored = replace(
            toolset,
            created_at=existing.created_at if existing is not None else now,
            updated_at=now,
        )
        await self._store.put_toolset(stored)
        self._changed(stored.name)
        return stored, existing is None

    async def delete(self, name: str) -> bool:
        """Remove the toolset; False when there was none (idempotent). Raises InvalidRequest
        for a name no toolset can have."""
        validate_toolset_name(name)
        deleted = await self._store.delete_toolset(name)
        if deleted:
            self._changed(name)
        return deleted

    def _changed(self, name: str) -> None:
        for observer in self.observers:
            try:
                observer(name)
            except Exception:  # an observer's fault must not fail the write that succeeded
                log.exception("toolset observer failed")
