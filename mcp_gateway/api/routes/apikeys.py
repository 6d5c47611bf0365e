"""``/admin/apikeys`` (admin only)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from mcp_gateway.api.auth import runtime_of
from mcp_gateway.api.endpoint import Endpoint
from mcp_gateway.api.parsing import read_body
from mcp_gateway.api.schemas.apikeys import (
    ApiKeyCreated,
    ApiKeyCreateRequest,
    ApiKeyList,
    ApiKeyOut,
)
from mcp_gateway.api.schemas.common import Deleted


async def create_key(request: Request) -> JSONResponse:
    body = await read_body(request, ApiKeyCreateRequest)
    record, key = await runtime_of(request).apikeys.create(body.name, body.role, body.username)
    out = ApiKeyCreated(key=key, **ApiKeyOut.of(record).model_dump())
    return JSONResponse(out.model_dump(mode="json"))


async def list_keys(request: Request) -> JSONResponse:
    records = await runtime_of(request).apikeys.list()
    body = ApiKeyList(keys=[ApiKeyOut.of(r) for r in records])
    return JSONResponse(body.model_dump(mode="json"))


async def revoke_key(request: Request) -> JSONResponse:
    key_id = request.path_params["id"]
    deleted = await runtime_of(request).apikeys.revoke(key_id)
    message = f"revoked API key {key_id}" if deleted else "no such API key (nothing to do)"
    return JSONResponse(Deleted(deleted=deleted, message=message).model_dump(mode="json"))


ENDPOINTS = [
    Endpoint(
        "POST",
        "/admin/apikeys",
        create_key,
        "Create an API key (the key is shown once)",
        "apikeys",
        body=ApiKeyCreateRequest,
        response=ApiKeyCreated,
        auth="admin",
        errors=(400, 401, 403, 413),
    ),
    Endpoint(
        "GET",
        "/admin/apikeys",
        list_keys,
        "List API keys (never the keys)",
        "apikeys",
        response=ApiKeyList,
        auth="admin",
        errors=(401, 403),
    ),
    Endpoint(
        "DELETE",
        "/admin/apikeys/{id}",
        revoke_key,
        "Revoke an API key (idempotent: 200 when it does not exist)",
        "apikeys",
        response=Deleted,
        auth="admin",
        errors=(401, 403),
    ),
]
