"""SQLite adapter for the runs port (table ``runs``, schema migration 2)."""

from __future__ import annotations

import json
import sqlite3

from mcp_gateway.domain.runs import RunError, RunQuery, RunRecord, RunStatus
from mcp_gateway.errors import Conflict
from mcp_gateway.storage.codec import from_json, to_doc, to_json
from mcp_gateway.storage.sqlite.db import SqliteDatabase

_ACTIVE = "('pending', 'running')"
_COLUMNS = "created_at, key_id, username, server, status, replica, finished_at, doc"


def _row(run: RunRecord) -> tuple[object, ...]:
    return (
        run.created_at,
        run.key_id,
        run.username,
        run.server,
        run.status.value,
        run.replica,
        run.finished_at,
        to_json(run),
    )


class SqliteRunsMixin:
    _db: SqliteDatabase

    async def create_run(self, run: RunRecord) -> None:
        def insert(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    f"INSERT INTO runs (id, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (run.id, *_row(run)),
                )
            except sqlite3.IntegrityError as exc:
                raise Conflict(f"run {run.id!r} already exists") from exc

        await self._db.write(insert)

    async def get_run(self, run_id: str) -> RunRecord | None:
        sql = "SELECT doc FROM runs WHERE id = ?"
        rows = await self._db.read(lambda conn: conn.execute(sql, (run_id,)).fetchall())
        return from_json(RunRecord, rows[0][0]) if rows else None

    async def update_run(self, run: RunRecord) -> bool:
        sql = (
            "UPDATE runs SET created_at = ?, key_id = ?, username = ?, server = ?, status = ?, "
            f"replica = ?, finished_at = ?, doc = ? WHERE id = ? AND status IN {_ACTIVE} "
            "AND json_extract(doc, '$.seq') = ?"
        )
        params = (*_row(run), run.id, run.seq - 1)
        return await self._db.write(lambda conn: conn.execute(sql, params).rowcount) > 0

    async def list_runs(self, query: RunQuery) -> list[RunRecord]:
        where: list[str] = []
        params: list[object] = []
        scope = query.scope
        for column, value in (
            ("key_id", scope.key_id),
            ("username", scope.username),
            ("status", query.status.value if query.status else None),
            ("server", query.server),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if query.before is not None:
            where.append("(created_at < ? OR (created_at = ? AND id < ?))")
            params.extend((query.before[0], query.before[0], query.before[1]))
        sql = "SELECT doc FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, id DESC LIMIT ?"
        params.append(max(0, query.limit))
        rows = await self._db.read(lambda conn: conn.execute(sql, params).fetchall())
        return [from_json(RunRecord, row[0]) for row in rows]

    async def count_active_runs(self, key_id: str, username: str) -> int:
        sql = f"SELECT COUNT(*) FROM runs WHERE key_id = ? AND username = ? AND status IN {_ACTIVE}"
        rows = await self._db.read(lambda conn: conn.execute(sql, (key_id, username)).fetchall())
        return int(rows[0][0])

    async def interrupt_runs(self, replica: str, error_code: str, message: str, now: float) -> int:
        error = json.dumps(to_doc(RunError(error_code, message, 503)))
        status = RunStatus.INTERRUPTED.value
        sql = (
            "UPDATE runs SET status = ?, finished_at = ?, doc = json_set(doc, '$.status', ?, "
            "'$.finished_at', ?, '$.error', json(?), '$.seq', json_extract(doc, '$.seq') + 1) "
            f"WHERE replica = ? AND status IN {_ACTIVE}"
        )
        params = (status, now, status, now, error, replica)
        return await self._db.write(lambda conn: conn.execute(sql, params).rowcount)

    async def list_run_replicas(self) -> list[str]:
        sql = f"SELECT DISTINCT replica FROM runs WHERE status IN {_ACTIVE} ORDER BY replica"
        rows = await self._db.read(lambda conn: conn.execute(sql).fetchall())
        return [row[0] for row in rows]

    async def purge_runs(self, before: float, limit: int) -> int:
        sql = (
            "DELETE FROM runs WHERE id IN (SELECT id FROM runs WHERE status NOT IN "
            f"{_ACTIVE} AND finished_at < ? ORDER BY finished_at LIMIT ?)"
        )
        return await self._db.write(lambda conn: conn.execute(sql, (before, limit)).rowcount)
