"""The OAuth client of external servers (manual, DCR, CIMD) and the gateway-driven login with
it, on both stores, against the real test AS and bearer-protected MCP server.

The per-user install (which holds a user's manual client) belongs to the user-servers slice;
:func:`stand_in_installs` stands in for it through the ``InstallClient`` hook.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx2
import pytest

from mcp_gateway.config import OAuthSettings
from mcp_gateway.crypto.keyring import Keyring
from mcp_gateway.domain.servers import ServerConfig, ServerMetadata, TransportType
from mcp_gateway.errors import InvalidRequest, ReauthRequired
from mcp_gateway.services.key_rotation import rotate_keys
from mcp_gateway.services.oauth import OAuthService
from mcp_gateway.services.oauth.external_clients import InstallClient
from mcp_gateway.services.oauth.external_discovery import discover_external
from mcp_gateway.services.oauth.grants import ClientAuth
from mcp_gateway.services.oauth.state import browser_hash, cookie_name, new_browser_secret
from tests.fixtures.oauth_as import FixtureProcess
from tests.services.oauth.conftest import PUBLIC_URL, AsControl, make_service

REDIRECT = PUBLIC_URL + "/oauth/callback"


def stand_in_installs(clients: dict[str, ClientAuth]) -> InstallClient:
    """Stand-in for the per-user installs: each user's own OAuth client."""

    async def manual_client(server: ServerConfig, username: str) -> ClientAuth | None:
        return clients.get(username)

    return manual_client


async def external_server(
    service: OAuthService, mcp_url: str, name: str = "ext", mode: str | None = None, **tpl: Any
) -> ServerConfig:
    found = await discover_external(service.http, mcp_url + "/mcp")
    return ServerConfig(
        name=name,
        transport_type=TransportType.STREAMABLE_HTTP,
        url=found.server_url,
        metadata=ServerMetadata(
            source="external", auth_mode="oauth2", oauth_template={**found.template(mode), **tpl}
        ),
    )


def client_id_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["client_id"][0]


async def login(service: OAuthService, server: ServerConfig, username: str) -> str:
    """The whole browser flow (the AS auto-approves as ``username``); the access token."""
    secret = new_browser_secret()
    started = await service.login.start_login(server, username, browser_hash(secret))
    async with httpx2.AsyncClient(timeout=10.0) as browser:
        answer = await browser.get(started.url + "&login_hint=" + username)
    assert answer.status_code == 302, answer.text
    query = {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()}
    await service.login.finish_login(
        query["code"], query["state"], {cookie_name(started.state): secret}
    )
    headers = await service.authorization_headers(server, username)
    return headers["Authorization"].split(" ", 1)[1]


async def upstream_accepts(mcp_url: str, token: str) -> bool:
    async with httpx2.AsyncClient(timeout=10.0) as client:
        answer = await client.post(
            mcp_url + "/mcp",
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/json, text/event-stream",
            },
            json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
        )
    return answer.status_code != 401


@pytest.mark.anyio
async def test_one_dcr_client_is_shared_by_two_users_and_two_servers_and_refresh_uses_it(
    store: Any,
    keyring: Keyring,
    oauth_settings: OAuthSettings,
    auth_server: AsControl,
    mcp_process: FixtureProcess,
) -> None:
    service = make_service(store, keyring, oauth_settings)
    first = await external_server(service, mcp_process.url)
    second = await external_server(service, mcp_process.url, name="ext-2")
    for server in (first, second):
        await store.create_server(server)
    alice = await login(service, first, "alice")
    bob = await login(service, first, "bob")
    started = await service.login.start_login(second, "carol", browser_hash("x"))
    stats = await auth_server.stats()
    assert stats["registrations"] == 1
    assert stats["registration_auth_methods"] == ["none"]  # mcp-api's preference: public client
    assert client_id_of(started.url).startswith("dcr-")
    assert alice != bob and await upstream_accepts(mcp_process.url, alice)
    assert await upstream_accepts(mcp_process.url, bob)
    refreshed = await service.force_refresh(first, "alice", alice)
    assert await upstream_accepts(mcp_process.url, refreshed["Authorization"].split(" ")[1])
    stats = await auth_server.stats()
    assert stats["refresh_requests"] == 1
    last = stats["token_requests"][-1]
    assert last["grant_type"] == "refresh_token" and last["client_id"] == client_id_of(started.url)
    assert last["resource"] == mcp_process.url + "/mcp"


