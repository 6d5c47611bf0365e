"""MongoDB adapter for the secret-bearing ports: secrets, OAuth tokens and leases.

Ciphertexts are stored as BSON binary (pymongo encodes ``bytes`` so and decodes them back).
Token ``fields`` are written as a sub-document with sorted keys, so a compare-and-swap can match
the whole sub-document by equality (BSON compares sub-documents field by field, in order).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from mcp_gateway.domain.changes import Change, ChangeKind
from mcp_gateway.domain.records import StoredOAuthTokens, StoredSecret
from mcp_gateway.storage.codec import from_doc, to_doc
from mcp_gateway.storage.mongo.changes import log_change
from mcp_gateway.storage.mongo.client import Document, converted, upsert
from mcp_gateway.storage.mongo.names import GatewayCollections

_SECRET_FIELDS = {"_id": 0, "name": 1, "ciphertext": 1, "updated_at": 1}


def _sorted(fields: dict[str, bytes]) -> dict[str, bytes]:
    return dict(sorted(fields.items()))


def _secret_key(username: str, server: str, name: str) -> Document:
    return {"username": username, "server": server, "name": name}


class MongoSecretsMixin(GatewayCollections):
    # -- secrets ---------------------------------------------------------------------------

    async def put_secret(self, secret: StoredSecret) -> None:
        key = _secret_key(secret.username, secret.server, secret.name)
        await upsert(self._coll("secrets"), key, to_doc(secret))
        await log_change(self._db, Change(ChangeKind.SECRET, secret.server, secret.username))

    async def get_secrets(self, username: str, server: str) -> list[StoredSecret]:
        # One query on the (username, server, name) unique index, which also yields name order.
        with converted():
            cursor = self._coll("secrets").find(
                {"username": username, "server": server},
                _SECRET_FIELDS,
                sort=[("name", ASCENDING)],
            )
            return [
                StoredSecret(username, server, d["name"], d["ciphertext"], d.get("updated_at", 0.0))
                async for d in cursor
            ]

    async def list_secret_names(self, username: str, server: str) -> list[str]:
        with converted():
            cursor = self._coll("secrets").find(
                {"username": username, "server": server},
                {"_id": 0, "name": 1},
                sort=[("name", ASCENDING)],
            )
            return [doc["name"] async for doc in cursor]

    async def count_user_secrets(self, username: str) -> int:
        with converted():
            return await self._coll("secrets").count_documents({"username": username})

    async def delete_secret(self, username: str, server: str, name: str) -> bool:
        with converted():
            result = await self._coll("secrets").delete_one(_secret_key(username, server, name))
        if result.deleted_count == 0:
            return False
        await log_change(self._db, Change(ChangeKind.SECRET, server, username))
        return True

    async def count_server_secret_users(self, server: str) -> int:
        with converted():
            return len(await self._coll("secrets").distinct("username", {"server": server}))

    async def delete_server_secrets(self, server: str) -> int:
        with converted():
            result = await self._coll("secrets").delete_many({"server": server})
        if result.deleted_count:
            await log_change(self._db, Change(ChangeKind.SECRET, server))
        return result.deleted_count

    async def iter_all_secrets(self) -> AsyncIterator[StoredSecret]:
        # ``async with`` closes the server-side cursor if the caller stops early.
        with converted():
            async with self._coll("secrets").find({}, {"_id": 0}) as cursor:
                async for doc in cursor:
                    yield from_doc(StoredSecret, doc)

    async def replace_secret_ciphertext(
        self, username: str, server: str, name: str, old: bytes, new: bytes
    ) -> bool:
        with converted():
            result = await self._coll("secrets").update_one(
                {**_secret_key(username, server, name), "ciphertext": old},
                {"$set": {"ciphertext": new}},
            )
        return result.modified_count == 1

    # -- OAuth tokens ----------------------------------------------------------------------

    async def put_tokens(self, tokens: StoredOAuthTokens) -> None:
        doc = to_doc(tokens)
        doc["fields"] = _sorted(tokens.fields)
        key = {"server": tokens.server, "username": tokens.username}
        await upsert(self._coll("oauth_tokens"), key, doc)
        await log_change(self._db, Change(ChangeKind.OAUTH, tokens.server, tokens.username))

    async def get_tokens(self, server: str, username: str) -> StoredOAuthTokens | None:
        with converted():
            doc = await self._coll("oauth_tokens").find_one(
                {"server": server, "username": username}, {"_id": 0}
            )
        return from_doc(StoredOAuthTokens, doc) if doc is not None else None

    async def delete_tokens(self, server: str, username: str) -> bool:
        with converted():
            result = await self._coll("oauth_tokens").delete_one(
                {"server": server, "username": username}
            )
        if result.deleted_count == 0:
            return False
        await log_change(self._db, Change(ChangeKind.OAUTH, server, username))
        return True

    async def count_server_token_users(self, server: str) -> int:
        with converted():
            return await self._coll("oauth_tokens").count_documents({"server": server})

    async def delete_server_tokens(self, server: str) -> int:
        with converted():
            result = await self._coll("oauth_tokens").delete_many({"server": server})
        if result.deleted_count:
            await log_change(self._db, Change(ChangeKind.OAUTH, server))
        return result.deleted_count

    async def iter_all_tokens(self) -> AsyncIterator[StoredOAuthTokens]:
        # ``async with`` closes the server-side cursor if the caller stops early.
        with converted():
            async with self._coll("oauth_tokens").find({}, {"_id": 0}) as cursor:
                async for doc in cursor:
                    yield from_doc(StoredOAuthTokens, doc)

    async def replace_token_fields(
        self, server: str, username: str, old: dict[str, bytes], new: dict[str, bytes]
    ) -> bool:
        with converted():
            result = await self._coll("oauth_tokens").update_one(
                {"server": server, "username": username, "fields": _sorted(old)},
                {"$set": {"fields": _sorted(new)}},
            )
        return result.matched_count == 1

    # -- leases ----------------------------------------------------------------------------

    async def acquire_lease(self, key: str, holder: str, ttl: float) -> bool:
        now = time.time()  # wall clock: leases are shared across processes
        with converted():
            try:
                doc = await self._coll("leases").find_one_and_update(
                    {"key": key, "$or": [{"expires_at": {"$lte": now}}, {"holder": holder}]},
                    {"$set": {"holder": holder, "expires_at": now + ttl}},
                    projection={"_id": 0, "holder": 1},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:
                # The filter did not match (held by someone else, not expired), so the upsert
                # tried to insert a second document for ``key`` and the unique index refused.
                return False
        return doc is not None and doc.get("holder") == holder

    async def release_lease(self, key: str, holder: str) -> None:
        with converted():
            await self._coll("leases").delete_one({"key": key, "holder": holder})
