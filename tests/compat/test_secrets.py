"""mcp-api's secret endpoints (testing plan items 10 and 11, README "Secret Management") and
its secret naming: a key ``<server>.<NAME>`` is injected into ``<server>``'s calls as ``NAME``
(limited to ``secretNames`` when declared, overriding a caller argument of that name); plain
per-server names keep working. Run on both stores."""

from __future__ import annotations

import json
from typing import Any

from tests.compat.conftest import McpApiClient, assert_error, unique

CANARY = "canary-5e0b7c1d2a"


def _args(client: McpApiClient, server: str, username: str, **args: str) -> dict[str, str]:
    resp = client.call(server, "echo_args", dict(args), username=username)
    assert resp.status_code == 200, resp.text
    out: dict[str, str] = json.loads(resp.json()["data"]["content"][0]["text"])
    return out


def _set(client: McpApiClient, **body: Any) -> None:
    resp = client.post("/secrets/set", body)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"success": True}


def test_set_update_and_delete_secrets_with_the_plan_bodies(mcp_api_any: McpApiClient) -> None:
    client = mcp_api_any
    name = unique("weather-server")
    client.add_fixture_server(name)
    body = {"username": "testuser", "serverName": name, "secretName": "token"}
    _set(client, **body, secretValue="super-secret-key-123")
    assert _args(client, name, "testuser")["token"] == "super-secret-key-123"
    _set(client, **body, secretValue="super-secret-key-456")  # update existing
    assert _args(client, name, "testuser")["token"] == "super-secret-key-456"
    for _ in range(2):  # deleting a missing secret is 200 as in mcp-api (idempotent)
        resp = client.post("/secrets/delete", body)
        assert resp.status_code == 200 and resp.json()["success"] is True
    assert _args(client, name, "testuser")["token"] == ""


def test_secrets_for_an_unknown_server_are_a_404_naming_it(mcp_api_any: McpApiClient) -> None:
    body = {"username": "testuser", "serverName": "ghost", "secretName": "API_KEY"}
    resp = mcp_api_any.post("/secrets/set", {**body, "secretValue": CANARY})
    err = assert_error(resp, 404, "server_not_found")
    assert (err["serverName"], err["username"]) == ("ghost", "testuser")
    assert CANARY not in resp.text
    assert_error(mcp_api_any.post("/secrets/delete", body), 404, "server_not_found")


def test_server_prefixed_key_is_injected_as_the_bare_name(mcp_api_any: McpApiClient) -> None:
    client = mcp_api_any
    name = unique("srv")
    client.add_fixture_server(name)
    _set(client, username="u1", serverName=name, secretName=f"{name}.api_key", secretValue="pk1")
    # Injected as api_key, overriding what the caller sent under that name.
    assert _args(client, name, "u1", api_key="forged")["api_key"] == "pk1"
    assert _args(client, name, "u2")["api_key"] == ""  # another user: nothing
    # Of a prefixed key and a plain key of the same name, the one set last wins.
    _set(client, username="u1", serverName=name, secretName="api_key", secretValue="pl1")
    assert _args(client, name, "u1")["api_key"] == "pl1"
    _set(client, username="u1", serverName=name, secretName=f"{name}.api_key", secretValue="pk1")
    assert _args(client, name, "u1")["api_key"] == "pk1"
    # Plain per-server names keep working.
    _set(client, username="u1", serverName=name, secretName="token", secretValue="tp1")
    assert _args(client, name, "u1")["token"] == "tp1"
    # The injected parameter is hidden from that user's tool list.
    tools = client.get("/mcp/tools", username="u1").json()["tools"]
    schema = next(
        t["inputSchema"] for e in tools for t in e.get(name, []) if t["name"] == "echo_args"
    )
    assert "api_key" not in schema["properties"] and "token" not in schema["properties"]
    # Deleting by the key it was set under removes it.
    resp = client.post(
        "/secrets/delete", {"username": "u1", "serverName": name, "secretName": f"{name}.api_key"}
    )
    assert resp.status_code == 200
    assert _args(client, name, "u1")["api_key"] == "pl1"


