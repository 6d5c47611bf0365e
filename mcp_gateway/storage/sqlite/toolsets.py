"""SQLite adapter for the toolsets port (table ``toolsets``, migration 4)."""

from __future__ import annotations

from mcp_gateway.domain.toolsets import Toolset
from mcp_gateway.storage.codec import from_json, to_json
from mcp_gateway.storage.sqlite.db import SqliteDatabase

_PUT = """INSERT INTO toolsets (name, doc) VALUES (?, ?)
    ON CONFLICT (name) DO UPDATE SET doc = excluded.doc"""


class SqliteToolsetsMixin:
    _db: SqliteDatabase

    async def put_toolset(self, toolset: Toolset) -> None:
        doc = to_json(toolset)
        await self._db.write(lambda conn: conn.execute(_PUT, (toolset.name, doc)))

    async def get_toolset(self, name: str) -> Toolset | None:
        rows = await self._db.read(
            lambda conn: conn.execute("SELECT doc FROM toolsets WHERE name = ?", (name,)).fetchall()
        )
        return from_json(Toolset, rows[0][0]) if rows else None

    async def list_toolsets(self) -> list[Toolset]:
        rows = await self._db.read(
            lambda conn: conn.execute("SELECT doc FROM toolsets ORDER BY name").fetchall()
        )
        return [from_json(Toolset, row[0]) for row in rows]

    async def delete_toolset(self, name: str) -> bool:
        deleted: int = await self._db.write(
            lambda conn: conn.execute("DELETE FROM toolsets WHERE name = ?", (name,)).rowcount
        )
        return deleted > 0
