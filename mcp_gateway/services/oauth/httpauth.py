"""``httpx2.Auth`` for an upstream's HTTP client: the per-user bearer token, refreshed before
expiry, and one forced refresh plus one retry when the upstream answers 401.

For a pool that builds each per-user Streamable HTTP session with its own ``httpx2.AsyncClient``
(``mcp.client.streamable_http.streamable_http_client(url, http_client=...)``): pass
``auth=OAuthBearerAuth(service, server, username)`` and a refreshed token is used on the next
request with no reconnect.

Failures: when no token can be had before a request (no grant, grant revoked, AS down) the
GatewayError propagates out of the HTTP request. When the refresh after an upstream 401 fails,
the 401 response is returned instead (the session stays usable for the user's next login; the
SDK turns the 401 into an MCP error for that one request). Either way :meth:`failure` tells the
pool why, so the caller gets 401 ``reauth_required`` rather than the transport's symptom.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncGenerator, Generator

import httpx2

from mcp_gateway.domain.servers import ServerConfig
from mcp_gateway.errors import GatewayError
from mcp_gateway.services.oauth.service import OAuthService


class OAuthBearerAuth(httpx2.Auth):
    requires_request_body = True  # the body is replayed on the one retry after a 401

    def __init__(self, service: OAuthService, server: ServerConfig, username: str) -> None:
        self._service = service
        self._server = server
        self._username = username
        self._failure: GatewayError | None = None
        self._sent: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"OAuthBearerAuth({self._server.name!r}, {self._username!r})"

    def failure(self) -> GatewayError | None:
        """Why the last request went out without a usable token (ReauthRequired, an AS error),
        as a fresh exception to raise; None once a token was obtained again."""
        return copy.copy(self._failure) if self._failure is not None else None

    def secret_values(self) -> tuple[str, ...]:
        """The credentials this auth has put on requests (for masking upstream errors)."""
        return self._sent

    def _remember(self, headers: dict[str, str]) -> None:
        values = [v for h in headers.values() for v in (h, h.partition(" ")[2]) if v]
        self._sent = tuple(dict.fromkeys([*values, *self._sent]))[:8]  # current and recent

    def sync_auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response]:
        raise RuntimeError("OAuthBearerAuth works with httpx2.AsyncClient only")

    async def async_auth_flow(
        self, request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        try:
            headers = await self._service.authorization_headers(self._server, self._username)
        except GatewayError as exc:
            self._failure = exc
            raise
        self._failure = None
        self._remember(headers)
        request.headers.update(headers)
        response = yield request
        if response.status_code != 401 or not headers:
            return
        await response.aread()
        try:
            headers = await self._service.force_refresh(self._server, self._username, headers)
        except GatewayError as exc:
            # Raising here would tear down the whole session (the SDK runs each POST in the
            # connection's task group); the upstream's 401 fails just this request instead.
            self._failure = exc
            return
        self._remember(headers)
        request.headers.update(headers)
        yield request
