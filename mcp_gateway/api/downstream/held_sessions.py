"""The stored legacy sessions this replica holds a copy of (sessions.py), and which of them
were used here since the last touch of their records (shared_sessions.py).

A session is held from its ``initialize`` here (or its resume here) until its copy here ends;
the change feed names sessions by id hash, the SDK by id: both are kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mcp_gateway.api.downstream.shared_sessions import SessionFacts, facts_of
from mcp_gateway.domain.mcp_sessions import McpSessionRecord


@dataclass(slots=True)
class HeldSession:
    """A stored session this process holds a copy of."""

    id_hash: str
    facts: SessionFacts


class HeldSessions:
    def __init__(self) -> None:
        self._held: dict[str, HeldSession] = {}  # session id -> its stored identity here
        self._by_hash: dict[str, str] = {}  # id hash -> session id
        self._used: set[str] = set()  # ids used here since the last touch

    def keep(self, session_id: str, record: McpSessionRecord) -> None:
        self._held[session_id] = HeldSession(record.id_hash, facts_of(record))
        self._by_hash[record.id_hash] = session_id

    def forget(self, session_id: str) -> None:
        """The copy here ended (the record is the store's)."""
        held = self._held.pop(session_id, None)
        if held is not None:
            self._by_hash.pop(held.id_hash, None)
        self._used.discard(session_id)

    def get(self, session_id: str) -> HeldSession | None:
        return self._held.get(session_id)

    def by_hash(self, id_hash: str) -> str | None:
        """The id of the session held here whose id hashes to ``id_hash``."""
        return self._by_hash.get(id_hash)

    def use(self, session_id: str) -> None:
        """Counts as a use of a held session (its record is touched at the next round)."""
        self._used.add(session_id)

    def take_used(self, busy: Iterable[str]) -> dict[str, str]:
        """The held sessions used since the last call, or ``busy`` now: id hash -> id."""
        used = self._used | set(busy)
        self._used = set()
        return {self._held[sid].id_hash: sid for sid in used if sid in self._held}
