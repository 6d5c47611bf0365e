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
from mcp_gateway.domain.records import StoredSecret
from mcp_gateway.errors import ConfigError
from mcp_gateway.storage.factory import open_store
from mcp_gateway.storage.mongo import MongoStore
from mcp_gateway.storage.ports import Store

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
    doc = await raw_db[mongodb_db]["secrets"].find_one({"username": "alice"})
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
        info = await db[collection].index_information()
        unique = [[(k, int(d)) for k, d in ix["key"]] for ix in info.values() if ix.get("unique")]
        assert keys in unique, collection


async def test_schema_newer_than_the_code_is_a_config_error(
    mongodb_uri: str,
    mongodb_db: str,
    raw_db: RawClient,
) -> None:
    await raw_db[mongodb_db]["meta"].insert_one({"_id": "schema", "version": 99})
    with pytest.raises(ConfigError, match="schema version 99"):
        await MongoStore.open(mongodb_uri, mongodb_db, io_timeout=2)


async def test_secret_fetch_filter_is_served_by_the_unique_index(
    mongo_store: Store, raw_db: RawClient, mongodb_db: str
) -> None:
    explained = await raw_db[mongodb_db].command(
        "explain",
        {"find": "secrets", "filter": {"username": "alice", "server": "github"}},
    )
    plan = str(explained["queryPlanner"]["winningPlan"])
    assert "IXSCAN" in plan
    assert "user_server_name_unique" in plan
