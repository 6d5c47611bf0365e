"""Servers of a user's own (issue 13): external servers added by users, per-user installs, the
user view, the tool-call gate and the lifecycle, against a real Runtime behind the ASGI app
with the test AS and the bearer-protected MCP server as real subprocesses (both stores).

Loopback and the SSRF guard: the fixtures listen on 127.0.0.1. The tests allow the host *name*
``localhost`` for external servers (``MCPGW_EXTERNAL_ALLOWED_HOSTS=localhost``, empty by
default in production) and address them as ``http://localhost:<port>``, while every refusal
test uses the literal addresses, which stay refused: the allow-list compares host names, so
allowing ``localhost`` never allows ``127.0.0.1``, ``[::ffff:127.0.0.1]`` or a redirect target.
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from mcp_gateway.domain.servers import ServerConfig
from mcp_gateway.errors import NotInstalled
from mcp_gateway.services.oauth.registration import ResolvedClient
from tests.api.conftest import Gateway, MakeGateway, secrets_section
from tests.fixtures.oauth_as import FixtureProcess
from tests.services.oauth.conftest import (  # noqa: F401 (fixtures)
    PUBLIC_URL,
    AsControl,
    as_process,
    auth_server,
    mcp_process,
)

CLIENT_ID = "user-servers-client"
REDIRECT = "https://app.example.com/oauth/callback"
EXT = "notion"


def _local(url: str) -> str:
    """The fixture's URL by the allow-listed host name instead of its address."""
    return url.replace("127.0.0.1", "localhost")


@dataclass
class World:
    gw: Gateway
    as_url: str
    mcp_url: str  # http://127.0.0.1:<port>
    auth: AsControl
    keys: dict[str, str]

    def h(self, who: str) -> dict[str, str]:
        return self.gw.auth(self.keys[who])

    async def seen(self) -> list[dict[str, str]]:
        async with httpx2.AsyncClient(timeout=5.0) as plain:
            found: list[dict[str, str]] = (await plain.get(self.mcp_url + "/seen")).json()
            return found

    async def create(self, who: str, name: str, url: str, **fields: Any) -> httpx2.Response:
        body = {
            "name": name,
            "source": "external",
            "transportType": "streamable_http",
            "url": url,
            **fields,
        }
        return await self.gw.client.post("/mcp/servers", json=body, headers=self.h(who))

    async def create_oauth(self, who: str) -> dict[str, Any]:
        template = {
            "authorizationServerIssuer": self.as_url,
            "authorizationEndpoint": f"{self.as_url}/authorize",
            "tokenEndpoint": f"{self.as_url}/token",
            "resourceUri": _local(self.mcp_url) + "/mcp",
            "registrationMode": "manual",
            "codeChallengeMethodsSupported": ["S256"],
            "pkceRequired": True,
        }
        url = _local(self.mcp_url) + "/mcp"
        resp = await self.create(who, EXT, url, authMode="oauth2", oauthTemplate=template)
        assert resp.status_code == 200, resp.text
        server: dict[str, Any] = resp.json()["server"]
        return server

    async def user(self, who: str, method: str, path: str, **kw: Any) -> httpx2.Response:
        return await self.gw.client.request(method, path, headers=self.h(who), **kw)

    async def connect(self, who: str) -> str:
        """Store a grant of ``who`` (a login done at the AS) for the external server."""
        grant = await self.auth.grant(CLIENT_ID, sub=who)
        body = {
            "accessToken": grant["access_token"],
            "refreshToken": grant["refresh_token"],
            "expiresIn": 3600,
            "clientId": CLIENT_ID,
            "redirectUri": REDIRECT,
        }
        resp = await self.user(who, "POST", f"/mcp/servers/{EXT}/oauth", json=body)
        assert resp.status_code == 200, resp.text
        token: str = grant["access_token"]
        return token

    async def call(self, who: str, server: str = EXT, text: str = "hi") -> httpx2.Response:
        return await self.gw.call(self.keys[who], server, "echo", {"text": text})


