"""OAuth routes: tokens from the platform, gateway-driven login for MCP OAuth servers and
mcp-api's Google login.

``POST /mcp/servers/{name}/oauth`` and both ``.../login`` / ``.../authorize`` routes take an API
key (a user key acts for its own username only). The two login routes answer with a 302 to a
*login link* on the gateway (also offered as ``authorizationUrl`` with a 401
``reauth_required``), meant for the user's browser. The browser routes need no key:

- ``.../start?ticket=`` shows which gateway user and server the login links (so a link someone
  else sent is recognisable), sets a per-flow HttpOnly cookie whose hash is sealed into the
  ``state``, and offers the authorization server's URL;
- the callbacks accept only a sealed, single-use, 10-minute ``state`` presented together with
  its cookie: a flow started in one browser cannot be completed in another (login CSRF).
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from mcp_gateway.api.auth import guarded, principal_of, runtime_of
from mcp_gateway.api.endpoint import Endpoint
from mcp_gateway.api.parsing import read_body, read_query
from mcp_gateway.api.schemas.oauth import (
    AuthorizeQuery,
    CallbackQuery,
    GoogleLinkRequest,
    GoogleLinkResponse,
    GoogleLoginQuery,
    OAuthStatusResponse,
    OAuthTokensRequest,
    OAuthTokensResponse,
    StartQuery,
)
from mcp_gateway.api.schemas.servers import ServerOut
from mcp_gateway.domain.names import validate_server_name
from mcp_gateway.domain.records import Role
from mcp_gateway.errors import GatewayError, InvalidRequest, ServerNotFound, Unauthenticated
from mcp_gateway.services.oauth import GoogleLogin, OAuthService
from mcp_gateway.services.oauth.state import (
    STATE_TTL,
    LoginState,
    StartedLogin,
    browser_hash,
    cookie_name,
    new_browser_secret,
)

_ERROR_CODE = re.compile(r"^[a-z_]{1,64}$")
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the state and code must not leak to other sites
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",  # no clickjacking of the Continue link
}
_DONE_PAGE = (
    "<!doctype html><meta charset=utf-8><title>Signed in</title>"
    "<p>Your account at server <b>{server}</b> is now linked to the gateway user "
    "<b>{username}</b>. You can close this tab.</p>"
)
_START_PAGE = (
    "<!doctype html><meta charset=utf-8><title>Link your account</title>"
    "<h1>Link your account at server <b>{server}</b></h1>"
    "<p>You are about to sign in at <b>{host}</b> and link that account to the gateway user "
    "<b>{username}</b>.</p>"
    "<p>If you are not <b>{username}</b> or did not ask for this, close this page: whoever "
    "sent you this link would get access to your account.</p>"
    '<p><a href="{url}">Continue to {host}</a></p>'
)
_ERROR_PAGE = (
    "<!doctype html><meta charset=utf-8><title>Sign-in failed</title>"
    "<h1>Sign-in failed</h1><p>{message}</p>"
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


def _html(page: str, status: int = 200, **values: str) -> HTMLResponse:
    escaped = {k: html.escape(v, quote=True) for k, v in values.items()}
    return HTMLResponse(page.format(**escaped), status, headers=_PAGE_HEADERS)


def _for_browser(request: Request, exc: GatewayError) -> Response:
    """A browser gets the error as a page; API clients the usual JSON (re-raised)."""
    if "text/html" not in request.headers.get("accept", ""):
        raise exc
    return _html(_ERROR_PAGE, exc.status, message=exc.message)


def _start_page(request: Request, started: StartedLogin, secret: str) -> Response:
    state = started.state
    response = _html(
        _START_PAGE, server=state.server, username=state.username, host=started.host,
        url=started.url,
    )  # fmt: skip
    callback = urlsplit(state.redirect_uri)
    response.set_cookie(
        cookie_name(state),
        secret,
        max_age=int(STATE_TTL),
        path=callback.path or "/",
        secure=callback.scheme == "https" or request.url.scheme == "https",
        httponly=True,
        samesite="lax",  # sent on the AS's top-level redirect back to the callback
    )
    return response


def _done(state: LoginState) -> Response:
    response = _html(_DONE_PAGE, server=state.server, username=state.username)
    response.delete_cookie(cookie_name(state), path=urlsplit(state.redirect_uri).path or "/")
    return response


async def store_tokens(request: Request) -> JSONResponse:
    principal = principal_of(request)
    name = validate_server_name(request.path_params["name"])
    body = await read_body(request, OAuthTokensRequest)
    if body.username is None and principal.role is not Role.USER:
        raise InvalidRequest("username is required for OAuth token update")  # mcp-api's rule
    username = principal.acting_username(body.username)
    runtime = runtime_of(request)
    server = await runtime.store.get_server(name)
    if server is None:
        raise ServerNotFound(name)
    oauth = _oauth(request)
    await oauth.store_tokens(server, username, body.to_input())
    view = ServerOut.of(await runtime.servers.get(name), admin=principal.is_admin)
    answer = OAuthTokensResponse.of(view, username, await oauth.auth_state(server, username))
    return JSONResponse(answer.model_dump(mode="json", by_alias=True))


async def authorize(request: Request) -> Response:
    principal = principal_of(request)
    name = validate_server_name(request.path_params["server"])
    username = principal.acting_username(read_query(request, AuthorizeQuery).username)
    server = await runtime_of(request).store.get_server(name)
    if server is None:
        raise ServerNotFound(name)
    url = _oauth(request).login.ticket_url(server, username)
    return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})


async def status(request: Request) -> JSONResponse:
    principal = principal_of(request)
    name = validate_server_name(request.path_params["server"])
    username = principal.acting_username(read_query(request, AuthorizeQuery).username)
    server = await runtime_of(request).store.get_server(name)
    if server is None:
        raise ServerNotFound(name)
    state = await _oauth(request).auth_state(server, username)
    answer = OAuthStatusResponse(server_name=name, username=username, auth_state=state)
    return JSONResponse(answer.model_dump(mode="json", by_alias=True))


async def start(request: Request) -> Response:
    secret = new_browser_secret()
    try:
        ticket = read_query(request, StartQuery).ticket
        started = await _oauth(request).login.begin(ticket, secret)
    except GatewayError as exc:
        return _for_browser(request, exc)
    return _start_page(request, started, secret)


async def callback(request: Request) -> Response:
    try:
        code, state = _check_callback(read_query(request, CallbackQuery))
        done = await _oauth(request).login.finish_login(code, state, request.cookies)
    except GatewayError as exc:
        return _for_browser(request, exc)
    return _done(done)


async def _keyed_google_login(request: Request) -> Response:
    principal = principal_of(request)
    query = read_query(request, GoogleLoginQuery)
    username = principal.acting_username(query.user_id)
    google = _google(request)
    server = await google.resolve_server(query.server)
    url = google.ticket_url(server, username)
    return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})


_guarded_google_login = guarded(_keyed_google_login, "any key")


async def google_login(request: Request) -> Response:
    """mcp-api's ``/auth/google/login?user_id=`` as a plain browser link: with a signed
    ``ticket`` (from ``POST /auth/google/login-link``), or with no key at all under
    ``MCPGW_AUTH_MODE=none``, the flow starts in this browser (the start page naming the user,
    and the flow cookie). An API client with a key still gets a 302 to a login link."""
    query = read_query(request, GoogleLoginQuery)
    if query.ticket is None and runtime_of(request).settings.http.auth_mode != "none":
        try:
            return await _guarded_google_login(request)
        except Unauthenticated as exc:
            raise Unauthenticated(
                f"{exc.message}, or open a signed link from POST /auth/google/login-link"
            ) from None
    secret = new_browser_secret()
    google = _google(request)
    try:
        if query.ticket is not None:
            started = await google.begin(query.ticket, secret, user_id=query.user_id)
        else:
            if query.user_id is None:
                raise InvalidRequest("user_id is required")
            server = await google.resolve_server(query.server)
            started = await google.start_login(server, query.user_id, browser_hash(secret))
    except GatewayError as exc:
        return _for_browser(request, exc)
    return _start_page(request, started, secret)


async def google_login_link(request: Request) -> JSONResponse:
    principal = principal_of(request)
    body = await read_body(request, GoogleLinkRequest)
    if body.username and body.user_id and body.username != body.user_id:
        raise InvalidRequest("username and userId name different users")
    username = principal.acting_username(body.username or body.user_id)
    google = _google(request)
    server = await google.resolve_server(body.server)
    url, expires = google.login_link(server, username)
    answer = GoogleLinkResponse(
        url=url,
        username=username,
        server=server.name,
        expires_at=datetime.fromtimestamp(expires, UTC),
    )
    return JSONResponse(answer.model_dump(mode="json", by_alias=True))


async def google_start(request: Request) -> Response:
    secret = new_browser_secret()
    try:
        ticket = read_query(request, StartQuery).ticket
        started = await _google(request).begin(ticket, secret)
    except GatewayError as exc:
        return _for_browser(request, exc)
    return _start_page(request, started, secret)


async def google_callback(request: Request) -> Response:
    try:
        code, state = _check_callback(read_query(request, CallbackQuery))
        done = await _google(request).finish_login(code, state, request.cookies)
    except GatewayError as exc:
        return _for_browser(request, exc)
    return _done(done)


ENDPOINTS = [
    Endpoint("POST", "/mcp/servers/{name}/oauth", store_tokens,
             "Store a username's upstream OAuth tokens (encrypted)", "oauth",
             body=OAuthTokensRequest, response=OAuthTokensResponse,
             errors=(400, 401, 403, 404, 413)),
    Endpoint("GET", "/oauth/{server}/authorize", authorize,
             "A login link for a username (302 to the gateway's start page, for a browser)",
             "oauth", query=AuthorizeQuery, errors=(400, 401, 403, 404)),
    Endpoint("GET", "/oauth/{server}/status", status,
             "A username's OAuth connection to a server (connected, reauth_required, "
             "not_connected)", "oauth", query=AuthorizeQuery, response=OAuthStatusResponse,
             errors=(400, 401, 403, 404)),
    Endpoint("GET", "/oauth/start", start,
             "Login link (browser): names the user and server, sets the flow cookie", "oauth",
             query=StartQuery, auth="none", errors=(400, 404, 502)),
    Endpoint("GET", "/oauth/callback", callback,
             "OAuth redirect target (browser; single-use state plus the flow cookie)", "oauth",
             query=CallbackQuery, auth="none", errors=(400, 403, 404, 502)),
    Endpoint("GET", "/auth/google/login", google_login,
             "Google login for user_id: a browser link with a signed ticket (or any request "
             "under MCPGW_AUTH_MODE=none) starts it here; an API key gets a 302 to a login link",
             "oauth", query=GoogleLoginQuery, auth="none", errors=(400, 401, 403, 404, 502)),
    Endpoint("POST", "/auth/google/login-link", google_login_link,
             "A short-lived signed /auth/google/login link for one user (a user key: itself)",
             "oauth", body=GoogleLinkRequest, response=GoogleLinkResponse,
             errors=(400, 401, 403, 404)),
    Endpoint("GET", "/auth/google/start", google_start,
             "Google login link (browser): names the user and server, sets the flow cookie",
             "oauth", query=StartQuery, auth="none", errors=(400, 404)),
    Endpoint("GET", "/auth/google/callback", google_callback,
             "Google redirect target (browser; single-use state plus the flow cookie)", "oauth",
             query=CallbackQuery, auth="none", errors=(400, 403, 502)),
]  # fmt: skip
