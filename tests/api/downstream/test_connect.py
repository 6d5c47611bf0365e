"""``mcp-gateway connect``: a stdio MCP client reaches the gateway's endpoint through it."""

from __future__ import annotations

import json
import os
import sys

import pytest
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters

from tests.api.downstream.conftest import LiveGateway
from tests.gateway_process import ROOT


def _bridge(live: LiveGateway, key: str, *args: str) -> StdioServerParameters:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCPGW_")}
    env.update(MCPGW_URL=live.url, MCPGW_API_KEY=key)  # the key in the environment, not argv
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_gateway", "connect", *args],
        env=env,
        cwd=str(ROOT),
    )


@pytest.mark.slow
@pytest.mark.anyio
@pytest.mark.parametrize("args", [(), ("--server", "fx")])
async def test_stdio_client_lists_and_calls_through_connect_with_the_users_secret(
    live: LiveGateway, args: tuple[str, ...]
) -> None:
    await live.add_server("fx")
    alice = await live.new_key("user", "alice")
    await live.set_secret(alice, "fx", "token", "connect-canary-55")
    prefix = "" if args else "fx__"
    async with Client(_bridge(live, alice, *args), mode="legacy") as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert f"{prefix}echo_args" in tools
        assert "token" not in tools[f"{prefix}echo_args"].input_schema["properties"]
        result = await client.call_tool(f"{prefix}echo_args", {"text": "via stdio"})
        assert not result.is_error and result.content[0].type == "text"
        seen = json.loads(result.content[0].text)
        assert seen["text"] == "via stdio" and seen["token"] == "connect-canary-55"
