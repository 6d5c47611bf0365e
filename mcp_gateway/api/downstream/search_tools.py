"""Tool search for large catalogues: three gateway tools instead of every tool.

When the caller's catalogue on ``/mcp`` has more than ``MCPGW_TOOL_SEARCH_THRESHOLD`` tools,
or the endpoint URL carries ``?tools=search`` (any ``/mcp...`` endpoint), ``tools/list`` shows
only :data:`SEARCH`, :data:`DESCRIBE` and :data:`CALL` (``?tools=all`` always lists every
tool). The catalogue behind them is the caller's own listing (``Catalogue``: hidden injected
parameters already removed), current at each call: ``services/catalogue.py`` keeps it and its
ranking index (``domain.tool_search``, one segment per server) and rebuilds only the servers
whose tools changed for that caller. Describing or calling one tool looks at its server only.

:data:`CALL` goes through the endpoint's one call path (routing, the user's secrets injected,
masking, audit, limits, progress), exactly as a direct ``tools/call`` of that name would; a
failure the model can correct (an unknown name, bad arguments) is an ``isError`` result that
says so.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import mcp_types as types

from mcp_gateway.api.downstream.caller import Caller
from mcp_gateway.api.downstream.catalogue import Catalogue
from mcp_gateway.errors import GatewayError, InputRequired, InvalidRequest
from mcp_gateway.services.catalogue_view import CatalogueView, properties

SEARCH = "gateway__search_tools"
DESCRIBE = "gateway__describe_tool"
CALL = "gateway__call_tool"
NAMES = frozenset({SEARCH, DESCRIBE, CALL})
DEFAULT_LIMIT = 10
MAX_LIMIT = 50
_DESCRIPTION_CUT = 300  # characters of a description in a search result

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


def _text_result(data: dict[str, Any]) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=json.dumps(data, ensure_ascii=False))],
        structured_content=data,
    )


def _summary(tool: dict[str, Any]) -> dict[str, Any]:
    description = str(tool.get("description") or "")
    if len(description) > _DESCRIPTION_CUT:
        description = description[: _DESCRIPTION_CUT - 1] + "…"
    parameters = list(properties(tool))
    return {"name": tool["name"], "description": description, "parameters": parameters}


def _string_argument(arguments: dict[str, Any], key: str) -> str:
    value = arguments.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"argument {key!r} must be a non-empty string")
    return value.strip()


class ToolSearch:
    """The three gateway tools over one caller's catalogue (see the module docstring)."""

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold

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
        catalogue: Catalogue,
        caller: Caller,
        invoke: Invoke,
        error_result: ErrorResult,
    ) -> types.CallToolResult:
        """Serve one of :data:`NAMES` for ``caller``: a search over its whole catalogue, a
        description or call of one tool found on its server only."""
        try:
            if name == SEARCH:
                query, limit = _search_arguments(arguments)
                view = await catalogue.view(caller, indexed=True)
                return _text_result(search(view, query, limit))
            target = _string_argument(arguments, "name")
            inner = arguments.get("arguments", {})
            if inner is None:
                inner = {}
            if name == CALL and not isinstance(inner, dict):
                raise InvalidRequest("argument 'arguments' must be an object")
            tool = await catalogue.find(caller, target)  # only what this caller may see
            if tool is None:
                raise InvalidRequest(
                    f"unknown tool {target[:200]!r}: use {SEARCH} to find the names of the "
                    "available tools"
                )
            if name == DESCRIBE:
                return _text_result(dict(tool))  # the listing's dict is shared: not handed out
            return await invoke(target, inner)
        except InputRequired:
            raise  # the called tool's upstream asks this client for input (eras.py)
        except GatewayError as exc:
            return error_result(exc)


def _search_arguments(arguments: dict[str, Any]) -> tuple[str, int]:
    query = _string_argument(arguments, "query")
    limit = arguments.get("limit", DEFAULT_LIMIT)
    if limit is None:
        limit = DEFAULT_LIMIT
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(f"argument 'limit' must be an integer from 1 to {MAX_LIMIT}")
    return query, limit


def search(view: CatalogueView, query: str, limit: int) -> dict[str, Any]:
    """The answer of :data:`SEARCH`: the ``limit`` best tools of an indexed view."""
    hits = view.index.search(query[:1000], limit)
    found = [_summary(tool) for hit in hits if (tool := view.find(hit.name)) is not None]
    return {"tools": found, "catalogue": view.count}