def test_server_prefixed_keys_are_limited_to_declared_secret_names(
    mcp_api_any: McpApiClient,
) -> None:
    client = mcp_api_any
    name = unique("srv")
    client.add_fixture_server(name, secretNames=["api_key"])
    for key, value in ((f"{name}.api_key", "k1"), (f"{name}.token", "t1")):
        _set(client, username="u1", serverName=name, secretName=key, secretValue=value)
    got = _args(client, name, "u1", token="caller-token")
    assert (got["api_key"], got["token"]) == ("k1", "caller-token")


def test_a_key_prefixed_with_another_servers_name_is_not_injected_as_its_bare_name(
    mcp_api_any: McpApiClient,
) -> None:
    client = mcp_api_any
    name, other = unique("srv"), unique("other")
    client.add_fixture_server(name)
    _set(client, username="u1", serverName=name, secretName=f"{other}.api_key", secretValue="v1")
    assert _args(client, name, "u1")["api_key"] == ""


def test_a_key_prefixed_with_another_registered_server_goes_to_that_server_as_in_mcp_api(
    mcp_api_any: McpApiClient,
) -> None:
    # mcp-api ignores serverName: "<other>.NAME" reaches <other> only. Stored under the server
    # it was sent with, it would be injected there under its full name instead.
    client = mcp_api_any
    name, other = unique("srv"), unique("other")
    client.add_fixture_server(name)
    client.add_fixture_server(other)
    _set(client, username="u1", serverName=name, secretName=f"{other}.api_key", secretValue="v1")
    assert _args(client, other, "u1")["api_key"] == "v1"
    assert f"{other}.api_key" not in _args(client, name, "u1")
    assert client.get("/secrets", serverName=name, username="u1").json()["secrets"] == []
    resp = client.post(
        "/secrets/delete",
        {"username": "u1", "serverName": name, "secretName": f"{other}.api_key"},
    )
    assert resp.status_code == 200 and resp.json()["deleted"] is True
    assert _args(client, other, "u1")["api_key"] == ""


def test_secret_values_never_come_back(mcp_api_any: McpApiClient) -> None:
    client = mcp_api_any
    name = unique("srv")
    client.add_fixture_server(name)
    _set(client, username="u1", serverName=name, secretName=f"{name}.token", secretValue=CANARY)
    listed = client.get("/secrets", serverName=name, username="u1")
    assert listed.status_code == 200 and CANARY not in listed.text
    assert listed.json()["secrets"] == [f"{name}.token"]
    for path in (f"/mcp/servers/{name}", "/mcp/servers", "/mcp/tools"):
        assert CANARY not in client.get(path, username="u1").text
    # A failing call names the server and user, never the value.
    resp = client.call(name, "no_such_tool", {}, username="u1")
    assert CANARY not in resp.text


def test_prefixed_keys_work_for_server_names_with_spaces_and_dots(
    mcp_api_any: McpApiClient,
) -> None:
    client = mcp_api_any
    name = f"My Server.{unique('v2')}"
    client.add_fixture_server(name)
    _set(client, username="Alice Smith", serverName=name, secretName=f"{name}.api_key",
         secretValue="sp1")  # fmt: skip
    assert _args(client, name, "Alice Smith")["api_key"] == "sp1"
    listed = client.get("/secrets", serverName=name, username="Alice Smith").json()
    assert listed["secrets"] == [f"{name}.api_key"]
    # Only the server's own name may be the prefix of a key that breaks the secret-name rule.
    for key in ("Other Server.api_key", "api key", f"{name}.bad key"):
        body = {"serverName": name, "secretName": key, "secretValue": CANARY}
        resp = client.post("/secrets/set", body)
        err = assert_error(resp, 400, "invalid_request")
        assert "secret name" in err["error"] and CANARY not in resp.text
