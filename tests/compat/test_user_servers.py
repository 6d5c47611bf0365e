"""mcp-api's ``/mcp/user/*`` routes and external servers, sent as mcp-api's clients send them
(``username`` in the query on GET, in the body otherwise; no API key: auth mode none) to a real
gateway process, with the fixture MCP server as the external server. The process allows the
host name ``localhost`` for users' servers (``MCPGW_EXTERNAL_ALLOWED_HOSTS``); the fixture is
addressed by that name."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.compat.conftest import McpApiClient, assert_error, start_gateway, unique
from tests.fixtures.oauth_as import FixtureProcess
from tests.services.oauth.conftest import as_process, mcp_process  # noqa: F401 (fixtures)

VIEW_KEYS = {
    "name", "displayName", "description", "source", "transportType", "authMode", "installed",
    "enabled", "authState", "authRequired", "secretFields", "secretNames",
    "configuredSecretNames", "toolsList", "homepageUrl", "repositoryUrl", "licenseName",
    "canInstall", "canUninstall", "canConfigure", "canManagePlatformServer", "statusMessage",
    "oauthTemplate", "oauthClientConfig", "url", "headers", "logs",
}  # fmt: skip
INSTALL_KEYS = {
    "serverName", "username", "enabled", "authState", "oauthClientId", "oauthClientSecret",
    "oauthScopes",
}  # fmt: skip
IMPACT_KEYS = {
    "serverName", "source", "authMode", "transportType", "installedUsers",
    "connectedAuthUsers", "oauthTokenUsers", "usersWithSavedSecrets", "activeSessionUsers",
}  # fmt: skip


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[McpApiClient]:
    process = start_gateway(
        tmp_path_factory.mktemp("compat-user"), "sqlite", MCPGW_EXTERNAL_ALLOWED_HOSTS="localhost"
    )
    client = McpApiClient(process)
    try:
        yield client
    finally:
        client.close()
        process.terminate()


def _ok(resp: Any) -> dict[str, Any]:
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    assert body["success"] is True
    return body


def test_user_routes_answer_mcp_api_shapes_for_an_external_server(
    gateway: McpApiClient,
    mcp_process: FixtureProcess,  # noqa: F811
) -> None:
    name = unique("ext")
    url = mcp_process.url.replace("127.0.0.1", "localhost") + "/trust/mcp?apiKey=compat-canary"
    created = _ok(
        gateway.post(
            "/mcp/servers",
            {
                "name": name,
                "source": "external",
                "transportType": "streamable_http",
                "url": url,
                "username": "alice",
            },
        )
    )["server"]
    assert created["createdBy"] == "alice" and "compat-canary" not in str(created)
    base = f"/mcp/user/servers/{name}"

    listed = _ok(gateway.get("/mcp/user/servers", username="bob"))["servers"]
    view = next(s for s in listed if s["name"] == name)
    assert VIEW_KEYS <= view.keys() and (view["installed"], view["canInstall"]) == (False, True)
    assert_error(gateway.get(f"{base}/install", username="bob"), 409, "not_installed")
    assert_error(gateway.post(f"{base}/install", {}), 400, "invalid_request")  # no username

    installed = _ok(gateway.post(f"{base}/install", {"username": "bob"}))["server"]
    assert VIEW_KEYS <= installed.keys() and installed["enabled"] is True
    assert installed["secretFields"][0]["name"] == "apiKey"
    install = _ok(gateway.get(f"{base}/install", username="bob"))["install"]
    assert install.keys() == INSTALL_KEYS and install["oauthClientSecret"] is None
    _ok(gateway.post(f"{base}/secrets", {"username": "bob", "secrets": [
        {"name": "apiKey", "value": "bob-compat-key"}]}))  # fmt: skip
    refreshed = _ok(gateway.post(f"{base}/refresh", {"username": "bob"}))["server"]
    assert "echo" in {t["name"] for t in refreshed["toolsList"]}
    assert refreshed["configuredSecretNames"] == ["apiKey"]
    tools = _ok(gateway.get(f"{base}/tools", username="bob"))["tools"]
    assert "echo" in {t["name"] for t in tools}
    everything = _ok(gateway.get("/mcp/user/tools", username="bob"))["tools"]
    assert any(name in entry for entry in everything)
    call = gateway.call(name, "echo", {"text": "hi"}, username="bob")
    assert _ok(call)["data"]["content"][0]["text"] == "hi"
    assert_error(gateway.call(name, "echo", {"text": "x"}, username="carol"), 409, "not_installed")

    updated = _ok(gateway.put(f"{base}/install", {"username": "bob", "enabled": False}))
    assert updated["server"]["enabled"] is False
    impact = _ok(gateway.get(f"/mcp/servers/{name}/delete-impact"))["impact"]
    assert IMPACT_KEYS <= impact.keys() and impact["installedUsers"] == 2
    assert impact["usersWithSavedSecrets"] == 2
    removed = _ok(gateway.request("DELETE", f"{base}/install", {"username": "bob"}))
    assert removed["deleted"] is True
    assert_error(gateway.get("/mcp/user/servers/ghost", username="bob"), 404, "server_not_found")
    resolve = gateway.post(f"{base}/oauth-client/resolve", {"username": "alice"})
    assert_error(resolve, 400, "invalid_request")  # not an external OAuth server
    _ok(gateway.delete(f"/mcp/servers/{name}"))