@pytest.fixture
async def world(
    make_gateway: MakeGateway,
    backend: str,
    auth_server: AsControl,  # noqa: F811
    mcp_process: FixtureProcess,  # noqa: F811
    as_process: FixtureProcess,  # noqa: F811
) -> AsyncIterator[World]:
    sections = {
        "oauth": {
            "allowed_hosts": ["127.0.0.1", "localhost"],
            "external_allowed_hosts": ["localhost"],
            "public_url": PUBLIC_URL,
        },
        "secrets": secrets_section(backend),
    }
    async with make_gateway(backend, **sections) as gw:
        await auth_server.add_client(CLIENT_ID, redirect_uris=[REDIRECT])
        keys = {who: await gw.new_key("user", who) for who in ("alice", "bob", "carol")}
        keys["service"] = await gw.new_key("service")
        keys["admin"] = gw.admin_key
        async with httpx2.AsyncClient(timeout=5.0) as plain:
            (await plain.post(mcp_process.url + "/seen/reset")).raise_for_status()
        yield World(gw, as_process.url, mcp_process.url, auth_server, keys)


def _by_session(seen: list[dict[str, str]], key: str) -> dict[str, set[str]]:
    """Values of ``key`` seen per upstream session id."""
    out: dict[str, set[str]] = {}
    for headers in seen:
        if "mcp-session-id" in headers:
            out.setdefault(headers["mcp-session-id"], set()).add(headers.get(key, ""))
    return out


@pytest.mark.anyio
async def test_two_users_connect_one_external_server_each_with_their_own_grant(
    world: World,
) -> None:
    created = await world.create_oauth("alice")
    assert created["source"] == "external" and created["createdBy"] == "alice"

    # bob sees it, not installed; his calls need an install first
    listed = (await world.user("bob", "GET", "/mcp/user/servers")).json()["servers"]
    mine = next(s for s in listed if s["name"] == EXT)
    assert (mine["installed"], mine["canInstall"], mine["authState"]) == (
        False,
        True,
        "not_connected",
    )
    refused = await world.call("bob")
    assert refused.status_code == 409 and refused.json()["code"] == "not_installed"

    resp = await world.user("bob", "POST", f"/mcp/user/servers/{EXT}/install", json={})
    assert resp.status_code == 200, resp.text
    assert resp.json()["server"]["enabled"] is True  # mcp-api: false unless sent
    login = await world.call("bob")
    assert login.status_code == 401 and login.json()["code"] == "reauth_required"
    assert login.json()["authorizationUrl"].startswith(PUBLIC_URL)

    tokens = {who: await world.connect(who) for who in ("alice", "bob")}
    for who in ("alice", "bob"):
        resp = await world.user(who, "POST", f"/mcp/user/servers/{EXT}/refresh", json={})
        assert resp.status_code == 200, resp.text
        server = resp.json()["server"]
        assert server["authState"] == "connected"
        assert {t["name"] for t in server["toolsList"]} == {"leak_token", "echo"}
        call = await world.call(who, text=f"from {who}")
        assert call.status_code == 200, call.text
        assert call.json()["data"]["content"][0]["text"] == f"from {who}"

    # one session per user, each carrying only that user's token
    sessions = _by_session(await world.seen(), "authorization")
    assert len(sessions) >= 2
    for values in sessions.values():
        assert values in ({f"Bearer {tokens['alice']}"}, {f"Bearer {tokens['bob']}"})

    # each user's tools are their own; carol (no install) sees none of them
    for who in ("alice", "bob"):
        tools = (await world.user(who, "GET", "/mcp/user/tools")).json()["tools"]
        assert any(EXT in entry for entry in tools)
    carol = (await world.user("carol", "GET", "/mcp/user/tools")).json()["tools"]
    assert not any(EXT in entry for entry in carol)

    # nothing alice can read carries bob's grant
    for path in ("/mcp/user/servers", f"/mcp/user/servers/{EXT}", "/mcp/user/tools"):
        answer = (await world.user("alice", "GET", path)).text
        assert tokens["bob"] not in answer and tokens["alice"] not in answer
    other = await world.user("alice", "GET", f"/mcp/user/servers/{EXT}/install?username=bob")
    assert other.status_code == 403


