"""MongoDB adapter for each replica's package states (collection ``mcpgw_package_states``,
unique by server and replica)."""

from __future__ import annotations

from pymongo import ASCENDING

from mcp_gateway.domain.package_states import ReplicaPackageState
from mcp_gateway.storage.codec import from_doc, to_doc
from mcp_gateway.storage.mongo.client import converted, upsert
from mcp_gateway.storage.mongo.names import GatewayCollections

_NO_ID = {"_id": 0}


class MongoPackageStatesMixin(GatewayCollections):
    async def put_package_state(self, state: ReplicaPackageState) -> None:
        key = {"server_name": state.server_name, "replica": state.replica}
        await upsert(self._coll("package_states"), key, to_doc(state))

    async def list_package_states(self) -> list[ReplicaPackageState]:
        order = [("server_name", ASCENDING), ("replica", ASCENDING)]
        with converted():
            cursor = self._coll("package_states").find({}, _NO_ID, sort=order)
            return [from_doc(ReplicaPackageState, doc) async for doc in cursor]

    async def touch_package_states(self, replica: str, when: float) -> None:
        with converted():
            await self._coll("package_states").update_many(
                {"replica": replica}, {"$set": {"updated_at": when}}
            )

    async def prune_package_states(self, before: float) -> int:
        with converted():
            result = await self._coll("package_states").delete_many({"updated_at": {"$lt": before}})
        return result.deleted_count

    async def delete_package_states(self, server_name: str) -> None:
        with converted():
            await self._coll("package_states").delete_many({"server_name": server_name})
