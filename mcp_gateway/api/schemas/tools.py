"""``POST /mcp/tool/call`` and ``GET /mcp/tools``."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from mcp_gateway.api.schemas.common import Ok, QueryModel, RequestModel, ServerName, Username


class ToolCallRequest(RequestModel):
    username: Username | None = Field(None, description="defaults to 'default' (service/admin)")
    server_name: ServerName
    method_name: Annotated[str, Field(min_length=1, max_length=256)]
    args: dict[str, Any] = Field(default_factory=dict)
    run_async: bool = Field(
        False,
        alias="async",
        description="answer 202 {runId} at once and run the call in the background (/runs); "
        "also with the header 'Prefer: respond-async'",
    )


class ToolCallResponse(Ok):
    data: dict[str, Any] = Field(description="the MCP CallToolResult (isError results too)")


class ToolsQuery(QueryModel):
    username: Username | None = None


class ToolsResponse(Ok):
    tools: list[dict[str, list[dict[str, Any]]]] = Field(
        description="one object per server: {serverName: [Tool...]}, injected params hidden"
    )
