"""Read-only reader of an mcp-api MongoDB database (the migration's source adapter).

Implements :class:`mcp_gateway.migration.source.McpApiSource` structurally (storage does not
import migration). It never writes to the source database.
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from pymongo import AsyncMongoClient
from pymongo.errors import ConfigurationError, InvalidURI, OperationFailure, PyMongoError

from mcp_gateway.errors import ConfigError, StoreUnavailable
from mcp_gateway.storage.mongo.client import Document, unavailable


def _plain(value: Any) -> Any:
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class McpApiMongoSource:
    """Connects as mcp-api does: ``url`` with ``username``/``password`` as separate options
    (the driver's default auth source: the URL's database, else ``admin``) and
    ``replicaSet``, reading primary-preferred like mcp-api. Raises ConfigError for a bad URL
    (without echoing it)."""

    def __init__(
        self,
        url: str,
        database: str,
        *,
        username: str | None = None,
        password: str | None = None,
        replica_set: str | None = None,
        io_timeout: float = 10.0,
    ) -> None:
        ms = max(1, int(io_timeout * 1000))
        options: dict[str, Any] = {}
        if username:
            options |= {"username": username, "password": password or ""}
        if replica_set:
            options |= {"replicaSet": replica_set, "readPreference": "primaryPreferred"}
        try:
            self._client: AsyncMongoClient[Document] = AsyncMongoClient(
                url,
                serverSelectionTimeoutMS=ms,
                connectTimeoutMS=ms,
                socketTimeoutMS=ms,
                appname="mcp-gateway-migrate",
                **options,
            )
        except (InvalidURI, ConfigurationError, ValueError, TypeError) as exc:
            raise ConfigError(f"invalid mcp-api MongoDB host/URL ({type(exc).__name__})") from exc
        self._db = self._client[database]
        self._database = database

    def __repr__(self) -> str:  # the URI may hold a password
        return f"McpApiMongoSource(database={self._database!r})"

    async def documents(self, collection: str) -> list[dict[str, Any]]:
        try:
            cursor = self._db[collection].find({}).sort("_id", 1)
            found: list[Document] = await cursor.to_list(None)
        except OperationFailure as exc:
            if exc.code in (13, 18):  # Unauthorized, AuthenticationFailed
                raise StoreUnavailable(
                    "mcp-api's MongoDB refused MONGO_USER/MONGO_PASS (authentication failed or "
                    f"no read access to {self._database!r})"
                ) from exc
            raise unavailable(exc) from exc
        except PyMongoError as exc:
            raise unavailable(exc) from exc
        return [_plain(doc) for doc in found]

    async def aclose(self) -> None:
        await self._client.close()
