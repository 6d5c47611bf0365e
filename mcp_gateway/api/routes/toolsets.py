"""``/admin/toolsets`` (admin only): create, replace, read and delete toolsets.

``PUT /admin/toolsets/{name}`` and ``POST /admin/toolsets`` (name in the body) both create or
replace: a toolset is written whole, so a client states the full subset it wants.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from mcp_gateway.api.auth import runtime_of
from mcp_gateway.api.endpoint import Endpoint
from mcp_gateway.api.parsing import read_body
from mcp_gateway.api.schemas.common import Deleted
from mcp_gateway.api.schemas.toolsets import (
    ToolsetIn,
    ToolsetList,
    ToolsetOne,
    ToolsetOut,
    ToolsetSaved,
)
from mcp_gateway.domain.toolsets import validate_toolset_name
from mcp_gateway.errors import InvalidRequest


def _name(request: Request) -> str:
    return validate_toolset_name(request.path_params["name"])


async def _save(request: Request, name: str, body: ToolsetIn) -> JSONResponse:
    stored, created = await runtime_of(request).toolsets.put(body.toolset(name))
    out = ToolsetSaved(toolset=ToolsetOut.of(stored), created=created)
    return JSONResponse(out.model_dump(mode="json"))


async def put_toolset(request: Request) -> JSONResponse:
    name = _name(request)
    body = await read_body(request, ToolsetIn)
    if body.name is not None and body.name != name:
        raise InvalidRequest("the body's name differs from the path's (rename: create, delete)")
    return await _save(request, name, body)


async def post_toolset(request: Request) -> JSONResponse:
    body = await read_body(request, ToolsetIn)
    if body.name is None:
        raise InvalidRequest("name is required")
    return await _save(request, body.name, body)


async def list_toolsets(request: Request) -> JSONResponse:
    toolsets = await runtime_of(request).toolsets.list()
    body = ToolsetList(toolsets=[ToolsetOut.of(t) for t in toolsets])
    return JSONResponse(body.model_dump(mode="json"))


async def get_toolset(request: Request) -> JSONResponse:
    toolset = await runtime_of(request).toolsets.get(_name(request))
    return JSONResponse(ToolsetOne(toolset=ToolsetOut.of(toolset)).model_dump(mode="json"))


async def delete_toolset(request: Request) -> JSONResponse:
    name = _name(request)
    deleted = await runtime_of(request).toolsets.delete(name)
    message = f"deleted toolset {name}" if deleted else "no such toolset (nothing to do)"
    return JSONResponse(Deleted(deleted=deleted, message=message).model_dump(mode="json"))


ENDPOINTS = [
    Endpoint(
        "GET",
        "/admin/toolsets",
        list_toolsets,
        "List toolsets",
        "toolsets",
        response=ToolsetList,
        auth="admin",
        errors=(401, 403),
    ),
    Endpoint(
        "POST",
        "/admin/toolsets",
        post_toolset,
        "Create or replace a toolset (name in the body)",
        "toolsets",
        body=ToolsetIn,
        response=ToolsetSaved,
        auth="admin",
        errors=(400, 401, 403, 413),
    ),
    Endpoint(
        "GET",
        "/admin/toolsets/{name}",
        get_toolset,
        "One toolset",
        "toolsets",
        response=ToolsetOne,
        auth="admin",
        errors=(400, 401, 403, 404),
    ),
    Endpoint(
        "PUT",
        "/admin/toolsets/{name}",
        put_toolset,
        "Create or replace a toolset",
        "toolsets",
        body=ToolsetIn,
        response=ToolsetSaved,
        auth="admin",
        errors=(400, 401, 403, 413),
    ),
    Endpoint(
        "DELETE",
        "/admin/toolsets/{name}",
        delete_toolset,
        "Delete a toolset (idempotent: 200 when it does not exist)",
        "toolsets",
        response=Deleted,
        auth="admin",
        errors=(400, 401, 403),
    ),
]
