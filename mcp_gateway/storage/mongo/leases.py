"""MongoDB fenced leases (``LeaseStore``): documents of the ``leases`` collection with a
``token`` that grows by one with every new holder of a key (``$inc`` in the same atomic
``find_one_and_update`` that takes it). A released lease keeps its document (expired)."""

from __future__ import annotations

import time

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from mcp_gateway.storage.mongo.client import converted
from mcp_gateway.storage.mongo.names import GatewayCollections


class MongoLeasesMixin(GatewayCollections):
    async def acquire_fenced_lease(self, key: str, holder: str, ttl: float) -> int | None:
        now = time.time()  # wall clock: leases are shared across processes
        with converted():
            try:
                doc = await self._coll("leases").find_one_and_update(
                    {"key": key, "expires_at": {"$lte": now}},
                    {"$set": {"holder": holder, "expires_at": now + ttl}, "$inc": {"token": 1}},
                    projection={"_id": 0, "holder": 1, "token": 1},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:
                return None  # held and not expired: the upsert's insert hit the unique key
        if doc is None or doc.get("holder") != holder:
            return None
        return int(doc["token"])

    async def renew_fenced_lease(self, key: str, holder: str, token: int, ttl: float) -> bool:
        now = time.time()
        with converted():
            result = await self._coll("leases").update_one(
                {"key": key, "holder": holder, "token": token, "expires_at": {"$gt": now}},
                {"$set": {"expires_at": now + ttl}},
            )
        return result.matched_count == 1

    async def release_fenced_lease(self, key: str, holder: str, token: int) -> None:
        with converted():
            await self._coll("leases").update_one(
                {"key": key, "holder": holder, "token": token}, {"$set": {"expires_at": 0.0}}
            )
