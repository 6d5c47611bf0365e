"""Reading the audit trail: filters, positions and pages (no I/O).

The trail is read newest first, ordered by ``(ts, tiebreak)`` where ``tiebreak`` is the store's
insertion key (SQLite's ``seq``, MongoDB's ``_id``). A page ends at a :class:`AuditPosition`;
the next page continues strictly below it, so events inserted meanwhile (newer, hence above)
never shift, repeat or hide what is still to be read. ``after`` reads the other way: the events
strictly above a position, oldest first (``audit --follow``).
"""

from __future__ import annotations

from dataclasses import dataclass

from mcp_gateway.domain.records import AuditEvent

MAX_PAGE = 1000


@dataclass(frozen=True, slots=True)
class AuditPosition:
    """Where an event sits in the order: its ``ts`` and the store's tiebreak (as text)."""

    ts: float
    tiebreak: str


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Every field is an exact match when set; ``since`` is inclusive, ``until`` exclusive
    (epoch seconds). ``actor`` is the API key id."""

    server: str | None = None
    tool: str | None = None
    username: str | None = None
    outcome: str | None = None
    actor: str | None = None
    since: float | None = None
    until: float | None = None


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """One page: ``before`` (newest first, below it) or ``after`` (oldest first, above it)."""

    filter: AuditFilter = AuditFilter()
    limit: int = 100
    before: AuditPosition | None = None
    after: AuditPosition | None = None

    def __post_init__(self) -> None:
        if self.before is not None and self.after is not None:
            raise ValueError("a page reads before or after a position, not both")
        if not 1 <= self.limit <= MAX_PAGE:
            raise ValueError(f"limit must be 1..{MAX_PAGE}")


@dataclass(frozen=True, slots=True)
class AuditRow:
    """An event as read back, with its position (for cursors)."""

    event: AuditEvent
    position: AuditPosition
