"""``/metrics``: bounded label sets, the optional key, and the counters each part of the
gateway feeds (tool calls, busy refusals, per-user instances, store latency, build info)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import anyio
import pytest

from tests.api.conftest import Gateway, MakeGateway

TINY = str(Path(__file__).resolve().parents[1] / "fixtures" / "tiny_stdio_server.py")


async def scrape(gw: Gateway, **headers: str) -> str:
    resp = await gw.client.get("/metrics", headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.text


def value(text: str, series: str) -> float:
    """The value of one exact series line (``name{labels}``), 0 when absent."""
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def wait_for(gw: Gateway, series: str, expected: float) -> str:
    with anyio.fail_after(30):
        while True:
            text = await scrape(gw)
            if value(text, series) == expected:
                return text
            await anyio.sleep(0.05)


@pytest.mark.anyio
async def test_tool_labels_come_only_from_listed_tools_and_are_capped(
    make_gateway: MakeGateway,
) -> None:
    async with make_gateway(telemetry={"metrics_max_tools": 2}) as gw:
        await gw.add_server("fx")
        for made_up in ("made-up-1", "made-up-2", "x" * 150):
            await gw.call(gw.admin_key, "fx", made_up)
        await gw.call(gw.admin_key, "fx", "add", {"a": 1, "b": 2})
        await gw.call(gw.admin_key, "fx", "echo", {"text": "t"})
        text = await scrape(gw)
    assert "made-up" not in text and "x" * 150 not in text
    tools = set(re.findall(r'mcpgw_tool_calls_total\{[^}]*server="fx",tool="([^"]+)"', text))
    # The cap admits the first two listed names in sorted order ("add", "big"): "echo" is
    # listed but over the cap, the made-up names were never listed.
    assert tools == {"add", "other"}
    assert value(text, 'mcpgw_tool_calls_total{outcome="ok",server="fx",tool="other"}') == 1.0


@pytest.mark.anyio
async def test_listed_tool_names_with_control_characters_or_too_long_are_not_labels(
    gateway: Gateway,
) -> None:
    """An upstream chooses its tool names: ones that would put terminal escapes, bidi
    overrides or carriage returns into the exposition (or a huge label) count as ``other``."""
    hostile = ["red\x1b[31mtool", "rev\u202eerse", "cr\rtool", "n" * 200]
    env = {"TINY_EXTRA_TOOLS": json.dumps(hostile)}
    body = {"name": "tiny", "command": sys.executable, "args": [TINY], "env": env}
    resp = await gateway.client.post("/mcp/servers", json=body, headers=gateway.admin)
    assert resp.status_code == 200, resp.text
    await gateway.wait_status("tiny", "connected")
    for name in hostile:
        await gateway.call(gateway.admin_key, "tiny", name)
    await gateway.call(gateway.admin_key, "tiny", "echo", {"text": "t"})
    text = await scrape(gateway)
    assert not {"\x1b", "\u202e", "\r"} & set(text) and "n" * 129 not in text
    assert value(text, 'mcpgw_tool_calls_total{outcome="ok",server="tiny",tool="echo"}') == 1.0
    others = [line for line in text.splitlines() if 'server="tiny",tool="other"' in line]
    assert sum(float(line.rsplit(" ", 1)[1]) for line in others if "_total" in line) == 4


@pytest.mark.anyio
async def test_metrics_key_is_required_as_a_bearer_token_when_set(
    make_gateway: MakeGateway,
) -> None:
    key = "metrics-key-canary-7f3a"
    async with make_gateway(telemetry={"metrics_key": key}) as gw:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": key}):
            resp = await gw.client.get("/metrics", headers=headers)
            assert resp.status_code == 401
            assert resp.json()["code"] == "unauthenticated"
            assert key not in resp.text
        text = await scrape(gw, Authorization=f"Bearer {key}")
        assert "mcpgw_build_info{" in text
        # The API's own keys do not open /metrics: it has its own key.
        resp = await gw.client.get("/metrics", headers=gw.admin)
        assert resp.status_code == 401


@pytest.mark.anyio
async def test_a_refused_metrics_scrape_is_audited_without_the_key(
    make_gateway: MakeGateway,
) -> None:
    """Failed authentications are audited (issue 15), the metrics key's too: its length only."""
    wrong = "metrics-wrong-key-canary-41c9"
    async with make_gateway(telemetry={"metrics_key": "metrics-key-5be0"}) as gw:
        resp = await gw.client.get("/metrics", headers={"Authorization": f"Bearer {wrong}"})
        assert resp.status_code == 401
        with anyio.fail_after(20):
            while True:
                params = {"outcome": "unauthenticated"}
                page = await gw.client.get("/audit", params=params, headers=gw.admin)
                items = page.json()["items"]
                if items:
                    break
                await anyio.sleep(0.05)
    assert items[0]["detail"].startswith("GET /metrics key (not a gateway key")
    assert "canary" not in page.text


@pytest.mark.anyio
async def test_build_info_names_version_and_replica(gateway: Gateway) -> None:
    text = await scrape(gateway)
    assert re.search(r'mcpgw_build_info\{replica="[^"]+",version="[^"]+"\} 1.0', text)


@pytest.mark.anyio
async def test_busy_refusals_and_in_flight_calls_are_counted_per_server(
    make_gateway: MakeGateway,
) -> None:
    async with make_gateway(upstream={"busy_wait": 0.05}) as gw:
        await gw.add_server("fx", maxConcurrency=1)
        async with anyio.create_task_group() as tg:
            tg.start_soon(gw.call, gw.admin_key, "fx", "sleep", {"seconds": 60})
            await wait_for(gw, 'mcpgw_server_in_flight{server="fx"}', 1.0)
            resp = await gw.call(gw.admin_key, "fx", "echo", {"text": "b"})
            assert resp.status_code == 503 and resp.json()["code"] == "upstream_busy"
            tg.cancel_scope.cancel()
        text = await scrape(gw)
        assert value(text, 'mcpgw_tool_calls_refused_total{reason="busy",server="fx"}') == 1.0
        assert value(
            text, 'mcpgw_tool_calls_total{outcome="upstream_busy",server="fx",tool="echo"}'
        )


@pytest.mark.anyio
async def test_per_user_instances_created_and_destroyed_are_counted(gateway: Gateway) -> None:
    await gateway.add_server("pu", wait=False, isolation="per_user")
    for user in ("alice", "bob"):
        resp = await gateway.call(gateway.admin_key, "pu", "echo", {"text": "x"}, username=user)
        assert resp.status_code == 200, resp.text
    text = await scrape(gateway)
    assert value(text, 'mcpgw_user_instances_created_total{server="pu"}') == 2.0
    assert value(text, 'mcpgw_server_instances{server="pu"}') == 2.0
    # A per-user server's tool labels come from its users' sessions' listings.
    assert value(text, 'mcpgw_tool_calls_total{outcome="ok",server="pu",tool="echo"}') == 2.0
    assert "alice" not in text and "bob" not in text
    resp = await gateway.client.delete("/mcp/servers/pu", headers=gateway.admin)
    assert resp.status_code == 200
    await wait_for(gateway, 'mcpgw_user_instances_destroyed_total{server="pu"}', 2.0)


@pytest.mark.anyio
async def test_store_latency_is_observed_by_operation(any_gateway: Gateway) -> None:
    await any_gateway.add_server("fx")
    text = await scrape(any_gateway)
    assert value(text, 'mcpgw_store_operation_duration_seconds_count{operation="create_server"}')
    assert "mcpgw_audit_queue_depth " in text
