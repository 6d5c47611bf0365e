"""MongoDB adapter for the audit port: batched appends, filtered pages, bounded pruning.

Events are ordered by ``(ts, _id)``; a position's tiebreak is the ``_id`` ObjectId in hex.
Each single filter has a ``(<field>, ts, _id)`` index (:data:`~.client.INDEXES`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ASCENDING, DESCENDING

from mcp_gateway.domain.audit import AuditPosition, AuditQuery, AuditRow
from mcp_gateway.domain.records import AuditEvent
from mcp_gateway.errors import InvalidRequest
from mcp_gateway.storage.audit_codec import event_from_doc
from mcp_gateway.storage.codec import to_doc
from mcp_gateway.storage.mongo.client import Document, converted
from mcp_gateway.storage.mongo.names import GatewayCollections

_FILTER_FIELDS = ("server", "tool", "username", "outcome", "actor")


def _oid(position: AuditPosition) -> ObjectId:
    try:
        return ObjectId(position.tiebreak)
    except (InvalidId, TypeError):
        raise InvalidRequest("invalid audit cursor (not from this store)") from None


def _beyond(position: AuditPosition, below: bool) -> Document:
    """Strictly below (or above) ``position`` in (ts, _id) order, written as a bound on ``ts``
    (an index range) minus the position's own tie, rather than an ``$or`` of two ranges."""
    bound, tie = ("$lte", "$gte") if below else ("$gte", "$lte")
    return {
        "ts": {bound: position.ts},
        "$nor": [{"ts": position.ts, "_id": {tie: _oid(position)}}],
    }


def _match(query: AuditQuery) -> Document:
    flt = query.filter
    clauses: list[Document] = [
        {field: getattr(flt, field)} for field in _FILTER_FIELDS if getattr(flt, field) is not None
    ]
    span: dict[str, float] = {}
    if flt.since is not None:
        span["$gte"] = flt.since
    if flt.until is not None:
        span["$lt"] = flt.until
    if span:
        clauses.append({"ts": span})
    if query.before is not None:
        clauses.append(_beyond(query.before, below=True))
    elif query.after is not None:
        clauses.append(_beyond(query.after, below=False))
    if not clauses:
        return {}
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


class MongoAuditMixin(GatewayCollections):
    async def append_audits(self, events: Sequence[AuditEvent]) -> None:
        if events:
            with converted():
                await self._coll("audit").insert_many([to_doc(e) for e in events], ordered=True)

    async def list_audit(self, limit: int = 100) -> list[AuditEvent]:
        if limit <= 0:
            return []
        sort = [("ts", DESCENDING), ("_id", DESCENDING)]
        with converted():
            cursor = self._coll("audit").find({}, {"_id": 0}, sort=sort, limit=limit)
            return [event_from_doc(doc) async for doc in cursor]

    async def query_audit(self, query: AuditQuery) -> list[AuditRow]:
        way = ASCENDING if query.after is not None else DESCENDING
        sort: list[tuple[str, Any]] = [("ts", way), ("_id", way)]
        with converted():
            cursor = self._coll("audit").find(_match(query), sort=sort, limit=query.limit)
            docs = [doc async for doc in cursor]
        rows = []
        for doc in docs:
            oid = doc.pop("_id")
            position = AuditPosition(float(doc["ts"]), str(oid))
            rows.append(AuditRow(event_from_doc(doc), position))
        return rows

    async def prune_audit(self, before: float, keep: int, limit: int) -> int:
        audit = self._coll("audit")
        deleted = 0
        with converted():
            if before > 0:
                deleted += await self._delete_oldest({"ts": {"$lt": before}}, limit)
            if keep > 0 and deleted < limit:
                newest_first = [("ts", DESCENDING), ("_id", DESCENDING)]
                cursor = audit.find({}, {"ts": 1}, sort=newest_first, skip=keep, limit=1)
                cut = await anext(aiter(cursor), None)
                if cut is not None:
                    older = {
                        "$or": [
                            {"ts": {"$lt": cut["ts"]}},
                            {"ts": cut["ts"], "_id": {"$lte": cut["_id"]}},
                        ]
                    }
                    deleted += await self._delete_oldest(older, limit - deleted)
        return deleted

    async def _delete_oldest(self, query: Document, limit: int) -> int:
        """One bounded batch: the ids of the ``limit`` oldest matches, then one delete_many."""
        oldest_first = [("ts", ASCENDING), ("_id", ASCENDING)]
        cursor = self._coll("audit").find(query, {"_id": 1}, sort=oldest_first, limit=limit)
        ids = [doc["_id"] async for doc in cursor]
        if not ids:
            return 0
        result = await self._coll("audit").delete_many({"_id": {"$in": ids}})
        return int(result.deleted_count)
