"""The console's HTTP routes under ``/ui``: login, logout, the page shells and static files.

Pages are shells rendered by Jinja2 (autoescape on); their data comes from the REST API,
fetched by ``static/console.js`` with the session cookie, so the endpoint table and
:func:`~mcp_gateway.api.auth.guarded` decide every read and write. A page itself only asks
:func:`~mcp_gateway.api.auth.authenticate` who is calling (to pick the navigation and refuse
admin pages to other roles: their data calls would be refused anyway).

Login is a form post of the API key, protected by a double-submit token (a cookie and a
hidden field that must match), answered with the session cookie: HttpOnly, SameSite=Strict,
Secure when the request came over TLS or ``MCPGW_PUBLIC_URL`` is ``https://``, path ``/``
(the API's paths need it too).
"""

from __future__ import annotations

import hmac
import secrets
import time
from pathlib import Path
from typing import Any

import jinja2
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from mcp_gateway.api.auth import authenticate, console_sessions, runtime_of
from mcp_gateway.api.console.headers import SecurityHeaders
from mcp_gateway.api.console.sessions import COOKIE, ConsoleSessions
from mcp_gateway.crypto.apikeys import hash_api_key
from mcp_gateway.domain.records import AuditEvent
from mcp_gateway.errors import Forbidden, Unauthenticated
from mcp_gateway.services.apikeys import display_prefix
from mcp_gateway.services.principal import Principal

HERE = Path(__file__).resolve().parent
LOGIN_CSRF_COOKIE = "mcpgw_login_csrf"
_MAX_KEY_LEN = 512
_MAX_FORM = 4096

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,  # every value rendered is text; upstream strings never become HTML
    undefined=jinja2.StrictUndefined,
)

# (path segment, title, admin only)
PAGES: tuple[tuple[str, str, bool], ...] = (
    ("servers", "Servers", False),
    ("tools", "Tools", False),
    ("secrets", "Secrets", False),
    ("oauth", "OAuth connections", False),
    ("keys", "API keys", True),
    ("packages", "Packages", True),
    ("audit", "Audit", False),  # GET /audit scopes the records to the caller's role
    ("runs", "Runs", False),  # GET /runs likewise
)


def _render(name: str, status: int = 200, **values: Any) -> HTMLResponse:
    page = _env.get_template(name).render(**values)
    return HTMLResponse(page, status, headers={"Cache-Control": "no-store"})


def _secure(request: Request) -> bool:
    """Secure cookies over TLS, and behind a TLS-terminating proxy when the operator says so
    with an ``https://`` ``MCPGW_PUBLIC_URL`` (the proxy's scheme is not trusted blindly)."""
    public_url = runtime_of(request).settings.oauth.public_url or ""
    return request.url.scheme == "https" or public_url.lower().startswith("https://")


def _sessions(request: Request) -> ConsoleSessions:
    sessions = console_sessions(request)
    if sessions is None:
        raise RuntimeError("the console is not mounted on this app")
    return sessions


async def login_form(request: Request, *, error: str = "", status: int = 200) -> Response:
    token = secrets.token_urlsafe(32)
    response = _render("login.html", status, csrf=token, error=error, **_bare("login"))
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, max_age=600, path="/ui/login", httponly=True,
        secure=_secure(request), samesite="strict",
    )  # fmt: skip
    return response


async def login(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=4, max_part_size=_MAX_FORM)
    key = str(form.get("key") or "").strip()
    token = str(form.get("csrf") or "")
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not token or not cookie or not hmac.compare_digest(token, cookie):
        return await login_form(request, error="the login form expired: try again", status=403)
    if not key or len(key) > _MAX_KEY_LEN:
        return await login_form(request, error="enter an API key", status=400)
    runtime = runtime_of(request)
    try:
        principal = await runtime.apikeys.authenticate(key)
    except Unauthenticated:
        _audit_login(request, None, f"key {display_prefix(key)}")
        return await login_form(request, error="invalid or revoked API key", status=401)
    _audit_login(request, principal, "")
    sessions = _sessions(request)
    sessions.close(request.cookies.get(COOKIE))  # a new id on every login (no fixation)
    session_id, _ = sessions.open(hash_api_key(key))
    response = RedirectResponse("/ui/servers", status_code=303)
    response.set_cookie(
        COOKIE, session_id, max_age=int(sessions.max_age),
        path="/", httponly=True, secure=_secure(request), samesite="strict",
    )  # fmt: skip
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/ui/login")
    return response


def _audit_login(request: Request, principal: Principal | None, detail: str) -> None:
    """A console login, like the API's refusals: by key id, or by display prefix only."""
    audit = runtime_of(request).audit
    event = AuditEvent(
        ts=time.time(),
        request_id=str(request.scope.get("state", {}).get("request_id", "")),
        actor=principal.key_id if principal is not None else "unknown",
        role=principal.role.value if principal is not None else "",
        action="console_login",
        username=principal.username if principal is not None else None,
        outcome="ok" if principal is not None else "unauthenticated",
        detail=f"POST /ui/login {detail}".strip()[:300],
    )
    (audit.record if principal is not None else audit.record_anonymous)(event)


async def logout(request: Request) -> Response:
    """Ends the session. A cross-site form cannot post here with the cookie (SameSite=Strict);
    the CSRF token is still required, like every console write."""
    sessions = _sessions(request)
    session_id = request.cookies.get(COOKIE)
    session = sessions.get(session_id)
    form = await request.form(max_files=0, max_fields=4, max_part_size=_MAX_FORM)
    if session is not None and not session.csrf_matches(str(form.get("csrf") or "")):
        return _render("error.html", 403, message="missing or invalid CSRF token", **_bare())
    sessions.close(session_id)
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


def _bare(page: str = "") -> dict[str, Any]:
    return {"principal": None, "pages": (), "session_csrf": "", "page": page}


async def _principal(request: Request) -> Principal | Response:
    try:
        return await authenticate(request)
    except Unauthenticated:
        return RedirectResponse("/ui/login", status_code=303)


def _page(segment: str, title: str, admin_only: bool) -> Route:
    async def show(request: Request) -> Response:
        principal = await _principal(request)
        if isinstance(principal, Response):
            return principal
        session = _sessions(request).get(request.cookies.get(COOKIE))
        values: dict[str, Any] = {
            "principal": principal,
            "pages": [p for p in PAGES if principal.is_admin or not p[2]],
            "session_csrf": session.csrf if session is not None else "",
            "page": segment,
            "title": title,
        }
        if admin_only:
            try:
                principal.require_admin()
            except Forbidden as exc:
                return _render("error.html", 403, message=exc.message, **values)
        return _render(f"{segment}.html", **values)

    return Route(f"/{segment}", show, methods=["GET"], name=f"console-{segment}")


async def home(request: Request) -> Response:
    return RedirectResponse("/ui/servers", status_code=303)


def console_routes() -> list[BaseRoute]:
    """The ``/ui`` mount (every page, login, logout, static files)."""
    routes: list[BaseRoute] = [
        Route("/", home, methods=["GET"]),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        *[_page(*page) for page in PAGES],
        Mount("/static", StaticFiles(directory=HERE / "static"), name="console-static"),
    ]
    return [
        Route("/ui", home, methods=["GET"]),  # not Starlette's slash redirect (absolute http URL)
        Mount("/ui", routes=routes, middleware=[Middleware(SecurityHeaders)]),
    ]
