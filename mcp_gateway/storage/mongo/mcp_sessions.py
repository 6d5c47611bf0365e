"""MongoDB adapter for the MCP endpoint's legacy sessions (collection ``mcpgw_mcp_sessions``,
unique by id hash; indexed by owner and ``last_seen`` for the per-caller count and expiry).

A delete or a log-level change is appended to the change log right after the write; an idle
sweep is not (every replica's copy of an idle session has idled out already).
"""

from __future__ import annotations

from collections.abc import Sequence

from mcp_gateway.domain.changes import Change, ChangeKind
from mcp_gateway.domain.mcp_sessions import McpSessionOwner, McpSessionRecord
from mcp_gateway.storage.codec import from_doc, to_doc
from mcp_gateway.storage.mongo.changes import log_change
from mcp_gateway.storage.mongo.client import converted
from mcp_gateway.storage.mongo.names import GatewayCollections

_NO_ID = {"_id": 0}


class MongoMcpSessionsMixin(GatewayCollections):
    async def create_mcp_session(self, record: McpSessionRecord) -> None:
        with converted():
            await self._coll("mcp_sessions").insert_one(to_doc(record))

    async def get_mcp_session(self, id_hash: str) -> McpSessionRecord | None:
        with converted():
            doc = await self._coll("mcp_sessions").find_one({"id_hash": id_hash}, _NO_ID)
        return from_doc(McpSessionRecord, doc) if doc is not None else None

    async def count_mcp_sessions(self, owner: McpSessionOwner, seen_since: float) -> int:
        query = {
            "owner.key_id": owner.key_id,
            "owner.username": owner.username,
            "owner.endpoint": owner.endpoint,
            "last_seen": {"$gte": seen_since},
        }
        with converted():
            return int(await self._coll("mcp_sessions").count_documents(query))

    async def touch_mcp_sessions(self, id_hashes: Sequence[str], at: float) -> set[str]:
        if not id_hashes:
            return set()
        query = {"id_hash": {"$in": list(id_hashes)}}
        coll = self._coll("mcp_sessions")
        with converted():
            await coll.update_many(query, {"$max": {"last_seen": at}})
            return {str(doc["id_hash"]) async for doc in coll.find(query, {"id_hash": 1})}

    async def set_mcp_session_log_level(self, id_hash: str, level: str) -> bool:
        with converted():
            result = await self._coll("mcp_sessions").update_one(
                {"id_hash": id_hash}, {"$set": {"log_level": level}}
            )
        if result.matched_count == 0:
            return False
        await log_change(self._db, Change(ChangeKind.MCP_SESSION, id_hash))
        return True

    async def delete_mcp_session(self, id_hash: str) -> bool:
        with converted():
            result = await self._coll("mcp_sessions").delete_one({"id_hash": id_hash})
        if result.deleted_count == 0:
            return False
        await log_change(self._db, Change(ChangeKind.MCP_SESSION, id_hash))
        return True

    async def delete_idle_mcp_sessions(self, seen_before: float) -> int:
        with converted():
            result = await self._coll("mcp_sessions").delete_many(
                {"last_seen": {"$lt": seen_before}}
            )
        return int(result.deleted_count)
