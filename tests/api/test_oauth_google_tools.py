"""mcp-api's Google stdio OAuth: a server with ``MCP_AUTH_TYPE=OAUTH2_GOOGLE`` exposing
``auth_get_authorization_url`` / ``auth_exchange_code`` (tests/fixtures/google_stdio_server.py,
a real child process, against the real test AS) runs the login with its own tools, and
``/auth/google/login`` works as a plain browser link: a signed, short-lived link from
``POST /auth/google/login-link``, or no key at all under ``MCPGW_AUTH_MODE=none``. The tokens
land as the user's ``google_tokens`` secret, for the user the gateway sealed into the state only.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from tests.api.conftest import Gateway, MakeGateway, secrets_section
from tests.services.oauth.conftest import (  # noqa: F401 (fixtures)
    PUBLIC_URL,
    AsControl,
    as_process,
    auth_server,
)

GOOGLE_SERVER = Path(__file__).parents[1] / "fixtures" / "google_stdio_server.py"
SERVER = "mcp-google-workspace"
CLIENT, CLIENT_SECRET = "g-tool-client", "g-tool-secret-canary"
CALLBACK = PUBLIC_URL + "/auth/google/callback"


def _server_body(as_url: str) -> dict[str, Any]:
    return {
        "name": SERVER,
        "command": sys.executable,
        "args": [str(GOOGLE_SERVER)],
        "env": {
            "MCP_AUTH_TYPE": "OAUTH2_GOOGLE",
            "GOOGLE_FIXTURE_AS": as_url,
            "GOOGLE_FIXTURE_CLIENT": CLIENT,
            "GOOGLE_FIXTURE_SECRET": CLIENT_SECRET,
            "GOOGLE_FIXTURE_REDIRECT": CALLBACK,
        },
    }


async def _google_gateway(
    make_gateway: MakeGateway, backend: str, auth: AsControl, **http: Any
) -> AsyncIterator[Gateway]:
    sections = {
        "oauth": {"allowed_hosts": ["127.0.0.1"], "public_url": PUBLIC_URL},
        "secrets": secrets_section(backend),
        "http": http,
    }
    async with make_gateway(backend, **sections) as gw:
        await auth.add_client(CLIENT, CLIENT_SECRET, "client_secret_post", [CALLBACK])
        headers = gw.admin if not http else {}
        resp = await gw.client.post("/mcp/servers", json=_server_body(auth.url), headers=headers)
        assert resp.status_code == 200, resp.text
        yield gw


@pytest.fixture
async def gw(
    make_gateway: MakeGateway,
    backend: str,
    auth_server: AsControl,  # noqa: F811
) -> AsyncIterator[Gateway]:
    async for gateway in _google_gateway(make_gateway, backend, auth_server):
        yield gateway


class Browser:
    """A user's browser: its own cookie jar, no API key, same in-process gateway."""

    def __init__(self, gw: Gateway) -> None:
        assert gw.app is not None
        transport = httpx2.ASGITransport(app=gw.app)
        self.client = httpx2.AsyncClient(transport=transport, base_url="http://gw")

    async def __aenter__(self) -> Browser:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()

    async def open(self, link: str) -> tuple[str, str]:
        """Open a gateway link: (the start page, the authorization URL it offers)."""
        path = link[len(PUBLIC_URL) :] if link.startswith(PUBLIC_URL) else link
        page = await self.client.get(path, headers={"Accept": "text/html"})
        assert page.status_code == 200, page.text
        found = re.search(r'<a href="([^"]+)"', page.text)
        assert found is not None, page.text
        return page.text, html.unescape(found.group(1))

    async def get(self, path: str) -> httpx2.Response:
        return await self.client.get(path, headers={"Accept": "text/html"})


async def _at_the_as(url: str) -> str:
    """The user approves at the AS, which redirects to the gateway's callback (a path)."""
    async with httpx2.AsyncClient(timeout=10.0) as plain:
        response = await plain.get(url)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(CALLBACK + "?"), location
    return location[len(PUBLIC_URL) :]


async def _link(gw: Gateway, key: str, body: dict[str, Any]) -> httpx2.Response:
    return await gw.client.post("/auth/google/login-link", json=body, headers=gw.auth(key))


