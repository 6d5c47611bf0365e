"""Who is calling: ``Authorization: Bearer <api key>`` -> :class:`Principal`.

``MCPGW_AUTH_MODE=none`` (allowed on a loopback listener only, checked at start-up) treats
every request as an admin, like mcp-api's trusted-network behaviour.
"""

from __future__ import annotations

from starlette.requests import Request

from mcp_gateway.api.runtime_port import GatewayRuntime
from mcp_gateway.errors import Unauthenticated
from mcp_gateway.services.principal import ANONYMOUS_ADMIN, Principal

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


async def authenticate(request: Request) -> Principal:
    """The request's principal (cached per request). Raises Unauthenticated."""
    cached = request.scope.get("state", {}).get("principal")
    if isinstance(cached, Principal):
        return cached
    runtime = runtime_of(request)
    if runtime.settings.http.auth_mode == "none":
        principal = ANONYMOUS_ADMIN
    else:
        principal = await runtime.apikeys.authenticate(bearer_key(request))
    request.state.principal = principal
    return principal


async def require_admin(request: Request) -> Principal:
    """Raises Unauthenticated, or Forbidden for a non-admin key."""
    principal = await authenticate(request)
    principal.require_admin()
    return principal
