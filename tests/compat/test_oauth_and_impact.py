"""mcp-api's ``POST /mcp/servers/:name/oauth`` (README "Update Streamable HTTP OAuth Tokens",
mcp-api-compat.md) and ``GET /mcp/servers/:name/delete-impact``, against a gateway process."""

from __future__ import annotations

from tests.compat.conftest import McpApiClient, assert_error, assert_server_shape, unique

CANARY = "oauth-canary-31c9e0"

# The README's body, plus the username mcp-api requires.
TOKENS = {
    "tokenType": "Bearer",
    "accessToken": f"access-{CANARY}",
    "refreshToken": f"refresh-{CANARY}",
    "expiresIn": 3600,
    "scopes": ["read", "write"],
    "clientId": "client-id-1",
    "clientSecret": f"secret-{CANARY}",
    "redirectUri": "https://missionsquad.example.com/webhooks/oauth/callback/123",
    "codeVerifier": f"verifier-{CANARY}",
    "username": "user123",
}
IMPACT_KEYS = {
    "serverName", "source", "authMode", "transportType", "installedUsers",
    "connectedAuthUsers", "oauthTokenUsers", "usersWithSavedSecrets", "activeSessionUsers",
}  # fmt: skip


def _http_server(client: McpApiClient) -> str:
    """A streamable_http server with no OAuth settings (mcp-api: any such server takes tokens).
    Disabled: nothing listens at its URL, and storing tokens needs no connection."""
    name = unique("remote-http-server")
    body = {
        "name": name,
        "transportType": "streamable_http",
        "url": "https://example.com/mcp",
        "headers": {"X-Custom-Header": "value"},
        "enabled": False,
    }
    resp = client.post("/mcp/servers", body)
    assert resp.status_code == 200, resp.text
    assert_server_shape(resp.json()["server"])
    return name


def test_storing_tokens_on_any_streamable_http_server_answers_the_server(
    mcp_api: McpApiClient,
) -> None:
    name = _http_server(mcp_api)
    resp = mcp_api.post(f"/mcp/servers/{name}/oauth", TOKENS)
    assert resp.status_code == 200, resp.text
    assert resp.json()["success"] is True and resp.json()["server"]["name"] == name
    assert CANARY not in resp.text


def test_storing_tokens_never_echoes_them_in_an_error(mcp_api: McpApiClient) -> None:
    resp = mcp_api.post("/mcp/servers/ghost-http/oauth", TOKENS)
    body = assert_error(resp, 404, "server_not_found")
    assert body["serverName"] == "ghost-http" and CANARY not in resp.text


def test_storing_tokens_without_an_access_token_is_a_400(mcp_api: McpApiClient) -> None:
    name = _http_server(mcp_api)
    body = {k: v for k, v in TOKENS.items() if k != "accessToken"}
    resp = mcp_api.post(f"/mcp/servers/{name}/oauth", body)
    assert_error(resp, 400, "invalid_request")
    assert CANARY not in resp.text


def test_delete_impact_answers_mcp_api_keys(mcp_api: McpApiClient) -> None:
    name = _http_server(mcp_api)
    resp = mcp_api.get(f"/mcp/servers/{name}/delete-impact")
    assert resp.status_code == 200, resp.text
    impact = resp.json()["impact"]
    assert IMPACT_KEYS <= impact.keys()
    assert (impact["serverName"], impact["transportType"]) == (name, "streamable_http")
    assert_error(mcp_api.get("/mcp/servers/ghost/delete-impact"), 404, "server_not_found")


def test_a_call_needing_a_new_login_says_reauth_required_like_mcp_api(
    mcp_api: McpApiClient,
) -> None:
    # A Google stdio server (mcp-api's MCP_AUTH_TYPE=OAUTH2_GOOGLE) and a user who never
    # logged in: mcp-api's flag, with the server and user it is about.
    name = unique("mcp-google-workspace")
    mcp_api.add_fixture_server(name, env={"MCP_AUTH_TYPE": "OAUTH2_GOOGLE"})
    resp = mcp_api.call(name, "echo", {"text": "x"}, username="user123")
    body = assert_error(resp, 401, "reauth_required")
    assert body["reauthRequired"] is True
    assert (body["serverName"], body["username"]) == (name, "user123")
