"""Choose, open and close the store for a :class:`~mcp_gateway.config.Settings`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mcp_gateway.config import Settings
from mcp_gateway.storage.mongo import MongoStore
from mcp_gateway.storage.ports import Store
from mcp_gateway.storage.sqlite import SqliteStore


async def connect_store(settings: Settings) -> Store:
    """Open the configured store; the caller must ``await store.aclose()``.

    MongoDB when ``settings.store.resolved_mongodb_uri()`` is set, else SQLite in
    ``settings.store.data_dir``. Raises ConfigError (unusable data dir, malformed URI, schema
    newer than this code) or StoreUnavailable (MongoDB unreachable, SQLite file locked).
    """
    uri = settings.store.resolved_mongodb_uri()
    if uri is not None:
        return await MongoStore.open(
            uri.get_secret_value(), settings.store.mongodb_db, settings.store.timeout
        )
    return await SqliteStore.open(settings.store.data_dir, settings.store.timeout)


@asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[Store]:
    """``async with open_store(settings) as store``: open (schema/indexes created), yield, close."""
    store = await connect_store(settings)
    try:
        yield store
    finally:
        await store.aclose()
