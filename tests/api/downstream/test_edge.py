"""The MCP endpoint's edge: identity, session ownership, Origin, Host, protocol version,
reserved names. Raw HTTP where the point is the status a client gets."""

from __future__ import annotations

import re
from typing import Any

import httpx2
import pytest

from tests.api.console.helpers import csrf_token, login
from tests.api.downstream.conftest import LiveGateway

_INIT: dict[str, Any] = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"},
    },
}
_LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}
_ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def _headers(key: str | None, **extra: str) -> dict[str, str]:
    out = dict(_ACCEPT)
    if key is not None:
        out["Authorization"] = f"Bearer {key}"
    out.update(extra)
    return out


async def _open_session(live: LiveGateway, path: str, key: str, **extra: str) -> str:
    resp = await live.client.post(path, json=_INIT, headers=_headers(key, **extra))
    assert resp.status_code == 200, resp.text
    session: str = resp.headers["mcp-session-id"]
    assert re.fullmatch(r"[0-9a-f]{48}", session)  # 192 random bits
    return session


def _in_session(key: str, session: str, **extra: str) -> dict[str, str]:
    return _headers(
        key, **{"Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25"}, **extra
    )


@pytest.mark.anyio
async def test_session_is_bound_to_key_username_and_endpoint(live: LiveGateway) -> None:
    await live.add_server("fx")
    await live.add_server("fy")
    alice = await live.new_key("user", "alice")
    bob = await live.new_key("user", "bob")
    service = await live.new_key("service")
    session = await _open_session(live, "/mcp/fx", alice)
    ok = await live.client.post("/mcp/fx", json=_LIST, headers=_in_session(alice, session))
    assert ok.status_code == 200 and "echo_args" in ok.text
    # Another user's key, the same key on another endpoint, a service key acting for alice:
    # each is a different owner, and the SDK answers as if the session did not exist.
    for key, path, extra in (
        (bob, "/mcp/fx", {}),
        (alice, "/mcp/fy", {}),
        (alice, "/mcp", {}),
        (service, "/mcp/fx", {"X-MCPGW-Username": "alice"}),
    ):
        resp = await live.client.post(path, json=_LIST, headers=_in_session(key, session, **extra))
        assert resp.status_code == 404, (path, resp.text)
    # A service key's sessions are per username too.
    svc = await _open_session(live, "/mcp/fx", service, **{"X-MCPGW-Username": "carol"})
    other = _in_session(service, svc, **{"X-MCPGW-Username": "dave"})
    assert (await live.client.post("/mcp/fx", json=_LIST, headers=other)).status_code == 404
    # DELETE ends it; afterwards the id is unknown to everyone, alice included.
    gone = await live.client.delete("/mcp/fx", headers=_in_session(alice, session))
    assert gone.status_code in (200, 204)
    again = await live.client.post("/mcp/fx", json=_LIST, headers=_in_session(alice, session))
    assert again.status_code == 404


@pytest.mark.anyio
async def test_no_or_bad_key_is_401_with_www_authenticate_and_user_key_cannot_switch_user(
    live: LiveGateway,
) -> None:
    await live.add_server("fx")
    for key in (None, "mcpgw_not-a-real-key"):
        resp = await live.client.post("/mcp/fx", json=_INIT, headers=_headers(key))
        assert resp.status_code == 401
        assert resp.headers["www-authenticate"].startswith("Bearer")
        assert "mcp-session-id" not in resp.headers
        resp = await live.client.post("/mcp", json=_INIT, headers=_headers(key))
        assert resp.status_code == 401
    alice = await live.new_key("user", "alice")
    resp = await live.client.post(
        "/mcp/fx", json=_INIT, headers=_headers(alice, **{"X-MCPGW-Username": "bob"})
    )
    assert resp.status_code == 403


@pytest.mark.anyio
async def test_foreign_origin_is_403_own_and_configured_origins_pass(make_live: Any) -> None:
    endpoint = {"allowed_origins": ["https://app.example"]}
    async with make_live(endpoint=endpoint) as live:
        await live.add_server("fx")
        key = await live.new_key("user", "alice")
        foreign = await live.client.post(
            "/mcp/fx", json=_INIT, headers=_headers(key, Origin="https://evil.example")
        )
        assert foreign.status_code == 403
        assert "mcp-session-id" not in foreign.headers
        own = live.url  # same scheme, host and port as the request
        for origin in (own, "https://app.example"):
            resp = await live.client.post(
                "/mcp/fx", json=_INIT, headers=_headers(key, Origin=origin)
            )
            assert resp.status_code == 200, (origin, resp.text)


