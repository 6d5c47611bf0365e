"""MongoDB adapter for per-user installs (:class:`~mcp_gateway.storage.ports.UserInstallStore`),
collection ``mcpgw_user_installs``."""

from __future__ import annotations

from pymongo import ASCENDING

from mcp_gateway.domain.user_servers import UserServerInstall
from mcp_gateway.storage.codec import from_doc, to_doc
from mcp_gateway.storage.mongo.client import converted, upsert
from mcp_gateway.storage.mongo.names import GatewayCollections

_COLL = "user_installs"
_NO_ID = {"_id": 0}


class MongoInstallsMixin(GatewayCollections):
    async def put_install(self, install: UserServerInstall) -> None:
        key = {"server": install.server, "username": install.username}
        await upsert(self._coll(_COLL), key, to_doc(install))

    async def get_install(self, server: str, username: str) -> UserServerInstall | None:
        with converted():
            doc = await self._coll(_COLL).find_one({"server": server, "username": username}, _NO_ID)
        return from_doc(UserServerInstall, doc) if doc is not None else None

    async def _installs(self, query: dict[str, str], order: str) -> list[UserServerInstall]:
        with converted():
            cursor = self._coll(_COLL).find(query, _NO_ID, sort=[(order, ASCENDING)])
            return [from_doc(UserServerInstall, doc) async for doc in cursor]

    async def list_user_installs(self, username: str) -> list[UserServerInstall]:
        return await self._installs({"username": username}, "server")

    async def list_server_installs(self, server: str) -> list[UserServerInstall]:
        return await self._installs({"server": server}, "username")

    async def delete_install(self, server: str, username: str) -> bool:
        with converted():
            result = await self._coll(_COLL).delete_one({"server": server, "username": username})
        return result.deleted_count > 0

    async def delete_server_installs(self, server: str) -> int:
        with converted():
            result = await self._coll(_COLL).delete_many({"server": server})
        return result.deleted_count

    async def list_installs_with_client_secret(self) -> list[UserServerInstall]:
        with converted():
            cursor = self._coll(_COLL).find(
                {"client_secret": {"$ne": None}},
                _NO_ID,
                sort=[("server", ASCENDING), ("username", ASCENDING)],
            )
            return [from_doc(UserServerInstall, doc) async for doc in cursor]

    async def replace_install_client_secret(
        self, server: str, username: str, old: bytes, new: bytes
    ) -> bool:
        with converted():
            result = await self._coll(_COLL).update_one(
                {"server": server, "username": username, "client_secret": old},
                {"$set": {"client_secret": new}},
            )
        return result.modified_count > 0