async def _stored_tokens(gw: Gateway, username: str) -> dict[str, Any] | None:
    stored = await gw.runtime.store.get_secrets(username, SERVER)
    if not stored:
        return None
    assert [s.name for s in stored] == ["google_tokens"]
    value = gw.runtime.keyring.decrypt_secret(
        username, SERVER, "google_tokens", stored[0].ciphertext
    )
    tokens: dict[str, Any] = json.loads(value)
    return tokens


@pytest.mark.anyio
async def test_signed_login_link_runs_the_servers_auth_tools_and_stores_bobs_tokens(
    gw: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="mcp_gateway")
    service = await gw.new_key("service")
    resp = await _link(gw, service, {"username": "bob"})
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    link = answer["url"]
    assert link.startswith(PUBLIC_URL + "/auth/google/login?ticket=")
    assert parse_qs(urlsplit(link).query)["user_id"] == ["bob"]
    assert answer["username"] == "bob" and answer["server"] == SERVER and answer["expiresAt"]

    async with Browser(gw) as bobs, Browser(gw) as alices:
        page, auth_url = await bobs.open(link)  # no API key: the signed link is enough
        assert "<b>bob</b>" in page and f"<b>{SERVER}</b>" in page
        query = parse_qs(urlsplit(auth_url).query)
        assert query["client_id"] == [CLIENT]  # the tool built it, with its own client
        assert "userId" not in query["state"][0]  # the gateway's sealed state, not the tool's
        callback = await _at_the_as(auth_url)
        assert (await alices.get(callback)).status_code == 403  # not the starting browser
        assert await _stored_tokens(gw, "bob") is None
        done = await bobs.get(callback)
        assert done.status_code == 200 and "<b>bob</b>" in done.text
        assert (await bobs.get(callback)).status_code in (400, 403)  # single use

    tokens = await _stored_tokens(gw, "bob")
    assert tokens is not None and tokens["access_token"].startswith("at-")
    assert tokens["expiry_date"] > 0
    resp = await gw.call(service, SERVER, "gmail_profile", {}, username="bob")
    assert resp.status_code == 200, resp.text
    profile = json.loads(resp.json()["data"]["content"][0]["text"])
    assert profile["token_sha256"] == hashlib.sha256(tokens["access_token"].encode()).hexdigest()
    code = parse_qs(urlsplit(callback).query)["code"][0]
    # (The test's own browser client logs its request URLs: not the gateway's doing.)
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    for secret in (tokens["access_token"], tokens["refresh_token"], code, CLIENT_SECRET):
        assert secret not in logged


@pytest.mark.anyio
async def test_call_before_google_login_is_401_with_a_signed_login_link(gw: Gateway) -> None:
    service = await gw.new_key("service")
    resp = await gw.call(service, SERVER, "gmail_profile", {}, username="carol")
    assert resp.status_code == 401, resp.text
    body = resp.json()
    assert body["code"] == "reauth_required" and body["reauthRequired"] is True
    assert body["serverName"] == SERVER and body["username"] == "carol"
    link = body["authorizationUrl"]
    assert link.startswith(PUBLIC_URL + "/auth/google/login?ticket=")
    async with Browser(gw) as carols:
        page, _auth_url = await carols.open(link)
        assert "<b>carol</b>" in page


@pytest.mark.anyio
async def test_nobody_can_bind_google_tokens_to_another_user(gw: Gateway) -> None:
    alice_key = await gw.new_key("user", "alice")
    resp = await _link(gw, alice_key, {"username": "bob"})
    assert resp.status_code == 403, resp.text
    resp = await _link(gw, alice_key, {})
    assert resp.status_code == 200 and resp.json()["username"] == "alice"
    link = resp.json()["url"]

    async with Browser(gw) as browser:
        # The ticket alone names the user: editing user_id does not re-target it.
        edited = link.replace("user_id=alice", "user_id=bob")
        resp = await browser.get(edited[len(PUBLIC_URL) :])
        assert resp.status_code == 400 and "another user" in resp.text
        forged = re.sub(r"ticket=[^&]+", "ticket=" + "A" * 80, link)
        assert (await browser.get(forged[len(PUBLIC_URL) :])).status_code == 400
        # Without a key or a ticket the plain mcp-api link is refused (keys are on).
        resp = await browser.client.get("/auth/google/login?user_id=bob")
        assert resp.status_code == 401 and "login-link" in resp.json()["error"]
        # A state edited to name another user is refused; the tool's own state is never read.
        page, auth_url = await browser.open(link)
        callback = await _at_the_as(auth_url)
        state = parse_qs(urlsplit(callback).query)["state"][0]
        tampered = callback.replace(
            state, state[:-4] + ("AAAA" if state[-4:] != "AAAA" else "BBBB")
        )
        assert (await browser.get(tampered)).status_code == 400
        assert (await browser.get(callback)).status_code == 200
    assert await _stored_tokens(gw, "bob") is None
    assert await _stored_tokens(gw, "alice") is not None


