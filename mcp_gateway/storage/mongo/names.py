"""The gateway's MongoDB collection names, and the one-time move from the names it used before.

Every collection is ``mcpgw_<name>`` so the gateway can share a database with mcp-api (whose
``secrets`` and ``packages`` collections had the same names as the gateway's). A database
written before the prefix (a ``meta`` collection holding the ``schema`` document) has its
collections renamed once, at start-up:

- only a collection that carries one of the gateway's own named indexes is moved, so mcp-api's
  ``secrets``/``packages`` in the same database are never touched;
- ``meta`` moves last: a start interrupted half-way finds it still there and finishes the job;
- renames are atomic on the server, so two replicas starting together are safe: the loser of
  each race gets NamespaceNotFound/NamespaceExists, which means "already done";
- the old ``meta`` is left holding ``{"_id": "schema", "version": <current>}`` so a gateway from
  before the prefix refuses to start on the moved database instead of starting empty.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from pymongo import IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure

log = logging.getLogger("mcp_gateway.storage")

PREFIX = "mcpgw_"
META = "meta"
_NAMESPACE_NOT_FOUND = 26
_NAMESPACE_EXISTS = 48

Document = dict[str, Any]


def name(base: str) -> str:
    """The collection of the gateway's ``base`` records: ``servers`` -> ``mcpgw_servers``."""
    return PREFIX + base


class GatewayCollections:
    """Mixed into the store: ``self._coll("servers")`` is the prefixed collection."""

    _db: AsyncDatabase[Document]

    def _coll(self, base: str) -> AsyncCollection[Document]:
        return self._db[name(base)]


async def _rename(db: AsyncDatabase[Document], old: str) -> bool:
    try:
        await db[old].rename(name(old))
    except OperationFailure as exc:
        if exc.code == _NAMESPACE_NOT_FOUND:
            return False  # a peer moved it first
        if exc.code == _NAMESPACE_EXISTS:
            log.warning("MongoDB collection %r left in place: %r already exists", old, name(old))
            return False
        raise
    return True


async def _is_ours(db: AsyncDatabase[Document], old: str, models: Sequence[IndexModel]) -> bool:
    info = await db[old].index_information()
    return any(model.document["name"] in info for model in models)


async def move_unprefixed(
    db: AsyncDatabase[Document], indexes: Mapping[str, Sequence[IndexModel]], version: int
) -> None:
    """Rename a pre-prefix gateway database's collections (see the module docstring).

    Raises PyMongoError (the caller converts it).
    """
    existing = set(await db.list_collection_names())
    if name(META) in existing or META not in existing:
        return
    schema = await db[META].find_one({"_id": "schema"})
    if schema is None or schema.get("moved_to") == PREFIX:
        return  # not the gateway's meta, or only the tombstone left for old binaries
    ours = [
        old
        for old, models in indexes.items()
        if old in existing and await _is_ours(db, old, models)
    ]
    renamed = [old for old in ours if await _rename(db, old)]
    if await _rename(db, META):
        with contextlib.suppress(DuplicateKeyError):
            await db[META].insert_one({"_id": "schema", "version": version, "moved_to": PREFIX})
    if renamed:
        log.info("MongoDB collections renamed to %s*: %s", PREFIX, ", ".join(renamed))
