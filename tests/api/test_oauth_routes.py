"""OAuth routes on a real Runtime + app (in-process ASGI), against the real test AS and the
bearer-protected MCP server (subprocesses). Google's endpoints cannot be reached from here:
the Google flow runs against the local AS through GOOGLE_OAUTH_CREDENTIALS' auth_uri/token_uri.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client

from mcp_gateway.api.app import create_app
from mcp_gateway.domain.servers import OAuthSpec, ServerConfig, TransportType
from mcp_gateway.runtime import Runtime
from mcp_gateway.services.oauth import (
    GoogleLogin,
    GuardedClientFactory,
    OAuthBearerAuth,
    OAuthService,
    google_injection,
)
from mcp_gateway.services.oauth.state import LoginState, LoginTicket, seal_state, seal_ticket
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
    def __init__(
        self,
        runtime: Runtime,
        client: httpx2.AsyncClient,
        admin: str,
        transport: httpx2.ASGITransport,
    ) -> None:
        self.runtime, self.client, self.admin = runtime, client, admin
        self.transport = transport

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
            yield Gw(runtime, client, announced[0].rsplit(" ", 1)[-1], transport)


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
        oauth=OAuthSpec(),
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
    assert resp.status_code == 200, resp.text
    answer = resp.json()  # mcp-api's {success, server}, the user's authState added
    assert answer["success"] is True and answer["server"]["name"] == "remote"
    assert answer["server"]["authState"] == "connected" and answer["username"] == "bob"
    assert grant["access_token"] not in resp.text
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


class Browser:
    """A user's browser: its own cookie jar, talking to the in-process gateway."""

    def __init__(self, gw: Gw) -> None:
        # Same in-process gateway, separate cookie jar.
        self.client = httpx2.AsyncClient(transport=gw.transport, base_url="http://gw")

    async def __aenter__(self) -> Browser:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()

    async def open_login_link(self, link: str) -> tuple[str, str]:
        """Open a gateway login link: (the start page's text, the AS URL it offers)."""
        assert link.startswith(PUBLIC_URL + "/"), link
        page = await self.client.get(link[len(PUBLIC_URL) :], headers={"Accept": "text/html"})
        assert page.status_code == 200, page.text
        found = re.search(r'<a href="([^"]+)"', page.text)
        assert found is not None, page.text
        return page.text, html.unescape(found.group(1))

    async def get(self, path: str, **kwargs: Any) -> httpx2.Response:
        return await self.client.get(path, **kwargs)


async def _login_link(gw: Gw, key: str, path: str = "/oauth/remote/authorize") -> str:
    resp = await gw.client.get(path, headers=_auth(key))
    assert resp.status_code == 302, resp.text
    link: str = resp.headers["location"]
    return link


@pytest.mark.anyio
async def test_login_started_by_bob_cannot_be_completed_in_alices_browser(
    gw: Gw,
    auth_server: AsControl,  # noqa: F811
    mcp_process: FixtureProcess,  # noqa: F811
) -> None:
    await gw.runtime.store.create_server(_remote(mcp_process.url))
    link = await _login_link(gw, await gw.key("user", "bob"))
    async with Browser(gw) as bobs, Browser(gw) as alices:
        page, as_url = await bobs.open_login_link(link)
        assert "<b>bob</b>" in page and "<b>remote</b>" in page
        cookies = list(bobs.client.cookies.jar)
        assert len(cookies) == 1 and cookies[0].path == "/oauth/callback"
        assert cookies[0].has_nonstandard_attr("HttpOnly") and cookies[0].expires
        # Bob sends the authorization URL to Alice, who signs in at the AS (as alice).
        callback = await _browser_at_as(as_url, "/oauth/callback")
        refused = await alices.get(callback)
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
        assert "browser" in refused.json()["error"]
        as_page = await alices.get(callback, headers={"Accept": "text/html"})
        assert as_page.status_code == 403 and "Sign-in failed" in as_page.text
        assert await gw.runtime.store.get_tokens("remote", "bob") is None
        assert (await auth_server.stats())["code_requests"] == 0


