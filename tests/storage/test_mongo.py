"""MongoDB-only behaviour: outages are quick errors, binary ciphertexts, indexes, bad URIs."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from pymongo import AsyncMongoClient

from mcp_gateway.config import load_settings
from mcp_gateway.domain.records import AuditEvent, StoredSecret, UpstreamSession
from mcp_gateway.errors import ConfigError
from mcp_gateway.storage.factory import open_store
from mcp_gateway.storage.mongo import MongoStore
from mcp_gateway.storage.ports import Store
from tests.migration import mcp_api_db
from tests.storage.test_contract import FULL_SERVER, TOKENS, _key, _package

pytestmark = pytest.mark.anyio

RawClient = AsyncMongoClient[dict[str, Any]]


async def _child(mongodb_uri: str, mongodb_db: str, mode: str) -> dict[str, Any]:
    """Run tests/storage/mongo_outage.py (see there why outages run in a child process)."""
    with anyio.fail_after(60):
        done = await anyio.run_process(
            [sys.executable, "-m", "tests.storage.mongo_outage", mongodb_uri, mongodb_db, mode],
            check=False,
            cwd=Path(__file__).parents[2],
        )
    assert done.returncode == 0, done.stderr.decode()
    result: dict[str, Any] = json.loads(done.stdout)
    return result


async def test_unreachable_mongodb_fails_fast_with_store_unavailable(
    mongodb_uri: str, mongodb_db: str
) -> None:
    result = await _child(mongodb_uri, mongodb_db, "unreachable")
    assert result["open"] == "StoreUnavailable"
    assert result["message"].startswith("MongoDB unreachable")
    assert result["elapsed"] < 5  # io_timeout is 0.5 s


@pytest.mark.parametrize("outage", ["refused", "blackhole"])
async def test_outage_after_open_is_store_unavailable_within_the_timeout(
    mongodb_uri: str, mongodb_db: str, outage: str
) -> None:
    result = await _child(mongodb_uri, mongodb_db, outage)
    assert result["before"] == "ok"
    assert result["get_secrets"] == "StoreUnavailable"
    assert result["ping"] == "StoreUnavailable"
    assert result["elapsed"] < 5  # io_timeout is 0.5 s: an error, never a hang


async def test_malformed_uri_is_a_config_error_that_does_not_echo_it() -> None:
    settings = load_settings(
        environ={}, store={"mongodb_uri": "mongodb://admin:hunter2@host:notaport/"}
    )
    with pytest.raises(ConfigError) as err:
        async with open_store(settings):
            pass
    assert "hunter2" not in str(err.value)
    assert "URI" in str(err.value)


@pytest.fixture
async def raw_db(mongodb_uri: str, mongodb_db: str) -> AsyncIterator[RawClient]:
    client: RawClient = AsyncMongoClient(mongodb_uri)
    try:
        yield client
    finally:
        await client.close()


async def test_ciphertexts_are_stored_as_bson_binary(
    mongo_store: Store,
    raw_db: RawClient,
    mongodb_db: str,
) -> None:
    await mongo_store.put_secret(StoredSecret("alice", "s", "K", b"\x00\xffct"))
    doc = await raw_db[mongodb_db]["mcpgw_secrets"].find_one({"username": "alice"})
    assert doc is not None
    assert doc["ciphertext"] == b"\x00\xffct"  # pymongo decodes BSON binary (subtype 0) to bytes
    assert isinstance(doc["ciphertext"], bytes)


async def test_unique_indexes_exist_on_every_natural_key(
    mongo_store: Store,
    raw_db: RawClient,
    mongodb_db: str,
) -> None:
    db = raw_db[mongodb_db]
    expected = {
        "servers": [("name", 1)],
        "secrets": [("username", 1), ("server", 1), ("name", 1)],
        "oauth_tokens": [("server", 1), ("username", 1)],
        "sessions": [("server", 1), ("scope", 1)],
        "packages": [("server_name", 1)],
        "api_keys": [("key_hash", 1)],
        "leases": [("key", 1)],
    }
    for collection, keys in expected.items():
        info = await db["mcpgw_" + collection].index_information()
        unique = [[(k, int(d)) for k, d in ix["key"]] for ix in info.values() if ix.get("unique")]
        assert keys in unique, collection


async def test_schema_newer_than_the_code_is_a_config_error(
    mongodb_uri: str,
    mongodb_db: str,
    raw_db: RawClient,
) -> None:
    await raw_db[mongodb_db]["mcpgw_meta"].insert_one({"_id": "schema", "version": 99})
    with pytest.raises(ConfigError, match="schema version 99"):
        await MongoStore.open(mongodb_uri, mongodb_db, io_timeout=2)


async def test_secret_fetch_filter_is_served_by_the_unique_index(
    mongo_store: Store, raw_db: RawClient, mongodb_db: str
) -> None:
    explained = await raw_db[mongodb_db].command(
        "explain",
        {"find": "mcpgw_secrets", "filter": {"username": "alice", "server": "github"}},
    )
    plan = str(explained["queryPlanner"]["winningPlan"])
    assert "IXSCAN" in plan
    assert "user_server_name_unique" in plan


async def _dump(db: Any) -> dict[str, Any]:
    """Every collection's documents (``_id`` order) and index names."""
    out: dict[str, Any] = {}
    for name in sorted(await db.list_collection_names()):
        docs = [doc async for doc in db[name].find({}).sort("_id", 1)]
        out[name] = (docs, sorted(await db[name].index_information()))
    return out


