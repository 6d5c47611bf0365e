"""The called tool's schema for the SDK's ``Mcp-Param-*`` check of a 2026-07-28 ``tools/call``
it serves (one the fast path hands on, e.g. with a progress token), without a whole listing.

The SDK checks such a call's ``Mcp-Param-*`` headers against the tool's input schema before
dispatch. With no ``get_tool_input_schema`` hook it finds the schema by running the server's
``tools/list`` handler (every page, the caller's whole catalogue) for each call. Its hook is
synchronous and gets only the tool's name, while the schema a caller sees depends on its
endpoint, user and search mode and comes from the catalogue (async). So the endpoint looks the
schema up before it hands the request to the SDK (:func:`prepared`, the lookup the fast path
makes: ``GatewayServer.input_schema``), and the server offers the SDK a hook for that request
only (:func:`hook`). A request nothing was looked up for (no catalogue, a failed lookup, not a
``tools/call``) gets no hook: the SDK lists, as it always did.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from typing import Any

from starlette.requests import Request

from mcp_gateway.api.downstream import search_tools
from mcp_gateway.api.downstream.caller import Caller, caller_of

#: (tool name, its input schema or None when the caller's listing lacks it) of this request.
_LOOKED_UP: ContextVar[tuple[str, Any] | None] = ContextVar("mcpgw_param_schema", default=None)

Lookup = Callable[[Caller, str | None, str], Awaitable[Any]]
SchemaHook = Callable[[str], Mapping[str, Any] | None]


def hook() -> SchemaHook | None:
    """The SDK's ``get_tool_input_schema`` for the request being served, or None (it lists)."""
    looked_up = _LOOKED_UP.get()
    if looked_up is None:
        return None
    called, schema = looked_up

    def schema_of(name: str) -> Mapping[str, Any] | None:
        return schema if name == called and isinstance(schema, Mapping) else None

    return schema_of


async def prepared(
    lookup: Lookup | None, request: Request, decoded: Mapping[str, Any]
) -> AbstractContextManager[None]:
    """Around handing ``decoded`` (a 2026-07-28 request's body) to the SDK: its tool's schema
    looked up for the SDK's header check, when it is a ``tools/call`` whose check has anything
    to compare (the SDK skips the others without a lookup)."""
    params = decoded.get("params")
    if lookup is None or decoded.get("method") != "tools/call" or not isinstance(params, dict):
        return nullcontext()
    name, arguments = params.get("name"), params.get("arguments")
    if not isinstance(name, str) or (arguments is not None and not isinstance(arguments, dict)):
        return nullcontext()
    if not arguments and not any(h.startswith("mcp-param-") for h in request.headers):
        return nullcontext()
    try:
        mode = search_tools.requested_mode(request.scope)
        schema = await lookup(caller_of(request.scope), mode, name)
    except Exception:  # noqa: BLE001 (the SDK then lists, as without this)
        return nullcontext()
    return _holding(name, schema)


@contextmanager
def _holding(name: str, schema: Any) -> Iterator[None]:
    token = _LOOKED_UP.set((name, schema))
    try:
        yield
    finally:
        _LOOKED_UP.reset(token)
