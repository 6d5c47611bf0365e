"""The SQLite change feed: a follower polls the ``changes`` log (written by triggers, see
:mod:`mcp_gateway.storage.sqlite.change_schema`) for rows after its last ``seq``.

One poll is one indexed range read on the event-loop thread's reader connection (tens of
microseconds, never blocked by writers in WAL mode), so a short interval is cheap. Rows older
than :data:`KEEP_SECONDS` are pruned by the followers themselves; one that falls further
behind (a process paused for an hour) finds a gap and rescans.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import time
from collections.abc import AsyncGenerator, Callable
from typing import TypeVar

import anyio

from mcp_gateway.domain.changes import Change, ChangeEvent, Rescan, parse_change
from mcp_gateway.errors import GatewayError
from mcp_gateway.storage.sqlite.change_schema import NOW_SQL
from mcp_gateway.storage.sqlite.db import SqliteDatabase

log = logging.getLogger("mcp_gateway.storage")
T = TypeVar("T")

KEEP_SECONDS = 3600.0  # changes kept in the log for followers that fall behind
PRUNE_EVERY = 60.0  # seconds between two prunes by one follower
_BATCH = 1000
_RETRY = 1.0  # seconds before polling again after a store error

_READ = "SELECT seq, kind, key, user, ts FROM changes WHERE seq > ? ORDER BY seq LIMIT ?"
Row = tuple[int, str, str, str | None, float]


def _read(conn: sqlite3.Connection, after: int) -> list[Row]:
    return conn.execute(_READ, (after, _BATCH)).fetchall()


def _head(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COALESCE(MAX(seq), 0) FROM changes").fetchone()[0])


class SqliteChangesMixin:
    _db: SqliteDatabase

    async def record_change(self, change: Change) -> None:
        await self._db.write(
            lambda conn: conn.execute(
                f"INSERT INTO changes (kind, key, user, ts) VALUES (?, ?, ?, {NOW_SQL})",
                (change.kind.value, change.key, change.user),
            )
        )

    async def follow_changes(
        self, *, mode: str = "auto", poll_interval: float = 0.25
    ) -> AsyncGenerator[ChangeEvent, None]:
        """Polls (SQLite has no change stream: ``mode`` ``stream`` is refused at start-up by
        the settings check, ``auto`` means polling here)."""
        position = await self._retrying(_head)
        yield Rescan("change feed started")
        pruned_at = time.monotonic()
        while True:
            rows: list[Row] = await self._retrying(functools.partial(_read, after=position))
            if rows and rows[0][0] != position + 1:
                log.warning("change log pruned past this replica's position: rescanning")
                position = rows[-1][0]
                yield Rescan("change log pruned past this replica's position")
                continue
            for seq, kind, key, user, ts in rows:
                position = seq
                change = parse_change(kind, key, user, ts)
                if change is not None:
                    yield change
            if time.monotonic() - pruned_at > PRUNE_EVERY:
                pruned_at = time.monotonic()
                await self._prune()
            if len(rows) < _BATCH:
                await anyio.sleep(poll_interval)

    async def _retrying(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Read until the store answers: an outage delays the feed, never ends it."""
        while True:
            try:
                return await self._db.read(fn)
            except GatewayError as exc:
                log.warning("change feed: store unavailable (%s); retrying", exc.code)
                await anyio.sleep(_RETRY)

    async def _prune(self) -> None:
        cutoff = time.time() - KEEP_SECONDS
        try:
            await self._db.write(
                lambda conn: conn.execute("DELETE FROM changes WHERE ts < ?", (cutoff,))
            )
        except GatewayError as exc:
            log.info("change log not pruned (%s)", exc.code)
