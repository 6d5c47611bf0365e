"""The one place where exceptions become HTTP responses.

Routes never catch errors: they raise :class:`~mcp_gateway.errors.GatewayError` (or let
pydantic's ``ValidationError`` from request parsing propagate) and these handlers render the
contract's body ``{"success": false, "error": ..., "code": ...}``. Nothing here echoes input
values (a body may hold a secret) and no traceback ever reaches a client.
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

from mcp_gateway.errors import GatewayError

log = logging.getLogger("mcp_gateway.api")

_HTTP_CODES = {
    400: "invalid_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
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


async def gateway_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    if exc.status >= 500:
        log.warning("%s %s -> %s: %s", request.method, request.url.path, exc.code, exc.message)
    return error_response(exc.status, exc.code, exc.message, exc.extra(), exc.headers())


async def validation_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ValidationError)
    details = validation_details(exc)
    first = details[0] if details else {"field": "body", "message": "invalid"}
    message = f"invalid request: {first['field']}: {first['message']}"
    return error_response(400, "invalid_request", message, {"details": details})


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
