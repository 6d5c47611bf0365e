"""Who is calling, and may they: ``Authorization: Bearer <api key>`` -> :class:`Principal`.

Access is declared once per endpoint (:attr:`mcp_gateway.api.endpoint.Endpoint.auth`) and
enforced by :func:`guarded`, which wraps every handler when routes are built. Handlers read the
caller with :func:`principal_of`; none authenticates by hand.

Refused attempts (401, 403) are audited with the key's display prefix only, never the key.

The web console's session cookie (:mod:`mcp_gateway.api.console.sessions`) is accepted in
place of the header, by :func:`authenticate` only; its writes also need the CSRF token.

``MCPGW_AUTH_MODE=none`` (allowed on a loopback listener only, checked at start-up) treats
every request as an admin, like mcp-api's trusted-network behaviour.
"""

from __future__ import annotations

import functools
import ipaddress
import time
from collections.abc import Awaitable, Callable
from typing import Literal
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from mcp_gateway.api.console.sessions import COOKIE as SESSION_COOKIE
from mcp_gateway.api.console.sessions import CSRF_HEADER, ConsoleSessions
from mcp_gateway.api.runtime_port import GatewayRuntime
from mcp_gateway.domain.records import AuditEvent
from mcp_gateway.errors import Forbidden, ReauthRequired, Unauthenticated
from mcp_gateway.services.apikeys import display_prefix
from mcp_gateway.services.principal import ANONYMOUS_ADMIN, Principal

Handler = Callable[[Request], Awaitable[Response]]
Access = Literal["none", "any key", "admin"]
ACCESS_LEVELS: tuple[Access, ...] = ("none", "any key", "admin")

_MAX_KEY_LEN = 512


def runtime_of(request: Request) -> GatewayRuntime:
    runtime: GatewayRuntime = request.app.state.runtime
    return runtime


def bearer_key(request: Request) -> str:
    """The presented key. Raises Unauthenticated (missing or malformed header)."""
    header = request.headers.get("authorization")
    if not header:
        raise Unauthenticated("missing API key: send 'Authorization: Bearer <key>'")
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key or len(key) > _MAX_KEY_LEN:
        raise Unauthenticated("malformed Authorization header: expected 'Bearer <key>'")
    return key


def principal_of(request: Request) -> Principal:
    """The caller of a guarded endpoint (set by :func:`guarded` before the handler runs)."""
    principal = request.scope.get("state", {}).get("principal")
    if not isinstance(principal, Principal):
        # A handler of an ``auth="none"`` endpoint asked who is calling: a table error.
        raise RuntimeError(f"{request.url.path} is not guarded: declare its access")
    return principal


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _refuse_other_sites(request: Request, runtime: GatewayRuntime) -> None:
    """Under ``MCPGW_AUTH_MODE=none`` every request is an admin, so any web page the operator's
    browser opens (or a DNS-rebound name) could register a stdio server with any command: a
    ``text/plain`` JSON body needs no CORS preflight. A browser marks such a write with the
    page's ``Origin``; one that is neither loopback nor in ``MCPGW_CORS_ORIGINS`` is refused
    (clients that are not browsers send no ``Origin``). Raises Forbidden."""
    origin = request.headers.get("origin")
    if origin is None or request.method in _SAFE_METHODS:
        return
    if origin in runtime.settings.http.cors_origins:
        return
    host = urlsplit(origin).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise Forbidden(
            "a write from a web page of another origin is refused under MCPGW_AUTH_MODE=none "
            "(list that origin in MCPGW_CORS_ORIGINS to allow it)"
        )


def console_sessions(request: Request) -> ConsoleSessions | None:
    sessions = getattr(request.app.state, "console_sessions", None)
    return sessions if isinstance(sessions, ConsoleSessions) else None


