"""The one place where exceptions become HTTP responses.

Routes never catch errors: they raise :class:`~mcp_gateway.errors.GatewayError` (or let
pydantic's ``ValidationError`` from request parsing propagate) and these handlers render the
contract's body ``{"success": false, "error": ..., "code": ...}``. Nothing here echoes input
values (a body may hold a secret) and no traceback ever reaches a client.

Like mcp-api's, an error body names the server and the username the request was about
(``serverName``, ``username``): from the path (``/mcp/servers/{name}``, ``/packages/{serverName}``)
and from the fields of a body or query that parsed (:func:`note_request_context`). Only names
that pass the name rules are echoed; a request that failed validation names none from its body.
An error's own fields (``exc.extra()``, e.g. ReauthRequired's ``reauthRequired``) win.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mcp_gateway.domain.names import validate_server_name
from mcp_gateway.errors import GatewayError

log = logging.getLogger("mcp_gateway.api")

_HTTP_CODES = {
    400: "invalid_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    429: "rate_limited",
}


def error_response(
    status: int,
    code: str,
    message: str,
    extra: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"success": False, "error": message, "code": code}
    body.update(extra or {})
    return JSONResponse(body, status_code=status, headers=headers)


_CONTEXT = "error_context"


def note_request_context(request: Request, model: object) -> None:
    """Remember the ``server_name`` and ``username`` a parsed request model names (already
    checked by its validators) for the body of an error raised later in the request."""
    context: dict[str, str] = {}
    server = getattr(model, "server_name", None)
    if isinstance(server, str):
        context["serverName"] = server
    username = getattr(model, "username", None)
    if isinstance(username, str):
        context["username"] = username
    if context:
        setattr(request.state, _CONTEXT, {**getattr(request.state, _CONTEXT, {}), **context})


def _path_server(request: Request) -> str | None:
    params = request.scope.get("path_params") or {}
    name = params.get("serverName") or params.get("server")
    if name is None and request.url.path.startswith("/mcp/servers/"):
        name = params.get("name")
    if not isinstance(name, str):
        return None
    try:
        return validate_server_name(name)
    except GatewayError:
        return None


def request_context(request: Request) -> dict[str, str]:
    """``serverName`` / ``username`` for an error body about ``request`` (may be empty)."""
    context: dict[str, str] = {}
    server = _path_server(request)
    if server is not None:
        context["serverName"] = server
    context.update(getattr(request.state, _CONTEXT, {}))
    return context


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    """Field, problem and type for each error; never the offending input value."""
    return [
        {
            "field": ".".join(str(p) for p in err["loc"]) or "body",
            "message": err["msg"],
            "type": err["type"],
        }
        for err in exc.errors(include_url=False, include_input=False, include_context=False)
    ]


def error_body(exc: GatewayError, context: dict[str, str]) -> dict[str, Any]:
    """The error body of ``exc`` (also for errors inside a stream, which has sent its status)."""
    return {"success": False, "error": exc.message, "code": exc.code, **context, **exc.extra()}


async def gateway_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    if exc.status >= 500:
        log.warning("%s %s -> %s: %s", request.method, request.url.path, exc.code, exc.message)
    body = error_body(exc, request_context(request))
    return JSONResponse(body, status_code=exc.status, headers=exc.headers())


async def validation_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ValidationError)
    details = validation_details(exc)
    first = details[0] if details else {"field": "body", "message": "invalid"}
    message = f"invalid request: {first['field']}: {first['message']}"
    extra = {**request_context(request), "details": details}
    return error_response(400, "invalid_request", message, extra)


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)


def log_unhandled(exc: BaseException, method: str, path: str) -> None:
    """Log an unexpected exception by type and stack frames, never its message: a foreign
    message may carry request data or a secret."""
    frames = "".join(traceback.format_tb(exc.__traceback__))
    log.error("unhandled %s on %s %s\n%s", type(exc).__name__, method, path, frames.rstrip())


def internal_error_response() -> JSONResponse:
    return error_response(500, "internal_error", "internal error")


async def unhandled_error_handler(request: Request, exc: Exception) -> Response:
    # Only reached for errors outside GatewayMiddleware, which renders the rest itself.
    log_unhandled(exc, request.method, request.url.path)
    return internal_error_response()


EXCEPTION_HANDLERS: dict[Any, Any] = {
    GatewayError: gateway_error_handler,
    ValidationError: validation_error_handler,
    HTTPException: http_exception_handler,
    Exception: unhandled_error_handler,
}
