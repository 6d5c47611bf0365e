"""OAuth end to end through ``POST /mcp/tool/call``: a real Runtime behind the ASGI app, the
test authorization server and the bearer-protected Streamable HTTP MCP server as real
subprocesses on 127.0.0.1. The upstream's ``/seen`` log proves what the gateway forwarded.

The server is registered the mcp-api way (``mcpAuthType: "oauth"``, no oauth block), so the
authorization server is found by RFC 9728 discovery from the MCP server itself.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import pytest

from tests.api.conftest import Gateway, MakeGateway, fixture_server
from tests.fixtures.oauth_as import FixtureProcess
from tests.services.oauth.conftest import (  # noqa: F401 (fixtures)
    PUBLIC_URL,
    AsControl,
    as_process,
    auth_server,
    mcp_process,
)

ADMIN_CANARY = "mcpgw_canary-admin-key-0123456789abcdefghij"
SERVER = "remote"
CLIENT_ID = "platform"


@dataclass
class OAuthWorld:
    gw: Gateway
    service: str  # a service key: posts tokens and calls tools for any username
    auth: AsControl
    mcp_url: str

    async def seen(self) -> list[dict[str, str]]:
        async with httpx2.AsyncClient(timeout=5.0) as plain:
            result: list[dict[str, str]] = (await plain.get(self.mcp_url + "/seen")).json()
            return result

    async def reset_seen(self) -> None:
        async with httpx2.AsyncClient(timeout=5.0) as plain:
            (await plain.post(self.mcp_url + "/seen/reset")).raise_for_status()

    async def expire_access_tokens(self) -> None:
        """The AS forgets every access token's remaining lifetime (the gateway is not told)."""
        async with httpx2.AsyncClient(timeout=5.0) as plain:
            (await plain.post(self.auth.url + "/admin/expire")).raise_for_status()

    async def login(self, username: str, *, expires_in: float = 3600) -> dict[str, Any]:
        """The platform signed ``username`` in elsewhere and hands the tokens to the gateway."""
        grant = await self.auth.grant(CLIENT_ID, sub=username)
        body = {
            "username": username,
            "accessToken": grant["access_token"],
            "refreshToken": grant["refresh_token"],
            "expiresIn": expires_in,
            "clientId": CLIENT_ID,
            "tokenType": grant["token_type"],
        }
        resp = await self.gw.client.post(
            f"/mcp/servers/{SERVER}/oauth", json=body, headers=self.gw.auth(self.service)
        )
        assert resp.status_code == 200, resp.text
        return grant

    async def call(self, username: str, text: str = "hi") -> httpx2.Response:
        return await self.gw.call(self.service, SERVER, "echo", {"text": text}, username=username)

    async def server_view(self) -> dict[str, Any]:
        resp = await self.gw.client.get(f"/mcp/servers/{SERVER}", headers=self.gw.admin)
        view: dict[str, Any] = resp.json()["server"]
        return view


@pytest.fixture
async def world(
    make_gateway: MakeGateway,
    auth_server: AsControl,  # noqa: F811
    mcp_process: FixtureProcess,  # noqa: F811
) -> AsyncIterator[OAuthWorld]:
    sections = {
        "oauth": {"allowed_hosts": ["127.0.0.1"], "public_url": PUBLIC_URL},
        "http": {"admin_api_key": ADMIN_CANARY},
    }
    async with make_gateway(**sections) as gw:
        gw.admin_key = ADMIN_CANARY
        await auth_server.add_client(CLIENT_ID)
        body = {
            "name": SERVER,
            "transportType": "streamable_http",
            "url": mcp_process.url + "/mcp",
            "mcpAuthType": "oauth",
            # A static Authorization header must never reach the upstream for an OAuth user.
            "headers": {"Authorization": "Bearer static-header-canary", "X-Static": "kept"},
        }
        resp = await gw.client.post("/mcp/servers", json=body, headers=gw.admin)
        assert resp.status_code == 200, resp.text
        world = OAuthWorld(gw, await gw.new_key("service"), auth_server, mcp_process.url)
        await world.reset_seen()
        yield world


def _tokens(seen: list[dict[str, str]]) -> set[str]:
    return {h.get("authorization", "") for h in seen}


def _echoed(resp: httpx2.Response) -> str:
    assert resp.status_code == 200, resp.text
    text: str = resp.json()["data"]["content"][0]["text"]
    return text


@pytest.mark.anyio
async def test_tool_call_carries_the_users_token_and_never_a_gateway_key(world: OAuthWorld) -> None:
    grant = await world.login("alice")
    alice_key = await world.gw.new_key("user", "alice")
    assert _echoed(await world.call("alice", "via service")) == "via service"
    resp = await world.gw.call(alice_key, SERVER, "echo", {"text": "own key"})
    assert _echoed(resp) == "own key"

    seen = await world.seen()
    assert seen and _tokens(seen) == {f"Bearer {grant['access_token']}"}
    assert all(h.get("x-static") == "kept" for h in seen)  # other static headers still apply
    for headers in seen:
        for value in headers.values():
            for canary in (ADMIN_CANARY, world.service, alice_key, "static-header-canary"):
                assert canary not in value


