"""An upstream's JSON-RPC error reaches the MCP client with its own code and data (masked)."""

from __future__ import annotations

import pytest
from mcp.shared.exceptions import MCPError

from tests.api.conftest import secrets_section
from tests.api.downstream.conftest import MODES, MakeLive


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_upstream_json_rpc_error_keeps_its_code_and_data_with_secrets_masked(
    make_live: MakeLive, backend: str, mode: str
) -> None:
    canary = "alice-rpc-canary-4242"
    async with make_live(backend, secrets=secrets_section(backend)) as live:
        await live.add_server("fx")
        alice = await live.new_key("user", "alice")
        await live.set_secret(alice, "fx", "token", canary)
        async with live.mcp_client("/mcp/fx", alice, mode=mode) as client:
            with pytest.raises(MCPError) as raised:
                await client.call_tool("fail_with_args", {"text": "hi", "mode": "protocol"})
    error = raised.value
    # The fixture's own -32000 and data (the MCP conformance suite checks codes like -32021
    # and their data), not the gateway's -32603.
    assert error.code == -32000
    assert error.data["args"]["text"] == "hi"
    assert error.data["args"]["token"]  # present, masked
    assert canary not in repr(error.error) and canary not in error.message
    assert "server 'fx' answered with an error" in error.message
