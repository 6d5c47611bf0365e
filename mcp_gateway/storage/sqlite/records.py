"""SQLite adapter for the non-secret ports: servers, sessions, packages, API keys (audit:
:mod:`mcp_gateway.storage.sqlite.audit`)."""

from __future__ import annotations

import sqlite3

from mcp_gateway.domain.records import ApiKeyRecord, PackageRecord, UpstreamSession
from mcp_gateway.domain.servers import ServerConfig
from mcp_gateway.errors import Conflict, ServerAlreadyExists, ServerNotFound
from mcp_gateway.storage.codec import from_json, server_from_json, to_json
from mcp_gateway.storage.sqlite.db import SqliteDatabase

_PUT_SESSION = """INSERT INTO sessions (server, scope, doc) VALUES (?, ?, ?)
    ON CONFLICT (server, scope) DO UPDATE SET doc = excluded.doc"""
_PUT_PACKAGE = """INSERT INTO packages (server_name, name, doc) VALUES (?, ?, ?)
    ON CONFLICT (server_name) DO UPDATE SET name = excluded.name, doc = excluded.doc"""


class SqliteRecordsMixin:
    _db: SqliteDatabase

    async def _docs(self, sql: str, params: tuple[object, ...] = ()) -> list[str]:
        rows = await self._db.read(lambda conn: conn.execute(sql, params).fetchall())
        return [row[0] for row in rows]

    async def _changed(self, sql: str, params: tuple[object, ...]) -> int:
        return await self._db.write(lambda conn: conn.execute(sql, params).rowcount)

    # -- servers ---------------------------------------------------------------------------

    async def create_server(self, server: ServerConfig) -> None:
        def insert(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO servers (name, doc) VALUES (?, ?)", (server.name, to_json(server))
                )
            except sqlite3.IntegrityError as exc:
                raise ServerAlreadyExists(server.name) from exc

        await self._db.write(insert)

    async def update_server(self, server: ServerConfig) -> None:
        changed = await self._changed(
            "UPDATE servers SET doc = ? WHERE name = ?", (to_json(server), server.name)
        )
        if not changed:
            raise ServerNotFound(server.name)

    async def get_server(self, name: str) -> ServerConfig | None:
        docs = await self._docs("SELECT doc FROM servers WHERE name = ?", (name,))
        return server_from_json(docs[0]) if docs else None

    async def list_servers(self) -> list[ServerConfig]:
        docs = await self._docs("SELECT doc FROM servers ORDER BY name")
        return [server_from_json(doc) for doc in docs]

    async def delete_server(self, name: str) -> bool:
        return await self._changed("DELETE FROM servers WHERE name = ?", (name,)) > 0

    # -- upstream sessions -----------------------------------------------------------------

    async def put_session(self, session: UpstreamSession) -> None:
        await self._changed(_PUT_SESSION, (session.server, session.scope, to_json(session)))

    async def get_session(self, server: str, scope: str) -> UpstreamSession | None:
        docs = await self._docs(
            "SELECT doc FROM sessions WHERE server = ? AND scope = ?", (server, scope)
        )
        return from_json(UpstreamSession, docs[0]) if docs else None

    async def delete_session(self, server: str, scope: str) -> bool:
        sql = "DELETE FROM sessions WHERE server = ? AND scope = ?"
        return await self._changed(sql, (server, scope)) > 0

    async def delete_server_sessions(self, server: str) -> int:
        return await self._changed("DELETE FROM sessions WHERE server = ?", (server,))

    async def list_session_scopes(self, server: str) -> list[str]:
        sql = "SELECT scope FROM sessions WHERE server = ? ORDER BY scope"
        rows = await self._db.read(lambda conn: conn.execute(sql, (server,)).fetchall())
        return [row[0] for row in rows]

    # -- packages --------------------------------------------------------------------------

    async def put_package(self, package: PackageRecord) -> None:
        params = (package.server_name, package.name, to_json(package))
        await self._changed(_PUT_PACKAGE, params)

    async def get_package(self, server_name: str) -> PackageRecord | None:
        docs = await self._docs("SELECT doc FROM packages WHERE server_name = ?", (server_name,))
        return from_json(PackageRecord, docs[0]) if docs else None

    async def find_packages_by_name(self, name: str) -> list[PackageRecord]:
        docs = await self._docs(
            "SELECT doc FROM packages WHERE name = ? ORDER BY server_name", (name,)
        )
        return [from_json(PackageRecord, doc) for doc in docs]

    async def list_packages(self) -> list[PackageRecord]:
        docs = await self._docs("SELECT doc FROM packages ORDER BY server_name")
        return [from_json(PackageRecord, doc) for doc in docs]

    async def delete_package(self, server_name: str) -> bool:
        return await self._changed("DELETE FROM packages WHERE server_name = ?", (server_name,)) > 0

    # -- API keys --------------------------------------------------------------------------

    async def create_api_key(self, key: ApiKeyRecord) -> None:
        def insert(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO api_keys (id, key_hash, created_at, doc) VALUES (?, ?, ?, ?)",
                    (key.id, key.key_hash, key.created_at, to_json(key)),
                )
            except sqlite3.IntegrityError as exc:
                raise Conflict(f"API key {key.id!r} (or its hash) already exists") from exc

        await self._db.write(insert)

    async def get_api_key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        docs = await self._docs("SELECT doc FROM api_keys WHERE key_hash = ?", (key_hash,))
        return from_json(ApiKeyRecord, docs[0]) if docs else None

    async def list_api_keys(self) -> list[ApiKeyRecord]:
        docs = await self._docs("SELECT doc FROM api_keys ORDER BY created_at, id")
        return [from_json(ApiKeyRecord, doc) for doc in docs]

    async def delete_api_key(self, key_id: str) -> bool:
        return await self._changed("DELETE FROM api_keys WHERE id = ?", (key_id,)) > 0

    async def count_api_keys(self) -> int:
        rows = await self._db.read(
            lambda conn: conn.execute("SELECT COUNT(*) FROM api_keys").fetchall()
        )
        return int(rows[0][0])

    async def touch_api_key(self, key_id: str, when: float) -> None:
        await self._changed(
            "UPDATE api_keys SET doc = json_set(doc, '$.last_used_at', ?) WHERE id = ?",
            (when, key_id),
        )
