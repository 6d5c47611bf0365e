"""Server CRUD: live status in views, restart only on connection changes, purge on delete
(on SQLite and MongoDB)."""

from __future__ import annotations

import pytest

from tests.api.conftest import Gateway


@pytest.mark.anyio
async def test_server_views_show_live_status_tools_and_mask_env_for_non_admins(
    gateway: Gateway,
) -> None:
    view = await gateway.add_server("fx", env={"MODE": "test"}, callTimeout=5000)
    assert view["status"] == "connected" and view["pid"]
    assert {"echo", "echo_args", "fail_with_args"} <= {t["name"] for t in view["toolsList"]}
    assert view["env"] == {"MODE": "test"} and view["transportType"] == "stdio"
    service = await gateway.new_key("service")
    listing = (await gateway.client.get("/mcp/servers", headers=gateway.auth(service))).json()
    (entry,) = listing["servers"]
    assert entry["env"] == {"MODE": "***"} and entry["status"] == "connected"


@pytest.mark.anyio
async def test_update_restarts_only_when_connection_settings_change(gateway: Gateway) -> None:
    view = await gateway.add_server("fx")
    pid = view["pid"]
    resp = await gateway.client.put(
        "/mcp/servers/fx", json={"callTimeout": 9000}, headers=gateway.admin
    )
    assert resp.status_code == 200 and resp.json()["server"]["callTimeout"] == 9000
    assert (await gateway.wait_status("fx", "connected"))["pid"] == pid
    resp = await gateway.client.put(
        "/mcp/servers/fx", json={"env": {"X": "1"}}, headers=gateway.admin
    )
    assert resp.status_code == 200
    restarted = await gateway.wait_status("fx", "connected")
    assert restarted["pid"] != pid and restarted["env"] == {"X": "1"}
    resp = await gateway.client.put("/mcp/servers/fx", json={"name": "y"}, headers=gateway.admin)
    assert resp.status_code == 400


@pytest.mark.anyio
async def test_restart_starts_a_new_process_and_refuses_a_disabled_or_unknown_server(
    gateway: Gateway,
) -> None:
    await gateway.add_server("fx")
    await gateway.wait_status("fx", "connected")
    before = gateway.runtime.pool.status("fx").pid
    resp = await gateway.client.post("/mcp/servers/fx/restart", headers=gateway.admin)
    assert resp.status_code == 200, resp.text
    assert resp.json()["server"]["name"] == "fx"
    await gateway.wait_status("fx", "connected")
    assert gateway.runtime.pool.status("fx").pid not in (None, before)
    service = await gateway.new_key("service")
    assert (await gateway.call(service, "fx", "echo", {"text": "x"})).status_code == 200
    user = await gateway.new_key("user", "alice")
    resp = await gateway.client.post("/mcp/servers/fx/restart", headers=gateway.auth(user))
    assert resp.status_code == 403
    await gateway.client.put("/mcp/servers/fx/disable", headers=gateway.admin)
    resp = await gateway.client.post("/mcp/servers/fx/restart", headers=gateway.admin)
    assert (resp.status_code, resp.json()["code"]) == (409, "server_disabled")
    resp = await gateway.client.post("/mcp/servers/nope/restart", headers=gateway.admin)
    assert (resp.status_code, resp.json()["code"]) == (404, "server_not_found")


@pytest.mark.anyio
async def test_disable_enable_and_delete_purges_secrets(any_gateway: Gateway) -> None:
    gateway = any_gateway  # on both stores: the purge is the store's work
    await gateway.add_server("fx")
    service = await gateway.new_key("service")
    await gateway.set_secret(service, "fx", "token", "to-be-purged")
    resp = await gateway.client.put("/mcp/servers/fx/disable", headers=gateway.admin)
    server = resp.json()["server"]
    assert (server["status"], server["enabled"]) == ("disconnected", False)  # mcp-api's values
    assert (await gateway.call(service, "fx", "echo", {"text": "x"})).status_code == 409
    resp = await gateway.client.put("/mcp/servers/fx/enable", headers=gateway.admin)
    assert resp.status_code == 200
    await gateway.wait_status("fx", "connected")
    assert (await gateway.call(service, "fx", "echo", {"text": "x"})).status_code == 200

    resp = await gateway.client.delete("/mcp/servers/fx", headers=gateway.admin)
    assert resp.status_code == 200
    assert await gateway.runtime.store.get_secrets("default", "fx") == []
    assert (await gateway.call(service, "fx", "echo", {"text": "x"})).status_code == 404
    assert "fx" not in gateway.runtime.pool.statuses()
    # deletes are idempotent: a server already gone is a 200 that says so
    resp = await gateway.client.delete("/mcp/servers/fx", headers=gateway.admin)
    assert resp.status_code == 200
    assert resp.json()["deleted"] is False and "did not exist" in resp.json()["message"]
