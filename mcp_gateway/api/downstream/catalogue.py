"""What a caller sees at an endpoint, and where a tool name leads.

``/mcp/{server}`` lists that server's tools under their own names; ``/mcp`` lists every
enabled server's tools under :func:`~mcp_gateway.domain.tool_names.namespaced` names and routes
a call back through :func:`~mcp_gateway.domain.tool_names.split`; ``/mcp/toolsets/{name}`` is
``/mcp`` narrowed to the toolset's entries, for listing and for calls. Both listings come from
:meth:`ToolCallService.list_tools` / ``list_server_tools``: the one place that hides the
arguments the gateway injects for that user.
"""

from __future__ import annotations

from typing import Any

import mcp_types as types

from mcp_gateway.api.downstream.caller import Caller
from mcp_gateway.api.runtime_port import GatewayRuntime
from mcp_gateway.domain import tool_names
from mcp_gateway.domain.toolsets import Toolset
from mcp_gateway.errors import InvalidRequest
from mcp_gateway.services.tool_calls import ToolCallService


def _unknown(name: str) -> InvalidRequest:
    return InvalidRequest(f"unknown tool {name[:200]!r}")


class Catalogue:
    def __init__(self, runtime: GatewayRuntime) -> None:
        self._runtime = runtime  # its services exist once it is open
        # server part -> server name: deterministic, so an entry is never wrong, at most stale
        # (a deleted server, whose call then fails with server_not_found).
        self._servers: dict[str, str] = {}

    @property
    def _tools(self) -> ToolCallService:
        return self._runtime.tools

    async def tools(self, caller: Caller) -> list[types.Tool]:
        return [types.Tool.model_validate(tool) for tool in await self.listed(caller)]

    async def listed(self, caller: Caller) -> list[dict[str, Any]]:
        """The caller's tools as MCP JSON under the names the caller calls them by."""
        if caller.server is not None:
            return await self._tools.list_server_tools(caller.username, caller.server)
        toolset = await self._toolset(caller)  # None but on /mcp/toolsets/{name}
        out: list[dict[str, Any]] = []
        for server, listed in await self._tools.list_tools(caller.username):
            self._servers[tool_names.server_part(server)] = server
            out.extend(
                {**tool, "name": tool_names.namespaced(server, tool["name"])}
                for tool in listed
                if toolset is None or toolset.allows(server, str(tool["name"]))
            )
        return out

    async def _toolset(self, caller: Caller) -> Toolset | None:
        """The caller's toolset, read on each request (raises ToolsetNotFound once deleted)."""
        if caller.toolset is None:
            return None
        return await self._runtime.toolsets.get(caller.toolset)

    async def route(self, caller: Caller, name: str) -> tuple[str, str]:
        """``(server, tool)`` for a tool name at the caller's endpoint. Raises InvalidRequest
        for a name no server of the aggregated endpoint can have, or that is not in the
        caller's toolset (refused exactly like an unknown tool)."""
        server, tool = await self._route(caller, name)
        toolset = await self._toolset(caller)
        if toolset is not None and not toolset.allows(server, tool):
            raise _unknown(name)
        return server, tool

    async def _route(self, caller: Caller, name: str) -> tuple[str, str]:
        if caller.server is not None:
            return caller.server, name
        parts = tool_names.split(name)
        if parts is None:
            raise _unknown(name)
        prefix, part = parts
        server = self._servers.get(prefix)
        if server is None:
            await self.listed(caller)  # a server added since this process last listed
            server = self._servers.get(prefix)
            if server is None:
                raise _unknown(name)
        if not tool_names.is_hashed(part):
            return server, part
        for tool in await self._tools.list_server_tools(caller.username, server):
            if tool_names.namespaced(server, tool["name"]) == name:
                return server, str(tool["name"])
        raise _unknown(name)
