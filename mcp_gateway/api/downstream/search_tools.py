"""Tool search for large catalogues: three gateway tools instead of every tool.

When the caller's catalogue on ``/mcp`` has more than ``MCPGW_TOOL_SEARCH_THRESHOLD`` tools,
or the endpoint URL carries ``?tools=search`` (any ``/mcp...`` endpoint), ``tools/list`` shows
only :data:`SEARCH`, :data:`DESCRIBE` and :data:`CALL` (``?tools=all`` always lists every
tool). The catalogue behind them is the caller's own listing (``Catalogue.listed``: hidden
injected parameters already removed), fetched afresh for each of these calls; its ranking index
(``domain.tool_search``) is cached per distinct catalogue and rebuilt when the listing differs.

:data:`CALL` goes through the endpoint's one call path (routing, the user's secrets injected,
masking, audit, limits, progress), exactly as a direct ``tools/call`` of that name would; a
failure the model can correct (an unknown name, bad arguments) is an ``isError`` result that
says so.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import mcp_types as types

from mcp_gateway.domain import tool_names
from mcp_gateway.domain.tool_search import SearchDoc, ToolIndex
from mcp_gateway.errors import GatewayError, InvalidRequest

SEARCH = "gateway__search_tools"
DESCRIBE = "gateway__describe_tool"
CALL = "gateway__call_tool"
NAMES = frozenset({SEARCH, DESCRIBE, CALL})
DEFAULT_LIMIT = 10
MAX_LIMIT = 50
_DESCRIPTION_CUT = 300  # characters of a description in a search result
_CACHED_INDEXES = 8

Invoke = Callable[[str, dict[str, Any]], Awaitable[types.CallToolResult]]
ErrorResult = Callable[[GatewayError], types.CallToolResult]

TOOLS: tuple[types.Tool, ...] = (
    types.Tool(
        name=SEARCH,
        description=(
            "Search the tools available through this gateway (too many to list) by what "
            "you want to do. Returns the best matching tool names with their descriptions "
            f"and parameter names. Then call {DESCRIBE} for a tool's full input schema and "
            f"{CALL} to call it."
        ),
        input_schema={
            "type": "object",
            "properties": {
                "query": {
                    "type": "string",
                    "description": "what the tool should do, in words (or a tool name)",
                },
                "limit": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_LIMIT,
                    "default": DEFAULT_LIMIT,
                    "description": "how many tools to return",
                },
            },
            "required": ["query"],
        },
    ),
    types.Tool(
        name=DESCRIBE,
        description=f"The full definition (input schema included) of a tool {SEARCH} found.",
        input_schema={
            "type": "object",
            "properties": {"name": {"type": "string", "description": "the tool's name"}},
            "required": ["name"],
        },
    ),
    types.Tool(
        name=CALL,
        description=(
            f"Call a tool {SEARCH} found, by name, with arguments matching the input schema "
            f"{DESCRIBE} gives."
        ),
        input_schema={
            "type": "object",
            "properties": {
                "name": {"type": "string", "description": "the tool's name"},
                "arguments": {"type": "object", "description": "the tool's arguments"},
            },
            "required": ["name"],
        },
    ),
)


def requested_mode(scope: Any) -> str | None:
    """``"search"`` or ``"all"`` when the endpoint URL's ``tools`` parameter asks for it."""
    raw = scope.get("query_string", b"") if isinstance(scope, dict) else b""
    if not raw:
        return None
    value = parse_qs(raw.decode("latin-1")).get("tools", [""])[-1]
    return value if value in ("search", "all") else None


def _properties(tool: dict[str, Any]) -> dict[str, Any]:
    """A tool's parameters by name ({} when its schema has none, or a malformed one)."""
    schema = tool.get("inputSchema")
    properties = schema.get("properties") if isinstance(schema, dict) else None
    return properties if isinstance(properties, dict) else {}


def search_docs(listed: list[dict[str, Any]], aggregated: bool) -> tuple[SearchDoc, ...]:
    """What the index ranks, from a listing of tool JSON (names as the caller calls them)."""
    docs = []
    for tool in listed:
        name = str(tool["name"])
        server, part = "", name
        if aggregated:
            split = tool_names.split(name)
            if split is not None:
                server, part = split
        properties = _properties(tool)
        parameters = tuple(
            (str(key), str(spec.get("description") or "") if isinstance(spec, dict) else "")
            for key, spec in properties.items()
        )
        docs.append(SearchDoc(name, part, server, str(tool.get("description") or ""), parameters))
    return tuple(docs)


