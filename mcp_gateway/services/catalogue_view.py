"""A caller's catalogue as built pieces: one :class:`Segment` per server, a
:class:`CatalogueView` over them.

A segment is one server's tools as one kind of caller sees them (injected parameters hidden,
named as the endpoint names them, narrowed to a toolset's entries): built once from the
session's tool list and shared by every caller and view that sees the same (the cache in
services/catalogue.py). Its search index segment is built on the first search that needs it.
A view is the segments of one caller's endpoint in server order; its listing, name lookup and
search index are concatenations of its segments', made once per view.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from mcp_types import Tool

from mcp_gateway.domain import tool_names
from mcp_gateway.domain.tool_search import IndexSegment, SearchDoc, ToolIndex
from mcp_gateway.domain.toolsets import Toolset
from mcp_gateway.services.tool_listing import tool_json

ToolJson = dict[str, Any]


def properties(tool: Mapping[str, Any]) -> dict[str, Any]:
    """A tool's parameters by name ({} when its schema has none, or a malformed one)."""
    schema = tool.get("inputSchema")
    properties = schema.get("properties") if isinstance(schema, dict) else None
    return properties if isinstance(properties, dict) else {}


def search_doc(tool: Mapping[str, Any], server_part: str, tool_part: str) -> SearchDoc:
    """What the index ranks of one tool (JSON named as the caller calls it)."""
    parameters = tuple(
        (str(key), str(spec.get("description") or "") if isinstance(spec, dict) else "")
        for key, spec in properties(tool).items()
    )
    return SearchDoc(
        str(tool["name"]), tool_part, server_part, str(tool.get("description") or ""), parameters
    )


class Segment:
    """One server's tools for one kind of caller. ``tools`` must never be mutated (shared).
    ``origin`` maps a listed name to the server's own tool name."""

    def __init__(
        self,
        server: str,
        source: tuple[Tool, ...],
        hidden: frozenset[str],
        *,
        aggregated: bool,
        toolset: Toolset | None = None,
    ) -> None:
        self.server = server
        self.source = source  # kept: the cache compares it (and the toolset) by identity
        self.toolset = toolset
        self.aggregated = aggregated
        self.prefix = tool_names.server_part(server) if aggregated else ""
        tools: list[ToolJson] = []
        origin: dict[str, str] = {}
        for tool in source:
            if toolset is not None and not toolset.allows(server, tool.name):
                continue
            data = tool_json(tool, hidden)
            name = tool_names.namespaced(server, tool.name) if aggregated else tool.name
            data["name"] = name
            origin[name] = tool.name
            tools.append(data)
        self.tools: tuple[ToolJson, ...] = tuple(tools)
        self.origin: Mapping[str, str] = origin

    def __len__(self) -> int:
        return len(self.tools)

    def find(self, name: str) -> ToolJson | None:
        return self.by_name.get(name)

    @functools.cached_property
    def by_name(self) -> Mapping[str, ToolJson]:
        return {str(tool["name"]): tool for tool in self.tools}

    @functools.cached_property
    def models(self) -> tuple[Tool, ...]:
        """``tools`` as SDK models (what ``tools/list`` answers; shared: never mutate)."""
        return tuple(Tool.model_validate(tool) for tool in self.tools)

    @functools.cached_property
    def index(self) -> IndexSegment:
        return IndexSegment.build(
            [search_doc(tool, self.prefix, self.origin_part(tool)) for tool in self.tools]
        )

    def origin_part(self, tool: Mapping[str, Any]) -> str:
        """The tool part of a listed name (the name itself on a single-server endpoint)."""
        name = str(tool["name"])
        if not self.aggregated:
            return name
        split = tool_names.split(name)
        return split[1] if split is not None else name

    @property
    def indexed(self) -> bool:
        return "index" in self.__dict__


class CatalogueView:
    """One caller's catalogue at one endpoint (segments in server order)."""

    def __init__(self, segments: Sequence[Segment]) -> None:
        self.segments = tuple(segments)
        self.count = sum(len(segment) for segment in self.segments)

    @functools.cached_property
    def tools(self) -> list[ToolJson]:
        """Every tool as MCP JSON (shared dicts: never mutate them)."""
        return [tool for segment in self.segments for tool in segment.tools]

    @functools.cached_property
    def models(self) -> list[Tool]:
        """Every tool as an SDK model (shared: never mutate them)."""
        return [model for segment in self.segments for model in segment.models]

    @functools.cached_property
    def _by_prefix(self) -> Mapping[str, Segment]:
        return {segment.prefix: segment for segment in self.segments}

    def find(self, name: str) -> ToolJson | None:
        """A tool by the name the caller calls it: its server's segment by the name's server
        part (no catalogue-wide map to build after every change)."""
        if len(self.segments) == 1:
            return self.segments[0].by_name.get(name)
        parts = tool_names.split(name)
        segment = self._by_prefix.get(parts[0]) if parts is not None else None
        return segment.by_name.get(name) if segment is not None else None

    @property
    def unindexed(self) -> int:
        """Tools whose segment has no index yet (what the next search would index)."""
        return sum(len(segment) for segment in self.segments if not segment.indexed)

    @functools.cached_property
    def index(self) -> ToolIndex:
        return ToolIndex([segment.index for segment in self.segments if len(segment)])
