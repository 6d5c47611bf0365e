"""``/mcp/user/*``: a user's view of the servers, their installs of external servers, their
secrets for them (mcp-api's routes, its bodies and answer keys).

Every route acts for one username: a ``user`` key for its own (another is 403); a service or
admin key for the ``username`` it names (query string on GET, body otherwise), which is then
required as in mcp-api (400 ``username is required for ...``).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from mcp_gateway.api.auth import principal_of, runtime_of
from mcp_gateway.api.endpoint import Endpoint
from mcp_gateway.api.parsing import read_body, read_query
from mcp_gateway.api.schemas.common import Deleted, Ok
from mcp_gateway.api.schemas.user_servers import (
    InstallOut,
    InstallRequest,
    InstallResponse,
    ResolvedClientOut,
    ResolvedClientResponse,
    ResolveRequest,
    SecretsRequest,
    UsernameBody,
    UsernameQuery,
    UserServerListResponse,
    UserServerOut,
    UserServerResponse,
    UserToolsResponse,
)
from mcp_gateway.domain.names import validate_server_name
from mcp_gateway.domain.records import Role
from mcp_gateway.errors import InvalidRequest
from mcp_gateway.services.user_servers import UserServerView


def _name(request: Request) -> str:
    return validate_server_name(request.path_params["name"])


def _username(request: Request, requested: str | None, context: str) -> str:
    principal = principal_of(request)
    if requested is None and principal.role is not Role.USER:
        raise InvalidRequest(f"username is required for {context}")
    return principal.acting_username(requested)


def _query_user(request: Request, context: str) -> str:
    return _username(request, read_query(request, UsernameQuery).username, context)


def _json(model: Ok) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json"))


def _one(request: Request, view: UserServerView) -> JSONResponse:
    admin = principal_of(request).is_admin
    return _json(UserServerResponse(server=UserServerOut.of(view, admin=admin)))


async def list_servers(request: Request) -> JSONResponse:
    username = _query_user(request, "listing user servers")
    views = await runtime_of(request).user_servers.list_views(username)
    admin = principal_of(request).is_admin
    return _json(UserServerListResponse(servers=[UserServerOut.of(v, admin=admin) for v in views]))


async def get_server(request: Request) -> JSONResponse:
    username = _query_user(request, "reading a user server")
    return _one(request, await runtime_of(request).user_servers.get_view(username, _name(request)))


async def list_tools(request: Request) -> JSONResponse:
    username = _query_user(request, "listing user tools")
    listed = await runtime_of(request).tools.list_tools(username)
    return _json(UserToolsResponse(tools=[{name: tools} for name, tools in listed]))


async def server_tools(request: Request) -> JSONResponse:
    username = _query_user(request, "listing a user server's tools")
    name = _name(request)
    runtime = runtime_of(request)
    server = await runtime.user_servers.get_view(username, name)
    if server.config.metadata.source == "external":
        tools = await runtime.user_servers.server_tools(username, name)
    else:
        tools = await runtime.tools.list_server_tools(username, name)
    return _json(UserToolsResponse(tools=tools))


async def get_install(request: Request) -> JSONResponse:
    username = _query_user(request, "reading an install")
    service = runtime_of(request).user_servers
    install = await service.get_install(username, _name(request))
    view = await service.get_view(username, install.server)
    return _json(InstallResponse(install=InstallOut.of(install, view.auth_state)))


async def _install(request: Request, *, update: bool) -> JSONResponse:
    body = await read_body(request, InstallRequest)
    username = _username(request, body.username, "installing a server")
    service = runtime_of(request).user_servers
    view = await service.install(username, _name(request), body.to_input(), update=update)
    return _one(request, view)


async def post_install(request: Request) -> JSONResponse:
    return await _install(request, update=False)


async def put_install(request: Request) -> JSONResponse:
    return await _install(request, update=True)


async def delete_install(request: Request) -> JSONResponse:
    body = await read_body(request, UsernameBody)
    username = _username(request, body.username, "uninstalling a server")
    name = _name(request)
    removed = await runtime_of(request).user_servers.uninstall(username, name)
    message = f"uninstalled {name}" if removed else f"{name} was not installed (nothing to do)"
    return _json(Deleted(deleted=removed, message=message))


async def save_secrets(request: Request) -> JSONResponse:
    body = await read_body(request, SecretsRequest)
    username = _username(request, body.username, "saving secrets")
    items = [(item.name, item.value.get_secret_value()) for item in body.secrets]
    await runtime_of(request).user_servers.save_secrets(username, _name(request), items)
    return _json(Ok())


async def refresh(request: Request) -> JSONResponse:
    body = await read_body(request, UsernameBody)
    username = _username(request, body.username, "refreshing a server")
    return _one(request, await runtime_of(request).user_servers.refresh(username, _name(request)))


async def resolve_client(request: Request) -> JSONResponse:
    body = await read_body(request, ResolveRequest)
    username = _username(request, body.username, "resolving an OAuth client")
    context = body.oauth_provisioning_context
    client = await runtime_of(request).user_servers.resolve_client(
        username, _name(request), context
    )
    return _json(ResolvedClientResponse(client=ResolvedClientOut.of(client)))


_P = "/mcp/user/servers/{name}"
_E = (400, 401, 403, 404, 409)
ENDPOINTS = [
    Endpoint("GET", "/mcp/user/servers", list_servers,
             "A user's view: enabled platform servers and every external server",
             "user servers", query=UsernameQuery, response=UserServerListResponse,
             errors=(400, 401, 403)),
    Endpoint("GET", _P, get_server, "A user's view of one server", "user servers",
             query=UsernameQuery, response=UserServerResponse, errors=(400, 401, 403, 404)),
    Endpoint("GET", "/mcp/user/tools", list_tools,
             "The user's tools: enabled platform servers and their enabled installs",
             "user servers", query=UsernameQuery, response=UserToolsResponse,
             errors=(400, 401, 403)),
    Endpoint("GET", f"{_P}/tools", server_tools,
             "One server's tools for the user (external: live, 409 not_installed / "
             "auth_not_connected)", "user servers", query=UsernameQuery,
             response=UserToolsResponse, errors=(*_E, 502, 503)),
    Endpoint("GET", f"{_P}/install", get_install,
             "The user's install (the OAuth client secret is never returned)", "user servers",
             query=UsernameQuery, response=InstallResponse, errors=_E),
    Endpoint("POST", f"{_P}/install", post_install,
             "Install an external server for the user (enabled by default)", "user servers",
             body=InstallRequest, response=UserServerResponse, errors=_E),
    Endpoint("PUT", f"{_P}/install", put_install,
             "Change the install; a new OAuth client ends the user's grant and session",
             "user servers", body=InstallRequest, response=UserServerResponse, errors=_E),
    Endpoint("DELETE", f"{_P}/install", delete_install,
             "Uninstall: the user's install, tokens, session and secrets (idempotent)",
             "user servers", body=UsernameBody, response=Deleted, errors=(400, 401, 403)),
    Endpoint("POST", f"{_P}/secrets", save_secrets,
             "Save the user's secrets (declared names only)", "user servers",
             body=SecretsRequest, response=Ok, errors=(*_E, 413)),
    Endpoint("POST", f"{_P}/refresh", refresh,
             "Connect as the user, list the tools, update authState", "user servers",
             body=UsernameBody, response=UserServerResponse, errors=(*_E, 502, 503, 504)),
    Endpoint("POST", f"{_P}/oauth-client/resolve", resolve_client,
             "The OAuth client the user's login uses (manual; dcr/cimd when available)",
             "user servers", body=ResolveRequest, response=ResolvedClientResponse, errors=_E),
]  # fmt: skip