class IndexCache:
    """Built indexes by catalogue: callers who see the same tools share one, and a catalogue
    that changed (a server added, a tool's description, a secret set that hides a parameter)
    misses and is indexed anew. The key is each tool's name, description and parameter names;
    a change elsewhere (a parameter's description) is re-ranked on the next change of those.
    Results always come from the fresh listing, so a stale ranking can never show a tool the
    caller may not see."""

    def __init__(self, size: int = _CACHED_INDEXES) -> None:
        self._size = size
        self._indexes: OrderedDict[tuple[tuple[Any, ...], ...], ToolIndex] = OrderedDict()
        self.builds = 0

    def index(self, listed: list[dict[str, Any]], aggregated: bool) -> ToolIndex:
        key = tuple(
            (
                tool["name"],
                tool.get("description"),
                tuple(_properties(tool)),
            )
            for tool in listed
        )
        found = self._indexes.get(key)
        if found is not None:
            self._indexes.move_to_end(key)
            return found
        built = ToolIndex.build(search_docs(listed, aggregated))
        self.builds += 1
        self._indexes[key] = built
        if len(self._indexes) > self._size:
            self._indexes.popitem(last=False)
        return built


def _text_result(data: dict[str, Any]) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=json.dumps(data, ensure_ascii=False))],
        structured_content=data,
    )


def _summary(tool: dict[str, Any]) -> dict[str, Any]:
    description = str(tool.get("description") or "")
    if len(description) > _DESCRIPTION_CUT:
        description = description[: _DESCRIPTION_CUT - 1] + "…"
    properties = _properties(tool)
    return {"name": tool["name"], "description": description, "parameters": list(properties)}


def _string_argument(arguments: dict[str, Any], key: str) -> str:
    value = arguments.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"argument {key!r} must be a non-empty string")
    return value.strip()


class ToolSearch:
    """The three gateway tools over one caller's catalogue (see the module docstring)."""

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.cache = IndexCache()

    def active(self, mode: str | None, aggregated: bool, count: int) -> bool:
        """Whether ``tools/list`` offers the search tools instead of a ``count``-tool
        catalogue: asked for with ``?tools=search``, or past the threshold on ``/mcp``."""
        if mode is not None:
            return mode == "search"
        return aggregated and count > self.threshold

    async def call(
        self,
        name: str,
        arguments: dict[str, Any],
        listed: list[dict[str, Any]],
        aggregated: bool,
        invoke: Invoke,
        error_result: ErrorResult,
    ) -> types.CallToolResult:
        """Serve one of :data:`NAMES` over ``listed`` (the caller's fresh listing)."""
        try:
            if name == SEARCH:
                return self._search(arguments, listed, aggregated)
            target = _string_argument(arguments, "name")
            if name == DESCRIBE:
                return _text_result(_find(listed, target))
            inner = arguments.get("arguments", {})
            if inner is None:
                inner = {}
            if not isinstance(inner, dict):
                raise InvalidRequest("argument 'arguments' must be an object")
            _find(listed, target)  # only what this caller may see; a clear error otherwise
            return await invoke(target, inner)
        except GatewayError as exc:
            return error_result(exc)

    def _search(
        self, arguments: dict[str, Any], listed: list[dict[str, Any]], aggregated: bool
    ) -> types.CallToolResult:
        query = _string_argument(arguments, "query")
        limit = arguments.get("limit", DEFAULT_LIMIT)
        if limit is None:
            limit = DEFAULT_LIMIT
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise InvalidRequest(f"argument 'limit' must be an integer from 1 to {MAX_LIMIT}")
        index = self.cache.index(listed, aggregated)
        by_name = {str(tool["name"]): tool for tool in listed}
        hits = index.search(query[:1000], limit)
        found = [_summary(by_name[hit.name]) for hit in hits if hit.name in by_name]
        return _text_result({"tools": found, "catalogue": len(listed)})


def _find(listed: list[dict[str, Any]], name: str) -> dict[str, Any]:
    for tool in listed:
        if tool["name"] == name:
            return tool
    raise InvalidRequest(
        f"unknown tool {name[:200]!r}: use {SEARCH} to find the names of the available tools"
    )
