"""Names as mcp-api accepted them work end to end: server names with dots, spaces and mixed
case (percent-encoded in URL paths), usernames such as ``Alice Smith`` or e-mail addresses."""

from __future__ import annotations

import sys
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.conftest import Gateway

pytestmark = pytest.mark.anyio


def _path(name: str, suffix: str = "") -> str:
    return f"/mcp/servers/{quote(name, safe='')}{suffix}"


async def test_a_dotted_spaced_mixed_case_server_and_username_work_end_to_end(
    any_gateway: Gateway,
) -> None:
    gw = any_gateway
    name = "My Server.v2"
    await gw.add_server(name, wait=False)
    await gw.wait_status(quote(name, safe=""), "connected")
    resp = await gw.client.get("/mcp/servers/My%20Server.v2", headers=gw.admin)
    assert (resp.status_code, resp.json()["server"]["name"]) == (200, name)

    service = await gw.new_key("service")
    for username in ("Alice Smith", "alice@example.com"):
        resp = await gw.call(service, name, "echo", {"text": "hi"}, username=username)
        assert resp.status_code == 200, resp.text
        # a username is trimmed: " Alice Smith " is the same user as "Alice Smith"
        await gw.set_secret(service, name, "token", "v", username=f" {username} ")
        resp = await gw.client.get(
            "/secrets",
            params={"serverName": name, "username": username},
            headers=gw.auth(service),
        )
        assert resp.json()["secrets"] == ["token"] and resp.json()["username"] == username
        body = {"serverName": name, "secretName": "token", "username": username}
        resp = await gw.client.post("/secrets/delete", json=body, headers=gw.auth(service))
        assert (resp.status_code, resp.json()["deleted"]) == (200, True)

    user = await gw.new_key("user", "Alice Smith")
    assert (await gw.call(user, name, "echo", {"text": "hi"})).status_code == 200

    resp = await gw.client.put(_path(name, "/disable"), headers=gw.admin)
    assert (resp.status_code, resp.json()["server"]["enabled"]) == (200, False)
    resp = await gw.client.delete(_path(name), headers=gw.admin)
    assert (resp.status_code, resp.json()["deleted"]) == (200, True)
    assert (await gw.client.get(_path(name), headers=gw.admin)).status_code == 404


@pytest.mark.parametrize(
    ("username", "problem"),
    [("a\nb", "control characters"), ("   ", "empty"), ("x" * 257, "256")],
)
async def test_a_username_with_control_characters_is_a_clear_400(
    gateway: Gateway, username: str, problem: str
) -> None:
    await gateway.add_server("fx", wait=False, enabled=False)
    body = {"serverName": "fx", "secretName": "t", "secretValue": "v", "username": username}
    resp = await gateway.client.post("/secrets/set", json=body, headers=gateway.admin)
    assert (resp.status_code, resp.json()["code"]) == (400, "invalid_request")
    assert problem in resp.text and "username" in resp.text


@pytest.mark.parametrize(
    ("name", "problem"),
    [(".", "'.' and '..'"), ("a/b", "'/'"), ("a\\b", "'/' or '\\\\'"), ("a\tb", "control")],
)
async def test_a_bad_server_name_is_a_400_naming_the_rule(
    gateway: Gateway, name: str, problem: str
) -> None:
    body = {"name": name, "command": "x"}
    resp = await gateway.client.post("/mcp/servers", json=body, headers=gateway.admin)
    assert (resp.status_code, resp.json()["code"]) == (400, "invalid_request")
    assert "server name" in resp.text and problem in resp.text


async def test_generated_server_names_are_either_served_or_refused_with_a_400(
    gateway: Gateway,
) -> None:
    drawn: list[str] = []

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.text(min_size=1, max_size=70) | st.sampled_from([".", "..", "A.b c", "x" * 65]))
    def names(name: str) -> None:
        drawn.append(name)

    names()
    for name in dict.fromkeys(drawn):
        body = {"name": name, "command": sys.executable, "enabled": False}
        resp = await gateway.client.post("/mcp/servers", json=body, headers=gateway.admin)
        assert resp.status_code in (200, 400, 409), (name, resp.text)
        if resp.status_code == 400:
            assert "server name" in resp.json()["error"], (name, resp.text)
            continue
        if resp.status_code == 409:  # e.g. a name reserved for the REST paths
            continue
        resp = await gateway.client.get(_path(name), headers=gateway.admin)
        assert (resp.status_code, resp.json()["server"]["name"]) == (200, name)
        resp = await gateway.client.delete(_path(name), headers=gateway.admin)
        assert (resp.status_code, resp.json()["deleted"]) == (200, True), name


async def test_generated_usernames_are_either_served_trimmed_or_refused_with_a_400(
    gateway: Gateway,
) -> None:
    await gateway.add_server("fx", wait=False, enabled=False)
    drawn: list[str] = []

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.text(max_size=260) | st.sampled_from(["Alice Smith", " a@b.c ", "x" * 257]))
    def usernames(username: str) -> None:
        drawn.append(username)

    usernames()
    for username in dict.fromkeys(drawn):
        body = {"serverName": "fx", "secretName": "t", "secretValue": "v", "username": username}
        resp = await gateway.client.post("/secrets/set", json=body, headers=gateway.admin)
        assert resp.status_code in (200, 400), (username, resp.text)
        if resp.status_code == 400:
            assert "username" in resp.json()["error"], (username, resp.text)
            continue
        params = {"serverName": "fx", "username": username}
        resp = await gateway.client.get("/secrets", params=params, headers=gateway.admin)
        assert resp.json()["username"] == username.strip() and resp.json()["secrets"] == ["t"]
        del body["secretValue"]
        resp = await gateway.client.post("/secrets/delete", json=body, headers=gateway.admin)
        assert (resp.status_code, resp.json()["deleted"]) == (200, True), username
