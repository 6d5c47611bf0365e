"""SQLite adapter for each replica's package states (table ``package_states``, migration 8)."""

from __future__ import annotations

import dataclasses

from mcp_gateway.domain.package_states import ReplicaPackageState
from mcp_gateway.storage.codec import from_json, to_json
from mcp_gateway.storage.sqlite.db import SqliteDatabase

_PUT = """INSERT INTO package_states (server_name, replica, updated_at, doc) VALUES (?, ?, ?, ?)
    ON CONFLICT (server_name, replica) DO UPDATE
    SET updated_at = excluded.updated_at, doc = excluded.doc"""


class SqlitePackageStatesMixin:
    _db: SqliteDatabase

    async def put_package_state(self, state: ReplicaPackageState) -> None:
        row = (state.server_name, state.replica, state.updated_at, to_json(state))
        await self._db.write(lambda conn: conn.execute(_PUT, row))

    async def list_package_states(self) -> list[ReplicaPackageState]:
        rows = await self._db.read(
            lambda conn: conn.execute(
                "SELECT updated_at, doc FROM package_states ORDER BY server_name, replica"
            ).fetchall()
        )
        # The column is the truth for the time: a touch updates only it.
        return [
            dataclasses.replace(from_json(ReplicaPackageState, doc), updated_at=float(updated))
            for updated, doc in rows
        ]

    async def touch_package_states(self, replica: str, when: float) -> None:
        await self._db.write(
            lambda conn: conn.execute(
                "UPDATE package_states SET updated_at = ? WHERE replica = ?", (when, replica)
            )
        )

    async def prune_package_states(self, before: float) -> int:
        deleted: int = await self._db.write(
            lambda conn: (
                conn.execute("DELETE FROM package_states WHERE updated_at < ?", (before,)).rowcount
            )
        )
        return deleted

    async def delete_package_states(self, server_name: str) -> None:
        await self._db.write(
            lambda conn: conn.execute(
                "DELETE FROM package_states WHERE server_name = ?", (server_name,)
            )
        )