@pytest.mark.anyio
async def test_user_without_tokens_gets_reauth_required_with_a_login_url(
    world: OAuthWorld,
) -> None:
    resp = await world.call("bob")
    assert resp.status_code == 401, resp.text
    body = resp.json()
    assert body["code"] == "reauth_required" and body["success"] is False
    # A login link to the gateway's start page, which binds the flow to the browser opening it.
    assert body["authorizationUrl"].startswith(PUBLIC_URL + "/oauth/start?ticket=")
    again = await world.call("bob")
    assert again.status_code == 401 and again.json()["authorizationUrl"]
    assert await world.seen() == []  # no session was even attempted for bob
    # Offering login links registers no client: that waits for a browser to open one.
    assert (await world.auth.stats())["registrations"] == 0


@pytest.mark.anyio
async def test_expired_access_token_is_refreshed_silently_on_the_same_session(
    world: OAuthWorld,
) -> None:
    grant = await world.login("alice")  # the gateway believes it is good for an hour
    assert _echoed(await world.call("alice", "before")) == "before"
    await world.expire_access_tokens()

    assert _echoed(await world.call("alice", "after")) == "after"
    assert _echoed(await world.call("alice", "again")) == "again"

    assert (await world.auth.stats())["refresh_requests"] == 1
    seen = await world.seen()
    sessions = {h.get("mcp-session-id") for h in seen if h.get("mcp-session-id")}
    assert len(sessions) == 1  # the upstream session survived the refresh: no reconnect
    assert f"Bearer {grant['access_token']}" in _tokens(seen)
    assert len(_tokens(seen)) == 2  # the old token, then the refreshed one
    view = await world.server_view()
    assert view["status"] == "connected" and view["restarts"] == 0


@pytest.mark.anyio
async def test_token_about_to_expire_is_refreshed_before_the_call(world: OAuthWorld) -> None:
    grant = await world.login("alice", expires_in=30)  # inside the 60 s refresh margin
    assert _echoed(await world.call("alice")) == "hi"
    assert (await world.auth.stats())["refresh_requests"] == 1
    assert f"Bearer {grant['access_token']}" not in _tokens(await world.seen())


@pytest.mark.anyio
async def test_revoked_grant_answers_reauth_required_and_other_users_keep_working(
    world: OAuthWorld,
) -> None:
    await world.login("alice")
    await world.login("bob")
    assert _echoed(await world.call("alice")) == "hi"
    assert _echoed(await world.call("bob")) == "hi"
    await world.auth.revoke()  # every refresh token dies...
    await world.expire_access_tokens()  # ...and the access tokens expire (the gateway does
    # not know: it finds out from the upstream's 401)

    resp = await world.call("alice")
    assert resp.status_code == 401, resp.text
    assert resp.json()["code"] == "reauth_required"
    assert resp.json()["authorizationUrl"].startswith(PUBLIC_URL + "/oauth/start?ticket=")
    again = await world.call("alice")  # now known before any upstream request
    assert again.status_code == 401 and again.json()["code"] == "reauth_required"
    assert (await world.auth.stats())["refresh_requests"] == 1  # the dead grant is not retried

    await world.login("bob")  # bob signs in again; alice's failure is not his
    assert _echoed(await world.call("bob", "still here")) == "still here"
    view = await world.server_view()
    assert view["status"] == "connected" and view["lastError"] is None

    await world.login("alice")  # a new login heals alice's session too
    assert _echoed(await world.call("alice", "back")) == "back"


@pytest.mark.anyio
async def test_dead_grant_found_while_connecting_answers_reauth_required(
    world: OAuthWorld,
) -> None:
    await world.login("alice")  # the gateway believes the token is good for an hour...
    await world.auth.revoke()
    await world.expire_access_tokens()  # ...but the upstream refuses it at initialize
    resp = await world.call("alice")
    assert resp.status_code == 401, resp.text
    assert resp.json()["code"] == "reauth_required"
    view = await world.server_view()  # no session left retrying a grant that is gone
    assert view["status"] == "disconnected" and view["instances"] == 0
    await world.login("alice")
    assert _echoed(await world.call("alice", "healed")) == "healed"


