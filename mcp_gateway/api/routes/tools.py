"""``POST /mcp/tool/call`` (the hot path) and ``GET /mcp/tools``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mcp_gateway.api.auth import principal_of, runtime_of
from mcp_gateway.api.disconnect import unless_disconnected
from mcp_gateway.api.endpoint import Endpoint
from mcp_gateway.api.parsing import read_body, read_query
from mcp_gateway.api.schemas.runs import RunAccepted
from mcp_gateway.api.schemas.tools import (
    ToolCallRequest,
    ToolCallResponse,
    ToolsQuery,
    ToolsResponse,
)

_PREFIX = b'{"success":true,"data":'


async def call_tool(request: Request) -> Response:
    principal = principal_of(request)
    body = await read_body(request, ToolCallRequest)
    username = principal.acting_username(body.username)
    if body.run_async or _prefers_async(request):
        return await _start_run(request, body, username)
    tools = runtime_of(request).tools
    result = await unless_disconnected(
        request,
        tools.call(
            principal,
            username,
            body.server_name,
            body.method_name,
            body.args,
            request_id=request.state.request_id,
        ),
    )
    # Serialise the SDK model straight to JSON bytes (no dict round trip on the hot path).
    data = type(result).__pydantic_serializer__.to_json(result, by_alias=True, exclude_none=True)
    return Response(_PREFIX + data + b"}", media_type="application/json")


def _prefers_async(request: Request) -> bool:
    """RFC 7240 ``Prefer: respond-async`` (among other preferences, any case)."""
    prefer = request.headers.get("prefer")
    if not prefer:
        return False
    tokens = (part.split(";")[0].split("=")[0].strip().lower() for part in prefer.split(","))
    return "respond-async" in tokens


async def _start_run(request: Request, body: ToolCallRequest, username: str) -> Response:
    run = await runtime_of(request).runs.start(
        principal_of(request),
        username,
        body.server_name,
        body.method_name,
        body.args,
        request_id=request.state.request_id,
    )
    answer = RunAccepted(run_id=run.id).model_dump(mode="json", by_alias=True)
    headers = {"Location": f"/runs/{run.id}", "Preference-Applied": "respond-async"}
    return JSONResponse(answer, status_code=202, headers=headers)


async def list_tools(request: Request) -> JSONResponse:
    principal = principal_of(request)
    query = read_query(request, ToolsQuery)
    username = principal.acting_username(query.username)
    listing = await runtime_of(request).tools.list_tools(username)
    return JSONResponse({"success": True, "tools": [{name: tools} for name, tools in listing]})


ENDPOINTS = [
    Endpoint(
        "POST",
        "/mcp/tool/call",
        call_tool,
        "Call a tool as a username, with that user's secrets injected (async: 202 + a run)",
        "tools",
        body=ToolCallRequest,
        response=ToolCallResponse,
        errors=(400, 401, 403, 404, 409, 413, 429, 502, 503, 504),
    ),
    Endpoint(
        "GET",
        "/mcp/tools",
        list_tools,
        "List every enabled server's tools (injected parameters hidden)",
        "tools",
        query=ToolsQuery,
        response=ToolsResponse,
        errors=(400, 401, 403),
    ),
]
