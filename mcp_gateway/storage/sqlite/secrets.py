"""SQLite adapter for the secret-bearing ports: secrets, OAuth tokens and leases."""

from __future__ import annotations

import dataclasses
import functools
import sqlite3
import time
from collections.abc import AsyncIterator

from mcp_gateway.domain.records import StoredOAuthTokens, StoredSecret
from mcp_gateway.storage.codec import from_json, to_json
from mcp_gateway.storage.sqlite.db import SqliteDatabase

_PAGE = 500  # rows per round trip when iterating everything (key rotation)

# A search on the primary key (server, username, name); it returns rows in name order.
_GET_SECRETS = "SELECT name, ciphertext, updated_at FROM secrets WHERE username = ? AND server = ?"
_PUT_SECRET = """INSERT INTO secrets (username, server, name, ciphertext, updated_at)
    VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (server, username, name)
    DO UPDATE SET ciphertext = excluded.ciphertext, updated_at = excluded.updated_at"""
_PUT_TOKENS = """INSERT INTO oauth_tokens (server, username, doc) VALUES (?, ?, ?)
    ON CONFLICT (server, username) DO UPDATE SET doc = excluded.doc"""
# Take the lease if it is free, expired, or already ours; RETURNING yields a row only when the
# insert or the update happened, i.e. when we hold the lease afterwards.
_ACQUIRE_LEASE = """INSERT INTO leases (key, holder, expires_at) VALUES (?, ?, ?)
    ON CONFLICT (key) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
    WHERE leases.expires_at <= ? OR leases.holder = excluded.holder
    RETURNING holder"""


