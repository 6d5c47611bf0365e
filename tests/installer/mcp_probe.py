"""Speak MCP to an installed server's command with the SDK's stdio client."""

from __future__ import annotations

from collections.abc import Sequence

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp_types import TextContent


async def call_version_tool(command: str, args: Sequence[str]) -> tuple[list[str], str]:
    """(tool names, text of the ``version`` tool's answer)."""
    with anyio.fail_after(30):
        async with Client(StdioServerParameters(command=command, args=list(args))) as client:
            tools = await client.list_tools()
            result = await client.call_tool("version", {})
    content = result.content[0]
    assert isinstance(content, TextContent)
    return [t.name for t in tools.tools], content.text