async def authenticate(request: Request) -> Principal:
    """Who is calling: a bearer key, else a console session cookie (whose writes must carry
    the session's CSRF token in ``X-CSRF-Token``, else :class:`Forbidden`). The one place
    both the REST endpoints and the console's pages authenticate. Raises Unauthenticated."""
    runtime = runtime_of(request)
    if runtime.settings.http.auth_mode == "none":
        _refuse_other_sites(request, runtime)
        return ANONYMOUS_ADMIN
    sessions = console_sessions(request)
    if "authorization" not in request.headers and sessions is not None:
        session = sessions.get(request.cookies.get(SESSION_COOKIE))
        if session is not None:
            principal = await runtime.apikeys.authenticate_hash(session.key_hash)
            if request.method not in _SAFE_METHODS and not session.csrf_matches(
                request.headers.get(CSRF_HEADER)
            ):
                request.state.principal = principal  # audited as this principal's refusal
                raise Forbidden("missing or invalid CSRF token: send the console's X-CSRF-Token")
            return principal
        if SESSION_COOKIE in request.cookies:
            raise Unauthenticated("console session expired or ended: log in again at /ui/login")
    return await runtime.apikeys.authenticate(bearer_key(request))


async def optional_principal(request: Request) -> Principal | None:
    """For an ``auth="none"`` endpoint that shows more to a caller with a key (``/healthz``):
    None without an ``Authorization`` header, else the key's principal. A wrong key is a 401,
    audited like on a guarded endpoint."""
    if (
        "authorization" not in request.headers
        and runtime_of(request).settings.http.auth_mode != "none"
    ):
        return None
    return await authenticate(request)


async def authenticate_mcp(request: Request) -> Principal:
    """The caller of the MCP endpoint (not in the endpoint table): a Bearer key, or everyone
    under ``MCPGW_AUTH_MODE=none``, through :func:`authenticate`. Console session cookies are
    not accepted there (MCP clients send keys; a cookie is what a cross-site page would ride
    on). Refusals are audited like :func:`guarded`'s. Raises Unauthenticated, Forbidden."""
    try:
        if runtime_of(request).settings.http.auth_mode != "none":
            bearer_key(request)  # no Authorization header: 401, never the cookie path
        return await authenticate(request)
    except (Unauthenticated, Forbidden) as exc:
        _audit_refusal(request, None, exc)
        raise


def audit_unauthenticated(request: Request, exc: Unauthenticated) -> None:
    """Audit a 401 of an endpoint that checks a key of its own (``/metrics``) like every other
    refusal: the presented key's display prefix only, within the anonymous budget."""
    _audit_refusal(request, None, exc)


def guarded(handler: Handler, access: Access) -> Handler:
    """``handler`` behind ``access``: ``"none"`` is returned as is; ``"any key"`` needs a valid
    key (401); ``"admin"`` also an admin key (403). The principal lands in
    ``request.state.principal`` for :func:`principal_of`."""
    if access not in ACCESS_LEVELS:
        raise ValueError(f"unknown access {access!r}")
    if access == "none":
        return handler

    @functools.wraps(handler)
    async def guard(request: Request) -> Response:
        principal: Principal | None = None
        try:
            principal = await authenticate(request)
            if access == "admin":
                principal.require_admin()
            request.state.principal = principal
            return await handler(request)
        except ReauthRequired:
            raise  # an upstream's OAuth grant, not this caller's key
        except (Unauthenticated, Forbidden) as exc:
            if principal is None:  # a console write refused for its CSRF token has one
                known = request.scope.get("state", {}).get("principal")
                principal = known if isinstance(known, Principal) else None
            _audit_refusal(request, principal, exc)
            raise

    return guard


def _audit_refusal(
    request: Request, principal: Principal | None, exc: Unauthenticated | Forbidden
) -> None:
    if principal is not None:
        actor, role = principal.key_id, principal.role.value
        detail = f"{request.method} {request.url.path}"
    else:
        header = request.headers.get("authorization", "")
        key = header.partition(" ")[2].strip()
        actor, role = "unknown", ""
        shown = display_prefix(key) if key else "no key"
        detail = f"{request.method} {request.url.path} key {shown}"
    audit = runtime_of(request).audit
    record = audit.record if principal is not None else audit.record_anonymous
    record(
        AuditEvent(
            ts=time.time(),
            request_id=str(request.scope.get("state", {}).get("request_id", "")),
            actor=actor,
            role=role,
            action="api_access",
            username=principal.username if principal is not None else None,
            outcome="unauthenticated" if isinstance(exc, Unauthenticated) else "forbidden",
            detail=detail[:300],
        )
    )