@pytest.mark.anyio
async def test_concurrent_resolves_on_two_replicas_register_one_client(
    store: Any,
    keyring: Keyring,
    oauth_settings: OAuthSettings,
    auth_server: AsControl,
    mcp_process: FixtureProcess,
) -> None:
    replicas = [make_service(store, keyring, oauth_settings) for _ in range(2)]
    server = await external_server(replicas[0], mcp_process.url)
    await auth_server.configure(register_delay=0.5)  # a wide window for a second registration
    ids: list[str] = []

    async def resolve(service: OAuthService, user: str) -> None:
        resolved = await service.external.resolve(server, user, REDIRECT)
        assert resolved is not None
        ids.append(resolved.client_id)

    async with anyio.create_task_group() as tg:
        for i, user in enumerate(["alice", "bob", "carol", "dave"]):
            tg.start_soon(resolve, replicas[i % 2], user)
    assert (await auth_server.stats())["registrations"] == 1
    assert len(set(ids)) == 1 and len(ids) == 4
    assert sum(r.clients.registrations for r in replicas) == 1


async def stored_bytes(store: Any) -> bytes:
    """Everything the store holds, as bytes (the SQLite files, or every MongoDB document)."""
    if store.backend == "sqlite":
        return b"".join(p.read_bytes() for p in Path(store.path).parent.glob("gateway.db*"))
    import bson

    out = b""
    for name in await store._db.list_collection_names():
        async for doc in store._db[name].find({}):
            out += bson.encode(doc)
    return out