@pytest.mark.anyio
async def test_a_failing_code_exchange_is_a_502_that_echoes_neither_code_nor_token(
    gw: Gateway,
) -> None:
    service = await gw.new_key("service")
    link = (await _link(gw, service, {"username": "bob"})).json()["url"]
    async with Browser(gw) as bobs:
        _page, auth_url = await bobs.open(link)
        callback = await _at_the_as(auth_url)
        code = parse_qs(urlsplit(callback).query)["code"][0]
        wrong = callback.replace(f"code={code}", "code=wrong-code-canary")
        resp = await bobs.get(wrong)
    assert resp.status_code == 502, resp.text
    assert "auth_exchange_code" in resp.text
    assert "wrong-code-canary" not in resp.text
    assert await _stored_tokens(gw, "bob") is None


@pytest.mark.anyio
async def test_auth_mode_none_opens_the_plain_mcp_api_link_in_a_browser(
    make_gateway: MakeGateway,
    auth_server: AsControl,  # noqa: F811
) -> None:
    async for gw in _google_gateway(make_gateway, "sqlite", auth_server, auth_mode="none"):
        async with Browser(gw) as daves:
            page, auth_url = await daves.open(f"/auth/google/login?user_id=dave&server={SERVER}")
            assert "<b>dave</b>" in page
            callback = await _at_the_as(auth_url)
            assert (await daves.get(callback)).status_code == 200
            missing = await daves.client.get("/auth/google/login")
            assert missing.status_code == 400 and "user_id" in missing.json()["error"]
        assert await _stored_tokens(gw, "dave") is not None


@pytest.mark.anyio
async def test_a_google_server_that_cannot_list_tools_leaves_the_login_to_the_gateway(
    make_gateway: MakeGateway,
    auth_server: AsControl,  # noqa: F811
) -> None:
    """With GOOGLE_OAUTH_CREDENTIALS set, a server that does not start (so offers no auth
    tools) does not block the login: the gateway runs the code flow itself."""
    credentials = {
        "web": {
            "client_id": CLIENT,
            "client_secret": CLIENT_SECRET,
            "auth_uri": auth_server.url + "/authorize",
            "token_uri": auth_server.url + "/token",
        }
    }
    oauth = {
        "allowed_hosts": ["127.0.0.1"],
        "public_url": PUBLIC_URL,
        "google_credentials": json.dumps(credentials),
    }
    async with make_gateway("sqlite", oauth=oauth) as gw:
        await auth_server.add_client(CLIENT, CLIENT_SECRET, "client_secret_post", [CALLBACK])
        broken = {
            "name": SERVER,
            "command": sys.executable,
            "args": [str(GOOGLE_SERVER.with_name("tiny_stdio_server.py")), "--fail-start", "no"],
            "env": {"MCP_AUTH_TYPE": "OAUTH2_GOOGLE"},
            "startupTimeout": 2000,
        }
        resp = await gw.client.post("/mcp/servers", json=broken, headers=gw.admin)
        assert resp.status_code == 200, resp.text
        link = (await _link(gw, gw.admin_key, {"username": "erin"})).json()["url"]
        async with Browser(gw) as erins:
            _page, auth_url = await erins.open(link)
            assert parse_qs(urlsplit(auth_url).query)["client_id"] == [CLIENT]
            callback = await _at_the_as(auth_url)
            assert (await erins.get(callback)).status_code == 200
        tokens = await _stored_tokens(gw, "erin")
        assert tokens is not None and tokens["access_token"].startswith("at-")
