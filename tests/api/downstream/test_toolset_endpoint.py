"""``/mcp/toolsets/{name}``: ``/mcp`` narrowed to a toolset, for listing and for calls."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import pytest
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters
from mcp.shared.exceptions import MCPError

from tests.api.downstream.conftest import MODES, LiveGateway
from tests.gateway_process import ROOT

_ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
_INIT: dict[str, Any] = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"},
    },
}


async def _set_toolset(live: LiveGateway, name: str, tools: list[dict[str, str]]) -> None:
    resp = await live.client.put(
        f"/admin/toolsets/{name}", json={"tools": tools}, headers=live.admin
    )
    assert resp.status_code == 200, resp.text


async def _names(client: Client) -> set[str]:
    return {t.name for t in (await client.list_tools()).tools}


@pytest.mark.slow
@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_toolset_endpoint_lists_exactly_its_subset_calls_one_and_refuses_the_rest(
    live: LiveGateway, mode: str
) -> None:
    await live.add_server("fx")
    await live.add_server("fy")
    await live.add_server("fz")
    await live.add_server("off", enabled=False, wait=False)
    alice = await live.new_key("user", "alice")
    await live.set_secret(alice, "fx", "token", "toolset-canary-7")
    await _set_toolset(
        live,
        "triage",
        [
            {"server": "fx", "tool": "echo_args"},
            {"server": "fx", "tool": "not_there_yet"},  # allowed; shows nothing
            {"server": "ghost", "tool": "*"},  # a server that does not exist: nothing
            {"server": "fy"},  # the whole server
            {"server": "off"},  # disabled: not listed on /mcp, so not here either
        ],
    )
    # Three fixture servers pass the tool-search threshold: ask /mcp for every tool.
    async with live.mcp_client("/mcp?tools=all", alice, mode=mode) as everything:
        fy_tools = {n for n in await _names(everything) if n.startswith("fy__")}
    assert "fy__echo" in fy_tools
    async with live.mcp_client("/mcp/toolsets/triage", alice, mode=mode) as client:
        listed = (await client.list_tools()).tools
        assert {t.name for t in listed} == {"fx__echo_args"} | fy_tools
        schema = next(t for t in listed if t.name == "fx__echo_args").input_schema
        assert "token" not in schema["properties"]  # the user's injected argument stays hidden
        result = await client.call_tool("fx__echo_args", {"text": "in the set"})
        assert not result.is_error and result.content[0].type == "text"
        seen = json.loads(result.content[0].text)
        assert seen["text"] == "in the set" and seen["token"] == "toolset-canary-7"
        assert not (await client.call_tool("fy__echo", {"text": "whole"})).is_error
        for outside in ("fx__echo", "fz__echo", "nosuch__echo"):
            with pytest.raises(MCPError, match="unknown tool"):
                await client.call_tool(outside, {"text": "x"})
        assert await _resources_and_prompts(client) == ([], [])  # a toolset is tools only


async def _resources_and_prompts(client: Client) -> tuple[list[Any], list[Any]]:
    """What the endpoint offers besides tools (a method it does not serve counts as none)."""
    try:
        resources = list((await client.list_resources()).resources)
    except MCPError:
        resources = []
    try:
        prompts = list((await client.list_prompts()).prompts)
    except MCPError:
        prompts = []
    return resources, prompts


@pytest.mark.anyio
async def test_unknown_toolset_is_404_and_a_session_belongs_to_its_toolset(
    live: LiveGateway,
) -> None:
    await live.add_server("fx")
    alice = await live.new_key("user", "alice")
    headers = {**_ACCEPT, "Authorization": f"Bearer {alice}"}
    missing = await live.client.post("/mcp/toolsets/nope", json=_INIT, headers=headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["data"] == {"code": "toolset_not_found"}
    junk = await live.client.post("/mcp/toolsets/" + "%0A" * 300, json=_INIT, headers=headers)
    assert junk.status_code == 404  # no toolset can have that name: not even looked up
    assert len(junk.json()["error"]["message"]) < 200
    anonymous = await live.client.post("/mcp/toolsets/nope", json=_INIT, headers=_ACCEPT)
    assert anonymous.status_code == 401  # who asks is checked before what exists

    await _set_toolset(live, "a", [{"server": "fx", "tool": "echo"}])
    await _set_toolset(live, "b", [{"server": "fx"}])
    opened = await live.client.post("/mcp/toolsets/a", json=_INIT, headers=headers)
    assert opened.status_code == 200, opened.text
    session = {
        **headers,
        "Mcp-Session-Id": opened.headers["mcp-session-id"],
        "MCP-Protocol-Version": "2025-11-25",
    }
    listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}
    ok = await live.client.post("/mcp/toolsets/a", json=listing, headers=session)
    assert ok.status_code == 200 and "fx__echo" in ok.text and "fx__echo_args" not in ok.text
    for elsewhere in ("/mcp/toolsets/b", "/mcp", "/mcp/fx"):
        resp = await live.client.post(elsewhere, json=listing, headers=session)
        assert resp.status_code == 404, (elsewhere, resp.text)


@pytest.mark.slow
@pytest.mark.anyio
async def test_a_changed_toolset_applies_to_an_open_session_and_a_deleted_one_lists_nothing(
    live: LiveGateway,
) -> None:
    await live.add_server("fx")
    alice = await live.new_key("user", "alice")
    await _set_toolset(live, "t", [{"server": "fx", "tool": "echo"}])
    async with live.mcp_client("/mcp/toolsets/t", alice) as client:
        assert await _names(client) == {"fx__echo"}
        await _set_toolset(live, "t", [{"server": "fx", "tool": "add"}])
        assert await _names(client) == {"fx__add"}
        with pytest.raises(MCPError, match="unknown tool"):
            await client.call_tool("fx__echo", {"text": "x"})
        gone = await live.client.delete("/admin/toolsets/t", headers=live.admin)
        assert gone.status_code == 200
        with pytest.raises(MCPError, match="toolset 't' not found"):
            await client.list_tools()


@pytest.mark.slow
@pytest.mark.anyio
async def test_connect_with_a_toolset_bridges_a_stdio_client_to_that_toolset(
    live: LiveGateway,
) -> None:
    await live.add_server("fx")
    alice = await live.new_key("user", "alice")
    await _set_toolset(live, "t", [{"server": "fx", "tool": "echo"}])
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCPGW_")}
    env.update(MCPGW_URL=live.url, MCPGW_API_KEY=alice)
    bridge = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_gateway", "connect", "--toolset", "t"],
        env=env,
        cwd=str(ROOT),
    )
    async with Client(bridge, mode="legacy") as client:
        assert await _names(client) == {"fx__echo"}
        result = await client.call_tool("fx__echo", {"text": "bridged"})
        assert not result.is_error and result.content[0].type == "text"
        assert "bridged" in result.content[0].text
        with pytest.raises(MCPError, match="unknown tool"):
            await client.call_tool("fx__add", {"a": 1, "b": 2})