@pytest.mark.anyio
async def test_client_secret_is_encrypted_never_returned_and_a_new_client_ends_the_grant(
    world: World,
) -> None:
    await world.create_oauth("alice")
    await world.connect("alice")
    canary = "client-secret-canary-5f1e"
    path = f"/mcp/user/servers/{EXT}/install"
    resp = await world.user(
        "alice", "PUT", path, json={"oauthClientId": "mine", "oauthClientSecret": canary}
    )
    assert resp.status_code == 200, resp.text
    assert canary not in resp.text
    install = (await world.user("alice", "GET", path)).json()["install"]
    assert install["oauthClientSecret"] == "***" and install["oauthClientId"] == "mine"
    assert install["authState"] == "not_connected"  # the client changed: grant gone
    store = world.gw.runtime.store
    stored = await store.get_install(EXT, "alice")
    assert stored is not None and stored.client_secret is not None
    assert canary.encode() not in stored.client_secret
    assert await store.get_tokens(EXT, "alice") is None
    resolved = await world.user(
        "alice", "POST", f"/mcp/user/servers/{EXT}/oauth-client/resolve", json={}
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["client"] == {
        "registrationMode": "manual",
        "clientId": "mine",
        "tokenEndpointAuthMethod": "client_secret_post",
        "clientSecret": "***",
    }
    call = await world.call("alice")
    assert call.status_code == 401 and call.json()["code"] == "reauth_required"

    # the same client again: nothing changes
    await world.connect("alice")
    again = await world.user("alice", "PUT", path, json={"oauthClientId": "mine"})
    assert again.status_code == 200
    assert await store.get_tokens(EXT, "alice") is not None

    # disabling the install stops calls
    off = await world.user("alice", "PUT", path, json={"enabled": False})
    assert off.status_code == 200 and off.json()["server"]["enabled"] is False
    call = await world.call("alice")
    assert call.status_code == 409 and call.json()["code"] == "not_installed"


@pytest.mark.anyio
async def test_url_query_secrets_are_each_users_own_and_never_stored_in_the_url(
    world: World,
) -> None:
    canary_a, canary_b = "qs-canary-alice-77", "qs-canary-bob-88"
    url = _local(world.mcp_url) + f"/trust/mcp?apiKey={canary_a}"
    resp = await world.create("alice", "keyed", url)
    assert resp.status_code == 200, resp.text
    server = resp.json()["server"]
    assert canary_a not in resp.text and urlsplit(server["url"]).query == ""
    assert [f["name"] for f in server["secretFields"]] == ["apiKey"]
    admin_view = (await world.user("admin", "GET", "/mcp/servers/keyed")).text
    assert canary_a not in admin_view

    assert (await world.call("alice", "keyed")).status_code == 200
    await world.user("bob", "POST", "/mcp/user/servers/keyed/install", json={})
    bad = await world.user(
        "bob",
        "POST",
        "/mcp/user/servers/keyed/secrets",
        json={"secrets": [{"name": "other", "value": "x"}]},
    )
    assert bad.status_code == 400 and "not declared" in bad.json()["error"]
    missing = await world.call("bob", "keyed")
    assert missing.status_code == 400 and missing.json()["code"] == "missing_secret"
    saved = await world.user(
        "bob",
        "POST",
        "/mcp/user/servers/keyed/secrets",
        json={"secrets": [{"name": "apiKey", "value": canary_b}]},
    )
    assert saved.status_code == 200, saved.text
    assert (await world.call("bob", "keyed")).status_code == 200
    view = (await world.user("bob", "GET", "/mcp/user/servers/keyed")).json()["server"]
    assert view["configuredSecretNames"] == ["apiKey"] and canary_b not in str(view)

    queries = _by_session(await world.seen(), ":query")
    assert {frozenset(v) for v in queries.values()} == {
        frozenset({f"apiKey={canary_a}"}),
        frozenset({f"apiKey={canary_b}"}),
    }


@pytest.mark.anyio
@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:{port}/mcp",
        "https://169.254.169.254/mcp",
        "https://[::ffff:127.0.0.1]:{port}/mcp",
        "https://[::1]:{port}/mcp",
        "http://10.1.2.3/mcp",
    ],
)
async def test_external_servers_on_private_addresses_are_refused_platform_ones_are_not(
    world: World, url: str
) -> None:
    port = urlsplit(world.mcp_url).port
    resp = await world.create("alice", "inside", url.format(port=port))
    assert resp.status_code == 400 and resp.json()["code"] == "invalid_request", resp.text
    assert await world.gw.runtime.store.get_server("inside") is None
    assert await world.gw.runtime.store.get_install("inside", "alice") is None

    admin = {
        "name": "internal",
        "transportType": "streamable_http",
        "url": f"{world.mcp_url}/trust/mcp",
    }
    created = await world.user("admin", "POST", "/mcp/servers", json=admin)
    assert created.status_code == 200, created.text
    assert (await world.call("alice", "internal")).status_code == 200