@pytest.mark.anyio
async def test_a_dcr_client_secret_is_encrypted_at_rest_and_never_shown_or_logged(
    store: Any,
    keyring: Keyring,
    oauth_settings: OAuthSettings,
    auth_server: AsControl,
    mcp_process: FixtureProcess,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    service = make_service(store, keyring, oauth_settings)
    # An AS offering client_secret_basic only: the registered client is confidential.
    server = await external_server(
        service, mcp_process.url, tokenEndpointAuthMethodsSupported=["client_secret_basic"]
    )
    await store.create_server(server)
    resolved = await service.external.resolve(server, "alice", REDIRECT)
    assert (
        resolved is not None
        and resolved.client_secret
        and resolved.auth_method == "client_secret_basic"
    )
    token = await login(service, server, "alice")
    assert await upstream_accepts(mcp_process.url, token)
    secret = resolved.client_secret
    raw = await stored_bytes(store)
    assert resolved.client_id.encode() in raw  # the record is there ...
    assert secret.encode() not in raw  # ... its secret only encrypted
    assert secret not in caplog.text
    assert secret not in repr(resolved) and secret not in json.dumps(resolved.to_wire())
    assert resolved.to_wire()["hasClientSecret"] is True


@pytest.mark.anyio
async def test_manual_mode_uses_the_users_own_client_and_refuses_a_user_without_one(
    sqlite_store: Any,
    keyring: Keyring,
    oauth_settings: OAuthSettings,
    auth_server: AsControl,
    mcp_process: FixtureProcess,
) -> None:
    service = make_service(sqlite_store, keyring, oauth_settings)
    server = await external_server(service, mcp_process.url, mode="manual")
    await sqlite_store.create_server(server)
    await auth_server.add_client("alices-app", "alices-secret", "client_secret_post", [REDIRECT])
    service.external.installs = stand_in_installs(
        {"alice": ClientAuth("alices-app", "alices-secret")}
    )
    token = await login(service, server, "alice")
    assert await upstream_accepts(mcp_process.url, token)
    stats = await auth_server.stats()
    assert stats["registrations"] == 0
    code = stats["token_requests"][-1]
    assert (code["client_id"], code["auth_method"]) == ("alices-app", "client_secret_post")
    with pytest.raises(InvalidRequest, match="no client id"):
        await service.login.start_login(server, "bob", browser_hash("x"))


@pytest.mark.anyio
async def test_cimd_mode_uses_the_gateways_metadata_document_url_as_client_id(
    sqlite_store: Any, keyring: Keyring, oauth_settings: OAuthSettings, auth_server: AsControl,
    mcp_process: FixtureProcess,
) -> None:  # fmt: skip
    await auth_server.configure(profile="cimd")
    service = make_service(sqlite_store, keyring, oauth_settings)
    server = await external_server(service, mcp_process.url)
    await sqlite_store.create_server(server)
    started = await service.login.start_login(server, "alice", browser_hash("x"))
    assert client_id_of(started.url) == PUBLIC_URL + "/oauth/client-metadata.json"
    assert (await auth_server.stats())["registrations"] == 0


@pytest.mark.anyio
async def test_key_rotation_rewraps_the_shared_dcr_client_secret(
    sqlite_store: Any,
    oauth_settings: OAuthSettings,
    auth_server: AsControl,
    mcp_process: FixtureProcess,
) -> None:
    old, new = os.urandom(32), os.urandom(32)
    service = make_service(sqlite_store, Keyring([("k1", old)]), oauth_settings)
    server = await external_server(
        service, mcp_process.url, tokenEndpointAuthMethodsSupported=["client_secret_basic"]
    )
    first = await service.external.resolve(server, "alice", REDIRECT)
    report = await rotate_keys(sqlite_store, Keyring([("k2", new), ("k1", old)]))
    assert report.ok and report.rewrapped == 1
    after = make_service(sqlite_store, Keyring([("k2", new)]), oauth_settings)  # k1 retired
    again = await after.external.resolve(server, "bob", REDIRECT)
    assert first is not None and again is not None
    assert (again.client_id, again.client_secret) == (first.client_id, first.client_secret)
    assert (await auth_server.stats())["registrations"] == 1


@pytest.mark.anyio
async def test_a_dcr_client_the_as_forgot_means_reauth_then_one_new_registration(
    sqlite_store: Any,
    keyring: Keyring,
    oauth_settings: OAuthSettings,
    auth_server: AsControl,
    mcp_process: FixtureProcess,
) -> None:
    service = make_service(sqlite_store, keyring, oauth_settings)
    server = await external_server(service, mcp_process.url)
    await sqlite_store.create_server(server)
    token = await login(service, server, "alice")
    await auth_server.forget_clients()  # the refresh is now refused as invalid_client
    with pytest.raises(ReauthRequired) as caught:
        await service.force_refresh(server, "alice", token)
    assert caught.value.authorization_url  # a login link, not a 502 on every call
    assert await service.auth_state(server, "alice") == "reauth_required"
    token = await login(service, server, "alice")
    assert await upstream_accepts(mcp_process.url, token)
    assert (await auth_server.stats())["registrations"] == 2


@pytest.mark.anyio
async def test_a_users_own_client_wins_over_dcr_only_where_the_template_allows_it(
    sqlite_store: Any,
    keyring: Keyring,
    oauth_settings: OAuthSettings,
    auth_server: AsControl,
    mcp_process: FixtureProcess,
) -> None:
    service = make_service(sqlite_store, keyring, oauth_settings)
    own = ClientAuth("alices-app", "alices-secret")
    strict = await external_server(service, mcp_process.url)
    assert (await service.resolve_external_client(strict, "alice", own)).registration_mode == "dcr"
    allowed = await external_server(service, mcp_process.url, manualClientCredentialsAllowed=True)
    resolved = await service.resolve_external_client(allowed, "alice", own)
    assert (resolved.registration_mode, resolved.client_id) == ("manual", "alices-app")
    assert resolved.auth_method == "client_secret_post"  # mcp-api's rule for a secret
    platform = ServerConfig("plain", TransportType.STREAMABLE_HTTP, url=mcp_process.url + "/mcp")
    with pytest.raises(InvalidRequest, match="not an external OAuth server"):
        await service.resolve_external_client(platform, "alice")


@pytest.mark.anyio
async def test_the_registrar_for_the_resolve_route_gives_the_shared_dcr_and_the_cimd_client(
    sqlite_store: Any,
    keyring: Keyring,
    oauth_settings: OAuthSettings,
    auth_server: AsControl,
    mcp_process: FixtureProcess,
) -> None:
    service = make_service(sqlite_store, keyring, oauth_settings)
    server = await external_server(service, mcp_process.url)
    alice = await service.register_external(server, "alice", "dcr")
    bob = await service.register_external(server, "bob", "dcr")
    assert alice.client_id == bob.client_id and alice.registration_mode == "dcr"
    cimd = await service.register_external(server, "alice", "cimd")
    assert cimd.client_id == PUBLIC_URL + "/oauth/client-metadata.json"
    assert cimd.to_wire() == {
        "registrationMode": "cimd",
        "clientId": PUBLIC_URL + "/oauth/client-metadata.json",
        "tokenEndpointAuthMethod": "none",
        "hasClientSecret": False,
    }
    assert (await auth_server.stats())["registrations"] == 1


@pytest.mark.anyio
async def test_a_template_naming_a_real_issuer_with_its_own_endpoints_never_gets_the_shared_client(
    sqlite_store: Any,
    keyring: Keyring,
    oauth_settings: OAuthSettings,
    auth_server: AsControl,
    mcp_process: FixtureProcess,
) -> None:
    service = make_service(sqlite_store, keyring, oauth_settings)
    real = await external_server(service, mcp_process.url)
    shared = await service.register_external(real, "alice", "dcr")
    # A user's server whose template names the same issuer but a token endpoint of theirs:
    # the shared client (secret included) would be posted there at their login.
    own = await external_server(
        service, mcp_process.url, name="mallory", tokenEndpoint="https://mallory.example/token"
    )
    with pytest.raises(InvalidRequest, match="other token and registration endpoints"):
        await service.register_external(own, "mallory", "dcr")
    with pytest.raises(InvalidRequest, match="other token and registration endpoints"):
        await service.login.start_login(own, "mallory", browser_hash("x"))
    again = await service.register_external(real, "bob", "dcr")  # the real one still works
    assert again.client_id == shared.client_id
    assert (await auth_server.stats())["registrations"] == 1
