"""Over HTTP: a server's ``rateLimit`` (and the MCPGW_RATE_LIMIT_* defaults) answer 429
``rate_limited`` with Retry-After, are audited and counted, refill, and bad bodies are 400s."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from tests.api.conftest import Gateway, MakeGateway, fixture_server

pytestmark = pytest.mark.anyio

MINUTE = 60_000


async def _audited(gateway: Gateway, outcome: str) -> list[Any]:
    with anyio.fail_after(10):
        while True:
            events = await gateway.runtime.store.list_audit(100)
            events = [e for e in events if e.outcome == outcome]
            if events:
                return events
            await anyio.sleep(0.02)


async def test_a_call_over_the_per_user_limit_is_429_with_retry_after_audited_and_counted(
    gateway: Gateway,
) -> None:
    await gateway.add_server("fx", rateLimit={"perUser": {"requests": 2, "perMs": MINUTE}})
    service = await gateway.new_key("service")
    for _ in range(2):
        resp = await gateway.call(service, "fx", "echo", {"text": "hi"}, username="alice")
        assert resp.status_code == 200, resp.text
    resp = await gateway.call(service, "fx", "echo", {"text": "hi"}, username="alice")
    assert resp.status_code == 429
    body = resp.json()
    assert (body["success"], body["code"], body["limit"]) == (False, "rate_limited", "perUser")
    assert "perUser" in body["error"] and "'fx'" in body["error"]
    assert resp.headers["retry-after"] == "30"  # one token of 2 per minute
    # Another user of the same key is not limited by alice's bucket.
    resp = await gateway.call(service, "fx", "echo", {"text": "hi"}, username="bob")
    assert resp.status_code == 200, resp.text
    [event] = await _audited(gateway, "rate_limited")
    assert (event.username, event.server, event.tool) == ("alice", "fx", "echo")
    metrics = (await gateway.client.get("/metrics")).text
    assert 'mcpgw_rate_limited_calls_total{limit="perUser",server="fx"} 1.0' in metrics
    assert 'mcpgw_tool_calls_refused_total{reason="rate_limited",server="fx"} 1.0' in metrics


async def test_per_key_and_total_limits_over_http(gateway: Gateway) -> None:
    limit = {"perKey": {"requests": 2, "perMs": MINUTE}, "total": {"requests": 3, "perMs": MINUTE}}
    await gateway.add_server("fx", rateLimit=limit)
    first, second = await gateway.new_key("service"), await gateway.new_key("service")
    codes = [
        (await gateway.call(first, "fx", "echo", {"text": "x"}, username=u)).status_code
        for u in ("a", "b", "c")
    ]
    assert codes == [200, 200, 429]  # the key's bucket, whatever the username
    resp = await gateway.call(second, "fx", "echo", {"text": "x"})
    assert resp.status_code == 200
    resp = await gateway.call(second, "fx", "echo", {"text": "x"})
    assert resp.status_code == 429 and resp.json()["limit"] == "total"


async def test_the_limit_refills_after_its_window(gateway: Gateway) -> None:
    await gateway.add_server("fx", rateLimit={"total": {"requests": 1, "perMs": 300}})
    service = await gateway.new_key("service")
    assert (await gateway.call(service, "fx", "echo", {"text": "x"})).status_code == 200
    resp = await gateway.call(service, "fx", "echo", {"text": "x"})
    assert resp.status_code == 429 and resp.headers["retry-after"] == "1"
    with anyio.fail_after(10):  # the window is 300 ms; poll, never sleep a fixed time
        while True:
            resp = await gateway.call(service, "fx", "echo", {"text": "x"})
            if resp.status_code == 200:
                break
            assert resp.status_code == 429
            await anyio.sleep(0.05)


async def test_the_rate_limit_is_shown_changed_and_cleared_without_a_restart(
    any_gateway: Gateway,
) -> None:
    gw = any_gateway
    view = await gw.add_server("fx", rateLimit={"perUser": {"requests": 1, "perMs": MINUTE}})
    assert view["rateLimit"] == {"perUser": {"requests": 1, "perMs": MINUTE}}
    user = await gw.new_key("user", "alice")
    assert (await gw.call(user, "fx", "echo", {"text": "x"})).status_code == 200
    assert (await gw.call(user, "fx", "echo", {"text": "x"})).status_code == 429
    resp = await gw.client.put("/mcp/servers/fx", json={"rateLimit": {}}, headers=gw.admin)
    assert resp.status_code == 200, resp.text
    assert resp.json()["server"]["rateLimit"] == {}
    assert (await gw.call(user, "fx", "echo", {"text": "x"})).status_code == 200
    got = (await gw.client.get("/mcp/servers/fx", headers=gw.auth(user))).json()["server"]
    assert got["rateLimit"] == {} and got["restarts"] == 0
    resp = await gw.client.put("/mcp/servers/fx", json={"rateLimit": None}, headers=gw.admin)
    assert resp.json()["server"]["rateLimit"] is None
    stored = await gw.runtime.store.get_server("fx")
    assert stored is not None and stored.rate_limit is None


async def test_gateway_defaults_limit_servers_without_their_own(make_gateway: MakeGateway) -> None:
    async with make_gateway(rate_limit={"per_user": "1/60000"}) as gw:
        await gw.add_server("defaulted")
        await gw.add_server("free", rateLimit={})
        service = await gw.new_key("service")
        for server, second in (("defaulted", 429), ("free", 200)):
            assert (await gw.call(service, server, "echo", {"text": "x"})).status_code == 200
            assert (await gw.call(service, server, "echo", {"text": "x"})).status_code == second


async def test_replicas_divide_the_default_limit_on_this_gateway(make_gateway: MakeGateway) -> None:
    async with make_gateway(rate_limit={"per_key": "4/60000", "replicas": 2}) as gw:
        await gw.add_server("fx")
        service = await gw.new_key("service")
        codes = [(await gw.call(service, "fx", "echo", {"text": "x"})).status_code for _ in "abc"]
        assert codes == [200, 200, 429]
        resp = await gw.call(service, "fx", "echo", {"text": "x"})
        assert resp.json()["limit"] == "perKey" and "on this replica" in resp.json()["error"]


@pytest.mark.parametrize(
    ("limit", "field"),
    [
        ({"perUser": {"requests": 0, "perMs": 1000}}, "rateLimit.perUser.requests"),
        ({"perUser": {"requests": 1}}, "rateLimit.perUser.perMs"),
        ({"perUser": {"requests": 1, "perMs": -5}}, "rateLimit.perUser.perMs"),
        ({"perUser": {"requests": 1.5, "perMs": 1000}}, "rateLimit.perUser.requests"),
        ({"perUser": {"requests": 1, "per_ms": 1000}}, "rateLimit.perUser"),
        ({"perUsr": {"requests": 1, "perMs": 1000}}, "rateLimit.perUsr"),
        ({"perUser": "60/minute"}, "rateLimit.perUser"),
        ([60], "rateLimit"),
    ],
)
async def test_a_bad_rate_limit_is_400_naming_the_field_and_writes_nothing(
    gateway: Gateway, limit: Any, field: str
) -> None:
    body = fixture_server("fx", rateLimit=limit)
    resp = await gateway.client.post("/mcp/servers", json=body, headers=gateway.admin)
    assert resp.status_code == 400, resp.text
    answer = resp.json()
    assert answer["code"] == "invalid_request"
    assert any(d["field"].startswith(field) for d in answer["details"]), answer
    assert "Traceback" not in resp.text
    resp = await gateway.client.get("/mcp/servers/fx", headers=gateway.admin)
    assert resp.status_code == 404


async def test_a_bad_rate_limit_update_is_400_and_keeps_the_old_limit(gateway: Gateway) -> None:
    good = {"total": {"requests": 5, "perMs": 1000}}
    await gateway.add_server("fx", rateLimit=good)
    bad = {"rateLimit": {"total": {"requests": 5, "perMs": 0}}}
    resp = await gateway.client.put("/mcp/servers/fx", json=bad, headers=gateway.admin)
    assert resp.status_code == 400 and resp.json()["code"] == "invalid_request"
    view = (await gateway.client.get("/mcp/servers/fx", headers=gateway.admin)).json()
    assert view["server"]["rateLimit"] == good