@pytest.mark.anyio
async def test_a_redirect_to_a_private_address_reaches_nothing(world: World) -> None:
    target = f"{world.mcp_url}/trust/mcp"
    url = _local(world.as_url) + "/redirect"  # the AS answers 302 to its query's "to"
    resp = await world.create("bob", "hop", f"{url}?to={target}")  # "to": bob's URL secret
    assert resp.status_code == 200, resp.text
    refreshed = await world.user("bob", "POST", "/mcp/user/servers/hop/refresh", json={})
    assert refreshed.status_code >= 500, refreshed.text
    assert not [h for h in await world.seen() if h[":path"].startswith("/trust/")]


@pytest.mark.anyio
async def test_the_guard_runs_on_every_connection_not_only_at_creation(
    make_gateway: MakeGateway,
    mcp_process: FixtureProcess,  # noqa: F811
) -> None:
    allowed = {"oauth": {"external_allowed_hosts": ["localhost"]}}
    async with make_gateway("sqlite", **allowed) as gw:
        key = await gw.new_key("user", "alice")
        body = {
            "name": "later",
            "source": "external",
            "transportType": "streamable_http",
            "url": _local(mcp_process.url) + "/trust/mcp",
        }
        resp = await gw.client.post("/mcp/servers", json=body, headers=gw.auth(key))
        assert resp.status_code == 200, resp.text
    async with httpx2.AsyncClient(timeout=5.0) as plain:
        (await plain.post(mcp_process.url + "/seen/reset")).raise_for_status()
    async with make_gateway("sqlite") as gw:  # same store, production default: no allow-list
        call = await gw.call(key, "later", "echo", {"text": "x"})
        assert call.status_code in (502, 503), call.text
        async with httpx2.AsyncClient(timeout=5.0) as plain:
            assert (await plain.get(mcp_process.url + "/seen")).json() == []


@pytest.mark.anyio
async def test_delete_impact_counts_then_delete_removes_every_users_data(world: World) -> None:
    await world.create_oauth("alice")
    await world.user("bob", "POST", f"/mcp/user/servers/{EXT}/install", json={})
    await world.connect("alice")
    await world.connect("bob")
    await world.user("carol", "POST", f"/mcp/user/servers/{EXT}/install", json={})
    impact = await world.user("admin", "GET", f"/mcp/servers/{EXT}/delete-impact")
    assert impact.status_code == 200, impact.text
    counts = impact.json()["impact"]
    assert counts["source"] == "external" and counts["authMode"] == "oauth2"
    assert (counts["installedUsers"], counts["oauthTokenUsers"]) == (3, 2)
    assert set(counts) >= {
        "serverName",
        "transportType",
        "connectedAuthUsers",
        "usersWithSavedSecrets",
        "activeSessionUsers",
    }
    resp = await world.user("admin", "DELETE", f"/mcp/servers/{EXT}")
    assert resp.status_code == 200, resp.text
    store = world.gw.runtime.store
    assert await store.list_server_installs(EXT) == []
    assert await store.count_server_token_users(EXT) == 0
    assert await store.list_session_scopes(EXT) == []


@pytest.mark.anyio
async def test_uninstall_removes_the_users_grant_session_and_secrets(world: World) -> None:
    await world.create_oauth("alice")
    await world.connect("alice")
    assert (await world.call("alice")).status_code == 200
    resp = await world.user("alice", "DELETE", f"/mcp/user/servers/{EXT}/install", json={})
    assert resp.status_code == 200 and resp.json()["deleted"] is True
    store = world.gw.runtime.store
    assert await store.get_install(EXT, "alice") is None
    assert await store.get_tokens(EXT, "alice") is None
    again = await world.user("alice", "DELETE", f"/mcp/user/servers/{EXT}/install", json={})
    assert again.status_code == 200 and again.json()["deleted"] is False
    assert (await world.call("alice")).json()["code"] == "not_installed"


