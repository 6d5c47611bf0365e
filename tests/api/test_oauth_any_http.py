"""mcp-api's model for ``POST /mcp/servers/{name}/oauth``: any ``streamable_http`` server takes a
user's tokens, and that user's calls then run on a session of their own carrying them, while
everyone else keeps the shared (anonymous) session. Real Runtime behind the ASGI app; the test
AS and the fixture MCP server (its ``/open/mcp`` endpoint serves anonymous requests too) are
real subprocesses; ``/seen`` proves what reached the upstream. Both stores.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest

from tests.api.conftest import Gateway, MakeGateway, secrets_section
from tests.fixtures.oauth_as import FixtureProcess
from tests.services.oauth.conftest import (  # noqa: F401 (fixtures)
    PUBLIC_URL,
    AsControl,
    as_process,
    auth_server,
    mcp_process,
)

SERVER = "platform.http"  # a plain platform server: no oauth block, no mcpAuthType
CLIENT_ID = "missionsquad"
REDIRECT = "https://missionsquad.example.com/webhooks/oauth/callback/123"


@dataclass
class World:
    gw: Gateway
    service: str
    auth: AsControl
    mcp_url: str

    async def seen(self) -> list[dict[str, str]]:
        async with httpx2.AsyncClient(timeout=5.0) as plain:
            result: list[dict[str, str]] = (await plain.get(self.mcp_url + "/seen")).json()
            return result

    async def post_tokens(self, body: dict[str, Any], key: str | None = None) -> httpx2.Response:
        return await self.gw.client.post(
            f"/mcp/servers/{SERVER}/oauth", json=body, headers=self.gw.auth(key or self.service)
        )

    async def login(self, username: str, **extra: Any) -> dict[str, Any]:
        grant = await self.auth.grant(CLIENT_ID, sub=username)
        body = {
            "username": username,
            "tokenType": "Bearer",
            "accessToken": grant["access_token"],
            "refreshToken": grant["refresh_token"],
            "expiresIn": 3600,
            "clientId": CLIENT_ID,
            "redirectUri": REDIRECT,
            **extra,
        }
        resp = await self.post_tokens(body)
        assert resp.status_code == 200, resp.text
        return {"grant": grant, "answer": resp.json()}

    async def call(self, username: str, text: str = "hi") -> httpx2.Response:
        return await self.gw.call(self.service, SERVER, "echo", {"text": text}, username=username)


@pytest.fixture
async def world(
    make_gateway: MakeGateway,
    backend: str,
    auth_server: AsControl,  # noqa: F811
    mcp_process: FixtureProcess,  # noqa: F811
) -> AsyncIterator[World]:
    sections = {
        "oauth": {"allowed_hosts": ["127.0.0.1"], "public_url": PUBLIC_URL},
        "secrets": secrets_section(backend),
    }
    async with make_gateway(backend, **sections) as gw:
        await auth_server.add_client(CLIENT_ID)
        body = {
            "name": SERVER,
            "transportType": "streamable_http",
            "url": f"{mcp_process.url}/open/mcp",
        }
        resp = await gw.client.post("/mcp/servers", json=body, headers=gw.admin)
        assert resp.status_code == 200, resp.text
        world = World(gw, await gw.new_key("service"), auth_server, mcp_process.url)
        async with httpx2.AsyncClient(timeout=5.0) as plain:
            (await plain.post(mcp_process.url + "/seen/reset")).raise_for_status()
        yield world


def _echoed(resp: httpx2.Response) -> str:
    assert resp.status_code == 200, resp.text
    text: str = resp.json()["data"]["content"][0]["text"]
    return text


def _by_session(seen: list[dict[str, str]]) -> dict[str, set[str]]:
    """Authorization values seen per upstream session id ("" when none was sent)."""
    out: dict[str, set[str]] = {}
    for headers in seen:
        if "mcp-session-id" in headers:
            out.setdefault(headers["mcp-session-id"], set()).add(headers.get("authorization", ""))
    return out


@pytest.mark.anyio
async def test_tokens_on_a_plain_streamable_http_server_give_that_user_an_own_session(
    world: World,
) -> None:
    assert _echoed(await world.call("bob", "shared before")) == "shared before"
    alice = await world.login("alice")
    answer = alice["answer"]
    assert answer["success"] is True and answer["server"]["name"] == SERVER
    assert answer["server"]["authState"] == "connected" and answer["username"] == "alice"
    assert alice["grant"]["access_token"] not in str(answer)  # no token echoed

    assert _echoed(await world.call("alice", "a1")) == "a1"
    assert _echoed(await world.call("bob", "b1")) == "b1"
    assert _echoed(await world.call("carol", "c1")) == "c1"
    assert _echoed(await world.call("alice", "a2")) == "a2"

    sessions = _by_session([h for h in await world.seen() if h[":path"].startswith("/open/")])
    token = f"Bearer {alice['grant']['access_token']}"
    # alice's own session carries only her token; the shared one (bob, carol) never does.
    assert sorted(sessions.values(), key=sorted) == sorted([{""}, {token}], key=sorted)


@pytest.mark.anyio
@pytest.mark.slow
async def test_three_second_token_is_not_refreshed_on_every_request(world: World) -> None:
    await world.auth.configure(access_ttl=3)  # the tokens the AS hands out live 3 s
    await world.login("alice", expiresIn=3)
    # A first call is several upstream requests (initialize, list, call...): the handed-in
    # token (its age unknown, so inside the 60 s margin) is refreshed once, not per request.
    assert _echoed(await world.call("alice", "first")) == "first"
    assert (await world.auth.stats())["refresh_requests"] == 1

    started = time.monotonic()
    calls = 0
    while time.monotonic() - started < 4.0:  # past the refreshed token's expiry
        assert _echoed(await world.call("alice", str(calls))) == str(calls)
        calls += 1
    elapsed = time.monotonic() - started
    refreshes = (await world.auth.stats())["refresh_requests"] - 1
    # Margin min(60 s, 10 % of 3 s) = 0.3 s: one refresh per 2.7 s of use, never per call.
    assert 1 <= refreshes <= int(elapsed / 2.7) + 1, (refreshes, calls, elapsed)
    assert calls > 2 * refreshes


@pytest.mark.anyio
async def test_mcp_api_required_fields_are_enforced_and_nothing_is_stored_without_them(
    world: World,
) -> None:
    full = {
        "username": "alice",
        "accessToken": "at-canary-never-echoed",
        "clientId": CLIENT_ID,
        "redirectUri": REDIRECT,
    }
    for missing, named in (("clientId", "clientId"), ("redirectUri", "redirectUri")):
        body = {k: v for k, v in full.items() if k != missing}
        resp = await world.post_tokens(body)
        assert resp.status_code == 400, resp.text
        assert resp.json()["code"] == "invalid_request" and named in resp.json()["error"]
        assert "at-canary-never-echoed" not in resp.text
    resp = await world.post_tokens({k: v for k, v in full.items() if k != "username"})
    assert resp.status_code == 400 and "username is required" in resp.json()["error"]
    resp = await world.post_tokens({k: v for k, v in full.items() if k != "accessToken"})
    assert resp.status_code == 400 and resp.json()["code"] == "invalid_request"
    assert await world.gw.runtime.store.get_tokens(SERVER, "alice") is None

    # A user key acts for itself without naming it, and never for someone else.
    alice_key = await world.gw.new_key("user", "alice")
    resp = await world.post_tokens({**full, "username": "bob"}, alice_key)
    assert resp.status_code == 403, resp.text
    resp = await world.post_tokens({k: v for k, v in full.items() if k != "username"}, alice_key)
    assert resp.status_code == 200 and resp.json()["username"] == "alice"


@pytest.mark.anyio
async def test_dead_tokens_on_a_plain_server_answer_reauth_required_naming_server_and_user(
    world: World,
) -> None:
    await world.login("alice")
    assert _echoed(await world.call("alice")) == "hi"
    await world.auth.revoke()
    await world.auth.configure(access_ttl=3600)
    async with httpx2.AsyncClient(timeout=5.0) as plain:
        (await plain.post(world.auth.url + "/admin/expire")).raise_for_status()

    resp = await world.call("alice")
    assert resp.status_code == 401, resp.text
    body = resp.json()
    assert body["code"] == "reauth_required" and body["reauthRequired"] is True
    assert body["serverName"] == SERVER and body["username"] == "alice"
    again = await world.call("alice")  # known before any upstream request now
    assert again.status_code == 401 and again.json()["reauthRequired"] is True
    assert _echoed(await world.call("bob", "unaffected")) == "unaffected"

    await world.login("alice")  # a new token heals her
    assert _echoed(await world.call("alice", "back")) == "back"


@pytest.mark.anyio
async def test_expires_at_in_ms_and_token_endpoint_are_accepted_and_refresh_uses_it(
    world: World,
) -> None:
    soon_ms = int((time.time() + 3) * 1000)
    await world.login(
        "alice", expiresIn=None, expiresAt=soon_ms, tokenEndpoint=world.auth.url + "/token"
    )
    tokens = await world.gw.runtime.oauth.refresher.load(SERVER, "alice")
    assert tokens is not None and tokens.auth_server is not None
    assert tokens.auth_server.token_endpoint == world.auth.url + "/token"
    assert tokens.expires_at is not None and abs(tokens.expires_at - soon_ms / 1000) < 0.01
    assert _echoed(await world.call("alice")) == "hi"  # within 60 s of expiry: refreshed...
    stats = await world.auth.stats()
    assert stats["refresh_requests"] == 1  # ...at the endpoint given, found by no discovery
    assert stats["metadata_requests"] == 0


@pytest.mark.anyio
async def test_server_requiring_a_token_from_everyone_works_for_users_who_stored_one(
    world: World,
) -> None:
    """mcp-api's model for a platform server registered without any OAuth setting whose
    upstream wants a bearer token from every caller: the shared session cannot connect, the
    users who stored tokens work on their own sessions and list its tools."""
    gw = world.gw
    body = {"name": "locked", "transportType": "streamable_http", "url": f"{world.mcp_url}/mcp"}
    resp = await gw.client.post("/mcp/servers", json=body, headers=gw.admin)
    assert resp.status_code == 200, resp.text
    grant = await world.auth.grant(CLIENT_ID, sub="alice")
    tokens = {
        "username": "alice",
        "accessToken": grant["access_token"],
        "refreshToken": grant["refresh_token"],
        "expiresIn": 3600,
        "clientId": CLIENT_ID,
        "redirectUri": REDIRECT,
    }
    resp = await gw.client.post(
        "/mcp/servers/locked/oauth", json=tokens, headers=gw.auth(world.service)
    )
    assert resp.status_code == 200, resp.text

    alice = await gw.call(world.service, "locked", "echo", {"text": "mine"}, username="alice")
    assert _echoed(alice) == "mine"
    bob = await gw.call(world.service, "locked", "echo", {"text": "no"}, username="bob")
    assert bob.status_code in (502, 503), bob.text  # the upstream wants a token bob lacks

    async def listing(username: str) -> list[str]:
        resp = await gw.client.get(
            f"/mcp/tools?username={username}", headers=gw.auth(world.service)
        )
        assert resp.status_code == 200, resp.text
        servers = {k: v for entry in resp.json()["tools"] for k, v in entry.items()}
        return sorted(tool["name"] for tool in servers["locked"])

    assert await listing("alice") == ["echo", "leak_token"]
    assert await listing("bob") == []


@pytest.mark.anyio
async def test_tokens_posted_again_without_a_refresh_token_keep_the_stored_one_of_that_client(
    world: World,
) -> None:
    first = await world.login("alice")
    again = {
        "username": "alice",
        "accessToken": "at-second-canary",
        "expiresAt": "2099-01-01T00:00:00Z",  # ISO 8601 with a zone
        "clientId": CLIENT_ID,
        "redirectUri": REDIRECT,
        "scope": "read write",
    }
    assert (await world.post_tokens(again)).status_code == 200
    tokens = await world.gw.runtime.oauth.refresher.load(SERVER, "alice")
    assert tokens is not None and tokens.access_token == "at-second-canary"
    assert tokens.refresh_token == first["grant"]["refresh_token"]  # kept, as mcp-api does
    assert tokens.scopes == ("read", "write") and tokens.expires_at == 4070908800.0

    other_client = {**again, "clientId": "another-client", "expiresAt": None}
    assert (await world.post_tokens(other_client)).status_code == 200
    tokens = await world.gw.runtime.oauth.refresher.load(SERVER, "alice")
    assert tokens is not None and tokens.refresh_token is None  # never across clients

    naive = {**again, "expiresAt": "2099-01-01T00:00:00"}
    resp = await world.post_tokens(naive)
    assert resp.status_code == 400 and "time zone" in resp.json()["error"]
    assert "at-second-canary" not in resp.text


@pytest.mark.anyio
async def test_a_static_authorization_header_is_replaced_on_the_users_own_session(
    world: World,
) -> None:
    gw = world.gw
    body = {
        "name": "static",
        "transportType": "streamable_http",
        "url": f"{world.mcp_url}/trust/mcp",
        "headers": {"Authorization": "Bearer static-header-canary", "X-Static": "kept"},
    }
    resp = await gw.client.post("/mcp/servers", json=body, headers=gw.admin)
    assert resp.status_code == 200, resp.text
    grant = await world.auth.grant(CLIENT_ID, sub="alice")
    tokens = {
        "username": "alice",
        "accessToken": grant["access_token"],
        "expiresIn": 3600,
        "clientId": CLIENT_ID,
        "redirectUri": REDIRECT,
    }
    resp = await gw.client.post(
        "/mcp/servers/static/oauth", json=tokens, headers=gw.auth(world.service)
    )
    assert resp.status_code == 200, resp.text
    async with httpx2.AsyncClient(timeout=5.0) as plain:
        (await plain.post(world.mcp_url + "/seen/reset")).raise_for_status()
    for user in ("alice", "bob"):
        resp = await gw.call(world.service, "static", "echo", {"text": user}, username=user)
        assert _echoed(resp) == user
    seen = [h for h in await world.seen() if h[":path"].startswith("/trust/")]
    assert sorted(_by_session(seen).values(), key=sorted) == sorted(
        [{"Bearer static-header-canary"}, {f"Bearer {grant['access_token']}"}], key=sorted
    )
    assert all(h.get("x-static") == "kept" for h in seen)


@pytest.mark.anyio
async def test_oauth_status_says_whether_a_user_is_connected_and_only_to_that_user(
    world: World,
) -> None:
    async def status(key: str, username: str | None = None) -> httpx2.Response:
        params = {"username": username} if username else {}
        return await world.gw.client.get(
            f"/oauth/{SERVER}/status", params=params, headers=world.gw.auth(key)
        )

    before = await status(world.service, "alice")
    assert before.status_code == 200, before.text
    assert before.json() == {
        "success": True, "serverName": SERVER, "username": "alice", "authState": "not_connected"
    }  # fmt: skip
    alice = await world.login("alice")
    after = (await status(world.service, "alice")).json()
    assert after["authState"] == "connected"
    assert alice["grant"]["access_token"] not in str(after)
    # A user key sees its own state only.
    bob = await world.gw.new_key("user", "bob")
    assert (await status(bob)).json()["authState"] == "not_connected"
    assert (await status(bob, "alice")).status_code == 403
    missing = await world.gw.client.get("/oauth/nope/status", headers=world.gw.auth(bob))
    assert missing.status_code == 404 and missing.json()["code"] == "server_not_found"
