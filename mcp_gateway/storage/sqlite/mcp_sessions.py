"""SQLite adapter for the MCP endpoint's legacy sessions (table ``mcp_sessions``, migration 7).

The key and the queried fields are columns (the owner for the per-caller count, ``last_seen``
for expiry); the negotiated facts are one JSON document. Triggers announce a delete or a
log-level change on the change feed in the writer's own transaction; ``last_seen`` updates
are not changes anyone follows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from mcp_gateway.domain.mcp_sessions import McpSessionOwner, McpSessionRecord
from mcp_gateway.storage.codec import from_json, to_json

if TYPE_CHECKING:
    from mcp_gateway.storage.sqlite.db import SqliteDatabase

_INSERT = """INSERT INTO mcp_sessions (id_hash, key_id, username, endpoint, last_seen, log_level,
    doc) VALUES (?, ?, ?, ?, ?, ?, ?)"""
_COUNT = """SELECT count(*) FROM mcp_sessions
    WHERE key_id = ? AND username = ? AND endpoint = ? AND last_seen >= ?"""
_TOUCH = "UPDATE mcp_sessions SET last_seen = max(last_seen, ?) WHERE id_hash = ?"


class SqliteMcpSessionsMixin:
    _db: SqliteDatabase

    async def create_mcp_session(self, record: McpSessionRecord) -> None:
        owner = record.owner
        row = (
            record.id_hash,
            owner.key_id,
            owner.username,
            owner.endpoint,
            record.last_seen,
            record.log_level,
            to_json(record),
        )
        await self._db.write(lambda conn: conn.execute(_INSERT, row))

    async def get_mcp_session(self, id_hash: str) -> McpSessionRecord | None:
        rows = await self._db.read(
            lambda conn: conn.execute(
                "SELECT doc, last_seen, log_level FROM mcp_sessions WHERE id_hash = ?", (id_hash,)
            ).fetchall()
        )
        if not rows:
            return None
        doc, last_seen, log_level = rows[0]
        record = from_json(McpSessionRecord, doc)
        # The columns are the current values (the document is as written at initialize).
        return replace(record, last_seen=float(last_seen), log_level=log_level)

    async def count_mcp_sessions(self, owner: McpSessionOwner, seen_since: float) -> int:
        args = (owner.key_id, owner.username, owner.endpoint, seen_since)
        rows = await self._db.read(lambda conn: conn.execute(_COUNT, args).fetchall())
        return int(rows[0][0])

    async def touch_mcp_sessions(self, id_hashes: Sequence[str], at: float) -> set[str]:
        def touch(conn: sqlite3.Connection) -> set[str]:
            return {h for h in id_hashes if conn.execute(_TOUCH, (at, h)).rowcount > 0}

        return await self._db.write(touch) if id_hashes else set()

    async def set_mcp_session_log_level(self, id_hash: str, level: str) -> bool:
        sql = "UPDATE mcp_sessions SET log_level = ? WHERE id_hash = ?"
        changed: int = await self._db.write(
            lambda conn: conn.execute(sql, (level, id_hash)).rowcount
        )
        return changed > 0

    async def delete_mcp_session(self, id_hash: str) -> bool:
        sql = "DELETE FROM mcp_sessions WHERE id_hash = ?"
        deleted: int = await self._db.write(lambda conn: conn.execute(sql, (id_hash,)).rowcount)
        return deleted > 0

    async def delete_idle_mcp_sessions(self, seen_before: float) -> int:
        sql = "DELETE FROM mcp_sessions WHERE last_seen < ?"
        deleted: int = await self._db.write(lambda conn: conn.execute(sql, (seen_before,)).rowcount)
        return deleted