@pytest.mark.anyio
async def test_roles_user_keys_act_for_themselves_service_keys_name_the_user(world: World) -> None:
    await world.create_oauth("alice")
    path = f"/mcp/user/servers/{EXT}/install"
    other = await world.user("alice", "POST", path, json={"username": "bob"})
    assert other.status_code == 403
    nameless = await world.user("service", "POST", path, json={})
    assert nameless.status_code == 400 and "username is required" in nameless.json()["error"]
    for_bob = await world.user("service", "POST", path, json={"username": "bob"})
    assert for_bob.status_code == 200 and for_bob.json()["server"]["username"] == "bob"
    external = {"name": "ext2", "source": "external", "url": "https://a.example/mcp"}
    nameless = await world.user("service", "POST", "/mcp/servers", json=external)
    assert nameless.status_code == 400 and "username is required" in nameless.json()["error"]
    stdio = {"name": "cmd", "command": "/bin/sh", "args": ["-c", "id"]}
    assert (await world.user("alice", "POST", "/mcp/servers", json=stdio)).status_code == 403


VIEW_KEYS = {  # mcp-api's toUserVisibleServer (http servers: url/headers)
    "name", "displayName", "description", "source", "transportType", "authMode", "installed",
    "enabled", "authState", "authRequired", "secretFields", "secretNames",
    "configuredSecretNames", "toolsList", "homepageUrl", "repositoryUrl", "licenseName",
    "canInstall", "canUninstall", "canConfigure", "canManagePlatformServer", "statusMessage",
    "oauthTemplate", "oauthClientConfig", "url", "headers", "logs",
}  # fmt: skip
INSTALL_KEYS = {
    "serverName",
    "username",
    "enabled",
    "authState",
    "oauthClientId",
    "oauthClientSecret",
    "oauthScopes",
}


@pytest.mark.anyio
async def test_every_user_route_answers_with_mcp_api_keys(world: World) -> None:
    await world.create_oauth("alice")
    headers = {"Authorization": "x"}
    platform = {
        "name": "plat",
        "transportType": "streamable_http",
        "url": f"{world.mcp_url}/trust/mcp?token=platform-canary",
        "headers": {"X-Api-Key": "header-canary"},
    }
    assert (await world.user("admin", "POST", "/mcp/servers", json=platform)).status_code == 200
    base = f"/mcp/user/servers/{EXT}"

    listed = (await world.user("alice", "GET", "/mcp/user/servers")).json()
    assert listed["success"] is True
    for server in listed["servers"]:
        assert VIEW_KEYS <= set(server), VIEW_KEYS - set(server)
    plat = next(s for s in listed["servers"] if s["name"] == "plat")
    assert plat["installed"] is True and plat["authState"] == "not_required"
    assert "platform-canary" not in str(plat) and "header-canary" not in str(plat)
    assert plat["headers"] == {"X-Api-Key": "***"}

    one = (await world.user("alice", "GET", base)).json()
    assert one["success"] is True and VIEW_KEYS <= set(one["server"])
    assert one["server"]["oauthClientConfig"] == {"clientId": None, "scopes": []}
    install = (await world.user("alice", "GET", f"{base}/install")).json()
    assert set(install["install"]) == INSTALL_KEYS
    tools = (await world.user("alice", "GET", "/mcp/user/tools")).json()
    assert tools["success"] is True and isinstance(tools["tools"], list)
    not_connected = await world.user("alice", "GET", f"{base}/tools")
    assert not_connected.status_code == 409
    assert not_connected.json()["code"] == "auth_not_connected"
    refused = await world.user("alice", "POST", f"{base}/refresh", json={})
    assert refused.status_code == 401 and refused.json()["code"] == "reauth_required"
    assert refused.json()["reauthRequired"] is True and refused.json()["username"] == "alice"
    await world.connect("alice")
    live = (await world.user("alice", "GET", f"{base}/tools")).json()
    assert {t["name"] for t in live["tools"]} == {"leak_token", "echo"}
    plat_tools = (await world.user("alice", "GET", "/mcp/user/servers/plat/tools")).json()
    assert {t["name"] for t in plat_tools["tools"]} >= {"echo"}

    missing = await world.user("alice", "GET", "/mcp/user/servers/nope")
    assert missing.status_code == 404 and missing.json()["code"] == "server_not_found"
    uninstalled = await world.user("bob", "GET", f"{base}/install")
    assert uninstalled.status_code == 409 and uninstalled.json()["code"] == "not_installed"
    not_external = await world.user("alice", "POST", "/mcp/user/servers/plat/install", json={})
    assert not_external.status_code == 400
    assert "is not an external server" in not_external.json()["error"]
    manual = await world.user("bob", "POST", f"{base}/oauth-client/resolve", json={})
    assert manual.status_code == 400
    assert manual.json()["error"] == "Manual OAuth clientId is not configured for user bob"
    empty = await world.user(
        "alice", "POST", f"{base}/secrets", json={"secrets": [{"name": "x", "value": " "}]}
    )
    assert empty.status_code == 400 and "not declared" in empty.json()["error"]
    unauth = await world.gw.client.get("/mcp/user/servers", headers=headers)
    assert unauth.status_code == 401


