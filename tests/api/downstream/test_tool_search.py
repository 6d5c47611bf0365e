"""Tool search on the MCP endpoint: past the threshold, or with ``?tools=search``, tools/list
offers gateway__search_tools/describe_tool/call_tool, and calls go through the one call path."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from mcp.client import Client
from mcp.shared.exceptions import MCPError

from mcp_gateway.api.downstream.search_tools import CALL, DESCRIBE, NAMES, SEARCH
from mcp_gateway.api.downstream.server import ERROR_META_KEY
from tests.api.conftest import secrets_section
from tests.api.downstream.conftest import MODES, LiveGateway, MakeLive


async def _names(client: Client) -> set[str]:
    return {tool.name for tool in (await client.list_tools()).tools}


async def _data(client: Client, name: str, arguments: dict[str, Any]) -> Any:
    result = await client.call_tool(name, arguments)
    assert not result.is_error, result
    assert result.content[0].type == "text"
    return json.loads(result.content[0].text)


@pytest.mark.anyio
async def test_past_the_threshold_the_aggregated_endpoint_lists_only_the_search_tools(
    make_live: MakeLive,
) -> None:
    async with make_live(endpoint={"tool_search_threshold": 5}) as live:
        await live.add_server("fx")  # the fixture has more than 5 tools
        alice = await live.new_key("user", "alice")
        async with live.mcp_client("/mcp", alice) as client:
            assert await _names(client) == NAMES
        # /mcp/{server} is a faithful pass-through: no threshold there ...
        async with live.mcp_client("/mcp/fx", alice) as client:
            assert "echo" in await _names(client)
        # ... and ?tools=all lists every tool anyway.
        async with live.mcp_client("/mcp?tools=all", alice) as client:
            assert {"fx__echo", "fx__add"} <= await _names(client)


@pytest.mark.anyio
async def test_under_the_default_threshold_every_tool_is_listed_and_search_names_are_not_served(
    live: LiveGateway,
) -> None:
    await live.add_server("fx")
    alice = await live.new_key("user", "alice")
    async with live.mcp_client("/mcp", alice) as client:
        names = await _names(client)
        assert {"fx__echo", "fx__add"} <= names and not names & NAMES
        # Not in search mode: the name routes like any other, and no server "gateway" exists.
        with pytest.raises(MCPError, match="unknown tool 'gateway__search_tools'"):
            await client.call_tool(SEARCH, {"query": "add"})


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_search_finds_the_obvious_tool_and_call_tool_injects_the_users_hidden_secret(
    make_live: MakeLive, backend: str, mode: str
) -> None:
    async with make_live(backend, secrets=secrets_section(backend)) as live:
        await live.add_server("fx")
        alice = await live.new_key("user", "alice")
        await live.set_secret(alice, "fx", "token", "search-canary-4242")
        async with live.mcp_client("/mcp?tools=search", alice, mode=mode) as client:
            assert await _names(client) == NAMES
            found = await _data(client, SEARCH, {"query": "add two numbers", "limit": 3})
            assert found["tools"][0]["name"] == "fx__add"
            assert len(found["tools"]) <= 3
            described = await _data(client, DESCRIBE, {"name": "fx__echo_args"})
            properties = described["inputSchema"]["properties"]
            assert "text" in properties and "token" not in properties  # hidden, as in tools/list
            echoed = await _data(
                client, CALL, {"name": "fx__echo_args", "arguments": {"text": "hi", "token": "x"}}
            )
            assert echoed == {
                "text": "hi",
                "token": "search-canary-4242",
                "api_key": "",
                "extra": "",
            }
            found = await _data(client, SEARCH, {"query": "echo token argument"})
            assert "search-canary-4242" not in json.dumps(found)
        # The call went through the one tool-call path: audited as fx/echo_args, no value.
        with anyio.fail_after(30):
            while True:
                audit = await live.runtime.store.list_audit(50)
                events = [e for e in audit if e.action == "tool_call"]
                if events:
                    break
                await anyio.sleep(0.05)
        assert [(e.server, e.tool, e.outcome) for e in events] == [("fx", "echo_args", "ok")]
        assert not any("search-canary-4242" in repr(e) for e in events)


@pytest.mark.anyio
async def test_search_tools_on_a_server_endpoint_use_its_unprefixed_names(
    live: LiveGateway,
) -> None:
    await live.add_server("fx")
    alice = await live.new_key("user", "alice")
    async with live.mcp_client("/mcp/fx?tools=search", alice) as client:
        assert await _names(client) == NAMES
        found = await _data(client, SEARCH, {"query": "echo"})
        assert found["tools"][0]["name"] == "echo"
        assert await _data(client, CALL, {"name": "add", "arguments": {"a": 2, "b": 3}}) == 5.0


@pytest.mark.anyio
async def test_unknown_names_and_bad_arguments_are_error_results_that_say_what_to_do(
    live: LiveGateway,
) -> None:
    await live.add_server("fx")
    alice = await live.new_key("user", "alice")
    async with live.mcp_client("/mcp?tools=search", alice) as client:
        for name, arguments, expected in (
            (CALL, {"name": "fx__nope", "arguments": {}}, "unknown tool 'fx__nope'"),
            (DESCRIBE, {"name": "nosuch__tool"}, "unknown tool 'nosuch__tool'"),
            (CALL, {"name": "fx__echo", "arguments": [1]}, "'arguments' must be an object"),
            (SEARCH, {"query": ""}, "'query' must be a non-empty string"),
            (SEARCH, {"query": "x", "limit": 500}, "'limit' must be an integer from 1 to 50"),
        ):
            result = await client.call_tool(name, arguments)
            assert result.is_error, (name, arguments)
            assert result.content[0].type == "text"
            assert expected in result.content[0].text
            assert result.meta is not None
            assert result.meta[ERROR_META_KEY]["code"] == "invalid_request"
        unknown = await client.call_tool(CALL, {"name": "fx__nope"})
        assert SEARCH in unknown.content[0].text  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_an_upstream_protocol_error_through_call_tool_is_a_masked_error_result(
    live: LiveGateway,
) -> None:
    await live.add_server("fx")
    alice = await live.new_key("user", "alice")
    await live.set_secret(alice, "fx", "token", "rpc-canary-9191")
    async with live.mcp_client("/mcp?tools=search", alice) as client:
        arguments = {"text": "t", "mode": "protocol"}
        result = await client.call_tool(
            CALL, {"name": "fx__fail_with_args", "arguments": arguments}
        )
    assert result.is_error  # the model can read it (a direct call gets a JSON-RPC error)
    assert result.content[0].type == "text"
    assert "rpc-canary-9191" not in result.content[0].text
    assert result.meta is not None
    assert result.meta[ERROR_META_KEY]["rpcCode"] == -32000
    assert "rpc-canary-9191" not in json.dumps(result.meta)


@pytest.mark.anyio
async def test_on_a_toolset_endpoint_search_sees_only_the_toolsets_tools(
    live: LiveGateway,
) -> None:
    await live.add_server("fx")
    tools = [{"server": "fx", "tool": "echo"}, {"server": "fx", "tool": "echo_args"}]
    resp = await live.client.put("/admin/toolsets/t", json={"tools": tools}, headers=live.admin)
    assert resp.status_code == 200, resp.text
    alice = await live.new_key("user", "alice")
    async with live.mcp_client("/mcp/toolsets/t?tools=search", alice) as client:
        assert await _names(client) == NAMES
        found = await _data(client, SEARCH, {"query": "add two numbers echo", "limit": 50})
        assert {t["name"] for t in found["tools"]} == {"fx__echo", "fx__echo_args"}
        assert found["catalogue"] == 2
        outside = await client.call_tool(CALL, {"name": "fx__add", "arguments": {"a": 1, "b": 2}})
        assert outside.is_error  # in /mcp's catalogue, not in the toolset's
        assert "unknown tool 'fx__add'" in outside.content[0].text  # type: ignore[union-attr]
        inside = await client.call_tool(CALL, {"name": "fx__echo", "arguments": {"text": "in"}})
        assert not inside.is_error
        assert inside.content[0].type == "text" and inside.content[0].text == "in"
