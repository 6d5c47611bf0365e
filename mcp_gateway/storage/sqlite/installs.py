"""SQLite adapter for per-user installs (:class:`~mcp_gateway.storage.ports.UserInstallStore`)."""

from __future__ import annotations

import dataclasses
import sqlite3

from mcp_gateway.domain.user_servers import UserServerInstall
from mcp_gateway.storage.codec import from_json, to_json
from mcp_gateway.storage.sqlite.db import SqliteDatabase

_PUT = """INSERT INTO user_installs (server, username, doc) VALUES (?, ?, ?)
    ON CONFLICT (server, username) DO UPDATE SET doc = excluded.doc"""


class SqliteInstallsMixin:
    _db: SqliteDatabase

    async def _install_docs(self, sql: str, params: tuple[object, ...]) -> list[UserServerInstall]:
        rows = await self._db.read(lambda conn: conn.execute(sql, params).fetchall())
        return [from_json(UserServerInstall, row[0]) for row in rows]

    async def _install_write(self, sql: str, params: tuple[object, ...]) -> int:
        return await self._db.write(lambda conn: conn.execute(sql, params).rowcount)

    async def put_install(self, install: UserServerInstall) -> None:
        await self._install_write(_PUT, (install.server, install.username, to_json(install)))

    async def get_install(self, server: str, username: str) -> UserServerInstall | None:
        found = await self._install_docs(
            "SELECT doc FROM user_installs WHERE server = ? AND username = ?", (server, username)
        )
        return found[0] if found else None

    async def list_user_installs(self, username: str) -> list[UserServerInstall]:
        sql = "SELECT doc FROM user_installs WHERE username = ? ORDER BY server"
        return await self._install_docs(sql, (username,))

    async def list_server_installs(self, server: str) -> list[UserServerInstall]:
        sql = "SELECT doc FROM user_installs WHERE server = ? ORDER BY username"
        return await self._install_docs(sql, (server,))

    async def delete_install(self, server: str, username: str) -> bool:
        sql = "DELETE FROM user_installs WHERE server = ? AND username = ?"
        return await self._install_write(sql, (server, username)) > 0

    async def delete_server_installs(self, server: str) -> int:
        return await self._install_write("DELETE FROM user_installs WHERE server = ?", (server,))

    async def list_installs_with_client_secret(self) -> list[UserServerInstall]:
        sql = (
            "SELECT doc FROM user_installs WHERE json_extract(doc, '$.client_secret') IS NOT NULL"
            " ORDER BY server, username"
        )
        return await self._install_docs(sql, ())

    async def replace_install_client_secret(
        self, server: str, username: str, old: bytes, new: bytes
    ) -> bool:
        def swap(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT doc FROM user_installs WHERE server = ? AND username = ?",
                (server, username),
            ).fetchone()
            if row is None:
                return False
            install = from_json(UserServerInstall, row[0])
            if install.client_secret != old:
                return False
            doc = to_json(dataclasses.replace(install, client_secret=new))
            conn.execute(
                "UPDATE user_installs SET doc = ? WHERE server = ? AND username = ?",
                (doc, server, username),
            )
            return True

        return await self._db.write(swap)
