"""Gateway-driven login: PKCE S256, dynamic registration, sealed single-use state."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from mcp_gateway.config import OAuthSettings
from mcp_gateway.crypto.keyring import Keyring
from mcp_gateway.errors import Forbidden, InvalidRequest
from mcp_gateway.services.oauth.state import (
    LoginState,
    browser_hash,
    cookie_name,
    new_browser_secret,
    open_state,
    seal_state,
)
from tests.fixtures.oauth_as import FixtureProcess
from tests.services.oauth.conftest import PUBLIC_URL, AsControl, make_service, remote_server


async def _follow_authorize(url: str) -> dict[str, str]:
    """Play the browser at the AS (auto-approves) and return the callback's query."""
    async with httpx2.AsyncClient(timeout=5.0) as client:
        response = await client.get(url)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(PUBLIC_URL + "/oauth/callback?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@pytest.mark.anyio
async def test_login_registers_a_client_and_stores_tokens_that_the_upstream_accepts(
    sqlite_store: Any,
    keyring: Keyring,
    oauth_settings: OAuthSettings,
    auth_server: AsControl,
    mcp_process: FixtureProcess,
) -> None:
    server = remote_server(mcp_process.url + "/mcp")
    await sqlite_store.create_server(server)
    service = make_service(sqlite_store, keyring, oauth_settings)
    secret = new_browser_secret()
    started = await service.login.start_login(server, "bob", browser_hash(secret))
    query = parse_qs(urlsplit(started.url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == [PUBLIC_URL + "/oauth/callback"]
    assert query["resource"] == [mcp_process.url + "/mcp"]
    callback = await _follow_authorize(started.url)
    cookies = {cookie_name(started.state): secret}
    done = await service.login.finish_login(callback["code"], callback["state"], cookies)
    assert (done.server, done.username) == ("remote", "bob")
    headers = await service.authorization_headers(server, "bob")
    async with httpx2.AsyncClient(timeout=5.0) as client:
        answer = await client.post(
            mcp_process.url + "/mcp",
            headers={**headers, "Accept": "application/json, text/event-stream"},
            json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
        )
    assert answer.status_code != 401
    stats = await auth_server.stats()
    assert stats["registrations"] == 1 and stats["code_requests"] == 1


@pytest.mark.anyio
async def test_replayed_state_is_rejected(
    sqlite_store: Any,
    keyring: Keyring,
    oauth_settings: OAuthSettings,
    auth_server: AsControl,
    mcp_process: FixtureProcess,
) -> None:
    server = remote_server(mcp_process.url + "/mcp")
    await sqlite_store.create_server(server)
    service = make_service(sqlite_store, keyring, oauth_settings)
    secret = new_browser_secret()
    started = await service.login.start_login(server, "bob", browser_hash(secret))
    callback = await _follow_authorize(started.url)
    cookies = {cookie_name(started.state): secret}
    await service.login.finish_login(callback["code"], callback["state"], cookies)
    with pytest.raises(InvalidRequest, match="already used"):
        await service.login.finish_login(callback["code"], callback["state"], cookies)
    assert (await auth_server.stats())["code_requests"] == 1


@pytest.mark.anyio
async def test_expired_state_is_rejected(
    sqlite_store: Any, keyring: Keyring, oauth_settings: OAuthSettings
) -> None:
    state = LoginState("mcp", "remote", "bob", "verifier", expires_at=time.time() - 1)
    service = make_service(sqlite_store, keyring, oauth_settings)
    with pytest.raises(InvalidRequest, match="expired"):
        await service.login.finish_login("code", seal_state(keyring, state), {})


def test_state_from_another_key_another_flow_or_tampered_is_rejected(keyring: Keyring) -> None:
    state = LoginState("google", "remote", "bob", "verifier")
    sealed = seal_state(keyring, state)
    assert open_state(keyring, sealed, kind="google").username == "bob"
    with pytest.raises(InvalidRequest, match="another login flow"):
        open_state(keyring, sealed, kind="mcp")
    other = Keyring([("t2", b"\x01" * 32)])
    with pytest.raises(InvalidRequest, match="forged"):
        open_state(other, sealed, kind="google")
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(InvalidRequest):
        open_state(keyring, flipped, kind="google")
    assert "verifier" not in repr(state)


@pytest.mark.anyio
@pytest.mark.parametrize("cookie", ["missing", "another browser's", "another flow's"])
async def test_callback_without_the_starting_browsers_cookie_is_refused_and_stores_nothing(
    sqlite_store: Any,
    keyring: Keyring,
    oauth_settings: OAuthSettings,
    auth_server: AsControl,
    mcp_process: FixtureProcess,
    cookie: str,
) -> None:
    server = remote_server(mcp_process.url + "/mcp")
    await sqlite_store.create_server(server)
    service = make_service(sqlite_store, keyring, oauth_settings)
    secret = new_browser_secret()
    started = await service.login.start_login(server, "bob", browser_hash(secret))
    other = await service.login.start_login(server, "bob", browser_hash(new_browser_secret()))
    callback = await _follow_authorize(started.url)
    jar = {
        "missing": {},
        "another browser's": {cookie_name(started.state): new_browser_secret()},
        "another flow's": {cookie_name(other.state): secret},
    }[cookie]
    with pytest.raises(Forbidden, match="browser"):
        await service.login.finish_login(callback["code"], callback["state"], jar)
    assert await sqlite_store.get_tokens("remote", "bob") is None
    assert (await auth_server.stats())["code_requests"] == 0  # the code was never redeemed
    # The starting browser can still finish: a refused attempt did not burn its state.
    good = {cookie_name(started.state): secret}
    done = await service.login.finish_login(callback["code"], callback["state"], good)
    assert done.username == "bob"
