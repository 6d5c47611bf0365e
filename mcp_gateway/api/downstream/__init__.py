"""The gateway's own MCP endpoint (the MCP server side, design.md's ``downstream``).

``/mcp/{server}`` serves one upstream server with its own tool names; ``/mcp`` (aggregated)
serves every enabled server the caller may use, tool names namespaced by server;
``/mcp/toolsets/{name}`` serves ``/mcp`` narrowed to a toolset's tools. Both speak
Streamable HTTP in both protocol eras (2025-11-25 with ``Mcp-Session-Id``, 2026-07-28
sessionless), through the SDK's ``StreamableHTTPSessionManager``. Every tool call goes through
:class:`~mcp_gateway.services.tool_calls.ToolCallService`, the path REST calls take.

It lives inside ``api`` (the HTTP surface) so that it shares the REST API's authentication and
app; it imports nothing from the REST routes. See docs/mcp-endpoint.md.
"""
