"""``/mcp/servers``: reading is open to every key (env/header values masked for non-admins);
registering, changing and deleting servers is admin-only (a command line is code execution)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from mcp_gateway.api.auth import principal_of, runtime_of
from mcp_gateway.api.endpoint import Endpoint
from mcp_gateway.api.parsing import read_body, read_query
from mcp_gateway.api.schemas.impact import DeleteImpactResponse
from mcp_gateway.api.schemas.packages import ServerDeleteQuery, ServerRemovalResponse
from mcp_gateway.api.schemas.servers import (
    ServerCreateRequest,
    ServerListResponse,
    ServerOut,
    ServerResponse,
    ServerUpdateRequest,
)
from mcp_gateway.api.schemas.user_servers import UsernameQuery
from mcp_gateway.domain.names import validate_server_name
from mcp_gateway.domain.records import Role
from mcp_gateway.domain.user_servers import is_external
from mcp_gateway.errors import InvalidRequest
from mcp_gateway.services.servers import ServerView


def _name(request: Request) -> str:
    return validate_server_name(request.path_params["name"])


def _one(view: ServerView, admin: bool) -> JSONResponse:
    body = ServerResponse(server=ServerOut.of(view, admin=admin))
    return JSONResponse(body.model_dump(mode="json"))


async def list_servers(request: Request) -> JSONResponse:
    principal = principal_of(request)
    views = await runtime_of(request).servers.list()
    body = ServerListResponse(servers=[ServerOut.of(v, admin=principal.is_admin) for v in views])
    return JSONResponse(body.model_dump(mode="json"))


async def get_server(request: Request) -> JSONResponse:
    principal = principal_of(request)
    view = await runtime_of(request).servers.get(_name(request))
    return _one(view, principal.is_admin)


async def create_server(request: Request) -> JSONResponse:
    """Admins register any server; any key may add an external server (``source:
    external``) for the username it acts for (see services.user_servers)."""
    principal = principal_of(request)
    body = await read_body(request, ServerCreateRequest)
    config = body.to_domain()
    runtime = runtime_of(request)
    if is_external(config):
        if body.username is None and principal.role is not Role.USER:
            raise InvalidRequest("username is required for creating an external server")
        username = principal.acting_username(body.username)
        view = await runtime.user_servers.create_external(username, config)
        return _one(view, principal.is_admin)
    principal.require_admin()
    return _one(await runtime.servers.create(config), True)


async def update_server(request: Request) -> JSONResponse:
    """Admins update any server; other keys only (some fields of) an external server their
    username added (see services.user_servers)."""
    principal = principal_of(request)
    name = _name(request)
    owner = None
    if not principal.is_admin:
        owner = principal.acting_username(read_query(request, UsernameQuery).username)
    body = await read_body(request, ServerUpdateRequest)
    changes = body.changes()
    await runtime_of(request).user_servers.check_update(name, changes, owner)
    view = await runtime_of(request).servers.update(name, changes)
    return _one(view, principal.is_admin)


async def delete_server(request: Request) -> JSONResponse:
    """Admins delete any server; other keys only an external server their username added."""
    principal = principal_of(request)
    keep = read_query(request, ServerDeleteQuery).keep_package
    if not principal.is_admin:
        username = principal.acting_username(read_query(request, UsernameQuery).username)
        await runtime_of(request).user_servers.check_owner(username, _name(request))
    removal = await runtime_of(request).packages.remove_server(_name(request), keep_package=keep)
    return JSONResponse(ServerRemovalResponse.of(removal).model_dump(mode="json"))


async def delete_impact(request: Request) -> JSONResponse:
    name = _name(request)
    runtime = runtime_of(request)
    usage = await runtime.servers.usage(name)
    package = await runtime.packages.find(name)
    return JSONResponse(DeleteImpactResponse.of(usage, package).model_dump(mode="json"))


async def enable_server(request: Request) -> JSONResponse:
    return _one(await runtime_of(request).servers.set_enabled(_name(request), True), True)


async def disable_server(request: Request) -> JSONResponse:
    return _one(await runtime_of(request).servers.set_enabled(_name(request), False), True)


async def restart_server(request: Request) -> JSONResponse:
    return _one(await runtime_of(request).servers.restart(_name(request)), True)


_R = (400, 401, 404)
_W = (400, 401, 403, 404)
ENDPOINTS = [
    Endpoint(
        "GET",
        "/mcp/servers",
        list_servers,
        "List servers with live status",
        "servers",
        response=ServerListResponse,
        errors=(401,),
    ),
    Endpoint(
        "GET",
        "/mcp/servers/{name}",
        get_server,
        "One server with live status",
        "servers",
        response=ServerResponse,
        errors=_R,
    ),
    Endpoint(
        "POST",
        "/mcp/servers",
        create_server,
        "Register and start a server (admin); any key may add an external server "
        "(source: external) for its username",
        "servers",
        body=ServerCreateRequest,
        response=ServerResponse,
        errors=(400, 401, 403, 409, 413),
    ),
    Endpoint(
        "PUT",
        "/mcp/servers/{name}",
        update_server,
        "Partial update; restarts the server if its connection settings changed. Admin, or "
        "the user (username) who added an external server: its url, timeouts, description "
        "and oauthTemplate",
        "servers",
        query=UsernameQuery,
        body=ServerUpdateRequest,
        response=ServerResponse,
        errors=(*_W, 413),
    ),
    Endpoint(
        "DELETE",
        "/mcp/servers/{name}",
        delete_server,
        "Stop a server; remove it with every user's installs, secrets, tokens, sessions and "
        "its package (keepPackage=true keeps the package); idempotent: 200 with deleted=false "
        "when it does not exist. Admin, or the user (username) who added an external server",
        "servers",
        query=ServerDeleteQuery,
        response=ServerRemovalResponse,
        errors=(400, 401, 403, 409),
    ),
    Endpoint(
        "GET",
        "/mcp/servers/{name}/delete-impact",
        delete_impact,
        "What DELETE would remove: users with secrets, OAuth token sets, stored sessions, "
        "the package",
        "servers",
        response=DeleteImpactResponse,
        auth="admin",
        errors=_W,
    ),
    Endpoint(
        "POST",
        "/mcp/servers/{name}/restart",
        restart_server,
        "Stop every session of a server and start it afresh (409 server_disabled when disabled)",
        "servers",
        response=ServerResponse,
        auth="admin",
        errors=(*_W, 409),
    ),
    Endpoint(
        "PUT",
        "/mcp/servers/{name}/enable",
        enable_server,
        "Enable and start a server",
        "servers",
        response=ServerResponse,
        auth="admin",
        errors=_W,
    ),
    Endpoint(
        "PUT",
        "/mcp/servers/{name}/disable",
        disable_server,
        "Stop and disable a server",
        "servers",
        response=ServerResponse,
        auth="admin",
        errors=_W,
    ),
]