AUDIT = AuditEvent(1.0, "r1", "key1", "service", "tool_call", "alice", "github", "t", 1.5)


async def _write_one_of_everything(store: Store) -> None:
    await store.create_server(FULL_SERVER)
    await store.put_secret(StoredSecret("alice", FULL_SERVER.name, "TOKEN", b"ct"))
    await store.put_tokens(TOKENS)
    await store.put_session(UpstreamSession(FULL_SERVER.name, "", "sid-1"))
    await store.put_package(_package(FULL_SERVER.name, "@scope/web"))
    await store.create_api_key(_key("k1", "h1", 1.0))
    await store.append_audits([AUDIT])
    assert await store.acquire_lease("lease", "holder", 30)


async def _gateway_view(store: Store) -> list[Any]:
    return [
        await store.list_servers(),
        await store.get_secrets("alice", FULL_SERVER.name),
        await store.count_user_secrets("carol"),
        await store.get_tokens(TOKENS.server, TOKENS.username),
        await store.get_session(FULL_SERVER.name, ""),
        await store.list_packages(),
        await store.list_api_keys(),
        await store.list_audit(),
    ]


async def test_the_gateway_and_mcp_api_share_a_database_without_touching_each_other(
    make_settings: Any, tmp_path: Path, raw_db: RawClient, mongodb_uri: str, mongodb_db: str
) -> None:
    await anyio.to_thread.run_sync(mcp_api_db.build, mongodb_uri, mongodb_db)
    db = raw_db[mongodb_db]
    # mcp-api's own unique indexes on its collections (its models create them).
    await db["secrets"].create_index([("username", 1), ("key", 1)], unique=True)
    await db["packages"].create_index([("name", 1)], unique=True)
    mcp_api_before = await _dump(db)
    async with open_store(make_settings(tmp_path, "mongodb")) as store:
        await _write_one_of_everything(store)
        view = await _gateway_view(store)
        assert [s.name for s in view[0]] == [FULL_SERVER.name]  # not mcp-api's servers
        assert view[5] == [_package(FULL_SERVER.name, "@scope/web")]  # nor its packages
        mixed = await _dump(db)
        ours = {name for name in mixed if name not in mcp_api_before}
        assert ours and all(name.startswith("mcpgw_") for name in ours)
        assert {k: v for k, v in mixed.items() if k not in ours} == mcp_api_before
        # mcp-api keeps writing to its collections; the gateway sees none of it.
        await db["secrets"].insert_one({"username": "carol", "key": "github.T", "value": "x"})
        await db["packages"].insert_one({"name": "@scope/web", "serverName": FULL_SERVER.name})
        await db["mcp"].insert_one({"name": "late", "transportType": "stdio", "command": "x"})
        assert await _gateway_view(store) == view


async def test_an_unprefixed_gateway_database_is_moved_once_by_replicas_starting_together(
    make_settings: Any, tmp_path: Path, raw_db: RawClient, mongodb_uri: str, mongodb_db: str
) -> None:
    settings = make_settings(tmp_path, "mongodb")
    async with open_store(settings) as store:
        await _write_one_of_everything(store)
        await store.delete_package(FULL_SERVER.name)
        view = await _gateway_view(store)
    # Turn it into what a gateway before the prefix left (schema 1, bare names), sharing the
    # database with an mcp-api that has its own "packages" (the gateway has none here).
    db = raw_db[mongodb_db]
    for name in await db.list_collection_names():
        if name != "mcpgw_audit":  # already moved by a start that crashed half-way
            await db[name].rename(name.removeprefix("mcpgw_"))
    await db["meta"].update_one({"_id": "schema"}, {"$set": {"version": 1}})
    await db["packages"].drop()
    await db["packages"].insert_one({"name": "mcp-api-package"})  # mcp-api's, same name
    stores: list[Store] = []

    async def start() -> None:
        stores.append(await MongoStore.open(mongodb_uri, mongodb_db, io_timeout=5))

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(start)
    try:
        for opened in stores:
            assert await _gateway_view(opened) == view
    finally:
        for opened in stores:
            await opened.aclose()
    names = set(await db.list_collection_names())
    assert {"servers", "secrets", "oauth_tokens", "sessions", "audit"}.isdisjoint(names)
    assert [d["name"] async for d in db["packages"].find({})] == ["mcp-api-package"]
    # An old gateway now refuses this database instead of starting on an empty one.
    tombstone = await db["meta"].find_one({"_id": "schema"})
    assert tombstone is not None and tombstone["version"] > 1
    async with open_store(settings) as again:  # a later start changes nothing
        assert await _gateway_view(again) == view
    assert set(await db.list_collection_names()) == names