@pytest.mark.anyio
async def test_tool_listing_shows_each_users_own_view_of_an_oauth_server(
    world: OAuthWorld,
) -> None:
    await world.login("alice")

    async def listing(username: str) -> list[str]:
        resp = await world.gw.client.get(
            f"/mcp/tools?username={username}", headers=world.gw.auth(world.service)
        )
        assert resp.status_code == 200, resp.text
        servers = {k: v for entry in resp.json()["tools"] for k, v in entry.items()}
        return [tool["name"] for tool in servers[SERVER]]

    assert sorted(await listing("alice")) == ["echo", "leak_token"]
    assert await listing("bob") == []  # no grant: nothing to list, and no failing session
    view = await world.server_view()
    assert view["status"] == "connected" and view["instances"] == 1


@pytest.mark.anyio
async def test_revoked_grant_with_known_expiry_answers_reauth_required(world: OAuthWorld) -> None:
    await world.login("alice", expires_in=30)
    await world.auth.revoke()
    resp = await world.call("alice")
    assert resp.status_code == 401 and resp.json()["code"] == "reauth_required"
    assert await world.seen() == []  # decided before any upstream request


@pytest.mark.anyio
async def test_each_user_has_an_upstream_session_that_only_sees_their_token(
    world: OAuthWorld,
) -> None:
    alice = await world.login("alice")
    bob = await world.login("bob")
    for text in ("a1", "b1", "a2", "b2"):
        user = "alice" if text.startswith("a") else "bob"
        assert _echoed(await world.call(user, text)) == text

    by_session: dict[str, set[str]] = {}
    for headers in await world.seen():
        if "mcp-session-id" in headers:
            by_session.setdefault(headers["mcp-session-id"], set()).add(headers["authorization"])
    assert sorted(by_session.values(), key=sorted) == sorted(
        [{f"Bearer {alice['access_token']}"}, {f"Bearer {bob['access_token']}"}], key=sorted
    )
    assert (await world.server_view())["instances"] == 2


@pytest.mark.anyio
async def test_tokens_for_a_stdio_server_are_refused(world: OAuthWorld) -> None:
    # (Any HTTP server takes them, mcp-api's model: see test_oauth_any_http.py.)
    gw = world.gw
    resp = await gw.client.post(
        "/mcp/servers", json=fixture_server("local", enabled=False), headers=gw.admin
    )
    assert resp.status_code == 200, resp.text
    tokens = {"username": "alice", "accessToken": "at-never-stored", "expiresIn": 60}
    resp = await gw.client.post(
        "/mcp/servers/local/oauth", json=tokens, headers=gw.auth(world.service)
    )
    assert resp.status_code == 400, resp.text
    assert resp.json()["code"] == "invalid_request"
    assert "at-never-stored" not in resp.text
    assert await gw.runtime.store.get_tokens("local", "alice") is None


@pytest.mark.anyio
async def test_second_gateway_on_the_same_store_shares_one_refresh(
    world: OAuthWorld, make_gateway: MakeGateway
) -> None:
    """A restarted gateway or a replica: its tokens (with AS metadata) come from the store,
    and two gateways answering 401s at the same moment spend the refresh token once."""
    await world.login("alice")
    assert _echoed(await world.call("alice", "first")) == "first"
    sections = {
        "oauth": {"allowed_hosts": ["127.0.0.1"], "public_url": PUBLIC_URL},
        "http": {"admin_api_key": ADMIN_CANARY},
    }
    async with make_gateway(**sections) as replica:
        await world.auth.configure(refresh_delay=0.3)  # both wait on the AS together
        await world.expire_access_tokens()
        answers: dict[str, httpx2.Response] = {}

        async def call(name: str, gw: Gateway) -> None:
            body = {"text": name}
            answers[name] = await gw.call(world.service, SERVER, "echo", body, username="alice")

        async with anyio.create_task_group() as tg:
            tg.start_soon(call, "original", world.gw)
            tg.start_soon(call, "replica", replica)
        assert {name: _echoed(resp) for name, resp in answers.items()} == {
            "original": "original",
            "replica": "replica",
        }
    assert (await world.auth.stats())["refresh_requests"] == 1


@pytest.mark.anyio
async def test_an_upstream_echoing_the_bearer_token_never_puts_it_in_a_response_or_log(
    world: OAuthWorld, caplog: pytest.LogCaptureFixture
) -> None:
    grant = await world.login("alice")
    token = grant["access_token"]
    # Ours at DEBUG, everyone's at INFO: `serve` keeps the SDK and HTTP client loggers (whose
    # DEBUG traces raw messages) at INFO or above.
    caplog.set_level(logging.INFO)
    with caplog.at_level(logging.DEBUG, logger="mcp_gateway"):
        resp = await world.gw.call(world.service, SERVER, "leak_token", {}, username="alice")
    assert resp.status_code == 502, resp.text
    assert resp.json()["code"] == "upstream_error"
    assert "rejected credentials" in resp.text  # the upstream's message is passed on...
    assert token not in resp.text  # ...with the token masked
    assert token not in caplog.text