@pytest.mark.anyio
async def test_login_in_the_starting_browser_works_once_and_names_the_linked_user(
    gw: Gw,
    auth_server: AsControl,  # noqa: F811
    mcp_process: FixtureProcess,  # noqa: F811
) -> None:
    await gw.runtime.store.create_server(_remote(mcp_process.url))
    link = await _login_link(gw, await gw.key("user", "bob"))
    async with Browser(gw) as bobs:
        _page, as_url = await bobs.open_login_link(link)
        flow_cookie = next(iter(bobs.client.cookies.jar))
        callback = await _browser_at_as(as_url, "/oauth/callback")
        done = await bobs.get(callback)
        assert done.status_code == 200, done.text
        assert "<b>bob</b>" in done.text and "<b>remote</b>" in done.text
        assert done.headers["cache-control"] == "no-store"
        assert not list(bobs.client.cookies.jar)  # the flow cookie is cleared
        assert (await gw.runtime.store.get_tokens("remote", "bob")) is not None
        # A replay is refused even with the flow's cookie put back.
        bobs.client.cookies.set(flow_cookie.name, flow_cookie.value or "", path="/oauth/callback")
        replay = await bobs.get(callback)
        assert replay.status_code == 400 and "already used" in replay.json()["error"]
    assert (await auth_server.stats())["code_requests"] == 1
    unauthenticated = await gw.client.get("/oauth/remote/authorize?username=bob")
    assert unauthenticated.status_code == 401


@pytest.mark.anyio
async def test_start_page_refuses_forged_wrong_kind_and_invalid_links_with_escaped_pages(
    gw: Gw,
    auth_server: AsControl,  # noqa: F811
    mcp_process: FixtureProcess,  # noqa: F811
) -> None:
    await gw.runtime.store.create_server(_remote(mcp_process.url))
    link = await _login_link(gw, gw.admin, "/oauth/remote/authorize?username=bob")
    async with Browser(gw) as browser:
        start = await browser.get(link[len(PUBLIC_URL) :])
        assert "frame-ancestors 'none'" in start.headers["content-security-policy"]
        assert start.headers["referrer-policy"] == "no-referrer"
        cookie = start.headers["set-cookie"]
        for attribute in ("HttpOnly", "Max-Age=600", "Path=/oauth/callback", "SameSite=lax"):
            assert attribute in cookie
        assert "Secure" not in cookie  # plain-http gateway (tests): a Secure cookie is lost
    async with httpx2.AsyncClient(transport=gw.transport, base_url="https://gw") as tls:
        assert "Secure" in (await tls.get(link[len(PUBLIC_URL) :])).headers["set-cookie"]
    async with Browser(gw) as browser:
        forged = await browser.get("/oauth/start?ticket=" + "A" * 80)
        assert forged.status_code == 400 and forged.json()["code"] == "invalid_request"
        state = seal_state(gw.runtime.keyring, LoginState("mcp", "remote", "bob", "v"))
        wrong_kind = await browser.get(f"/oauth/start?ticket={state}")
        assert wrong_kind.status_code == 400  # a state is not a ticket (separate AAD domains)
        # A sealed ticket naming a username the API would never accept: refused, and the
        # browser's error page escapes what it shows.
        evil = '<i onmouseover="x">e\x00ve'  # a control character: never a username
        ticket = seal_ticket(gw.runtime.keyring, LoginTicket("mcp", "remote", evil))
        page = await browser.get(f"/oauth/start?ticket={ticket}", headers={"Accept": "text/html"})
        assert page.status_code == 400 and "<i " not in page.text
        assert "invalid username" in page.text
        assert not list(browser.client.cookies.jar) or all(
            c.path == "/oauth/callback" for c in browser.client.cookies.jar
        )


@pytest.mark.anyio
async def test_a_malformed_discovery_redirect_is_a_502_naming_it_not_a_500(
    gw: Gw,
    auth_server: AsControl,  # noqa: F811
) -> None:
    await gw.runtime.store.create_server(
        ServerConfig(
            name="remote",
            transport_type=TransportType.STREAMABLE_HTTP,
            url=auth_server.url + "/mcp",
            oauth=OAuthSpec(),
        )
    )
    await auth_server.configure(metadata_mode="bad_redirect")
    link = await _login_link(gw, gw.admin, "/oauth/remote/authorize?username=bob")
    async with Browser(gw) as browser:
        resp = await browser.get(link[len(PUBLIC_URL) :])
    assert resp.status_code == 502, resp.text
    assert resp.json()["code"] == "upstream_error"
    assert "malformed Location" in resp.json()["error"]


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
    link = await _login_link(gw, gw.admin, "/auth/google/login?user_id=bob")
    async with Browser(gw) as bobs, Browser(gw) as alices:
        page, as_url = await bobs.open_login_link(link)
        assert "<b>bob</b>" in page and "<b>gws</b>" in page
        assert parse_qs(urlsplit(as_url).query)["access_type"] == ["offline"]
        callback = await _browser_at_as(as_url, "/auth/google/callback")
        assert (await alices.get(callback)).status_code == 403  # not the starting browser
        assert await gw.runtime.store.get_secrets("bob", "gws") == []
        assert (await bobs.get(callback)).status_code == 200
        assert (await bobs.get(callback)).status_code in (400, 403)  # replay
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
