"""MongoDB adapter for the runs port (collection ``mcpgw_runs``; indexes in client.INDEXES)."""

from __future__ import annotations

from typing import Any

from pymongo import DESCENDING

from mcp_gateway.domain.runs import ACTIVE_STATUSES, RunError, RunQuery, RunRecord, RunStatus
from mcp_gateway.errors import Conflict
from mcp_gateway.storage.codec import from_doc, to_doc
from mcp_gateway.storage.mongo.client import Document, converted
from mcp_gateway.storage.mongo.names import GatewayCollections

_NO_ID = {"_id": 0}
_ACTIVE: Document = {"$in": list(ACTIVE_STATUSES)}
_NEWEST_FIRST: list[tuple[str, Any]] = [("created_at", DESCENDING), ("id", DESCENDING)]


class MongoRunsMixin(GatewayCollections):
    async def create_run(self, run: RunRecord) -> None:
        with converted(lambda: Conflict(f"run {run.id!r} already exists")):
            await self._coll("runs").insert_one(to_doc(run))

    async def get_run(self, run_id: str) -> RunRecord | None:
        with converted():
            doc = await self._coll("runs").find_one({"id": run_id}, _NO_ID)
        return from_doc(RunRecord, doc) if doc is not None else None

    async def update_run(self, run: RunRecord) -> bool:
        with converted():
            result = await self._coll("runs").replace_one(
                {"id": run.id, "status": _ACTIVE, "seq": run.seq - 1}, to_doc(run)
            )
        return result.matched_count > 0

    async def list_runs(self, query: RunQuery) -> list[RunRecord]:
        if query.limit <= 0:
            return []
        match: Document = {}
        if query.scope.key_id is not None:
            match["key_id"] = query.scope.key_id
        if query.scope.username is not None:
            match["username"] = query.scope.username
        if query.status is not None:
            match["status"] = query.status.value
        if query.server is not None:
            match["server"] = query.server
        if query.before is not None:
            at, run_id = query.before
            match["$or"] = [{"created_at": {"$lt": at}}, {"created_at": at, "id": {"$lt": run_id}}]
        with converted():
            cursor = self._coll("runs").find(match, _NO_ID, sort=_NEWEST_FIRST, limit=query.limit)
            return [from_doc(RunRecord, doc) async for doc in cursor]

    async def count_active_runs(self, key_id: str, username: str) -> int:
        with converted():
            return await self._coll("runs").count_documents(
                {"key_id": key_id, "username": username, "status": _ACTIVE}
            )

    async def interrupt_runs(self, replica: str, error_code: str, message: str, now: float) -> int:
        update = {
            "$set": {
                "status": RunStatus.INTERRUPTED.value,
                "finished_at": now,
                "error": to_doc(RunError(error_code, message, 503)),
            },
            "$inc": {"seq": 1},
        }
        with converted():
            result = await self._coll("runs").update_many(
                {"replica": replica, "status": _ACTIVE}, update
            )
        return int(result.modified_count)

    async def list_run_replicas(self) -> list[str]:
        with converted():
            replicas = await self._coll("runs").distinct("replica", {"status": _ACTIVE})
        return sorted(str(replica) for replica in replicas)

    async def purge_runs(self, before: float, limit: int) -> int:
        query = {"status": {"$nin": list(ACTIVE_STATUSES)}, "finished_at": {"$lt": before}}
        with converted():
            runs = self._coll("runs")
            cursor = runs.find(query, {"_id": 1}, sort=[("finished_at", 1)], limit=limit)
            ids = [doc["_id"] async for doc in cursor]
            if not ids:
                return 0
            result = await runs.delete_many({"_id": {"$in": ids}})
        return int(result.deleted_count)
