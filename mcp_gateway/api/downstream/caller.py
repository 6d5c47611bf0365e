"""Who an MCP request acts for, and on what: set by the HTTP edge, read by the MCP handlers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.streamable_http import MCP_SESSION_ID_HEADER
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.types import Scope

from mcp_gateway.services.principal import Principal

_STATE_KEY = "mcp_caller"


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated principal, the username it acts for and the endpoint's server
    (``None`` on the aggregated ``/mcp``) or toolset (``/mcp/toolsets/{name}``: the aggregated
    endpoint narrowed to that toolset's tools)."""

    principal: Principal
    username: str
    server: str | None
    request_id: str = ""
    toolset: str | None = None

    @property
    def endpoint(self) -> str:
        if self.toolset is not None:
            return f"/mcp/toolsets/{self.toolset}"
        return "/mcp" if self.server is None else f"/mcp/{self.server}"

    def attach(self, scope: Scope) -> None:
        """Store this caller in the request scope, and make it the session owner the SDK
        compares: a legacy session belongs to (API key id, username, endpoint), and any other
        combination gets the SDK's 404 for that session id."""
        state: dict[str, Any] = scope.setdefault("state", {})
        state[_STATE_KEY] = self
        token = AccessToken(
            token="",  # never the API key: this object lives as long as the session
            client_id=self.principal.key_id,
            scopes=[],
            subject=self.username,
            claims={"iss": self.endpoint},
        )
        scope["user"] = AuthenticatedUser(token)


def is_modern(protocol_version: str | None) -> bool:
    """Whether a request's ``MCP-Protocol-Version`` header names the sessionless 2026-07-28
    era (absent: the handshake era, as the SDK reads it). The one place that tells."""
    return protocol_version is not None and protocol_version not in HANDSHAKE_PROTOCOL_VERSIONS


def legacy_session_id(request: Any) -> str | None:
    """The ``Mcp-Session-Id`` of the HTTP request that carried an MCP message (2025-11-25
    era), else None. A 2026-07-28 request has no session: whatever id it carries was never
    checked against its caller (the SDK validates ids of the legacy era only), so it is not
    one."""
    headers = getattr(request, "headers", {})
    if is_modern(headers.get(MCP_PROTOCOL_VERSION_HEADER)):
        return None
    session_id = headers.get(MCP_SESSION_ID_HEADER)
    return str(session_id) if session_id else None


def caller_of(scope: Scope | None) -> Caller:
    """The caller of the HTTP request that carried an MCP message. Raises RuntimeError when
    the edge did not set one (a wiring error, never a client's)."""
    caller = (scope or {}).get("state", {}).get(_STATE_KEY)
    if not isinstance(caller, Caller):
        raise RuntimeError("MCP request without a caller: the endpoint edge did not run")
    return caller
