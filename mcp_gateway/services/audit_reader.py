"""Reading the audit trail: who may see what, opaque cursors, pages and exports.

Scope (issue 15): an ``admin`` key reads every event; a ``service`` key only the events of its
own key (its calls, and its refused attempts); a ``user`` key only the events of its bound
username. A filter that asks for another key or username than the caller's own is a 403, never
a silently empty page, so a caller can tell "nothing happened" from "not yours".

Cursors are ``base64url(JSON position)``: opaque to callers, checked on the way in (a bad one
is a 400 ``invalid_request``), and they carry no event data.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

from mcp_gateway.domain.audit import AuditFilter, AuditPosition, AuditQuery, AuditRow
from mcp_gateway.domain.records import Role
from mcp_gateway.errors import Forbidden, InvalidRequest
from mcp_gateway.services.principal import Principal
from mcp_gateway.storage.ports import AuditStore

EXPORT_BATCH = 1000
MAX_LIMIT = 500  # one API page


def encode_cursor(position: AuditPosition) -> str:
    raw = json.dumps({"t": position.ts, "k": position.tiebreak}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> AuditPosition:
    """Raises InvalidRequest (without echoing the cursor) when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        ts, key = data["t"], data["k"]
        if not isinstance(ts, int | float) or isinstance(ts, bool) or not isinstance(key, str):
            raise ValueError
        return AuditPosition(float(ts), key)
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise InvalidRequest("invalid audit cursor") from None


def scoped(principal: Principal, wanted: AuditFilter) -> AuditFilter:
    """``wanted`` narrowed to what ``principal`` may read. Raises Forbidden."""
    if principal.role is Role.ADMIN:
        return wanted
    if principal.role is Role.SERVICE:
        if wanted.actor is not None and wanted.actor != principal.key_id:
            raise Forbidden("a service key may only read the audit of its own key")
        return replace(wanted, actor=principal.key_id)
    if wanted.username is not None and wanted.username != principal.username:
        raise Forbidden("a user key may only read the audit of its own username")
    return replace(wanted, username=principal.username or "")


@dataclass(frozen=True, slots=True)
class AuditPage:
    rows: list[AuditRow]
    next_cursor: str | None  # older events remain (newest-first pages only)
    follow_cursor: str | None  # pass as ``after`` to get what is newer than this page


class AuditReader:
    def __init__(self, store: AuditStore) -> None:
        self._store = store

    async def page(
        self,
        principal: Principal,
        wanted: AuditFilter,
        *,
        limit: int = 100,
        cursor: str | None = None,
        after: str | None = None,
    ) -> AuditPage:
        """One page: newest first (below ``cursor``), or with ``after`` the events newer than
        it, oldest first. Raises Forbidden, InvalidRequest, StoreUnavailable."""
        flt = scoped(principal, wanted)
        if cursor is not None and after is not None:
            raise InvalidRequest("give either cursor or after, not both")
        before_pos = decode_cursor(cursor) if cursor is not None else None
        after_pos = decode_cursor(after) if after is not None else None
        # One more than asked tells whether another page exists without a count.
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidRequest(f"limit must be between 1 and {MAX_LIMIT}")
        rows = await self._store.query_audit(
            AuditQuery(flt, limit=limit + 1, before=before_pos, after=after_pos)
        )
        more = len(rows) > limit
        rows = rows[:limit]
        if after_pos is not None:
            last = rows[-1].position if rows else after_pos
            return AuditPage(rows, None, encode_cursor(last))
        next_cursor = encode_cursor(rows[-1].position) if rows and more else None
        follow: str | None = None
        if rows:
            follow = encode_cursor(rows[0].position)
        elif before_pos is not None:
            follow = encode_cursor(before_pos)
        return AuditPage(rows, next_cursor, follow)

    async def export(self, principal: Principal, wanted: AuditFilter) -> AsyncIterator[AuditRow]:
        """Every matching event, newest first, read in pages of :data:`EXPORT_BATCH` (memory
        stays bounded whatever the size of the trail). Raises Forbidden first, before any row."""
        flt = scoped(principal, wanted)
        return self._export(flt)

    async def _export(self, flt: AuditFilter) -> AsyncIterator[AuditRow]:
        before: AuditPosition | None = None
        while True:
            rows = await self._store.query_audit(AuditQuery(flt, limit=EXPORT_BATCH, before=before))
            for row in rows:
                yield row
            if len(rows) < EXPORT_BATCH:
                return
            before = rows[-1].position
