"""``/secrets`` on both stores: set, list names, delete, and the per-user count and size
limits (a refused write leaves nothing behind)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Gateway, MakeGateway, secrets_section

pytestmark = pytest.mark.anyio


async def _names(gw: Gateway, key: str, server: str) -> list[str]:
    resp = await gw.client.get("/secrets", params={"serverName": server}, headers=gw.auth(key))
    assert resp.status_code == 200, resp.text
    names: list[str] = resp.json()["secrets"]
    return names


async def _set(gw: Gateway, key: str, server: str, name: str, value: str) -> Any:
    body = {"serverName": server, "secretName": name, "secretValue": value}
    return await gw.client.post("/secrets/set", json=body, headers=gw.auth(key))


async def test_set_list_and_delete_are_scoped_to_the_users_own_secrets(
    any_gateway: Gateway,
) -> None:
    gw = any_gateway
    await gw.add_server("fx", wait=False)
    alice = await gw.new_key("user", "alice")
    bob = await gw.new_key("user", "bob")
    await gw.set_secret(alice, "fx", "token", "alice-value")
    await gw.set_secret(alice, "fx", "other", "x")
    assert await _names(gw, alice, "fx") == ["other", "token"]
    assert await _names(gw, bob, "fx") == []
    body = {"serverName": "fx", "secretName": "token"}
    # bob has no such secret: idempotent 200, nothing deleted, no hint that alice has one
    resp = await gw.client.post("/secrets/delete", json=body, headers=gw.auth(bob))
    assert resp.status_code == 200 and resp.json()["deleted"] is False
    assert await _names(gw, alice, "fx") == ["other", "token"]
    resp = await gw.client.post("/secrets/delete", json=body, headers=gw.auth(alice))
    assert resp.status_code == 200 and resp.json()["deleted"] is True
    assert await _names(gw, alice, "fx") == ["other"]
    resp = await gw.client.post("/secrets/delete", json=body, headers=gw.auth(alice))
    assert (resp.status_code, resp.json()["deleted"]) == (200, False)  # already gone


async def test_deleting_a_secret_of_an_unknown_server_is_404(gateway: Gateway) -> None:
    body = {"serverName": "nosuch", "secretName": "token"}
    resp = await gateway.client.post("/secrets/delete", json=body, headers=gateway.admin)
    assert (resp.status_code, resp.json()["code"]) == (404, "server_not_found")


async def test_a_users_secrets_beyond_the_limit_are_refused_and_not_written(
    make_gateway: MakeGateway, backend: str
) -> None:
    async with make_gateway(backend, secrets=secrets_section(backend, max_per_user=3)) as gw:
        await gw.add_server("fx", wait=False)
        await gw.add_server("fy", wait=False)
        alice = await gw.new_key("user", "alice")
        for name in ("a", "b"):
            await gw.set_secret(alice, "fx", name, "v")
        await gw.set_secret(alice, "fy", "c", "v")  # the limit counts every server
        resp = await _set(gw, alice, "fy", "d", "v")
        assert resp.status_code == 400
        assert resp.json()["code"] == "invalid_request"
        assert "3 secrets" in resp.json()["error"]
        assert await _names(gw, alice, "fy") == ["c"]
        await gw.set_secret(alice, "fx", "a", "replaced")  # replacing one is no new secret
        bob = await gw.new_key("user", "bob")
        await gw.set_secret(bob, "fy", "d", "v")  # the limit is per username


async def test_a_secret_over_the_size_limit_is_413_and_not_written(
    make_gateway: MakeGateway, backend: str
) -> None:
    async with make_gateway(backend, secrets=secrets_section(backend, max_bytes=1024)) as gw:
        await gw.add_server("fx", wait=False)
        alice = await gw.new_key("user", "alice")
        canary = "big-canary-" + "x" * 1100
        resp = await _set(gw, alice, "fx", "big", canary)
        assert resp.status_code == 413
        assert resp.json()["code"] == "payload_too_large"
        assert "1024 bytes" in resp.json()["error"] and "big-canary" not in resp.text
        assert await _names(gw, alice, "fx") == []
        await gw.set_secret(alice, "fx", "fits", "y" * 1024)
