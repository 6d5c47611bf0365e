"""Which server a name or URI of a ``/mcp...`` endpoint routes to: shared by the content
handlers and the resource subscriptions of notify.py."""

from __future__ import annotations

from mcp.shared.exceptions import MCPError

from mcp_gateway.api.downstream.caller import Caller
from mcp_gateway.api.downstream.rpc_errors import rpc_error
from mcp_gateway.api.runtime_port import GatewayRuntime
from mcp_gateway.domain import resource_uris, tool_names
from mcp_gateway.errors import NotFound


def unknown(what: str, name: str) -> MCPError:
    return rpc_error(NotFound(f"unknown {what} {name[:200]!r}"))


async def resource_target(runtime: GatewayRuntime, caller: Caller, uri: str) -> tuple[str, str]:
    """(server, upstream URI) of a URI the caller's endpoint serves. Raises MCPError -32602
    for one that names no server (or any, on a toolset endpoint)."""
    if caller.server is not None:
        return caller.server, uri
    parts = resource_uris.split_uri(uri) if caller.toolset is None else None
    server = await server_of(runtime, parts[0]) if parts is not None else None
    if parts is None or server is None:
        raise unknown("resource", uri)
    return server, parts[1]


async def server_of(runtime: GatewayRuntime, part: str) -> str | None:
    """The server whose part of names and URIs is ``part`` (one store read)."""
    for server in await runtime.store.list_servers():
        if tool_names.server_part(server.name) == part:
            return server.name
    return None