@pytest.mark.anyio
async def test_loopback_listener_refuses_a_foreign_host_header(live: LiveGateway) -> None:
    await live.add_server("fx")
    key = await live.new_key("user", "alice")
    rebinding = await live.client.post(
        "/mcp/fx", json=_INIT, headers=_headers(key, Host="attacker.example")
    )
    assert rebinding.status_code == 421
    fine = await live.client.post("/mcp/fx", json=_INIT, headers=_headers(key, Host="localhost:9"))
    assert fine.status_code == 200


@pytest.mark.anyio
async def test_unknown_protocol_version_is_400_and_unknown_server_is_404(
    live: LiveGateway,
) -> None:
    await live.add_server("fx")
    key = await live.new_key("user", "alice")
    bad = await live.client.post(
        "/mcp/fx", json=_LIST, headers=_headers(key, **{"MCP-Protocol-Version": "1999-01-01"})
    )
    assert bad.status_code == 400
    missing = await live.client.post("/mcp/nope", json=_INIT, headers=_headers(key))
    assert missing.status_code == 404
    assert "nope" in missing.json()["error"]["message"]


@pytest.mark.anyio
async def test_per_caller_session_limit_refuses_one_more_but_not_other_callers(
    make_live: Any,
) -> None:
    async with make_live(endpoint={"max_sessions_per_caller": 2}) as live:
        await live.add_server("fx")
        alice = await live.new_key("user", "alice")
        bob = await live.new_key("user", "bob")
        first = await _open_session(live, "/mcp/fx", alice)
        await _open_session(live, "/mcp/fx", alice)
        third = await live.client.post("/mcp/fx", json=_INIT, headers=_headers(alice))
        assert third.status_code == 503
        await _open_session(live, "/mcp/fx", bob)  # bob's own allowance
        await live.client.delete("/mcp/fx", headers=_in_session(alice, first))
        await _open_session(live, "/mcp/fx", alice)  # a slot freed by DELETE


@pytest.mark.anyio
@pytest.mark.parametrize("name", ["tools", "tool", "servers", "Toolsets", "external", "user"])
async def test_server_names_that_are_rest_paths_under_mcp_are_refused(
    live: LiveGateway, name: str
) -> None:
    resp = await live.client.post(
        "/mcp/servers",
        json={"name": name, "command": "python3", "args": []},
        headers=live.admin,
    )
    assert resp.status_code == 400
    assert resp.json()["code"] == "invalid_request"
    assert "reserved" in resp.json()["error"] and "REST path" in resp.json()["error"]
    # The REST paths themselves still answer as before, not as MCP endpoints.
    tools = await live.client.get("/mcp/tools", headers=live.admin)
    assert tools.status_code == 200 and tools.json()["success"] is True
    wrong_method = await live.client.post("/mcp/tools", headers=live.admin)
    assert wrong_method.status_code == 405 and "GET" in wrong_method.headers["allow"]
    assert wrong_method.json()["code"] == "method_not_allowed"
    no_route = await live.client.get("/mcp/toolsets", headers=live.admin)
    assert no_route.status_code == 404 and no_route.json()["code"] == "not_found"


@pytest.mark.anyio
async def test_auth_mode_none_serves_the_endpoint_open_as_default(make_live: Any) -> None:
    async with make_live(http={"auth_mode": "none"}) as live:
        resp = await live.client.post(
            "/mcp/servers",
            json={"name": "fx", "command": "python3", "args": []},
        )
        assert resp.status_code == 200, resp.text
        opened = await live.client.post("/mcp", json=_INIT, headers=_ACCEPT)
        assert opened.status_code == 200
        assert opened.headers["mcp-session-id"]


@pytest.mark.anyio
async def test_a_console_session_cookie_does_not_authenticate_the_mcp_endpoint(
    live: LiveGateway,
) -> None:
    await live.add_server("fx")
    key = await live.new_key("user", "alice")
    async with httpx2.AsyncClient(base_url=live.url) as browser:
        assert (await login(browser, key)).status_code in (200, 303)
        assert browser.cookies  # logged in: the console would accept it
        csrf = await csrf_token(browser)
        headers = {**_ACCEPT, "X-CSRF-Token": csrf}
        resp = await browser.post("/mcp/fx", json=_INIT, headers=headers)
        assert resp.status_code == 401
        assert "mcp-session-id" not in resp.headers
