"""The storage contract: every port, run against both backends through the ``store`` fixture."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import pytest

from mcp_gateway.config import Settings
from mcp_gateway.domain.records import (
    ApiKeyRecord,
    AuditEvent,
    PackageRecord,
    PackageRuntime,
    Role,
    StoredOAuthTokens,
    StoredSecret,
    UpstreamSession,
)
from mcp_gateway.domain.servers import (
    InjectAs,
    Isolation,
    OAuthSpec,
    ReconnectionOptions,
    SecretField,
    SecretSpec,
    ServerConfig,
    ServerMetadata,
    TransportType,
    oauth_enabled,
)
from mcp_gateway.errors import Conflict, ServerAlreadyExists, ServerNotFound
from mcp_gateway.storage.codec import to_doc
from mcp_gateway.storage.factory import open_store
from mcp_gateway.storage.mongo import MongoStore
from mcp_gateway.storage.ports import Store
from mcp_gateway.storage.sqlite import SqliteStore

pytestmark = pytest.mark.anyio

# Not valid UTF-8, contains NUL: ciphertexts must round-trip as opaque bytes.
T = TypeVar("T")
MakeSettings = Callable[..., Settings]

BLOB = b"\x00\xff\xfe\x01ciphertext\x80"

FULL_SERVER = ServerConfig(
    name="github",
    transport_type=TransportType.STREAMABLE_HTTP,
    command=None,
    args=("--flag", "x"),
    env={"LOG": "1"},
    cwd="/srv",
    url="https://example.test/mcp",
    headers={"X-Org": "acme"},
    reconnection=ReconnectionOptions(enabled=False, max_retries=3, initial_delay=1.5),
    enabled=False,
    startup_timeout=12.5,
    call_timeout=99.0,
    max_concurrency=4,
    isolation=Isolation.PER_USER,
    max_instances=7,
    secrets=(
        SecretSpec("GITHUB_TOKEN", InjectAs.HEADER, "Authorization", "Bearer {value}"),
        SecretSpec("ORG", required=False),
    ),
    oauth=OAuthSpec(
        enabled=True,
        client_id="gw-client",
        client_secret="cs-canary",
        scopes=("repo", "read:org"),
        authorization_endpoint="https://as.test/authorize",
        token_endpoint="https://as.test/token",
        registration_endpoint="https://as.test/register",
        issuer="https://as.test",
        resource="https://example.test/mcp",
        resource_metadata_url="https://example.test/.well-known/oauth-protected-resource",
        auth_method="client_secret_post",
    ),
    extra={"mcpAuthType": "oauth", "nested": {"list": [1, 2]}},
)


def _secret(user: str, server: str, name: str, blob: bytes = BLOB) -> StoredSecret:
    return StoredSecret(user, server, name, blob + f"{user}/{server}/{name}".encode(), 1.5)


async def _collect(it: AsyncIterator[T]) -> list[T]:
    return [item async for item in it]


async def test_created_server_round_trips_every_field(store: Store) -> None:
    await store.create_server(FULL_SERVER)
    assert await store.get_server("github") == FULL_SERVER
    assert await store.get_server("absent") is None


async def _insert_raw_server(store: Store, doc: dict[str, Any]) -> None:
    """Write a server document as an older gateway did, bypassing the codec."""
    if isinstance(store, SqliteStore):
        text = json.dumps(doc)
        sql = "INSERT INTO servers (name, doc) VALUES (?, ?)"
        await store._db.write(lambda conn: conn.execute(sql, (doc["name"], text)))
    else:
        assert isinstance(store, MongoStore)
        await store._db["mcpgw_servers"].insert_one(dict(doc))


def _legacy_doc(name: str, extra: dict[str, Any]) -> dict[str, Any]:
    """What a gateway before the typed ``oauth`` field stored: no ``oauth`` key at all."""
    doc = to_doc(ServerConfig(name=name, transport_type=TransportType.STREAMABLE_HTTP,
                              url="https://example.test/mcp"), binary="base64")  # fmt: skip
    del doc["oauth"]
    return {**doc, "extra": extra}


async def test_servers_stored_with_the_old_oauth_shapes_read_as_the_typed_field(
    store: Store,
) -> None:
    block = {"tokenEndpoint": "https://as.test/token", "clientId": "c", "scopes": "a b"}
    await _insert_raw_server(store, _legacy_doc("block", {"oauth": block, "keep": 1}))
    await _insert_raw_server(store, _legacy_doc("switch", {"mcpAuthType": "oauth"}))
    await _insert_raw_server(store, _legacy_doc("off", {"oauth": {"enabled": False}}))
    await _insert_raw_server(store, _legacy_doc("plain", {}))
    servers = {s.name: s for s in await store.list_servers()}
    old = servers["block"]
    assert old.oauth == OAuthSpec(
        client_id="c", scopes=("a", "b"), token_endpoint="https://as.test/token"
    )
    assert old.extra == {"keep": 1}  # the untyped copy is gone
    assert servers["switch"].oauth == OAuthSpec() and oauth_enabled(servers["switch"])
    assert servers["off"].oauth == OAuthSpec(enabled=False) and not oauth_enabled(servers["off"])
    assert servers["plain"].oauth is None and not oauth_enabled(servers["plain"])
    assert await store.get_server("block") == old
    # Written back, it is stored in the new shape and reads the same.
    await store.update_server(old)
    assert await store.get_server("block") == old


async def test_server_metadata_round_trips_and_rows_without_it_keep_working(
    store: Store,
) -> None:
    meta = ServerMetadata(
        display_name="GitHub",
        source="platform",
        auth_mode="oauth2",
        oauth_template={"tokenEndpoint": "https://as.test/token", "scopesSupported": ["a"]},
        secret_fields=(SecretField("token", "Token", None, True, "password"),),
        created_by="alice@example.org",
        created_at=1_700_000_000.5,
        updated_at=1_700_000_100.0,
    )
    server = ServerConfig(
        name="meta", transport_type=TransportType.STREAMABLE_HTTP, url="https://x.test/mcp",
        reconnection=ReconnectionOptions(grow_factor=1.5), metadata=meta,
    )  # fmt: skip
    await store.create_server(server)
    assert await store.get_server("meta") == server
    assert server.oauth is not None and server.oauth.token_endpoint == "https://as.test/token"
    # A row from before the typed metadata (no "metadata" key, no grow factor): defaults.
    old = _legacy_doc("old", {"keep": 1})
    del old["metadata"]
    del old["reconnection"]["grow_factor"]
    await _insert_raw_server(store, old)
    read = await store.get_server("old")
    assert read is not None and read.metadata == ServerMetadata()
    assert read.reconnection.grow_factor == 2.0 and read.extra == {"keep": 1}
    # A row the mcp-api importer wrote with the metadata under its camelCase names in extra.
    imported = {"displayName": "Imp", "createdAt": "2026-03-01T12:00:00Z", "toolsList": []}
    imp = _legacy_doc("imp", imported)
    del imp["metadata"]
    await _insert_raw_server(store, imp)
    read = await store.get_server("imp")
    assert read is not None and read.metadata.display_name == "Imp"
    assert read.metadata.created_at == 1_772_366_400.0 and read.extra == {"toolsList": []}


async def test_creating_a_taken_server_name_raises_and_keeps_the_original(store: Store) -> None:
    await store.create_server(FULL_SERVER)
    with pytest.raises(ServerAlreadyExists):
        await store.create_server(ServerConfig(name="github", command="other"))
    assert await store.get_server("github") == FULL_SERVER


async def test_update_replaces_a_server_and_refuses_an_unknown_one(store: Store) -> None:
    await store.create_server(ServerConfig(name="a", command="old"))
    await store.update_server(ServerConfig(name="a", command="new", args=("1",)))
    assert await store.get_server("a") == ServerConfig(name="a", command="new", args=("1",))
    with pytest.raises(ServerNotFound):
        await store.update_server(ServerConfig(name="missing"))
    assert await store.get_server("missing") is None


async def test_list_servers_is_ordered_by_name(store: Store) -> None:
    for name in ("zeta", "Alpha", "beta", "1st"):
        await store.create_server(ServerConfig(name=name))
    assert [s.name for s in await store.list_servers()] == ["1st", "Alpha", "beta", "zeta"]


async def test_delete_server_reports_whether_it_existed(store: Store) -> None:
    await store.create_server(ServerConfig(name="a"))
    assert await store.delete_server("a") is True
    assert await store.delete_server("a") is False
    assert await store.list_servers() == []


async def test_get_secrets_returns_only_that_users_secrets_for_that_server(store: Store) -> None:
    for user in ("alice", "bob"):
        for server in ("github", "brave"):
            for name in ("TOKEN", "ORG"):
                await store.put_secret(_secret(user, server, name))
    got = await store.get_secrets("alice", "github")
    assert got == [_secret("alice", "github", "ORG"), _secret("alice", "github", "TOKEN")]
    assert await store.get_secrets("carol", "github") == []


async def test_put_secret_replaces_the_same_name_instead_of_adding(store: Store) -> None:
    await store.put_secret(StoredSecret("alice", "github", "TOKEN", b"old", 1.0))
    await store.put_secret(StoredSecret("alice", "github", "TOKEN", b"new", 2.0))
    assert await store.get_secrets("alice", "github") == [
        StoredSecret("alice", "github", "TOKEN", b"new", 2.0)
    ]


async def test_list_secret_names_is_sorted_and_scoped(store: Store) -> None:
    for name in ("b", "A", "c"):
        await store.put_secret(_secret("alice", "github", name))
    await store.put_secret(_secret("alice", "brave", "z"))
    await store.put_secret(_secret("bob", "github", "y"))
    assert await store.list_secret_names("alice", "github") == ["A", "b", "c"]


async def test_delete_secret_removes_only_that_secret(store: Store) -> None:
    await store.put_secret(_secret("alice", "github", "A"))
    await store.put_secret(_secret("alice", "github", "B"))
    await store.put_secret(_secret("bob", "github", "A"))
    assert await store.delete_secret("alice", "github", "A") is True
    assert await store.delete_secret("alice", "github", "A") is False
    assert await store.list_secret_names("alice", "github") == ["B"]
    assert await store.list_secret_names("bob", "github") == ["A"]


async def test_delete_server_secrets_purges_every_user_of_that_server_only(store: Store) -> None:
    for user in ("alice", "bob"):
        await store.put_secret(_secret(user, "github", "A"))
        await store.put_secret(_secret(user, "brave", "A"))
    assert await store.delete_server_secrets("github") == 2
    assert await store.get_secrets("alice", "github") == []
    assert await store.get_secrets("bob", "github") == []
    assert len(await store.get_secrets("alice", "brave")) == 1
    assert len(await store.get_secrets("bob", "brave")) == 1


async def test_iter_all_secrets_yields_every_secret_exactly_once(store: Store) -> None:
    # 120 crosses MongoDB's first cursor batch (101 documents).
    expected = {_secret(f"user{i:03d}", "srv", "K") for i in range(120)}
    for secret in expected:
        await store.put_secret(secret)
    got = await _collect(store.iter_all_secrets())
    assert len(got) == len(expected)
    assert set(got) == expected


async def test_replace_secret_ciphertext_swaps_only_if_unchanged(store: Store) -> None:
    await store.put_secret(StoredSecret("alice", "github", "TOKEN", b"v1", 1.0))
    assert not await store.replace_secret_ciphertext("alice", "github", "TOKEN", b"stale", b"x")
    assert await store.replace_secret_ciphertext("alice", "github", "TOKEN", b"v1", b"v2")
    assert await store.replace_secret_ciphertext("alice", "github", "TOKEN", b"v1", b"v3") is False
    assert await store.replace_secret_ciphertext("bob", "github", "TOKEN", b"v2", b"x") is False
    [secret] = await store.get_secrets("alice", "github")
    assert secret.ciphertext == b"v2"


TOKENS = StoredOAuthTokens(
    server="gdrive",
    username="alice",
    fields={"refresh_token": b"\x00r", "access_token": b"\xffa"},
    expires_at=1234.5,
    meta={"scope": "drive", "client_id": "c", "scopes": ["a", "b"]},
    state="valid",
    updated_at=9.0,
)


async def test_tokens_round_trip_and_are_replaced_per_server_and_user(store: Store) -> None:
    await store.put_tokens(TOKENS)
    assert await store.get_tokens("gdrive", "alice") == TOKENS
    renewed = StoredOAuthTokens("gdrive", "alice", {"access_token": b"n"}, state="reauth_required")
    await store.put_tokens(renewed)
    assert await store.get_tokens("gdrive", "alice") == renewed
    assert await store.get_tokens("gdrive", "bob") is None
    assert await store.get_tokens("other", "alice") is None


async def test_delete_tokens_and_delete_server_tokens_are_scoped(store: Store) -> None:
    for server, user in (("gdrive", "alice"), ("gdrive", "bob"), ("slack", "alice")):
        await store.put_tokens(StoredOAuthTokens(server, user, {"access_token": b"t"}))
    assert await store.delete_tokens("gdrive", "alice") is True
    assert await store.delete_tokens("gdrive", "alice") is False
    assert await store.get_tokens("gdrive", "bob") is not None
    assert await store.delete_server_tokens("gdrive") == 1
    assert await store.get_tokens("gdrive", "bob") is None
    assert await store.get_tokens("slack", "alice") is not None
    assert [(t.server, t.username) for t in await _collect(store.iter_all_tokens())] == [
        ("slack", "alice")
    ]


async def test_replace_token_fields_swaps_only_if_unchanged(store: Store) -> None:
    await store.put_tokens(TOKENS)
    old_reordered = {"access_token": b"\xffa", "refresh_token": b"\x00r"}
    new = {"access_token": b"A2", "refresh_token": b"R2"}
    assert await store.replace_token_fields("gdrive", "alice", {"access_token": b"?"}, new) is False
    assert await store.replace_token_fields("gdrive", "alice", old_reordered, new) is True
    assert await store.replace_token_fields("gdrive", "alice", old_reordered, new) is False
    assert await store.replace_token_fields("gdrive", "nobody", new, new) is False
    got = await store.get_tokens("gdrive", "alice")
    assert got is not None
    assert got.fields == new
    assert (got.meta, got.expires_at, got.state) == (TOKENS.meta, 1234.5, "valid")


async def test_lease_is_exclusive_until_released_by_its_holder(store: Store) -> None:
    assert await store.acquire_lease("refresh:gdrive:alice", "a", 60) is True
    assert await store.acquire_lease("refresh:gdrive:alice", "b", 60) is False
    assert await store.acquire_lease("refresh:gdrive:alice", "a", 60) is True  # renew
    assert await store.acquire_lease("other-key", "b", 60) is True
    await store.release_lease("refresh:gdrive:alice", "b")  # not the holder: no effect
    assert await store.acquire_lease("refresh:gdrive:alice", "b", 60) is False
    await store.release_lease("refresh:gdrive:alice", "a")
    assert await store.acquire_lease("refresh:gdrive:alice", "b", 60) is True


async def test_expired_lease_can_be_taken_over(store: Store) -> None:
    assert await store.acquire_lease("k", "a", 0) is True  # expires at once
    assert await store.acquire_lease("k", "b", 60) is True
    assert await store.acquire_lease("k", "a", 60) is False


@pytest.mark.parametrize("backend", ["sqlite", "mongodb"])
async def test_concurrent_acquirers_on_separate_connections_exactly_one_wins(
    backend: str, make_settings: MakeSettings, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, backend)
    async with open_store(settings) as one, open_store(settings) as two:
        results: list[bool] = []

        async def contend(s: Store, holder: str) -> None:
            results.append(await s.acquire_lease("install:x", holder, 60))

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for i in range(8):
                    tg.start_soon(contend, one if i % 2 else two, f"holder-{i}")
        assert sorted(results) == [False] * 7 + [True]


async def test_sessions_round_trip_replace_and_delete_by_scope(store: Store) -> None:
    shared = UpstreamSession("github", "", "sid-1", "2025-06-18", 1.0)
    await store.put_session(shared)
    await store.put_session(UpstreamSession("github", "alice", "sid-2"))
    await store.put_session(UpstreamSession("brave", "", "sid-3"))
    assert await store.get_session("github", "") == shared
    await store.put_session(UpstreamSession("github", "", "sid-4"))
    assert await store.get_session("github", "") == UpstreamSession("github", "", "sid-4")
    assert await store.delete_session("github", "alice") is True
    assert await store.delete_session("github", "alice") is False
    assert await store.get_session("github", "alice") is None
    assert await store.delete_server_sessions("github") == 1
    assert await store.get_session("github", "") is None
    assert await store.get_session("brave", "") is not None


async def test_a_servers_usage_counts_distinct_users_tokens_and_session_scopes(
    store: Store,
) -> None:
    for user, name in [("alice", "A"), ("alice", "B"), ("Bob Smith", "A"), ("carol", "A")]:
        await store.put_secret(StoredSecret(user, "my.server", name, b"\x01ct"))
    await store.put_secret(StoredSecret("dave", "other", "A", b"\x01ct"))
    await store.put_tokens(StoredOAuthTokens("my.server", "alice", {"access_token": b"\x01"}))
    await store.put_tokens(StoredOAuthTokens("other", "bob", {"access_token": b"\x01"}))
    await store.put_session(UpstreamSession("my.server", "", "sid-1"))
    await store.put_session(UpstreamSession("my.server", "alice", "sid-2"))
    await store.put_session(UpstreamSession("other", "bob", "sid-3"))
    assert await store.count_server_secret_users("my.server") == 3
    assert await store.count_server_token_users("my.server") == 1
    assert await store.list_session_scopes("my.server") == ["", "alice"]
    assert await store.count_server_secret_users("none") == 0
    assert await store.count_server_token_users("none") == 0
    assert await store.list_session_scopes("none") == []


def _package(server_name: str, name: str, version: str = "1.0.0") -> PackageRecord:
    return PackageRecord(
        server_name=server_name,
        name=name,
        runtime=PackageRuntime.PYTHON,
        version=version,
        requested_version=">=1",
        install_dir=f"/pk/{server_name}",
        command="python",
        args=("-m", "pkg"),
        env={"A": "b"},
        python_module="pkg",
        allow_scripts=True,
        installed_at=3.0,
        extra={"sha": "abc"},
    )


async def test_packages_round_trip_replace_find_and_delete(store: Store) -> None:
    for server_name in ("web-b", "web-a"):
        await store.put_package(_package(server_name, "@scope/web"))
    await store.put_package(_package("other", "other-pkg"))
    assert await store.get_package("web-a") == _package("web-a", "@scope/web")
    await store.put_package(_package("web-a", "@scope/web", "2.0.0"))
    found = await store.find_packages_by_name("@scope/web")
    assert [(p.server_name, p.version) for p in found] == [("web-a", "2.0.0"), ("web-b", "1.0.0")]
    assert [p.server_name for p in await store.list_packages()] == ["other", "web-a", "web-b"]
    assert await store.delete_package("web-a") is True
    assert await store.delete_package("web-a") is False
    assert await store.get_package("web-a") is None
    assert await store.find_packages_by_name("nothing") == []


def _key(key_id: str, key_hash: str, created_at: float) -> ApiKeyRecord:
    return ApiKeyRecord(
        key_id, f"name-{key_id}", Role.USER, key_hash, "mgw_ab", "alice", created_at
    )


async def test_api_keys_round_trip_list_count_and_delete(store: Store) -> None:
    assert await store.count_api_keys() == 0
    await store.create_api_key(_key("k2", "h2", 2.0))
    await store.create_api_key(_key("k1", "h1", 1.0))
    assert await store.get_api_key_by_hash("h2") == _key("k2", "h2", 2.0)
    assert await store.get_api_key_by_hash("nope") is None
    assert [k.id for k in await store.list_api_keys()] == ["k1", "k2"]
    assert await store.count_api_keys() == 2
    assert await store.delete_api_key("k1") is True
    assert await store.delete_api_key("k1") is False
    assert await store.count_api_keys() == 1


async def test_api_key_with_a_taken_hash_or_id_is_a_conflict(store: Store) -> None:
    await store.create_api_key(_key("k1", "h1", 1.0))
    with pytest.raises(Conflict):
        await store.create_api_key(_key("k2", "h1", 2.0))
    with pytest.raises(Conflict):
        await store.create_api_key(_key("k1", "h2", 2.0))
    assert [k.id for k in await store.list_api_keys()] == ["k1"]


async def test_touch_api_key_records_last_use_only(store: Store) -> None:
    await store.create_api_key(_key("k1", "h1", 1.0))
    await store.touch_api_key("k1", 42.5)
    await store.touch_api_key("unknown", 1.0)  # best effort: no error
    got = await store.get_api_key_by_hash("h1")
    assert got is not None
    assert got.last_used_at == 42.5
    assert (got.name, got.role, got.username, got.created_at) == (
        "name-k1",
        Role.USER,
        "alice",
        1.0,
    )


async def test_audit_lists_newest_first_with_limit(store: Store) -> None:
    events = [
        AuditEvent(ts, f"r{i}", "key1", "service", "tool_call", "alice", "github", "t", 1.5)
        for i, ts in enumerate((10.0, 30.0, 20.0, 30.0))
    ]
    await store.append_audits(events[:2])
    await store.append_audits(events[2:])
    await store.append_audits([])
    listed = await store.list_audit()
    # Equal timestamps: the later append comes first.
    assert [e.request_id for e in listed] == ["r3", "r1", "r2", "r0"]
    assert listed[0] == events[3]
    assert [e.request_id for e in await store.list_audit(limit=2)] == ["r3", "r1"]


async def test_ping_answers_and_backend_is_named(store: Store) -> None:
    await store.ping()
    assert store.backend in ("sqlite", "mongodb")


@pytest.mark.parametrize("backend", ["sqlite", "mongodb"])
async def test_data_survives_closing_and_reopening(
    backend: str, make_settings: MakeSettings, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, backend)
    async with open_store(settings) as first:
        assert first.backend == backend
        await first.create_server(FULL_SERVER)
        await first.put_secret(_secret("alice", "github", "TOKEN"))
    async with open_store(settings) as second:  # reopening re-runs schema/index creation
        assert await second.get_server("github") == FULL_SERVER
        assert await second.get_secrets("alice", "github") == [_secret("alice", "github", "TOKEN")]


async def test_count_user_secrets_counts_one_users_secrets_across_servers(store: Store) -> None:
    for user, server, name in [("a", "s1", "x"), ("a", "s2", "y"), ("b", "s1", "x")]:
        await store.put_secret(_secret(user, server, name))
    await store.put_secret(_secret("a", "s1", "x"))  # a replacement is still one
    assert await store.count_user_secrets("a") == 2
    assert await store.count_user_secrets("b") == 1
    assert await store.count_user_secrets("nobody") == 0
