"""``httpx2.Auth`` for an upstream's HTTP client: the per-user bearer token, refreshed before
expiry, and one forced refresh plus one retry when the upstream answers 401.

For a pool that builds each per-user Streamable HTTP session with its own ``httpx2.AsyncClient``
(``mcp.client.streamable_http.streamable_http_client(url, http_client=...)``): pass
``auth=OAuthBearerAuth(service, server, username)`` and a refreshed token is used on the next
request with no reconnect. A ReauthRequired raised here propagates out of the HTTP request.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator

import httpx2

from mcp_gateway.domain.servers import ServerConfig
from mcp_gateway.services.oauth.service import OAuthService


class OAuthBearerAuth(httpx2.Auth):
    requires_request_body = True  # the body is replayed on the one retry after a 401

    def __init__(self, service: OAuthService, server: ServerConfig, username: str) -> None:
        self._service = service
        self._server = server
        self._username = username

    def __repr__(self) -> str:
        return f"OAuthBearerAuth({self._server.name!r}, {self._username!r})"

    def sync_auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response]:
        raise RuntimeError("OAuthBearerAuth works with httpx2.AsyncClient only")

    async def async_auth_flow(
        self, request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        headers = await self._service.authorization_headers(self._server, self._username)
        request.headers.update(headers)
        response = yield request
        if response.status_code != 401 or not headers:
            return
        await response.aread()
        headers = await self._service.force_refresh(self._server, self._username, headers)
        request.headers.update(headers)
        yield request
