"""API keys and roles over HTTP: 401 for missing/bad/revoked keys, 403 for role and tenant."""

from __future__ import annotations

import json
import stat

import pytest

from tests.api.conftest import Gateway, MakeGateway


@pytest.mark.anyio
async def test_first_start_creates_admin_key_file_0600_and_announces_it_once(
    gateway: Gateway,
) -> None:
    assert len(gateway.announced) == 1
    path = gateway.runtime.settings.store.data_dir / "admin-api-key"
    assert path.read_text().strip() == gateway.admin_key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    resp = await gateway.client.get("/admin/apikeys", headers=gateway.admin)
    assert resp.status_code == 200
    assert [k["role"] for k in resp.json()["keys"]] == ["admin"]


@pytest.mark.anyio
async def test_configured_admin_key_is_accepted_and_no_key_is_generated(
    make_gateway: MakeGateway,
) -> None:
    key = "mcpgw_configured-admin-key-0123456789"
    async with make_gateway(http={"admin_api_key": key}) as gw:
        assert gw.announced == []
        assert not (gw.runtime.settings.store.data_dir / "admin-api-key").exists()
        resp = await gw.client.get("/admin/apikeys", headers=gw.auth(key))
        assert resp.status_code == 200
        listing = resp.text
        assert key not in listing


@pytest.mark.anyio
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer mcpgw_not-a-real-key"}, {"Authorization": "Basic abc"}],
    ids=["missing", "unknown", "wrong-scheme"],
)
async def test_requests_without_a_valid_key_get_401(
    gateway: Gateway, headers: dict[str, str]
) -> None:
    for method, path in [("GET", "/mcp/servers"), ("GET", "/mcp/tools"), ("GET", "/secrets")]:
        resp = await gateway.client.request(method, path, headers=headers)
        assert resp.status_code == 401, path
        assert resp.json()["code"] == "unauthenticated"
    resp = await gateway.client.post(
        "/mcp/tool/call", json={"serverName": "x", "methodName": "y"}, headers=headers
    )
    assert resp.status_code == 401


@pytest.mark.anyio
async def test_revoked_key_is_refused_immediately(gateway: Gateway) -> None:
    key = await gateway.new_key("service")
    assert (await gateway.client.get("/mcp/servers", headers=gateway.auth(key))).status_code == 200
    keys = (await gateway.client.get("/admin/apikeys", headers=gateway.admin)).json()["keys"]
    key_id = next(k["id"] for k in keys if k["role"] == "service")
    resp = await gateway.client.delete(f"/admin/apikeys/{key_id}", headers=gateway.admin)
    assert resp.status_code == 200
    resp = await gateway.client.get("/mcp/servers", headers=gateway.auth(key))
    assert resp.status_code == 401
    resp = await gateway.client.delete(f"/admin/apikeys/{key_id}", headers=gateway.admin)
    assert (resp.status_code, resp.json()["deleted"]) == (200, False)  # idempotent


@pytest.mark.anyio
async def test_key_listing_never_contains_keys_or_hashes(gateway: Gateway) -> None:
    key = await gateway.new_key("user", "alice")
    resp = await gateway.client.get("/admin/apikeys", headers=gateway.admin)
    assert key not in resp.text and gateway.admin_key not in resp.text
    for entry in resp.json()["keys"]:
        assert set(entry) >= {"id", "name", "role", "prefix", "createdAt"}
        assert "keyHash" not in entry and "key" not in entry


@pytest.mark.anyio
async def test_non_admin_keys_cannot_change_servers_or_keys(gateway: Gateway) -> None:
    for role, username in [("service", None), ("user", "alice")]:
        key = await gateway.new_key(role, username)
        auth = gateway.auth(key)
        attempts = [
            ("POST", "/mcp/servers", {"name": "evil", "command": "sh"}),
            ("PUT", "/mcp/servers/any", {"command": "sh"}),
            ("DELETE", "/mcp/servers/any", None),
            ("PUT", "/mcp/servers/any/enable", None),
            ("POST", "/admin/apikeys", {"name": "more", "role": "admin"}),
            ("GET", "/admin/apikeys", None),
        ]
        for method, path, body in attempts:
            resp = await gateway.client.request(method, path, json=body, headers=auth)
            assert resp.status_code == 403, (role, method, path)
            assert resp.json()["code"] == "forbidden"


@pytest.mark.anyio
async def test_user_key_acting_for_another_username_gets_403(gateway: Gateway) -> None:
    await gateway.add_server("fx")
    key = await gateway.new_key("user", "alice")
    resp = await gateway.call(key, "fx", "echo", {"text": "x"}, username="bob")
    assert resp.status_code == 403
    body = {"username": "bob", "serverName": "fx", "secretName": "token", "secretValue": "v"}
    resp = await gateway.client.post("/secrets/set", json=body, headers=gateway.auth(key))
    assert resp.status_code == 403
    resp = await gateway.client.get(
        "/secrets", params={"serverName": "fx", "username": "bob"}, headers=gateway.auth(key)
    )
    assert resp.status_code == 403
    resp = await gateway.client.get("/mcp/tools?username=bob", headers=gateway.auth(key))
    assert resp.status_code == 403


@pytest.mark.anyio
async def test_user_keys_need_a_username_and_other_roles_refuse_one(gateway: Gateway) -> None:
    for body in [{"name": "u", "role": "user"}, {"name": "s", "role": "service", "username": "a"}]:
        resp = await gateway.client.post("/admin/apikeys", json=body, headers=gateway.admin)
        assert resp.status_code == 400
        assert resp.json()["code"] == "invalid_request"


@pytest.mark.anyio
async def test_auth_mode_none_acts_as_admin_without_a_key(make_gateway: MakeGateway) -> None:
    async with make_gateway(http={"auth_mode": "none"}) as gw:
        resp = await gw.client.get("/admin/apikeys")
        assert resp.status_code == 200


@pytest.mark.anyio
async def test_auth_mode_none_refuses_a_write_from_a_web_page_of_another_origin(
    make_gateway: MakeGateway,
) -> None:
    """Without keys, a page the operator's browser opens (or a DNS-rebound name) could POST a
    stdio server with any command: a text/plain JSON body needs no CORS preflight."""
    plain = {"Content-Type": "text/plain"}
    config = {"auth_mode": "none", "cors_origins": ["https://console.example"]}
    async with make_gateway(http=config) as gw:
        body = json.dumps({"name": "pwn", "command": "/bin/true"})
        for origin in ("https://evil.example", "http://rebound.example:8080", "null"):
            resp = await gw.client.post(
                "/mcp/servers", content=body, headers={**plain, "Origin": origin}
            )
            assert resp.status_code == 403 and resp.json()["code"] == "forbidden", resp.text
        assert await gw.runtime.store.get_server("pwn") is None
        # Not a browser page of another origin: as before.
        for i, headers in enumerate(
            [{}, {"Origin": "http://127.0.0.1:8080"}, {"Origin": "http://localhost:3000"},
             {"Origin": "https://console.example"}]
        ):  # fmt: skip
            body = json.dumps({"name": f"ok{i}", "command": "/bin/true", "enabled": False})
            resp = await gw.client.post("/mcp/servers", content=body, headers={**plain, **headers})
            assert resp.status_code == 200, resp.text
        # Reads are not writes: a GET from another origin is answered (the browser hides it).
        resp = await gw.client.get("/mcp/servers", headers={"Origin": "https://evil.example"})
        assert resp.status_code == 200
