"""``/admin/toolsets``: named subsets of tools served at ``/mcp/toolsets/{name}``.

The body's shape is checked here; the rules (name, server and tool names, duplicates, sizes)
are :func:`mcp_gateway.domain.toolsets.validate_toolset`'s, applied by the service, so the CLI
and the API refuse the same things with the same messages.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from mcp_gateway.api.schemas.audit import iso_time
from mcp_gateway.api.schemas.common import Ok, RequestModel, ResponseModel
from mcp_gateway.domain import tool_names
from mcp_gateway.domain.toolsets import (
    ALL_TOOLS,
    MAX_DESCRIPTION,
    MAX_ENTRIES,
    MAX_TOOL_NAME,
    Toolset,
    ToolsetEntry,
)

_LOOSE_MAX = 1024  # shape only: the domain names the exact limit


class ToolsetEntryIn(RequestModel):
    server: Annotated[str, Field(max_length=_LOOSE_MAX, description="a server name")]
    tool: Annotated[
        str,
        Field(
            max_length=_LOOSE_MAX,
            description=f"the server's own tool name (at most {MAX_TOOL_NAME} characters), "
            f"or '{ALL_TOOLS}' for all its tools",
        ),
    ] = ALL_TOOLS


class ToolsetIn(RequestModel):
    name: str | None = Field(
        None, max_length=_LOOSE_MAX, description="required on POST; on PUT the path's"
    )
    description: Annotated[str, Field(max_length=MAX_DESCRIPTION)] = ""
    tools: Annotated[list[ToolsetEntryIn], Field(max_length=MAX_ENTRIES)] = []

    def toolset(self, name: str) -> Toolset:
        entries = tuple(ToolsetEntry(e.server, e.tool) for e in self.tools)
        return Toolset(name=name, description=self.description, tools=entries)


class ToolsetEntryOut(ResponseModel):
    server: str
    tool: str
    mcp_name: str | None = Field(
        None, description="the tool's name on /mcp and /mcp/toolsets/{name} (none for '*')"
    )


class ToolsetOut(ResponseModel):
    name: str
    description: str
    tools: list[ToolsetEntryOut]
    endpoint: str = Field(description="the toolset's MCP endpoint path")
    created_at: str = Field(description="ISO 8601 UTC")
    updated_at: str = Field(description="ISO 8601 UTC")

    @classmethod
    def of(cls, toolset: Toolset) -> ToolsetOut:
        return cls(
            name=toolset.name,
            description=toolset.description,
            tools=[
                ToolsetEntryOut(
                    server=e.server,
                    tool=e.tool,
                    mcp_name=None
                    if e.tool == ALL_TOOLS
                    else tool_names.namespaced(e.server, e.tool),
                )
                for e in toolset.tools
            ],
            endpoint=f"/mcp/toolsets/{toolset.name}",
            created_at=iso_time(toolset.created_at),
            updated_at=iso_time(toolset.updated_at),
        )


class ToolsetOne(Ok):
    toolset: ToolsetOut


class ToolsetSaved(ToolsetOne):
    created: bool = Field(description="true when the toolset did not exist before")


class ToolsetList(Ok):
    toolsets: list[ToolsetOut]
