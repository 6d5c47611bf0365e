"""MongoDB adapter for the toolsets port (collection ``mcpgw_toolsets``, unique by name)."""

from __future__ import annotations

from pymongo import ASCENDING

from mcp_gateway.domain.changes import Change, ChangeKind
from mcp_gateway.domain.toolsets import Toolset
from mcp_gateway.storage.codec import from_doc, to_doc
from mcp_gateway.storage.mongo.changes import log_change
from mcp_gateway.storage.mongo.client import converted, upsert
from mcp_gateway.storage.mongo.names import GatewayCollections

_NO_ID = {"_id": 0}


class MongoToolsetsMixin(GatewayCollections):
    async def put_toolset(self, toolset: Toolset) -> None:
        # One replace_one: a toolset is one document, so a write is never partial.
        await upsert(self._coll("toolsets"), {"name": toolset.name}, to_doc(toolset))
        await log_change(self._db, Change(ChangeKind.TOOLSET, toolset.name))  # change feed

    async def get_toolset(self, name: str) -> Toolset | None:
        with converted():
            doc = await self._coll("toolsets").find_one({"name": name}, _NO_ID)
        return from_doc(Toolset, doc) if doc is not None else None

    async def list_toolsets(self) -> list[Toolset]:
        with converted():
            cursor = self._coll("toolsets").find({}, _NO_ID, sort=[("name", ASCENDING)])
            return [from_doc(Toolset, doc) async for doc in cursor]

    async def delete_toolset(self, name: str) -> bool:
        with converted():
            result = await self._coll("toolsets").delete_one({"name": name})
        if result.deleted_count == 0:
            return False
        await log_change(self._db, Change(ChangeKind.TOOLSET, name))
        return True
