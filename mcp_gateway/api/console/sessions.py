"""Console sessions: an API key exchanged for an opaque cookie, kept in this process's memory.

The browser never holds the key. A session stores the key's *hash* (what the store holds
anyway), so every request re-authenticates through
:meth:`~mcp_gateway.services.apikeys.ApiKeyService.authenticate_hash`: a revoked key ends its
sessions at once, and the role is the key's current one. Each session carries its own CSRF
token (synchronizer pattern): writes must echo it in ``X-CSRF-Token``.

Sessions end on logout, after ``MCPGW_CONSOLE_SESSION_IDLE`` seconds without a request
(default 30 minutes), or ``MCPGW_CONSOLE_SESSION_MAX_AGE`` seconds after login (default 12
hours), whichever comes first. They live in memory: a restart
logs everyone out, and behind several replicas the load balancer must be sticky for ``/ui``.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace

COOKIE = "mcpgw_session"
CSRF_HEADER = "x-csrf-token"
IDLE_TTL = 30 * 60.0
MAX_AGE = 12 * 3600.0
MAX_SESSIONS = 10_000  # the oldest are dropped beyond this (logins need a valid key anyway)


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    key_hash: str
    csrf: str
    created: float
    last_seen: float

    def csrf_matches(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented, self.csrf)


class ConsoleSessions:
    """Session id -> :class:`ConsoleSession`. ``clock`` is injectable for expiry tests."""

    def __init__(
        self,
        *,
        idle_ttl: float = IDLE_TTL,
        max_age: float = MAX_AGE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._idle_ttl = idle_ttl
        self.max_age = max_age
        self._clock = clock
        self._sessions: OrderedDict[str, ConsoleSession] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def open(self, key_hash: str) -> tuple[str, ConsoleSession]:
        """A new session for an authenticated key: (cookie value, session)."""
        now = self._clock()
        self._sweep(now)
        session_id = secrets.token_urlsafe(32)
        session = ConsoleSession(key_hash, secrets.token_urlsafe(32), now, now)
        self._sessions[session_id] = session
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)
        return session_id, session

    def _expired(self, session: ConsoleSession, now: float) -> bool:
        return now - session.last_seen > self._idle_ttl or now - session.created > self.max_age

    def _sweep(self, now: float) -> None:
        """Drop expired sessions from the least recently used end (kept in use order), so
        abandoned ones do not pile up between logins."""
        while self._sessions:
            oldest = next(iter(self._sessions.values()))
            if not self._expired(oldest, now):
                return
            self._sessions.popitem(last=False)

    def get(self, session_id: str | None) -> ConsoleSession | None:
        """The live session behind a cookie value (touching it), or None."""
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        now = self._clock()
        if self._expired(session, now):
            del self._sessions[session_id]
            return None
        session = replace(session, last_seen=now)
        self._sessions[session_id] = session
        self._sessions.move_to_end(session_id)
        return session

    def close(self, session_id: str | None) -> None:
        if session_id:
            self._sessions.pop(session_id, None)
