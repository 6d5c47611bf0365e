"""OAuth routes on a real Runtime + app (in-process ASGI), against the real test AS and the
bearer-protected MCP server (subprocesses). Google's endpoints cannot be reached from here:
the Google flow runs against the local AS through GOOGLE_OAUTH_CREDENTIALS' auth_uri/token_uri.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client

from mcp_gateway.api.app import create_app
from mcp_gateway.domain.servers import ServerConfig, TransportType
from mcp_gateway.runtime import Runtime
from mcp_gateway.services.oauth import (
    GoogleLogin,
    GuardedClientFactory,
    OAuthBearerAuth,
    OAuthService,
    google_injection,
)
from tests.conftest import MakeSettings
from tests.fixtures.oauth_as import FixtureProcess
from tests.services.oauth.conftest import (  # noqa: F401 (fixtures)
    PUBLIC_URL,
    AsControl,
    as_process,
    auth_server,
    mcp_process,
)


class Gw:
    def __init__(self, runtime: Runtime, client: httpx2.AsyncClient, admin: str) -> None:
        self.runtime, self.client, self.admin = runtime, client, admin

    async def key(self, role: str, username: str | None = None) -> str:
        _record, key = await self.runtime.apikeys.create(f"{role}-{username}", role, username)
        return key


@pytest.fixture
async def gw(
    make_settings: MakeSettings,
    tmp_path: Path,
    as_process: FixtureProcess,  # noqa: F811
) -> AsyncIterator[Gw]:
    credentials = {
        "web": {
            "client_id": "g-client",
            "client_secret": "g-secret",
            "auth_uri": as_process.url + "/authorize",
            "token_uri": as_process.url + "/token",
        }
    }
    settings = make_settings(
        tmp_path,
        oauth={
            "allowed_hosts": ["127.0.0.1"],
            "public_url": PUBLIC_URL,
            "google_credentials": json.dumps(credentials),
        },
    )
    announced: list[str] = []
    runtime = Runtime(settings, announce=announced.append, reconcile_packages=False)
    app = create_app(runtime)
    async with app.router.lifespan_context(app):
        factory = GuardedClientFactory(settings.oauth.allowed_hosts)
        runtime.oauth = OAuthService(  # type: ignore[attr-defined]
            runtime.store, runtime.keyring, settings.oauth, factory, sessions=runtime.pool
        )
        runtime.google = GoogleLogin(  # type: ignore[attr-defined]
            runtime.store, runtime.keyring, settings.oauth, runtime.secrets, factory
        )
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://gw") as client:
            yield Gw(runtime, client, announced[0].rsplit(" ", 1)[-1])


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _browser_at_as(url: str, callback_path: str) -> str:
    async with httpx2.AsyncClient(timeout=5.0) as client:
        response = await client.get(url)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(PUBLIC_URL + callback_path + "?")
    return location[len(PUBLIC_URL) :]


def _remote(mcp_url: str) -> ServerConfig:
    return ServerConfig(
        name="remote",
        transport_type=TransportType.STREAMABLE_HTTP,
        url=mcp_url + "/mcp",
        extra={"oauth": {}},
    )


@pytest.mark.anyio
async def test_posted_tokens_reach_the_upstream_and_the_api_key_never_does(
    gw: Gw,
    auth_server: AsControl,  # noqa: F811
    mcp_process: FixtureProcess,  # noqa: F811
) -> None:
    server = _remote(mcp_process.url)
    await gw.runtime.store.create_server(server)
    await auth_server.add_client("platform")
    grant = await auth_server.grant("platform", sub="bob")
    bob_key = await gw.key("user", "bob")
    body = {
        "accessToken": grant["access_token"],
        "refreshToken": grant["refresh_token"],
        "expiresIn": 3600,
        "clientId": "platform",
        "tokenType": "bearer",
    }
    assert (
        await gw.client.post(
            "/mcp/servers/remote/oauth", json={**body, "username": "eve"}, headers=_auth(bob_key)
        )
    ).status_code == 403
    resp = await gw.client.post("/mcp/servers/remote/oauth", json=body, headers=_auth(bob_key))
    assert resp.status_code == 200 and resp.json() == {"success": True}
    async with httpx2.AsyncClient(timeout=5.0) as plain:
        await plain.post(mcp_process.url + "/seen/reset")
    oauth: OAuthService = gw.runtime.oauth  # type: ignore[attr-defined]
    auth = OAuthBearerAuth(oauth, server, "bob")
    async with (
        httpx2.AsyncClient(auth=auth, timeout=10.0) as http,
        Client(streamable_http_client(server.url or "", http_client=http)) as mcp,
    ):
        result = await mcp.call_tool("echo", {"text": "hi"})
    assert not result.is_error
    async with httpx2.AsyncClient(timeout=5.0) as plain:
        seen = (await plain.get(mcp_process.url + "/seen")).json()
    assert seen and all(h["authorization"] == f"Bearer {grant['access_token']}" for h in seen)
    for headers in seen:
        for value in headers.values():
            assert bob_key not in value and gw.admin not in value


@pytest.mark.anyio
async def test_upstream_401_is_answered_by_one_refresh_and_a_retry(
    gw: Gw,
    auth_server: AsControl,  # noqa: F811
    mcp_process: FixtureProcess,  # noqa: F811
) -> None:
    server = _remote(mcp_process.url)
    await gw.runtime.store.create_server(server)
    await auth_server.add_client("platform")
    await auth_server.configure(access_ttl=0.001)  # dead at the AS, "fresh" for the gateway
    grant = await auth_server.grant("platform")
    await auth_server.configure(access_ttl=3600)
    resp = await gw.client.post(
        "/mcp/servers/remote/oauth",
        headers=_auth(gw.admin),
        json={
            "username": "bob",
            "accessToken": grant["access_token"],
            "refreshToken": grant["refresh_token"],
            "expiresIn": 3600,
            "clientId": "platform",
        },
    )
    assert resp.status_code == 200
    oauth: OAuthService = gw.runtime.oauth  # type: ignore[attr-defined]
    async with httpx2.AsyncClient(auth=OAuthBearerAuth(oauth, server, "bob"), timeout=10.0) as h:
        async with Client(streamable_http_client(server.url or "", http_client=h)) as mcp:
            assert not (await mcp.call_tool("echo", {"text": "x"})).is_error
    assert (await auth_server.stats())["refresh_requests"] == 1


@pytest.mark.anyio
async def test_authorize_and_callback_routes_complete_a_login_and_refuse_a_replay(
    gw: Gw,
    auth_server: AsControl,  # noqa: F811
    mcp_process: FixtureProcess,  # noqa: F811
) -> None:
    await gw.runtime.store.create_server(_remote(mcp_process.url))
    bob_key = await gw.key("user", "bob")
    resp = await gw.client.get("/oauth/remote/authorize", headers=_auth(bob_key))
    assert resp.status_code == 302
    callback = await _browser_at_as(resp.headers["location"], "/oauth/callback")
    done = await gw.client.get(callback)  # the browser: no API key
    assert done.status_code == 200 and "bob" in done.text
    replay = await gw.client.get(callback)
    assert replay.status_code == 400 and replay.json()["code"] == "invalid_request"
    assert (await gw.runtime.store.get_tokens("remote", "bob")) is not None
    unauthenticated = await gw.client.get("/oauth/remote/authorize?username=bob")
    assert unauthenticated.status_code == 401


@pytest.mark.anyio
async def test_google_login_stores_google_tokens_and_they_are_injected(
    gw: Gw,
    auth_server: AsControl,  # noqa: F811
) -> None:
    gserver = ServerConfig(name="gws", command="node", env={"MCP_AUTH_TYPE": "OAUTH2_GOOGLE"})
    await gw.runtime.store.create_server(gserver)
    await auth_server.add_client(
        "g-client", "g-secret", "client_secret_post", [PUBLIC_URL + "/auth/google/callback"]
    )
    resp = await gw.client.get("/auth/google/login?user_id=bob", headers=_auth(gw.admin))
    assert resp.status_code == 302
    assert parse_qs(urlsplit(resp.headers["location"]).query)["access_type"] == ["offline"]
    callback = await _browser_at_as(resp.headers["location"], "/auth/google/callback")
    assert (await gw.client.get(callback)).status_code == 200
    assert (await gw.client.get(callback)).status_code == 400  # replay
    stored = await gw.runtime.store.get_secrets("bob", "gws")
    assert [s.name for s in stored] == ["google_tokens"]
    value = gw.runtime.keyring.decrypt_secret("bob", "gws", "google_tokens", stored[0].ciphertext)
    creds = gw.runtime.settings.oauth.google_credentials
    injected = google_injection(
        gserver,
        "gmail_search",
        google_tokens=value,
        gauth_file_content=creds.get_secret_value() if creds else None,
    )
    assert injected["userCredentials"]["access_token"].startswith("at-")
    assert injected["userCredentials"]["expiry_date"] > 0
    assert injected["gauthFileContent"]["web"]["client_id"] == "g-client"
    assert (
        google_injection(
            gserver, "auth_get_authorization_url", google_tokens=value, gauth_file_content=None
        )
        == {}
    )
