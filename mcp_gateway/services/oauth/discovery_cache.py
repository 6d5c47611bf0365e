"""Per-process cache of authorization-server discovery, successes and failures.

A success is kept while the server's discovery inputs (its URL, configured resource-metadata
URL and resource) stay the same: editing the server's URL forgets it. A failure is kept for
:data:`NEGATIVE_TTL` seconds, so a broken or hostile server is not fetched again by every tool
call that needs a login URL (each of which would otherwise pay the whole discovery, up to
several bounded fetches, again). One discovery per server runs at a time; callers queue.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

import anyio

from mcp_gateway.errors import GatewayError
from mcp_gateway.services.oauth.discovery import AuthServerMetadata

NEGATIVE_TTL = 30.0  # seconds a failed discovery is answered from memory


@dataclass(frozen=True, slots=True)
class _Entry:
    inputs: Hashable
    metadata: AuthServerMetadata | None
    failure: GatewayError | None = None
    until: float = float("inf")


class DiscoveryCache:
    def __init__(
        self, negative_ttl: float = NEGATIVE_TTL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._negative_ttl = negative_ttl
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, anyio.Lock] = {}

    async def get(
        self,
        server: str,
        inputs: Hashable,
        discover: Callable[[], Awaitable[AuthServerMetadata]],
    ) -> AuthServerMetadata:
        """The metadata for ``server`` discovered from ``inputs``: cached, or found now.

        Raises what ``discover`` raised (a GatewayError), also from the cache while a failure
        is remembered (its message then says so).
        """
        async with self._locks.setdefault(server, anyio.Lock()):
            entry = self._entries.get(server)
            if entry is not None and entry.inputs == inputs and self._clock() < entry.until:
                if entry.metadata is not None:
                    return entry.metadata
                raise self._remembered(entry)
            try:
                found = await discover()
            except GatewayError as exc:
                until = self._clock() + self._negative_ttl
                self._entries[server] = _Entry(inputs, None, exc, until)
                raise
            self._entries[server] = _Entry(inputs, found)
            return found

    def _remembered(self, entry: _Entry) -> GatewayError:
        assert entry.failure is not None
        left = max(entry.until - self._clock(), 0.0)
        failure = copy.copy(entry.failure)
        failure.message = f"{entry.failure.message} (failed recently; retried in {left:.0f} s)"
        failure.args = (failure.message,)
        return failure
