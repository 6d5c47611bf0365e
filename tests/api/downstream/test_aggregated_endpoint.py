"""``/mcp``: every enabled server's tools, namespaced, calls routed back."""

from __future__ import annotations

import json
import re

import pytest
from mcp.shared.exceptions import MCPError

from mcp_gateway.domain.tool_names import namespaced
from tests.api.downstream.conftest import MODES, LiveGateway


@pytest.mark.slow
@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_aggregated_endpoint_namespaces_tools_and_routes_calls_back(
    live: LiveGateway, mode: str
) -> None:
    await live.add_server("fx")
    await live.add_server("My Server.v2")
    await live.add_server("off", enabled=False, wait=False)
    alice = await live.new_key("user", "alice")
    await live.set_secret(alice, "fx", "token", "fx-canary-1")
    await live.set_secret(alice, "My Server.v2", "token", "spaced-canary-2")
    async with live.mcp_client("/mcp", alice, mode=mode) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name) for name in tools)
        spaced = namespaced("My Server.v2", "echo_args")
        assert {"fx__echo", "fx__echo_args", spaced} <= set(tools)
        assert not any(name.startswith("off__") for name in tools)  # disabled: not listed
        assert "token" not in tools["fx__echo_args"].input_schema["properties"]
        assert "token" not in tools[spaced].input_schema["properties"]
        for name, canary in (("fx__echo_args", "fx-canary-1"), (spaced, "spaced-canary-2")):
            result = await client.call_tool(name, {"text": name})
            assert not result.is_error
            assert result.content[0].type == "text"
            assert json.loads(result.content[0].text) == {
                "text": name,
                "token": canary,
                "api_key": "",
                "extra": "",
            }
        with pytest.raises(MCPError, match="unknown tool"):
            await client.call_tool("nosuchserver__echo", {"text": "x"})
