"""A resource subscription on an OAuth server whose user's grant died: unsubscribing still
releases the user's upstream session (the test AS and the bearer-protected MCP server are
real subprocesses, as in tests/api/test_oauth_tool_calls.py)."""

from __future__ import annotations

import mcp_types as types
import pytest

from tests.api.downstream.conftest import MakeLive
from tests.fixtures.oauth_as import FixtureProcess
from tests.services.oauth.conftest import (  # noqa: F401 (fixtures)
    PUBLIC_URL,
    AsControl,
    as_process,
    auth_server,
    mcp_process,
)
from tests.upstream.conftest import poll_until

CLIENT_ID = "platform"
NOTE = "fixture://note"


@pytest.mark.anyio
@pytest.mark.slow
async def test_an_unsubscribe_after_the_users_grant_died_releases_their_upstream_session(
    make_live: MakeLive,
    auth_server: AsControl,  # noqa: F811
    mcp_process: FixtureProcess,  # noqa: F811
) -> None:
    # The unsubscribe failed with reauth_required before it reached the pool, so the session
    # stayed marked as holding the subscription: never stopped for idleness, for good.
    sections = {
        "oauth": {"allowed_hosts": ["127.0.0.1"], "public_url": PUBLIC_URL},
        "upstream": {"user_session_idle": 0.5},
    }
    async with make_live(**sections) as live:
        await auth_server.add_client(CLIENT_ID)
        body = {
            "name": "remote",
            "transportType": "streamable_http",
            "url": mcp_process.url + "/mcp",
            "mcpAuthType": "oauth",
        }
        resp = await live.client.post("/mcp/servers", json=body, headers=live.admin)
        assert resp.status_code == 200, resp.text
        service = await live.new_key("service")
        grant = await auth_server.grant(CLIENT_ID, sub="alice")
        tokens = {
            "username": "alice",
            "accessToken": grant["access_token"],
            "refreshToken": grant["refresh_token"],
            "expiresIn": 3600,
            "clientId": CLIENT_ID,
            "tokenType": grant["token_type"],
        }
        resp = await live.client.post(
            "/mcp/servers/remote/oauth", json=tokens, headers=live.auth(service)
        )
        assert resp.status_code == 200, resp.text
        alice = await live.new_key("user", "alice")
        async with live.mcp_client("/mcp/remote", alice) as client:
            subscribe = types.SubscribeRequest(params=types.SubscribeRequestParams(uri=NOTE))
            await client.session.send_request(subscribe, types.EmptyResult)
            entry = live.runtime.pool._entries["remote"]
            session = entry.users["alice"]
            assert session.subscribed == {NOTE}

            await auth_server.revoke()  # her refresh token dies, and her access token
            await auth_server.expire()  # expires (the gateway finds out from a 401)
            dead = await client.call_tool("echo", {"text": "x"})
            assert dead.is_error and "reauth_required" in str(dead.meta)

            unsubscribe = types.UnsubscribeRequest(params=types.UnsubscribeRequestParams(uri=NOTE))
            await client.session.send_request(unsubscribe, types.EmptyResult)
            assert not session.subscribed and session.stoppable
            # The idle stop takes it now.
            await poll_until(lambda: entry.users.get("alice") is not session, within=20)
