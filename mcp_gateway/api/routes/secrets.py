"""``/secrets``: scoped to the acting username (a user key: its own only)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from mcp_gateway.api.auth import principal_of, runtime_of
from mcp_gateway.api.endpoint import Endpoint
from mcp_gateway.api.parsing import read_body, read_query
from mcp_gateway.api.schemas.common import Deleted, Ok
from mcp_gateway.api.schemas.secrets import (
    SecretDeleteRequest,
    SecretNamesResponse,
    SecretSetRequest,
    SecretsQuery,
)
from mcp_gateway.domain.records import Role
from mcp_gateway.errors import Forbidden
from mcp_gateway.services.injection import injected_name
from mcp_gateway.services.oauth.google import GOOGLE_TOKENS_SECRET, is_google_server


async def set_secret(request: Request) -> JSONResponse:
    principal = principal_of(request)
    body = await read_body(request, SecretSetRequest)
    username = principal.acting_username(body.username)
    secrets = runtime_of(request).secrets
    owner = await secrets.owner(body.server_name, body.secret_name)
    stored_as = injected_name(owner, body.secret_name)  # "<server>.NAME" is NAME
    if principal.role is Role.USER and stored_as == GOOGLE_TOKENS_SECRET:
        # Set by the caller it would skip the Google login and have the gateway send its
        # client secret alongside credentials the caller chose.
        server = await runtime_of(request).store.get_server(owner)
        if server is not None and is_google_server(server):
            raise Forbidden(
                f"{GOOGLE_TOKENS_SECRET} of a Google server is set by the Google login "
                "(GET /auth/google/login), not by a user key"
            )
    await secrets.set(username, owner, body.secret_name, body.secret_value.get_secret_value())
    return JSONResponse(Ok().model_dump(mode="json"))


async def delete_secret(request: Request) -> JSONResponse:
    principal = principal_of(request)
    body = await read_body(request, SecretDeleteRequest)
    username = principal.acting_username(body.username)
    name = body.secret_name
    secrets = runtime_of(request).secrets
    owner = await secrets.owner(body.server_name, name)
    deleted = await secrets.delete(username, owner, name)
    message = f"deleted secret {name}" if deleted else f"secret {name} was not set (nothing to do)"
    return JSONResponse(Deleted(deleted=deleted, message=message).model_dump(mode="json"))


async def list_secrets(request: Request) -> JSONResponse:
    principal = principal_of(request)
    query = read_query(request, SecretsQuery)
    username = principal.acting_username(query.username)
    names = await runtime_of(request).secrets.names(username, query.server_name)
    body = SecretNamesResponse(username=username, server_name=query.server_name, secrets=names)
    return JSONResponse(body.model_dump(mode="json"))


ENDPOINTS = [
    Endpoint(
        "POST",
        "/secrets/set",
        set_secret,
        "Store (encrypted) a secret for a username",
        "secrets",
        body=SecretSetRequest,
        response=Ok,
        errors=(400, 401, 403, 404, 413),
    ),
    Endpoint(
        "POST",
        "/secrets/delete",
        delete_secret,
        "Delete a secret of a username (idempotent: 200 when it is not set; 404 only for an "
        "unknown server)",
        "secrets",
        body=SecretDeleteRequest,
        response=Deleted,
        errors=(400, 401, 403, 404, 413),
    ),
    Endpoint(
        "GET",
        "/secrets",
        list_secrets,
        "Secret names (never values) for a server",
        "secrets",
        query=SecretsQuery,
        response=SecretNamesResponse,
        errors=(400, 401, 403, 404),
    ),
]
