"""The MongoDB store: every port of :mod:`mcp_gateway.storage.ports` on one database."""

from __future__ import annotations

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from mcp_gateway.storage.mongo.audit import MongoAuditMixin
from mcp_gateway.storage.mongo.changes import MongoChangesMixin
from mcp_gateway.storage.mongo.client import Document, converted, make_client, prepare
from mcp_gateway.storage.mongo.installs import MongoInstallsMixin
from mcp_gateway.storage.mongo.leases import MongoLeasesMixin
from mcp_gateway.storage.mongo.mcp_sessions import MongoMcpSessionsMixin
from mcp_gateway.storage.mongo.package_states import MongoPackageStatesMixin
from mcp_gateway.storage.mongo.records import MongoRecordsMixin
from mcp_gateway.storage.mongo.runs import MongoRunsMixin
from mcp_gateway.storage.mongo.secrets import MongoSecretsMixin
from mcp_gateway.storage.mongo.toolsets import MongoToolsetsMixin


class MongoStore(
    MongoRecordsMixin,
    MongoAuditMixin,
    MongoSecretsMixin,
    MongoRunsMixin,
    MongoToolsetsMixin,
    MongoMcpSessionsMixin,
    MongoInstallsMixin,
    MongoChangesMixin,
    MongoLeasesMixin,
    MongoPackageStatesMixin,
):
    """Implements ``Store`` on a MongoDB database. Build with :meth:`open`."""

    backend = "mongodb"

    def __init__(self, client: AsyncMongoClient[Document], db: AsyncDatabase[Document]) -> None:
        self._client = client
        self._db = db
        self._closed = False

    @classmethod
    async def open(cls, uri: str, database: str, io_timeout: float = 5.0) -> MongoStore:
        """Connect, create indexes and check the schema version.

        Raises ConfigError (malformed URI, newer schema) or StoreUnavailable (unreachable
        within ``io_timeout`` seconds).
        """
        client = make_client(uri, io_timeout)
        try:
            db = client[database]
            await prepare(db)
        except BaseException:
            await client.close()
            raise
        return cls(client, db)

    async def ping(self) -> None:
        """Raise StoreUnavailable unless MongoDB answers within the timeout."""
        with converted():
            await self._db.command("ping")

    async def aclose(self) -> None:
        """Idempotent: a second close (after a test or the runtime closed it) does nothing."""
        if self._closed:
            return
        self._closed = True
        await self._client.close()
