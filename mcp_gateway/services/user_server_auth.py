"""The HTTP client side of one user's session on a server of their own.

:class:`UserSessionAuth` is the ``httpx2.Auth`` the pool gives a per-user HTTP session of an
external server (or of any server with ``query`` secrets):

- it adds the user's ``query`` secrets (an external server's URL secrets) as URL query
  parameters of every request: they are never stored in the server's URL, and never passed as
  tool arguments (mcp-api did both);
- it brings the network transport (:func:`mcp_gateway.upstream.http_connect.network_transport`):
  for an external server an SSRF-guarded one, so every TCP connection (each redirect hop, each
  reconnect) is resolved, vetted and connected to the vetted address;
- on an OAuth server it runs :class:`~mcp_gateway.services.oauth.OAuthBearerAuth` inside
  (fresh bearer token, one refresh on a 401) and reports its failure and secrets to the pool.

The user's secrets are read once per session: saving a secret closes the user's session
(``SecretService.set`` invalidates it), so the next one reads the new value.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator

import httpx2

from mcp_gateway.domain.servers import ServerConfig
from mcp_gateway.domain.user_servers import is_external, query_secret_names
from mcp_gateway.errors import GatewayError
from mcp_gateway.services.oauth.httpauth import OAuthBearerAuth
from mcp_gateway.services.oauth.ssrf import GuardedTransport, SsrfGuard
from mcp_gateway.services.secrets import SecretService


class UserSessionAuth(httpx2.Auth):
    requires_request_body = True  # the inner OAuth auth may replay the body after a 401

    def __init__(
        self,
        server: ServerConfig,
        username: str,
        secrets: SecretService,
        *,
        guard: SsrfGuard | None,
        bearer: OAuthBearerAuth | None,
    ) -> None:
        self._server = server
        self._username = username
        self._secrets = secrets
        self._guard = guard
        self._bearer = bearer
        self._query: dict[str, str] | None = None
        self._values: tuple[str, ...] = ()
        self._failure: GatewayError | None = None

    def __repr__(self) -> str:
        return f"UserSessionAuth({self._server.name!r}, {self._username!r})"

    def network_transport(self) -> httpx2.AsyncBaseTransport:
        if self._guard is None:
            return httpx2.AsyncHTTPTransport()
        return GuardedTransport(self._guard)

    def failure(self) -> GatewayError | None:
        if self._failure is not None:
            return self._failure
        return self._bearer.failure() if self._bearer is not None else None

    def secret_values(self) -> tuple[str, ...]:
        inner = self._bearer.secret_values() if self._bearer is not None else ()
        return (*self._values, *inner)

    async def _query_params(self) -> dict[str, str]:
        if self._query is None:
            try:
                injection = await self._secrets.injection(self._server, self._username)
            except GatewayError as exc:  # e.g. a required URL secret the user has not saved
                self._failure = exc
                raise
            self._failure = None
            self._query = dict(injection.query)
            self._values = tuple(injection.values)
        return self._query

    def sync_auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response]:
        raise RuntimeError("UserSessionAuth works with httpx2.AsyncClient only")

    async def async_auth_flow(
        self, request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        query = await self._query_params()
        if query:
            request.url = request.url.copy_merge_params(query)
        if self._bearer is None:
            yield request
            return
        flow = self._bearer.async_auth_flow(request)
        outgoing = await flow.__anext__()
        while True:
            response = yield outgoing
            try:
                outgoing = await flow.asend(response)
            except StopAsyncIteration:
                return


def session_auth(
    server: ServerConfig,
    username: str,
    secrets: SecretService,
    guard: SsrfGuard,
    fallback: httpx2.Auth | None,
) -> httpx2.Auth | None:
    """The auth of ``username``'s own session of ``server``: :class:`UserSessionAuth` for an
    external server (with ``guard``) or one with ``query`` secrets (without), else
    ``fallback`` (the OAuth auth, run inside a UserSessionAuth too)."""
    external = is_external(server)
    if not external and not query_secret_names(server):
        return fallback
    bearer = fallback if isinstance(fallback, OAuthBearerAuth) else None
    return UserSessionAuth(
        server, username, secrets, guard=guard if external else None, bearer=bearer
    )
