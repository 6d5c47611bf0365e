"""What a caller sees at an endpoint, and where a tool name leads.

``/mcp/{server}`` lists that server's tools under their own names; ``/mcp`` lists every
enabled server's tools under :func:`~mcp_gateway.domain.tool_names.namespaced` names and routes
a call back through :func:`~mcp_gateway.domain.tool_names.split`; ``/mcp/toolsets/{name}`` is
``/mcp`` narrowed to the toolset's entries, for listing and for calls. Listings come from
:class:`~mcp_gateway.services.catalogue.CatalogueService` (cached per caller and endpoint,
rebuilt per server when something that shapes them changed; injected arguments hidden as
``ToolCallService`` hides them for REST). Finding one tool (``gateway__describe_tool``,
``gateway__call_tool``, a hashed name) looks at its server only.
"""

from __future__ import annotations

from typing import Any

from mcp_gateway.api.downstream.caller import Caller
from mcp_gateway.api.runtime_port import GatewayRuntime
from mcp_gateway.domain import tool_names
from mcp_gateway.errors import InvalidRequest, ServerNotFound
from mcp_gateway.services.catalogue import CatalogueService
from mcp_gateway.services.catalogue_view import CatalogueView


def _unknown(name: str) -> InvalidRequest:
    return InvalidRequest(f"unknown tool {name[:200]!r}")


class Catalogue:
    def __init__(self, runtime: GatewayRuntime) -> None:
        self._runtime = runtime  # its services exist once it is open

    @property
    def _service(self) -> CatalogueService:
        return self._runtime.catalogue

    async def view(self, caller: Caller, *, indexed: bool = False) -> CatalogueView:
        """The caller's catalogue (``indexed``: with its search index built). Raises
        ServerNotFound (``/mcp/{server}``), ToolsetNotFound (``/mcp/toolsets/{name}``)."""
        get = self._service.indexed if indexed else self._service.view
        return await get(caller.username, server=caller.server, toolset=caller.toolset)

    async def check(self, caller: Caller) -> None:
        """Raise what listing would for an endpoint that does not exist (ServerNotFound,
        ToolsetNotFound), without listing anything."""
        if caller.server is not None:
            await self._runtime.servers.config(caller.server)
        if caller.toolset is not None:
            await self._service.toolset(caller.username, caller.toolset)

    async def count(self, caller: Caller) -> int:
        """How many tools the caller's catalogue had when last built (built now if never)."""
        known = self._service.last_count(caller.username, caller.server, caller.toolset)
        return known if known is not None else (await self.view(caller)).count

    async def find(self, caller: Caller, name: str) -> dict[str, Any] | None:
        """The tool ``name`` as the caller's listing shows it, looking only at the server the
        name leads to; None when the caller cannot see such a tool."""
        service = self._service
        server = caller.server
        if server is None:
            parts = tool_names.split(name)
            server = service.server_of_part(parts[0]) if parts is not None else None
            if server is None:
                return None
        try:
            segment = await service.server_view(
                caller.username, server, aggregated=caller.server is None, toolset=caller.toolset
            )
        except ServerNotFound:
            return None
        return segment.find(name) if segment is not None else None

    async def route(self, caller: Caller, name: str) -> tuple[str, str]:
        """``(server, tool)`` for a tool name at the caller's endpoint. Raises InvalidRequest
        for a name no server of the aggregated endpoint can have, or that is not in the
        caller's toolset (refused exactly like an unknown tool)."""
        if caller.server is not None:
            return caller.server, name
        parts = tool_names.split(name)
        server = self._service.server_of_part(parts[0]) if parts is not None else None
        if parts is None or server is None:
            raise _unknown(name)
        tool = parts[1]
        if tool_names.is_hashed(tool):
            segment = await self._service.server_view(caller.username, server, aggregated=True)
            origin = segment.origin.get(name) if segment is not None else None
            if origin is None:
                raise _unknown(name)
            tool = origin
        if caller.toolset is not None:
            toolset = await self._service.toolset(caller.username, caller.toolset)
            if not toolset.allows(server, tool):
                raise _unknown(name)
        return server, tool
