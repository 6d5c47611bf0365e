"""SQLite fenced leases (``LeaseStore``): rows of the ``leases`` table with a ``token`` that
grows by one with every new holder of a key. A released lease keeps its row (expired), so the
token never goes back."""

from __future__ import annotations

import sqlite3
import time

from mcp_gateway.storage.sqlite.db import SqliteDatabase

# A new holder takes a free or expired key; RETURNING yields the token only when it did.
_ACQUIRE = """INSERT INTO leases (key, holder, expires_at, token) VALUES (?, ?, ?, 1)
    ON CONFLICT (key) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at,
        token = leases.token + 1
    WHERE leases.expires_at <= ?
    RETURNING token"""


class SqliteLeasesMixin:
    _db: SqliteDatabase

    async def acquire_fenced_lease(self, key: str, holder: str, ttl: float) -> int | None:
        def take(conn: sqlite3.Connection) -> int | None:
            now = time.time()  # wall clock: leases are shared across processes
            rows = conn.execute(_ACQUIRE, (key, holder, now + ttl, now)).fetchall()
            return int(rows[0][0]) if rows else None

        return await self._db.write(take)

    async def renew_fenced_lease(self, key: str, holder: str, token: int, ttl: float) -> bool:
        def renew(conn: sqlite3.Connection) -> bool:
            now = time.time()
            cursor = conn.execute(
                "UPDATE leases SET expires_at = ? "
                "WHERE key = ? AND holder = ? AND token = ? AND expires_at > ?",
                (now + ttl, key, holder, token, now),
            )
            return cursor.rowcount == 1

        return await self._db.write(renew)

    async def release_fenced_lease(self, key: str, holder: str, token: int) -> None:
        await self._db.write(
            lambda conn: conn.execute(
                "UPDATE leases SET expires_at = 0 WHERE key = ? AND holder = ? AND token = ?",
                (key, holder, token),
            )
        )
