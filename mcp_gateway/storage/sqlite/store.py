"""The embedded SQLite store: every port of :mod:`mcp_gateway.storage.ports` on one file."""

from __future__ import annotations

from pathlib import Path

from mcp_gateway.storage.sqlite.audit import SqliteAuditMixin
from mcp_gateway.storage.sqlite.changes import SqliteChangesMixin
from mcp_gateway.storage.sqlite.db import SqliteDatabase
from mcp_gateway.storage.sqlite.installs import SqliteInstallsMixin
from mcp_gateway.storage.sqlite.leases import SqliteLeasesMixin
from mcp_gateway.storage.sqlite.mcp_sessions import SqliteMcpSessionsMixin
from mcp_gateway.storage.sqlite.package_states import SqlitePackageStatesMixin
from mcp_gateway.storage.sqlite.records import SqliteRecordsMixin
from mcp_gateway.storage.sqlite.runs import SqliteRunsMixin
from mcp_gateway.storage.sqlite.secrets import SqliteSecretsMixin
from mcp_gateway.storage.sqlite.toolsets import SqliteToolsetsMixin


class SqliteStore(
    SqliteRecordsMixin,
    SqliteAuditMixin,
    SqliteSecretsMixin,
    SqliteRunsMixin,
    SqliteToolsetsMixin,
    SqliteMcpSessionsMixin,
    SqliteInstallsMixin,
    SqliteChangesMixin,
    SqliteLeasesMixin,
    SqlitePackageStatesMixin,
):
    """Implements ``Store`` on ``<data_dir>/gateway.db``. Build with :meth:`open`."""

    backend = "sqlite"

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    @classmethod
    async def open(cls, data_dir: Path, busy_timeout: float = 5.0) -> SqliteStore:
        """Open (creating dir, file and schema if missing).

        Raises ConfigError naming the path when the data dir is not usable.
        """
        return cls(await SqliteDatabase.open(data_dir, busy_timeout))

    @property
    def path(self) -> Path:
        return self._db.path

    async def ping(self) -> None:
        """Raise StoreUnavailable unless the database answers."""
        await self._db.ping()

    async def aclose(self) -> None:
        await self._db.aclose()
