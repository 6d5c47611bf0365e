"""Read-only reader of an mcp-api MongoDB database (the migration's source adapter).

Implements :class:`mcp_gateway.migration.source.McpApiSource` structurally (storage does not
import migration). It never writes to the source database.
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from pymongo.errors import PyMongoError

from mcp_gateway.storage.mongo.client import Document, make_client, unavailable


def _plain(value: Any) -> Any:
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class McpApiMongoSource:
    def __init__(self, uri: str, database: str, io_timeout: float = 10.0) -> None:
        self._client = make_client(uri, io_timeout)
        self._db = self._client[database]
        self._database = database

    def __repr__(self) -> str:  # the URI may hold a password
        return f"McpApiMongoSource(database={self._database!r})"

    async def documents(self, collection: str) -> list[dict[str, Any]]:
        try:
            cursor = self._db[collection].find({}).sort("_id", 1)
            found: list[Document] = await cursor.to_list(None)
        except PyMongoError as exc:
            raise unavailable(exc) from exc
        return [_plain(doc) for doc in found]

    async def aclose(self) -> None:
        await self._client.close()