class SqliteSecretsMixin:
    _db: SqliteDatabase

    # -- secrets ---------------------------------------------------------------------------

    async def put_secret(self, secret: StoredSecret) -> None:
        params = (secret.username, secret.server, secret.name, secret.ciphertext, secret.updated_at)
        await self._db.write(lambda conn: conn.execute(_PUT_SECRET, params))

    async def get_secrets(self, username: str, server: str) -> list[StoredSecret]:
        rows = await self._db.read(
            lambda conn: conn.execute(_GET_SECRETS, (username, server)).fetchall()
        )
        return [StoredSecret(username, server, name, ct, ts) for name, ct, ts in rows]

    async def list_secret_names(self, username: str, server: str) -> list[str]:
        rows = await self._db.read(
            lambda conn: conn.execute(
                "SELECT name FROM secrets WHERE username = ? AND server = ? ORDER BY name",
                (username, server),
            ).fetchall()
        )
        return [name for (name,) in rows]

    async def count_user_secrets(self, username: str) -> int:
        row = await self._db.read(
            lambda conn: conn.execute(
                "SELECT count(*) FROM secrets WHERE username = ?", (username,)
            ).fetchone()
        )
        return int(row[0])

    async def delete_secret(self, username: str, server: str, name: str) -> bool:
        return await self._db.write(
            lambda conn: (
                conn.execute(
                    "DELETE FROM secrets WHERE username = ? AND server = ? AND name = ?",
                    (username, server, name),
                ).rowcount
                > 0
            )
        )

    async def count_server_secret_users(self, server: str) -> int:
        sql = "SELECT count(DISTINCT username) FROM secrets WHERE server = ?"
        row = await self._db.read(lambda conn: conn.execute(sql, (server,)).fetchone())
        return int(row[0])

    async def delete_server_secrets(self, server: str) -> int:
        return await self._db.write(
            lambda conn: conn.execute("DELETE FROM secrets WHERE server = ?", (server,)).rowcount
        )

    async def iter_all_secrets(self) -> AsyncIterator[StoredSecret]:
        after: tuple[str, str, str] | None = None
        while True:
            rows = await self._db.read_in_thread(functools.partial(_secrets_page, after=after))
            for server, username, name, ct, ts in rows:
                yield StoredSecret(username, server, name, ct, ts)
            if len(rows) < _PAGE:
                return
            after = (rows[-1][0], rows[-1][1], rows[-1][2])

    async def replace_secret_ciphertext(
        self, username: str, server: str, name: str, old: bytes, new: bytes
    ) -> bool:
        return await self._db.write(
            lambda conn: (
                conn.execute(
                    "UPDATE secrets SET ciphertext = ? "
                    "WHERE username = ? AND server = ? AND name = ? AND ciphertext = ?",
                    (new, username, server, name, old),
                ).rowcount
                == 1
            )
        )

    # -- OAuth tokens ----------------------------------------------------------------------

    async def put_tokens(self, tokens: StoredOAuthTokens) -> None:
        params = (tokens.server, tokens.username, to_json(tokens))
        await self._db.write(lambda conn: conn.execute(_PUT_TOKENS, params))

    async def get_tokens(self, server: str, username: str) -> StoredOAuthTokens | None:
        rows = await self._db.read(
            lambda conn: conn.execute(
                "SELECT doc FROM oauth_tokens WHERE server = ? AND username = ?",
                (server, username),
            ).fetchall()
        )
        return from_json(StoredOAuthTokens, rows[0][0]) if rows else None

    async def delete_tokens(self, server: str, username: str) -> bool:
        return await self._db.write(
            lambda conn: (
                conn.execute(
                    "DELETE FROM oauth_tokens WHERE server = ? AND username = ?", (server, username)
                ).rowcount
                > 0
            )
        )

    async def count_server_token_users(self, server: str) -> int:
        sql = "SELECT count(*) FROM oauth_tokens WHERE server = ?"
        row = await self._db.read(lambda conn: conn.execute(sql, (server,)).fetchone())
        return int(row[0])

    async def delete_server_tokens(self, server: str) -> int:
        return await self._db.write(
            lambda conn: (
                conn.execute("DELETE FROM oauth_tokens WHERE server = ?", (server,)).rowcount
            )
        )

    async def iter_all_tokens(self) -> AsyncIterator[StoredOAuthTokens]:
        after: tuple[str, str] | None = None
        while True:
            rows = await self._db.read_in_thread(functools.partial(_tokens_page, after=after))
            for _server, _username, doc in rows:
                yield from_json(StoredOAuthTokens, doc)
            if len(rows) < _PAGE:
                return
            after = (rows[-1][0], rows[-1][1])

    async def replace_token_fields(
        self, server: str, username: str, old: dict[str, bytes], new: dict[str, bytes]
    ) -> bool:
        def swap(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT doc FROM oauth_tokens WHERE server = ? AND username = ?",
                (server, username),
            ).fetchone()
            if row is None:
                return False
            current = from_json(StoredOAuthTokens, row[0])
            if current.fields != old:
                return False
            doc = to_json(dataclasses.replace(current, fields=dict(new)))
            conn.execute(
                "UPDATE oauth_tokens SET doc = ? WHERE server = ? AND username = ?",
                (doc, server, username),
            )
            return True

        return await self._db.write(swap)

    # -- leases ----------------------------------------------------------------------------

    async def acquire_lease(self, key: str, holder: str, ttl: float) -> bool:
        def take(conn: sqlite3.Connection) -> bool:
            now = time.time()  # wall clock: leases are shared across processes
            return bool(conn.execute(_ACQUIRE_LEASE, (key, holder, now + ttl, now)).fetchall())

        return await self._db.write(take)

    async def release_lease(self, key: str, holder: str) -> None:
        await self._db.write(
            lambda conn: conn.execute(
                "DELETE FROM leases WHERE key = ? AND holder = ?", (key, holder)
            )
        )


def _secrets_page(
    conn: sqlite3.Connection, after: tuple[str, str, str] | None
) -> list[tuple[str, str, str, bytes, float]]:
    cols = "SELECT server, username, name, ciphertext, updated_at FROM secrets"
    order = "ORDER BY server, username, name LIMIT ?"
    if after is None:
        return conn.execute(f"{cols} {order}", (_PAGE,)).fetchall()
    where = "WHERE (server, username, name) > (?, ?, ?)"
    return conn.execute(f"{cols} {where} {order}", (*after, _PAGE)).fetchall()


def _tokens_page(
    conn: sqlite3.Connection, after: tuple[str, str] | None
) -> list[tuple[str, str, str]]:
    cols = "SELECT server, username, doc FROM oauth_tokens"
    order = "ORDER BY server, username LIMIT ?"
    if after is None:
        return conn.execute(f"{cols} {order}", (_PAGE,)).fetchall()
    where = "WHERE (server, username) > (?, ?)"
    return conn.execute(f"{cols} {where} {order}", (*after, _PAGE)).fetchall()
