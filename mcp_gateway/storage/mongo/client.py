"""MongoDB connection (pymongo's native async API), indexes, schema marker, error conversion.

Every driver timeout is bounded by ``StoreSettings.timeout`` so an outage surfaces as
StoreUnavailable within that time, never as a hang. ``timeoutMS`` (client-side operation
timeout) is deliberately not set: it would also bound the lifetime of the long cursor that key
rotation walks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import (
    ConfigurationError,
    ConnectionFailure,
    DuplicateKeyError,
    InvalidURI,
    PyMongoError,
)

from mcp_gateway.errors import ConfigError, GatewayError, StoreUnavailable
from mcp_gateway.storage.mongo.names import META, move_unprefixed, name

Document = dict[str, Any]

# 2: collections carry the mcpgw_ prefix (storage/mongo/names.py moves a version-1 database).
SCHEMA_VERSION = 2

# Keyed by the unprefixed name; the collection is names.name(key).
INDEXES: dict[str, list[IndexModel]] = {
    "servers": [IndexModel([("name", ASCENDING)], unique=True, name="name_unique")],
    # The unique (username, server, name) index also serves the per-call (username, server) fetch.
    "secrets": [
        IndexModel(
            [("username", ASCENDING), ("server", ASCENDING), ("name", ASCENDING)],
            unique=True,
            name="user_server_name_unique",
        ),
        IndexModel([("server", ASCENDING)], name="server"),
    ],
    "oauth_tokens": [
        IndexModel(
            [("server", ASCENDING), ("username", ASCENDING)],
            unique=True,
            name="server_username_unique",
        )
    ],
    "sessions": [
        IndexModel(
            [("server", ASCENDING), ("scope", ASCENDING)], unique=True, name="server_scope_unique"
        )
    ],
    "packages": [
        IndexModel([("server_name", ASCENDING)], unique=True, name="server_name_unique"),
        IndexModel([("name", ASCENDING)], name="name"),
    ],
    "api_keys": [
        IndexModel([("key_hash", ASCENDING)], unique=True, name="key_hash_unique"),
        IndexModel([("id", ASCENDING)], unique=True, name="id_unique"),
    ],
    "audit": [
        IndexModel([("ts", DESCENDING), ("_id", DESCENDING)], name="ts_desc"),
        # GET /audit: one per single filter, in the newest-first order of a page.
        *(
            IndexModel(
                [(field, ASCENDING), ("ts", DESCENDING), ("_id", DESCENDING)],
                name=f"{field}_ts_desc",
            )
            for field in ("actor", "username", "server", "outcome")
        ),
    ],
    "leases": [IndexModel([("key", ASCENDING)], unique=True, name="key_unique")],
    "user_installs": [
        IndexModel(
            [("server", ASCENDING), ("username", ASCENDING)],
            unique=True,
            name="server_username_unique",
        ),
        IndexModel([("username", ASCENDING), ("server", ASCENDING)], name="username_server"),
    ],
    # The change feed's log (storage/mongo/changes.py); followers further behind rescan.
    "changes": [
        IndexModel([("seq", ASCENDING)], unique=True, name="seq_unique"),
        IndexModel([("at", ASCENDING)], expireAfterSeconds=3600, name="at_ttl"),
    ],
    "runs": [
        IndexModel([("id", ASCENDING)], unique=True, name="id_unique"),
        IndexModel([("created_at", DESCENDING), ("id", DESCENDING)], name="created_desc"),
        IndexModel(
            [("username", ASCENDING), ("created_at", DESCENDING), ("id", DESCENDING)],
            name="username_created_desc",
        ),
        IndexModel(
            [("key_id", ASCENDING), ("username", ASCENDING), ("status", ASCENDING)],
            name="key_username_status",
        ),
        IndexModel([("replica", ASCENDING), ("status", ASCENDING)], name="replica_status"),
        IndexModel([("status", ASCENDING), ("finished_at", ASCENDING)], name="status_finished"),
    ],
    "toolsets": [IndexModel([("name", ASCENDING)], unique=True, name="name_unique")],
    # The MCP endpoint's legacy sessions (storage/mongo/mcp_sessions.py).
    "mcp_sessions": [
        IndexModel([("id_hash", ASCENDING)], unique=True, name="id_hash_unique"),
        IndexModel(
            [
                ("owner.key_id", ASCENDING),
                ("owner.username", ASCENDING),
                ("owner.endpoint", ASCENDING),
                ("last_seen", ASCENDING),
            ],
            name="owner_last_seen",
        ),
        IndexModel([("last_seen", ASCENDING)], name="last_seen"),
    ],
    "package_states": [
        IndexModel(
            [("server_name", ASCENDING), ("replica", ASCENDING)],
            unique=True,
            name="server_replica_unique",
        ),
        IndexModel([("replica", ASCENDING)], name="replica"),
    ],
}


def unavailable(exc: PyMongoError) -> StoreUnavailable:
    """StoreUnavailable for a driver error. Only connection errors are quoted: they name hosts,
    while other server errors may echo document values."""
    if isinstance(exc, ConnectionFailure):
        text = str(exc).split(", Timeout:")[0][:300]
        return StoreUnavailable(f"MongoDB unreachable: {text}")
    return StoreUnavailable(f"MongoDB store error ({type(exc).__name__})")


@contextlib.contextmanager
def converted(on_duplicate: Callable[[], GatewayError] | None = None) -> Iterator[None]:
    """Convert pymongo errors raised in the block; DuplicateKeyError -> ``on_duplicate()``."""
    try:
        yield
    except DuplicateKeyError as exc:
        if on_duplicate is None:
            raise unavailable(exc) from exc
        raise on_duplicate() from exc
    except PyMongoError as exc:
        raise unavailable(exc) from exc


async def upsert(coll: AsyncCollection[Document], query: Document, doc: Document) -> None:
    """Insert or replace the document matching ``query`` (a unique key)."""
    with converted():
        try:
            await coll.replace_one(query, doc, upsert=True)
        except DuplicateKeyError:
            # Two upserts of a new key raced and this one lost the insert; now the document
            # exists, so a second try is an update (MongoDB >= 4.2 retries this itself).
            await coll.replace_one(query, doc, upsert=True)


def make_client(uri: str, io_timeout: float) -> AsyncMongoClient[Document]:
    """A client whose every network wait is bounded by ``io_timeout`` seconds.

    Raises ConfigError for a malformed URI (without echoing it: it may hold a password).
    """
    ms = max(1, int(io_timeout * 1000))
    try:
        return AsyncMongoClient(
            uri,
            serverSelectionTimeoutMS=ms,
            connectTimeoutMS=ms,
            socketTimeoutMS=ms,
            appname="mcp-gateway",
        )
    except (InvalidURI, ConfigurationError, ValueError, TypeError) as exc:
        raise ConfigError(f"invalid MongoDB URI ({type(exc).__name__})") from exc


async def prepare(db: AsyncDatabase[Document]) -> None:
    """Move a pre-prefix database's collections, create the indexes, check/record the schema
    version.

    Raises ConfigError if the database was written by a newer gateway, StoreUnavailable if
    MongoDB cannot be reached.
    """
    with converted():
        await move_unprefixed(db, INDEXES, SCHEMA_VERSION)
        meta = await db[name(META)].find_one({"_id": "schema"})
        found = int(meta.get("version", 0)) if meta else 0
        if found > SCHEMA_VERSION:
            raise ConfigError(
                f"MongoDB database {db.name!r} has schema version {found}, newer than this "
                f"mcp-gateway supports ({SCHEMA_VERSION}); upgrade mcp-gateway"
            )
        for base, models in INDEXES.items():
            await db[name(base)].create_indexes(models)
        with contextlib.suppress(DuplicateKeyError):  # another process recorded it first
            await db[name(META)].update_one(
                {"_id": "schema"}, {"$max": {"version": SCHEMA_VERSION}}, upsert=True
            )