@pytest.mark.anyio
async def test_only_the_creator_or_an_admin_deletes_an_external_server(world: World) -> None:
    await world.create_oauth("alice")
    await world.user("bob", "POST", f"/mcp/user/servers/{EXT}/install", json={})
    refused = await world.user("bob", "DELETE", f"/mcp/servers/{EXT}")
    assert refused.status_code == 403
    platform = {"name": "plat", "transportType": "streamable_http", "url": world.mcp_url}
    await world.user("admin", "POST", "/mcp/servers", json=platform)
    assert (await world.user("alice", "DELETE", "/mcp/servers/plat")).status_code == 403
    as_service = await world.user("service", "DELETE", f"/mcp/servers/{EXT}?username=bob")
    assert as_service.status_code == 403
    resp = await world.user("alice", "DELETE", f"/mcp/servers/{EXT}")
    assert resp.status_code == 200 and resp.json()["deleted"] is True
    assert await world.gw.runtime.store.list_server_installs(EXT) == []


@pytest.mark.anyio
async def test_an_update_cannot_put_secrets_or_a_private_host_into_an_external_url(
    world: World,
) -> None:
    await world.create_oauth("alice")
    path = f"/mcp/servers/{EXT}"
    query = await world.user("admin", "PUT", path, json={"url": "https://a.example/mcp?k=v"})
    assert query.status_code == 400 and "query string" in query.json()["error"]
    private = await world.user("admin", "PUT", path, json={"url": "https://10.0.0.8/mcp"})
    assert private.status_code == 400
    headers = await world.user("admin", "PUT", path, json={"headers": {"X-Key": "shared"}})
    assert headers.status_code == 400
    stored = await world.gw.runtime.store.get_server(EXT)
    assert stored is not None and stored.url == _local(world.mcp_url) + "/mcp"


@pytest.mark.anyio
async def test_dcr_and_cimd_modes_resolve_through_the_registrar_plug_point(world: World) -> None:
    template = {
        "authorizationServerIssuer": world.as_url,
        "authorizationEndpoint": f"{world.as_url}/authorize",
        "tokenEndpoint": f"{world.as_url}/token",
        "registrationMode": "dcr",
    }
    url = _local(world.mcp_url) + "/mcp"
    # A template that cannot work is refused when the server is added, naming each problem.
    bad = await world.create("alice", "dcr", url, authMode="oauth2", oauthTemplate=template)
    assert bad.status_code == 400, bad.text
    fields = {d["loc"][-1] for d in bad.json()["details"]}
    assert fields == {"resourceUri", "codeChallengeMethodsSupported", "registrationEndpoint"}
    assert await world.gw.runtime.store.get_server("dcr") is None
    template |= {
        "resourceUri": url,
        "codeChallengeMethodsSupported": ["S256"],
        "pkceRequired": True,
        "registrationEndpoint": f"{world.as_url}/register",
    }
    created = await world.create("alice", "dcr", url, authMode="oauth2", oauthTemplate=template)
    assert created.status_code == 200, created.text
    path = "/mcp/user/servers/dcr"
    manual = await world.user("alice", "PUT", f"{path}/install", json={"oauthClientId": "mine"})
    assert manual.status_code == 400 and "manual client credential" in manual.json()["error"]
    context = {"redirectUri": REDIRECT, "publicApiOrigin": "https://app.example.com"}
    body = {"oauthProvisioningContext": context}
    # The runtime's registrar is the shared DCR registration (services/oauth/registration.py):
    # one client registered at the AS, its secret never in the answer.
    real = await world.user("alice", "POST", f"{path}/oauth-client/resolve", json=body)
    assert real.status_code == 200, real.text
    client = real.json()["client"]
    assert client["registrationMode"] == "dcr" and client["clientId"]
    assert client.get("clientSecret") in (None, "***")

    asked: list[tuple[str, str, str, dict[str, Any]]] = []

    async def registrar(
        server: ServerConfig, username: str, mode: str, ctx: Mapping[str, Any]
    ) -> ResolvedClient:
        asked.append((server.name, username, mode, dict(ctx)))
        return ResolvedClient(mode, "registered-client", "dcr-secret", "client_secret_post")

    world.gw.runtime.user_servers.clients.registrar = registrar
    resolved = await world.user("alice", "POST", f"{path}/oauth-client/resolve", json=body)
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["client"]["clientId"] == "registered-client"
    assert "dcr-secret" not in resolved.text
    assert asked == [("dcr", "alice", "dcr", context)]


