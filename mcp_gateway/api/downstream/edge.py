"""The HTTP edge of the MCP endpoint: Host and Origin checks, authentication, the caller.

Runs before the SDK sees a request, so a refused request never reaches a session:

- Host (DNS rebinding): ``MCPGW_ALLOWED_HOSTS`` when set (``name`` or ``name:*``); otherwise
  any, except on a loopback listener, which accepts only ``localhost``, ``127.0.0.1`` and
  ``[::1]`` (any port). Refused: 421.
- Origin: absent, the gateway's own (same scheme, host and port as the request) or one in
  ``MCPGW_ALLOWED_ORIGINS``; any other: 403.
- ``Authorization: Bearer <API key>`` as for REST (``MCPGW_AUTH_MODE=none``: open, acting as
  ``default``). A user key acts for its username; service and admin keys for
  ``X-MCPGW-Username`` (else ``default``); a user key naming another username: 403. No or a
  bad key: 401 with ``WWW-Authenticate: Bearer``.

Refusals are JSON-RPC error bodies (``id`` null) with the gateway's error code in ``data``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from mcp_types import INVALID_REQUEST, ErrorData, JSONRPCError
from starlette.requests import Request
from starlette.responses import Response

from mcp_gateway.api.auth import authenticate_mcp
from mcp_gateway.api.downstream.caller import Caller
from mcp_gateway.errors import GatewayError, Unauthenticated

USERNAME_HEADER = "x-mcpgw-username"
_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]", "::1")


def refusal(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    body = JSONRPCError(
        jsonrpc="2.0",
        id=None,
        error=ErrorData(code=INVALID_REQUEST, message=message, data={"code": code}),
    )
    return Response(
        body.model_dump_json(by_alias=True, exclude_none=True),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def _matches(value: str, allowed: Sequence[str]) -> bool:
    for entry in allowed:
        if value == entry or (entry.endswith(":*") and value.startswith(entry[:-1])):
            return True
    return False


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_name(host: str) -> str:
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class HostOriginPolicy:
    def __init__(
        self, listen_host: str, allowed_hosts: Sequence[str], allowed_origins: Sequence[str]
    ):
        self.allowed_hosts = tuple(allowed_hosts)
        self.allowed_origins = tuple(o.rstrip("/") for o in allowed_origins)
        self.loopback_only = not self.allowed_hosts and _is_loopback(listen_host)

    def check(self, request: Request) -> Response | None:
        host = request.headers.get("host", "")
        if self.allowed_hosts:
            if not _matches(host, self.allowed_hosts):
                return refusal(421, "invalid_host", "Host header not allowed")
        elif self.loopback_only and _host_name(host) not in _LOOPBACK_NAMES:
            return refusal(421, "invalid_host", "Host header not allowed on a loopback listener")
        origin = request.headers.get("origin")
        if origin is None:
            return None
        origin = origin.rstrip("/")
        own = f"{request.url.scheme}://{host}"
        if origin == own or _matches(origin, self.allowed_origins):
            return None
        return refusal(403, "forbidden", "Origin not allowed")


async def identify(request: Request, server: str | None) -> Caller:
    """The caller of an MCP request. Raises Unauthenticated, Forbidden, InvalidRequest."""
    principal = await authenticate_mcp(request)
    requested = request.headers.get(USERNAME_HEADER)
    username = principal.acting_username(requested)
    request_id = str(request.scope.get("state", {}).get("request_id", ""))
    return Caller(principal, username, server, request_id)


def refused(exc: GatewayError) -> Response:
    """The HTTP answer to a request refused before the MCP layer."""
    headers = dict(exc.headers())
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = 'Bearer realm="mcp-gateway"'
    return refusal(exc.status, exc.code, exc.message, headers)
