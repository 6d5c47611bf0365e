"""Admission of calls to one upstream server: fair per user, bounded per server.

A user may have ``limit`` calls in flight on a server (``maxConcurrencyPerUser``, default
``MCPGW_MAX_CONCURRENCY_PER_USER``; for a ``per_user`` server this is also the limit of that
user's own instance); all users together ``maxConcurrency``. A user at its own limit is refused
at once (503 ``upstream_busy``), so one user flooding a server cannot take every slot; a call
that finds the server full waits ``MCPGW_BUSY_WAIT`` for a slot, then is refused. Cost per call:
a dict lookup and a semaphore ``acquire_nowait``; nothing is queued or spawned per call.
"""

from __future__ import annotations

import anyio

from mcp_gateway.errors import UpstreamBusy


class Admission:
    """Per-user in-flight counts and the server-wide semaphore of one server."""

    __slots__ = ("slots", "_calls")

    def __init__(self, max_concurrency: int) -> None:
        self.slots = anyio.Semaphore(max_concurrency)
        self._calls: dict[str, int] = {}

    def enter_user(self, server: str, username: str, limit: int) -> None:
        """Count one more call of ``username``; raises UpstreamBusy at ``limit``."""
        mine = self._calls.get(username, 0)
        if mine >= limit:
            raise UpstreamBusy(
                f"too many calls in flight for this user on server {server!r} "
                f"(limit {limit} per user)",
                retry_after=1,
            )
        self._calls[username] = mine + 1

    def leave_user(self, username: str) -> None:
        left = self._calls[username] - 1
        if left:
            self._calls[username] = left
        else:
            del self._calls[username]  # the map only holds users with calls in flight

    async def acquire_slot(self, server: str, busy_wait: float) -> anyio.Semaphore:
        """A server-wide slot (release it on the returned semaphore: ``slots`` may be replaced
        meanwhile). Raises UpstreamBusy after ``busy_wait`` seconds without one."""
        slots = self.slots
        try:
            slots.acquire_nowait()
        except anyio.WouldBlock:
            with anyio.move_on_after(busy_wait):
                await slots.acquire()
                return slots
            raise UpstreamBusy(
                f"server {server!r} has too many calls in flight", retry_after=1
            ) from None
        return slots
