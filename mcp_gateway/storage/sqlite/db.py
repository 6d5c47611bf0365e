"""One SQLite database file: connections, pragmas, migrations and error conversion.

Two connections, chosen from measurements (docs/benchmarks.md, "Secret fetch"):

* a **writer**, only ever used from a worker thread through ``anyio.to_thread`` with a
  ``CapacityLimiter(1)``: writes (and their fsyncs at checkpoints, and waits for another process's
  lock, up to ``timeout``) never block the event loop, and one limiter serialises them;
* a **reader**, used inline on the event-loop thread with ``busy_timeout=0`` and
  ``query_only``. In WAL mode readers never wait for writers, and an indexed point read costs
  tens of microseconds, while a hop to a worker thread costs ~100-300 us on a busy host. If the
  reader ever meets a lock (WAL recovery by another process), that one read is retried on the
  writer in a thread, where waiting is harmless.

Durability: ``journal_mode=WAL`` with ``synchronous=NORMAL``. A commit is written to the WAL
file (the OS page cache) before ``COMMIT`` returns, so a committed transaction survives the
process being killed (``kill -9``), which is what the design requires. What NORMAL gives up
compared with FULL is only the fsync per commit: on a power loss or kernel crash the last
commits before the crash may be rolled back (never corrupted). FULL would put an fsync on every
audit append, i.e. on every tool call.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import anyio
import anyio.to_thread

from mcp_gateway.crypto.privatedir import ensure_private_dir
from mcp_gateway.errors import ConfigError, StoreUnavailable
from mcp_gateway.storage.sqlite.schema import CREATE_VERSION_TABLE, MIGRATIONS, SCHEMA_VERSION

T = TypeVar("T")

DB_FILE = "gateway.db"
_BUSY_CODES = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and (code & 0xFF) in _BUSY_CODES


def store_error(exc: sqlite3.Error) -> StoreUnavailable:
    """The StoreUnavailable for a sqlite3 error (its text names tables, never values)."""
    if _is_busy(exc):
        return StoreUnavailable("SQLite store is locked by another process; try again")
    return StoreUnavailable(f"SQLite store error: {exc}")


class SqliteDatabase:
    """The connections to ``<data_dir>/gateway.db``. Build with :meth:`open`."""

    def __init__(self, path: Path, writer: sqlite3.Connection, reader: sqlite3.Connection) -> None:
        self.path = path
        self._writer = writer
        self._reader = reader
        self._limiter = anyio.CapacityLimiter(1)

    @classmethod
    async def open(cls, data_dir: Path, busy_timeout: float) -> SqliteDatabase:
        """Create the data dir and schema if missing.

        Raises ConfigError naming the path if the data dir or file cannot be created or written,
        StoreUnavailable if another process holds the database locked beyond ``busy_timeout``
        seconds.
        """
        return await anyio.to_thread.run_sync(cls._open_sync, data_dir, busy_timeout)

    @classmethod
    def _open_sync(cls, data_dir: Path, timeout: float) -> SqliteDatabase:
        # Owner-only: the data dir holds the store, the key file and the admin key.
        data_dir = ensure_private_dir(data_dir)
        if not os.access(data_dir, os.W_OK | os.X_OK):
            raise ConfigError(f"data dir {data_dir} is not writable")
        path = data_dir / DB_FILE
        for file in (path, path.with_name(f"{DB_FILE}-wal"), path.with_name(f"{DB_FILE}-shm")):
            # An existing read-only file would open fine and fail on the first write.
            if file.exists() and not os.access(file, os.R_OK | os.W_OK):
                raise ConfigError(f"SQLite store file {file} is not writable")
        opened: list[sqlite3.Connection] = []
        try:
            _create_private(path)  # SQLite gives its -wal/-shm files the database's mode
            writer = _connect(path, timeout)
            opened.append(writer)
            mode = writer.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise ConfigError(f"SQLite store {path} cannot use WAL mode (got {mode!r})")
            writer.execute("PRAGMA synchronous=NORMAL")
            writer.execute("PRAGMA foreign_keys=ON")
            _migrate(writer, path)
            reader = _connect(path, 0.0)
            opened.append(reader)
            reader.execute("PRAGMA query_only=ON")
            reader.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            for conn in opened:
                conn.close()
            if _is_busy(exc):
                raise store_error(exc) from exc
            raise ConfigError(
                f"cannot open SQLite store {path}: {exc} (is the data dir writable?)"
            ) from exc
        except BaseException:
            for conn in opened:
                conn.close()
            raise
        return cls(path, writer, reader)

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` in one ``BEGIN IMMEDIATE`` transaction on the writer, off the loop.

        ``fn`` may raise a GatewayError (e.g. ServerAlreadyExists): the transaction is rolled
        back and the error passes through. sqlite3 errors become StoreUnavailable.
        """
        return await anyio.to_thread.run_sync(self._write_sync, fn, limiter=self._limiter)

    def _write_sync(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._writer
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result
        except sqlite3.Error as exc:
            raise store_error(exc) from exc

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run the read-only ``fn(conn)`` inline on the reader (see the module docstring).

        ``fn`` must fully consume its cursors so no read transaction stays open.
        """
        try:
            return fn(self._reader)
        except sqlite3.Error as exc:
            if not _is_busy(exc):
                raise store_error(exc) from exc
        return await self.read_in_thread(fn)

    async def read_in_thread(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` on the writer in a worker thread (for bulk or lock-waiting reads)."""
        return await anyio.to_thread.run_sync(self._read_sync, fn, limiter=self._limiter)

    def _read_sync(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return fn(self._writer)
        except sqlite3.Error as exc:
            raise store_error(exc) from exc

    async def ping(self) -> None:
        await self.read(lambda conn: conn.execute("SELECT 1").fetchall())

    async def aclose(self) -> None:
        self._reader.close()
        await anyio.to_thread.run_sync(self._writer.close, limiter=self._limiter)


def _create_private(path: Path) -> None:
    """Create an empty database file readable by its owner only (never loosen an existing
    one: an operator may have chosen its mode). Raises ConfigError if it cannot."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise ConfigError(f"cannot create SQLite store {path}: {exc.strerror}") from exc
    os.close(fd)


def _connect(path: Path, timeout: float) -> sqlite3.Connection:
    # isolation_level=None: autocommit, transactions are explicit (BEGIN IMMEDIATE in write()).
    # check_same_thread=False: the writer is used from whichever worker thread anyio picks;
    # the CapacityLimiter guarantees one at a time.
    return sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(CREATE_VERSION_TABLE)
        row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
        current = int(row[0] or 0)
        if current > SCHEMA_VERSION:
            raise ConfigError(
                f"SQLite store {path} has schema version {current}, newer than this "
                f"mcp-gateway supports ({SCHEMA_VERSION}); upgrade mcp-gateway"
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[version - 1]:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                (version, time.time()),
            )
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
