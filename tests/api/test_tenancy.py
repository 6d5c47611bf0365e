"""Secret injection and tenant isolation, end to end through the API and the fixture server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.conftest import Gateway


def _text(resp: Any) -> str:
    body = resp.json()
    assert body["success"] is True, body
    return str(body["data"]["content"][0]["text"])


def _schema(tools_body: dict[str, Any], server: str, tool: str) -> dict[str, Any]:
    for entry in tools_body["tools"]:
        for name, tools in entry.items():
            if name == server:
                for t in tools:
                    if t["name"] == tool:
                        schema: dict[str, Any] = t["inputSchema"]
                        return schema
    raise AssertionError(f"{server}/{tool} not listed")


@pytest.mark.anyio
async def test_service_key_acting_for_two_usernames_injects_each_users_own_secret(
    gateway: Gateway,
) -> None:
    await gateway.add_server("fx")
    service = await gateway.new_key("service")
    await gateway.set_secret(service, "fx", "token", "alice-canary-111", username="alice")
    await gateway.set_secret(service, "fx", "token", "bob-canary-222", username="bob")
    alice = json.loads(_text(await gateway.call(service, "fx", "echo_args", username="alice")))
    bob = json.loads(_text(await gateway.call(service, "fx", "echo_args", username="bob")))
    assert alice["token"] == "alice-canary-111"
    assert bob["token"] == "bob-canary-222"
    # The injected value overrides a caller-supplied argument of the same name.
    forged = await gateway.call(service, "fx", "echo_args", {"token": "forged"}, username="bob")
    assert json.loads(_text(forged))["token"] == "bob-canary-222"
    # The default username has no secret: nothing is injected.
    default = json.loads(_text(await gateway.call(service, "fx", "echo_args")))
    assert default["token"] == ""


@pytest.mark.anyio
async def test_user_key_cannot_read_use_or_delete_another_users_secret(gateway: Gateway) -> None:
    await gateway.add_server("fx")
    alice = await gateway.new_key("user", "alice")
    bob = await gateway.new_key("user", "bob")
    await gateway.set_secret(bob, "fx", "token", "bob-private-canary")

    resp = await gateway.client.get(
        "/secrets", params={"serverName": "fx"}, headers=gateway.auth(alice)
    )
    assert resp.status_code == 200 and resp.json()["secrets"] == []
    resp = await gateway.client.get(
        "/secrets", params={"serverName": "fx", "username": "bob"}, headers=gateway.auth(alice)
    )
    assert resp.status_code == 403
    used = json.loads(_text(await gateway.call(alice, "fx", "echo_args")))
    assert used["token"] == ""
    resp = await gateway.client.post(
        "/secrets/delete",
        json={"serverName": "fx", "secretName": "token"},
        headers=gateway.auth(alice),
    )
    assert resp.status_code == 200 and resp.json()["deleted"] is False  # alice has none
    resp = await gateway.client.post(
        "/secrets/delete",
        json={"username": "bob", "serverName": "fx", "secretName": "token"},
        headers=gateway.auth(alice),
    )
    assert resp.status_code == 403
    # Bob's secret survived all of that.
    assert json.loads(_text(await gateway.call(bob, "fx", "echo_args")))["token"] == (
        "bob-private-canary"
    )
    resp = await gateway.client.get(
        "/secrets", params={"serverName": "fx"}, headers=gateway.auth(bob)
    )
    assert resp.json()["secrets"] == ["token"]
    assert "bob-private-canary" not in resp.text


@pytest.mark.anyio
async def test_injected_parameters_are_absent_from_that_users_tool_schemas(
    gateway: Gateway,
) -> None:
    await gateway.add_server("fx")
    alice = await gateway.new_key("user", "alice")
    bob = await gateway.new_key("user", "bob")
    await gateway.set_secret(alice, "fx", "token", "alice-tools-canary")
    alice_tools = (await gateway.client.get("/mcp/tools", headers=gateway.auth(alice))).json()
    bob_tools = (await gateway.client.get("/mcp/tools", headers=gateway.auth(bob))).json()
    assert "token" not in _schema(alice_tools, "fx", "echo_args")["properties"]
    assert "token" not in _schema(alice_tools, "fx", "fail_with_args")["properties"]
    assert "token" in _schema(bob_tools, "fx", "echo_args")["properties"]


@pytest.mark.anyio
async def test_spec_places_secret_in_target_argument_with_template_and_requires_it(
    gateway: Gateway,
) -> None:
    spec = [{"name": "API_KEY", "as": "arg", "target": "api_key", "template": "Key {value}"}]
    await gateway.add_server("fx", secrets=spec)
    alice = await gateway.new_key("user", "alice")
    missing = await gateway.call(alice, "fx", "echo_args")
    assert missing.status_code == 400
    assert missing.json()["code"] == "missing_secret"
    assert "API_KEY" in missing.json()["error"]
    # Required injected params are hidden even before the user sets them.
    tools = (await gateway.client.get("/mcp/tools", headers=gateway.auth(alice))).json()
    schema = _schema(tools, "fx", "echo_args")
    assert "api_key" not in schema["properties"]
    assert "api_key" not in schema.get("required", [])
    await gateway.set_secret(alice, "fx", "API_KEY", "spec-canary-9")
    args = json.loads(_text(await gateway.call(alice, "fx", "echo_args")))
    assert args["api_key"] == "Key spec-canary-9"
    assert args["token"] == ""


@pytest.mark.anyio
async def test_env_injection_runs_one_process_per_user_with_their_own_value(
    gateway: Gateway,
) -> None:
    spec = [{"name": "SVC_TOKEN", "as": "env"}]
    await gateway.add_server("envfx", wait=False, isolation="per_user", secrets=spec)
    service = await gateway.new_key("service")
    await gateway.set_secret(service, "envfx", "SVC_TOKEN", "env-alice-canary", username="alice")
    await gateway.set_secret(service, "envfx", "SVC_TOKEN", "env-bob-canary", username="bob")
    for user in ("alice", "bob"):
        resp = await gateway.call(
            service, "envfx", "print_env", {"name": "SVC_TOKEN"}, username=user
        )
        assert _text(resp) == f"env-{user}-canary"
    # A changed secret reaches the user's (restarted) process.
    await gateway.set_secret(service, "envfx", "SVC_TOKEN", "env-alice-new", username="alice")
    resp = await gateway.call(
        service, "envfx", "print_env", {"name": "SVC_TOKEN"}, username="alice"
    )
    assert _text(resp) == "env-alice-new"


@pytest.mark.anyio
async def test_env_injection_into_a_shared_process_is_refused(gateway: Gateway) -> None:
    body = {
        "name": "bad",
        "command": "python",
        "secrets": [{"name": "T", "as": "env"}],
    }
    resp = await gateway.client.post("/mcp/servers", json=body, headers=gateway.admin)
    assert resp.status_code == 400
    assert "per_user" in resp.json()["error"]
    resp = await gateway.client.get("/mcp/servers/bad", headers=gateway.admin)
    assert resp.status_code == 404
