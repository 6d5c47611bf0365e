"""SQLite adapter for the audit port: batched appends, filtered pages, bounded pruning.

Filters match the virtual columns of migration 2 (``actor``, ``username``, ``server``,
``tool``, ``outcome``, computed from the JSON document); positions compare ``(ts, seq)`` as a
row value, which SQLite turns into an index range on ``(<filter>, ts DESC, seq DESC)``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from mcp_gateway.domain.audit import AuditPosition, AuditQuery, AuditRow
from mcp_gateway.domain.records import AuditEvent
from mcp_gateway.errors import InvalidRequest
from mcp_gateway.storage.audit_codec import event_from_json
from mcp_gateway.storage.codec import to_json
from mcp_gateway.storage.sqlite.db import SqliteDatabase

_FILTER_COLUMNS = ("server", "tool", "username", "outcome", "actor")


def _seq(position: AuditPosition) -> int:
    try:
        seq = int(position.tiebreak)
    except ValueError:
        seq = -1
    if not 0 <= seq < 2**63:  # an INTEGER rowid; a larger int would not even bind
        raise InvalidRequest("invalid audit cursor (not from this store)")
    return seq


def _select(query: AuditQuery) -> tuple[str, list[object]]:
    where: list[str] = []
    params: list[object] = []
    flt = query.filter
    for column in _FILTER_COLUMNS:
        value = getattr(flt, column)
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if flt.since is not None:
        where.append("ts >= ?")
        params.append(flt.since)
    if flt.until is not None:
        where.append("ts < ?")
        params.append(flt.until)
    order = "DESC"
    if query.before is not None:
        where.append("(ts, seq) < (?, ?)")
        params += [query.before.ts, _seq(query.before)]
    elif query.after is not None:
        where.append("(ts, seq) > (?, ?)")
        params += [query.after.ts, _seq(query.after)]
        order = "ASC"
    sql = "SELECT seq, ts, doc FROM audit"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY ts {order}, seq {order} LIMIT ?"
    params.append(query.limit)
    return sql, params


class SqliteAuditMixin:
    _db: SqliteDatabase

    async def append_audits(self, events: Sequence[AuditEvent]) -> None:
        rows = [(event.ts, to_json(event)) for event in events]
        if rows:
            await self._db.write(
                lambda conn: conn.executemany("INSERT INTO audit (ts, doc) VALUES (?, ?)", rows)
            )

    async def list_audit(self, limit: int = 100) -> list[AuditEvent]:
        sql = "SELECT doc FROM audit ORDER BY ts DESC, seq DESC LIMIT ?"
        rows = await self._db.read(lambda conn: conn.execute(sql, (max(0, limit),)).fetchall())
        return [event_from_json(row[0]) for row in rows]

    async def query_audit(self, query: AuditQuery) -> list[AuditRow]:
        sql, params = _select(query)
        rows = await self._db.read(lambda conn: conn.execute(sql, params).fetchall())
        return [
            AuditRow(event_from_json(doc), AuditPosition(float(ts), str(seq)))
            for seq, ts, doc in rows
        ]

    async def prune_audit(self, before: float, keep: int, limit: int) -> int:
        def prune(conn: sqlite3.Connection) -> int:
            deleted = 0
            if before > 0:
                deleted += conn.execute(_PRUNE_OLDER, (before, limit)).rowcount
            if keep > 0 and deleted < limit:
                cut = conn.execute(_NEWEST_BEYOND, (keep,)).fetchone()
                if cut is not None:
                    params = (cut[0], cut[0], cut[1], limit - deleted)
                    deleted += conn.execute(_PRUNE_UP_TO, params).rowcount
            return deleted

        return await self._db.write(prune)


# Oldest first, by the (ts, seq) index; each statement deletes at most ``limit`` rows.
_PRUNE_OLDER = (
    "DELETE FROM audit WHERE seq IN (SELECT seq FROM audit WHERE ts < ? ORDER BY ts, seq LIMIT ?)"
)
_NEWEST_BEYOND = "SELECT ts, seq FROM audit ORDER BY ts DESC, seq DESC LIMIT 1 OFFSET ?"
_PRUNE_UP_TO = (
    "DELETE FROM audit WHERE seq IN (SELECT seq FROM audit WHERE ts < ? OR (ts = ? AND seq <= ?)"
    " ORDER BY ts, seq LIMIT ?)"
)
