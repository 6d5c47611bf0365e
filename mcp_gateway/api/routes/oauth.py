"""OAuth routes: tokens from the platform, gateway-driven login for MCP OAuth servers and
mcp-api's Google login.

``POST /mcp/servers/{name}/oauth`` and both ``.../login`` / ``.../authorize`` routes take an API
key (a user key acts for its own username only), so nobody can start a login that binds their
upstream account to another user. The two callbacks are reached by the user's browser with no
key: the sealed, single-use, 10-minute ``state`` is their protection.
"""

from __future__ import annotations

import html
import re

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from mcp_gateway.api.auth import principal_of, runtime_of
from mcp_gateway.api.endpoint import Endpoint
from mcp_gateway.api.parsing import read_body, read_query
from mcp_gateway.api.schemas.common import Ok
from mcp_gateway.api.schemas.oauth import (
    AuthorizeQuery,
    CallbackQuery,
    GoogleLoginQuery,
    OAuthTokensRequest,
)
from mcp_gateway.domain.names import validate_server_name
from mcp_gateway.errors import GatewayError, InvalidRequest, ServerNotFound
from mcp_gateway.services.oauth import GoogleLogin, OAuthService

_ERROR_CODE = re.compile(r"^[a-z_]{1,64}$")
_DONE_PAGE = (
    "<!doctype html><meta charset=utf-8><title>Signed in</title>"
    "<p>Signed in to {server} as {username}. You can close this tab.</p>"
)


def _oauth(request: Request) -> OAuthService:
    service = getattr(runtime_of(request), "oauth", None)
    if not isinstance(service, OAuthService):
        raise GatewayError("OAuth is not enabled in this gateway")
    return service


def _google(request: Request) -> GoogleLogin:
    service = getattr(runtime_of(request), "google", None)
    if not isinstance(service, GoogleLogin):
        raise GatewayError("Google login is not enabled in this gateway")
    return service


def _check_callback(query: CallbackQuery) -> tuple[str, str]:
    if query.error:
        code = query.error if _ERROR_CODE.fullmatch(query.error) else "error"
        raise InvalidRequest(f"the authorization server refused the login ({code})")
    if not query.code or not query.state:
        raise InvalidRequest("OAuth callback needs code and state")
    return query.code, query.state


def _done(server: str, username: str) -> HTMLResponse:
    page = _DONE_PAGE.format(server=html.escape(server), username=html.escape(username))
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


async def store_tokens(request: Request) -> JSONResponse:
    principal = principal_of(request)
    name = validate_server_name(request.path_params["name"])
    body = await read_body(request, OAuthTokensRequest)
    username = principal.acting_username(body.username)
    server = await runtime_of(request).store.get_server(name)
    if server is None:
        raise ServerNotFound(name)
    await _oauth(request).store_tokens(server, username, body.to_input())
    return JSONResponse(Ok().model_dump(mode="json"))


async def authorize(request: Request) -> Response:
    principal = principal_of(request)
    name = validate_server_name(request.path_params["server"])
    username = principal.acting_username(read_query(request, AuthorizeQuery).username)
    server = await runtime_of(request).store.get_server(name)
    if server is None:
        raise ServerNotFound(name)
    url = await _oauth(request).start_login(server, username)
    return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})


async def callback(request: Request) -> Response:
    code, state = _check_callback(read_query(request, CallbackQuery))
    done = await _oauth(request).finish_login(code, state)
    return _done(done.server, done.username)


async def google_login(request: Request) -> Response:
    principal = principal_of(request)
    query = read_query(request, GoogleLoginQuery)
    username = principal.acting_username(query.user_id)
    google = _google(request)
    server = await google.resolve_server(query.server)
    url = await google.start_login(server, username)
    return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})


async def google_callback(request: Request) -> Response:
    code, state = _check_callback(read_query(request, CallbackQuery))
    done = await _google(request).finish_login(code, state)
    return _done(done.server, done.username)


ENDPOINTS = [
    Endpoint("POST", "/mcp/servers/{name}/oauth", store_tokens,
             "Store a username's upstream OAuth tokens (encrypted)", "oauth",
             body=OAuthTokensRequest, response=Ok, errors=(400, 401, 403, 404, 413)),
    Endpoint("GET", "/oauth/{server}/authorize", authorize,
             "Start an OAuth login for a username (302 to the authorization server)", "oauth",
             query=AuthorizeQuery, errors=(400, 401, 403, 404, 502)),
    Endpoint("GET", "/oauth/callback", callback,
             "OAuth redirect target (browser; protected by the single-use state)", "oauth",
             query=CallbackQuery, auth="none", errors=(400, 502)),
    Endpoint("GET", "/auth/google/login", google_login,
             "Start the Google login for user_id (302 to Google)", "oauth",
             query=GoogleLoginQuery, errors=(400, 401, 403, 404)),
    Endpoint("GET", "/auth/google/callback", google_callback,
             "Google redirect target (browser; protected by the single-use state)", "oauth",
             query=CallbackQuery, auth="none", errors=(400, 502)),
]  # fmt: skip
