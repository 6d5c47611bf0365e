"""A server's tools as one user sees them: MCP JSON without the arguments the gateway injects
for that user (the REST listing, ``ToolCallService.list_tools``, and the MCP endpoint's
catalogue, ``services/catalogue.py``, both use these)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from mcp_types import Tool

from mcp_gateway.domain.servers import ServerConfig
from mcp_gateway.services.injection import hidden_arguments, hide_parameters
from mcp_gateway.services.oauth.google import GOOGLE_ARGUMENTS, is_google_server


def hidden_for(server: ServerConfig, secret_names: Collection[str]) -> frozenset[str]:
    """The argument names hidden from a user with ``secret_names`` set for ``server``."""
    hidden = hidden_arguments(server, secret_names)
    if is_google_server(server):
        hidden |= GOOGLE_ARGUMENTS
    return hidden


def tool_json(tool: Tool, hidden: frozenset[str]) -> dict[str, Any]:
    data = tool.model_dump(by_alias=True, mode="json", exclude_none=True)
    if hidden:
        data["inputSchema"] = hide_parameters(data.get("inputSchema") or {}, hidden)
    return data