@pytest.mark.anyio
async def test_resources_and_prompts_of_an_external_server_need_the_install_too(
    world: World,
) -> None:
    url = _local(world.mcp_url) + "/trust/mcp"
    assert (await world.create("alice", "content", url)).status_code == 200
    content = world.gw.runtime.content
    assert await content.capabilities("alice", "content") is not None
    with pytest.raises(NotInstalled):
        await content.capabilities("bob", "content")  # no session is started for bob


async def _authorize_query(world: World, login: httpx2.Response) -> dict[str, list[str]]:
    """The AS authorization request the login link's confirmation page points at."""
    assert login.status_code == 401 and "authorizationUrl" in login.json(), login.text
    page = await world.gw.client.get(login.json()["authorizationUrl"].removeprefix(PUBLIC_URL))
    assert page.status_code == 200, page.text
    href = html.unescape(page.text.split('href="', 1)[1].split('"', 1)[0])
    return parse_qs(urlsplit(href).query)


@pytest.mark.anyio
async def test_the_login_asks_for_the_scopes_of_the_users_install(world: World) -> None:
    await world.create_oauth("alice")
    install = {"oauthClientId": "bobs-client", "oauthScopes": ["mcp", "files:read"]}
    resp = await world.user("bob", "POST", f"/mcp/user/servers/{EXT}/install", json=install)
    assert resp.status_code == 200, resp.text
    query = await _authorize_query(world, await world.call("bob"))
    assert query["scope"] == ["mcp files:read"] and query["client_id"] == ["bobs-client"]
    # alice's install asks for none: the login asks for the server's own (none here)
    own = {"oauthClientId": "alices-client"}
    resp = await world.user("alice", "PUT", f"/mcp/user/servers/{EXT}/install", json=own)
    assert resp.status_code == 200, resp.text
    assert "scope" not in await _authorize_query(world, await world.call("alice"))


@pytest.mark.anyio
async def test_the_user_who_added_an_external_server_may_change_its_description_only(
    world: World,
) -> None:
    url = _local(world.mcp_url) + "/mcp"
    assert (await world.create("alice", "mine", url)).status_code == 200
    path = "/mcp/servers/mine"
    changed = await world.user("alice", "PUT", path, json={"description": "my notes"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["server"]["description"] == "my notes"
    # Not where it is, nor its OAuth template: other users' secrets and tokens go there.
    for body, field in (
        ({"url": url + "/elsewhere"}, "url"),
        ({"oauthTemplate": {"tokenEndpoint": "https://x.example/token"}}, "oauth_template"),
        ({"command": "sh"}, "command"),
        ({"enabled": False}, "enabled"),
        ({"createdBy": "bob"}, "created_by"),
    ):
        refused = await world.user("alice", "PUT", path, json=body)
        assert refused.status_code == 403 and field in refused.json()["error"], refused.text
    # another user, or anyone on a platform server, is refused; nothing changed meanwhile
    assert (await world.user("bob", "PUT", path, json={"description": "b"})).status_code == 403
    platform = await world.user("alice", "PUT", "/mcp/servers/fixture", json={"description": "x"})
    assert platform.status_code == 403
    stored = await world.gw.runtime.store.get_server("mine")
    assert stored is not None and stored.metadata.description == "my notes"
    assert stored.url == url and stored.metadata.created_by == "alice" and stored.enabled
