"""MongoDB adapter for the non-secret ports: servers, sessions, packages, API keys (audit:
:mod:`mcp_gateway.storage.mongo.audit`)."""

from __future__ import annotations

from typing import Any, TypeVar

from pymongo import ASCENDING

from mcp_gateway.domain.changes import Change, ChangeKind
from mcp_gateway.domain.records import ApiKeyRecord, PackageRecord, UpstreamSession
from mcp_gateway.domain.servers import ServerConfig
from mcp_gateway.errors import Conflict, ServerAlreadyExists, ServerNotFound
from mcp_gateway.storage.codec import from_doc, server_from_doc, to_doc
from mcp_gateway.storage.mongo.changes import log_change
from mcp_gateway.storage.mongo.client import Document, converted, upsert
from mcp_gateway.storage.mongo.names import GatewayCollections

T = TypeVar("T")

NO_ID = {"_id": 0}


class MongoRecordsMixin(GatewayCollections):
    async def _find(
        self,
        cls: type[T],
        collection: str,
        query: Document,
        sort: list[tuple[str, Any]],
        limit: int = 0,
    ) -> list[T]:
        with converted():
            cursor = self._coll(collection).find(query, NO_ID, sort=sort, limit=limit)
            return [from_doc(cls, doc) async for doc in cursor]

    async def _find_one(self, cls: type[T], collection: str, query: Document) -> T | None:
        with converted():
            doc = await self._coll(collection).find_one(query, NO_ID)
        return from_doc(cls, doc) if doc is not None else None

    async def _upsert(self, collection: str, query: Document, doc: Document) -> None:
        await upsert(self._coll(collection), query, doc)

    async def _delete(self, collection: str, query: Document, many: bool = False) -> int:
        with converted():
            coll = self._coll(collection)
            result = await (coll.delete_many(query) if many else coll.delete_one(query))
        return result.deleted_count

    # -- servers ---------------------------------------------------------------------------

    async def create_server(self, server: ServerConfig) -> None:
        with converted(lambda: ServerAlreadyExists(server.name)):
            await self._coll("servers").insert_one(to_doc(server))
        await log_change(self._db, Change(ChangeKind.SERVER, server.name))

    async def update_server(self, server: ServerConfig) -> None:
        with converted():
            result = await self._coll("servers").replace_one({"name": server.name}, to_doc(server))
        if result.matched_count == 0:
            raise ServerNotFound(server.name)
        await log_change(self._db, Change(ChangeKind.SERVER, server.name))

    async def get_server(self, name: str) -> ServerConfig | None:
        with converted():
            doc = await self._coll("servers").find_one({"name": name}, NO_ID)
        return server_from_doc(doc) if doc is not None else None

    async def list_servers(self) -> list[ServerConfig]:
        with converted():
            cursor = self._coll("servers").find({}, NO_ID, sort=[("name", ASCENDING)])
            return [server_from_doc(doc) async for doc in cursor]

    async def delete_server(self, name: str) -> bool:
        return await self._logged_delete("servers", {"name": name}, Change(ChangeKind.SERVER, name))

    async def _logged_delete(self, collection: str, query: Document, change: Change) -> bool:
        if await self._delete(collection, query) == 0:
            return False
        await log_change(self._db, change)
        return True

    # -- upstream sessions -----------------------------------------------------------------

    async def put_session(self, session: UpstreamSession) -> None:
        key = {"server": session.server, "scope": session.scope}
        await self._upsert("sessions", key, to_doc(session))

    async def get_session(self, server: str, scope: str) -> UpstreamSession | None:
        return await self._find_one(UpstreamSession, "sessions", {"server": server, "scope": scope})

    async def delete_session(self, server: str, scope: str) -> bool:
        return await self._delete("sessions", {"server": server, "scope": scope}) > 0

    async def delete_server_sessions(self, server: str) -> int:
        return await self._delete("sessions", {"server": server}, many=True)

    async def list_session_scopes(self, server: str) -> list[str]:
        with converted():
            cursor = self._coll("sessions").find(
                {"server": server}, {"_id": 0, "scope": 1}, sort=[("scope", ASCENDING)]
            )
            return [doc["scope"] async for doc in cursor]

    # -- packages --------------------------------------------------------------------------

    async def put_package(self, package: PackageRecord) -> None:
        await self._upsert("packages", {"server_name": package.server_name}, to_doc(package))
        await log_change(self._db, Change(ChangeKind.PACKAGE, package.server_name))

    async def get_package(self, server_name: str) -> PackageRecord | None:
        return await self._find_one(PackageRecord, "packages", {"server_name": server_name})

    async def find_packages_by_name(self, name: str) -> list[PackageRecord]:
        return await self._find(
            PackageRecord, "packages", {"name": name}, [("server_name", ASCENDING)]
        )

    async def list_packages(self) -> list[PackageRecord]:
        return await self._find(PackageRecord, "packages", {}, [("server_name", ASCENDING)])

    async def delete_package(self, server_name: str) -> bool:
        change = Change(ChangeKind.PACKAGE, server_name)
        return await self._logged_delete("packages", {"server_name": server_name}, change)

    # -- API keys --------------------------------------------------------------------------

    async def create_api_key(self, key: ApiKeyRecord) -> None:
        with converted(lambda: Conflict(f"API key {key.id!r} (or its hash) already exists")):
            await self._coll("api_keys").insert_one(to_doc(key))
        await log_change(self._db, Change(ChangeKind.API_KEY, key.id))

    async def get_api_key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        return await self._find_one(ApiKeyRecord, "api_keys", {"key_hash": key_hash})

    async def list_api_keys(self) -> list[ApiKeyRecord]:
        return await self._find(
            ApiKeyRecord, "api_keys", {}, [("created_at", ASCENDING), ("id", ASCENDING)]
        )

    async def delete_api_key(self, key_id: str) -> bool:
        return await self._logged_delete(
            "api_keys", {"id": key_id}, Change(ChangeKind.API_KEY, key_id)
        )

    async def count_api_keys(self) -> int:
        with converted():
            return await self._coll("api_keys").count_documents({})

    async def touch_api_key(self, key_id: str, when: float) -> None:
        with converted():
            await self._coll("api_keys").update_one(
                {"id": key_id}, {"$set": {"last_used_at": when}}
            )
