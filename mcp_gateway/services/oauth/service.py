"""OAuthService: a user's upstream OAuth tokens, kept fresh; the authorization server found
(configured or discovered, cached); the gateway-driven login in :attr:`OAuthService.login`
(:mod:`.login`).

Hot path: :meth:`OAuthService.authorization_headers` is one indexed store read and one
decryption while the token is fresh; it refreshes (single-flight, see :mod:`.refresh`) within
60 s of expiry. On an upstream 401 the caller asks :meth:`force_refresh` once with the rejected
token and retries once.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Protocol

from mcp_gateway.config import OAuthSettings
from mcp_gateway.crypto.keyring import Keyring
from mcp_gateway.domain.names import validate_username
from mcp_gateway.domain.servers import ServerConfig, oauth_enabled
from mcp_gateway.errors import GatewayError, InvalidRequest, ReauthRequired
from mcp_gateway.services.oauth.discovery import (
    AuthServerMetadata,
    canonical_resource,
    configured_metadata,
    discover,
    oauth_spec,
)
from mcp_gateway.services.oauth.discovery_cache import DiscoveryCache
from mcp_gateway.services.oauth.external_clients import (
    ExternalOAuthClients,
    template_metadata,
    template_of,
)
from mcp_gateway.services.oauth.grants import ClientAuth
from mcp_gateway.services.oauth.login import McpLogin, SessionInvalidator
from mcp_gateway.services.oauth.refresh import TokenRefresher
from mcp_gateway.services.oauth.registration import ClientRegistry, ResolvedClient
from mcp_gateway.services.oauth.ssrf import GuardedClientFactory
from mcp_gateway.services.oauth.tokens import AUTH_METHODS, TokenSet, handed_expiry, seal
from mcp_gateway.storage.ports import OAuthTokenStore, ServerStore


class OAuthStore(OAuthTokenStore, ServerStore, Protocol):
    pass


@dataclass(frozen=True, slots=True)
class TokenInput:
    """Tokens handed to the gateway (mcp-api's ``POST /mcp/servers/{name}/oauth`` body)."""

    access_token: str
    token_type: str = "Bearer"
    refresh_token: str | None = None
    expires_in: float | None = None
    scopes: tuple[str, ...] = ()
    client_id: str | None = None
    client_secret: str | None = None
    redirect_uri: str | None = None
    code_verifier: str | None = None
    auth_method: str | None = None
    expires_at: float | None = None  # epoch seconds (mcp-api's expiresAt), if no expires_in
    token_endpoint: str | None = None  # where to refresh, when the server's AS is not known

    def __repr__(self) -> str:
        return f"TokenInput(client_id={self.client_id!r}, expires_in={self.expires_in!r})"


class OAuthService:
    """Per-(server, username) OAuth tokens for Streamable HTTP / SSE upstreams."""

    def __init__(
        self,
        store: OAuthStore,
        keyring: Keyring,
        settings: OAuthSettings,
        http: GuardedClientFactory | None = None,
        *,
        sessions: SessionInvalidator | None = None,
    ) -> None:
        self._store = store
        self._keyring = keyring
        self._settings = settings
        self._http = http or GuardedClientFactory(settings.allowed_hosts)
        self._sessions = sessions
        self._discovery = DiscoveryCache()
        self.refresher = TokenRefresher(store, keyring, self._http, self._auth_server_for)
        self.clients = ClientRegistry(store, keyring, self._http, settings.public_url)
        self.external = ExternalOAuthClients(self.clients)
        self.refresher.client_rejected = self.clients.forget
        self.login = McpLogin(
            store,
            keyring,
            settings,
            self._http,
            self.auth_server,
            self.refresher,
            sessions,
            self.external,
        )

    async def resolve_external_client(
        self, server: ServerConfig, username: str, manual: ClientAuth | None = None
    ) -> ResolvedClient:
        """The OAuth client ``username``'s login to the external ``server`` uses (mcp-api's
        ``POST /mcp/user/servers/{name}/oauth-client/resolve``): manual (``manual``, else the
        install's), the shared DCR registration (registered now if needed) or the CIMD URL.

        Raises InvalidRequest (not an external OAuth server, a bad template, no public URL,
        no manual client id), and what :meth:`ClientRegistry.resolve_client` raises.
        """
        redirect_uri = self.login.redirect_uri
        if redirect_uri is None:
            raise InvalidRequest("set MCPGW_PUBLIC_URL to enable gateway-driven OAuth login")
        resolved = await self.external.resolve(server, username, redirect_uri, manual)
        if resolved is None:
            raise InvalidRequest(f"server {server.name!r} is not an external OAuth server")
        return resolved

    async def register_external(
        self, server: ServerConfig, username: str, mode: str
    ) -> ResolvedClient:
        """The ``dcr`` or ``cimd`` client of the external ``server`` (the registrar the per-user
        installs' resolve plugs in; ``username`` is not part of the key: one client is shared).
        Raises as :meth:`resolve_external_client`."""
        redirect_uri = self.login.redirect_uri
        template = template_of(server)
        if redirect_uri is None or template is None:
            raise InvalidRequest(
                f"server {server.name!r}: set MCPGW_PUBLIC_URL and an oauthTemplate to register"
            )
        return await self.clients.resolve_client(mode, template_metadata(template), redirect_uri)

    @property
    def http(self) -> GuardedClientFactory:
        """The SSRF-guarded client factory of every OAuth fetch (external discovery too)."""
        return self._http

    # -- tokens ------------------------------------------------------------------------------

    async def store_tokens(self, server: ServerConfig, username: str, data: TokenInput) -> None:
        """Encrypt and store ``data`` for (server, username), replacing any previous tokens
        (a refresh token the body omits is kept when the client is the same, as mcp-api does),
        and drop that user's upstream session so it reconnects with them.

        Any HTTP server takes tokens (mcp-api's model): storing them is what gives that user a
        session of their own carrying them; other users keep the shared one. On a server
        without a gateway ``oauth`` block, ``clientId`` and ``redirectUri`` are required
        (mcp-api's rule); with one, the configured client fills them in.

        Raises InvalidRequest (not an HTTP server, missing field, bad auth method).
        """
        validate_username(username)
        if not server.is_http:
            raise InvalidRequest(
                f"server {server.name!r} is not a streamable_http or sse server: "
                "OAuth tokens apply only to HTTP upstreams"
            )
        if not data.access_token:
            raise InvalidRequest("accessToken must not be empty")
        config = oauth_spec(server)
        client_id = data.client_id or config.client_id
        if not oauth_enabled(server):
            missing = [
                n for n, v in (("clientId", client_id), ("redirectUri", data.redirect_uri)) if not v
            ]
            if missing:
                raise InvalidRequest(f"missing required OAuth fields: {', '.join(missing)}")
        # The configured secret belongs to the configured client only, and goes only to the
        # configured (or discovered) AS: never to a tokenEndpoint the caller chose.
        home = not data.token_endpoint or data.token_endpoint == config.token_endpoint
        secret = data.client_secret or (
            config.client_secret if client_id == config.client_id and home else None
        )
        method = data.auth_method or config.auth_method
        method = method or ("client_secret_basic" if secret else "none")
        if method not in AUTH_METHODS:
            allowed = ", ".join(AUTH_METHODS)
            raise InvalidRequest(f"tokenEndpointAuthMethod must be one of {allowed}")
        refresh_token = data.refresh_token or await self._kept_refresh_token(
            server.name, username, client_id
        )
        now = time.time()
        auth_server = configured_metadata(server)
        if data.token_endpoint:
            self._http.guard.check_url(data.token_endpoint)  # refused now, not at refresh time
            auth_server = AuthServerMetadata(
                token_endpoint=data.token_endpoint,
                resource=config.resource or canonical_resource(server.url),
            )
        tokens = TokenSet(
            server=server.name,
            username=username,
            access_token=data.access_token,
            refresh_token=refresh_token,
            client_secret=secret or None,
            code_verifier=data.code_verifier or None,
            token_type=data.token_type or "Bearer",
            expires_at=handed_expiry(data.expires_in, data.expires_at, now),
            scopes=data.scopes,
            client_id=client_id,
            auth_method=method,
            redirect_uri=data.redirect_uri,
            resource=config.resource or canonical_resource(server.url),
            auth_server=auth_server,
            updated_at=now,
        )
        await self._store.put_tokens(seal(tokens, self._keyring))
        if self._sessions is not None:
            await self._sessions.invalidate_user(server.name, username)

    async def _kept_refresh_token(
        self, server: str, username: str, client_id: str | None
    ) -> str | None:
        try:
            old = await self.refresher.load(server, username)
        except GatewayError:  # an old record that no longer decrypts is simply replaced
            return None
        if old is None or old.client_id != client_id or old.state != "valid":
            return None
        return old.refresh_token

    async def auth_state(self, server: ServerConfig, username: str) -> str:
        """mcp-api's per-user ``authState``, derived from the stored grant: ``connected``
        (usable tokens), ``reauth_required`` (the refresh token was refused) or
        ``not_connected`` (no tokens)."""
        tokens = await self.refresher.load(server.name, username)
        if tokens is None:
            return "not_connected"
        return "connected" if tokens.state == "valid" else "reauth_required"

    async def delete_tokens(self, server: str, username: str) -> bool:
        return await self._store.delete_tokens(server, username)

    async def authorization_headers(self, server: ServerConfig, username: str) -> dict[str, str]:
        """``{"Authorization": "Bearer <token>"}`` for this user, refreshed if due; ``{}`` when
        the server is not OAuth-configured and the user stored no tokens.

        Raises ReauthRequired (with ``authorization_url`` when a login can be started),
        UpstreamError/UpstreamUnavailable (AS failure), UpstreamBusy, CryptoError.
        """
        if not server.is_http:
            return {}
        tokens = await self.refresher.load(server.name, username)
        if tokens is None and not oauth_enabled(server):
            return {}
        if tokens is not None and tokens.state == "valid" and not tokens.needs_refresh():
            return tokens.header()
        return await self._fresh_header(server, username, None)

    async def force_refresh(
        self, server: ServerConfig, username: str, rejected: Mapping[str, str] | str | None
    ) -> dict[str, str]:
        """After the upstream answered 401 to ``rejected`` (headers or token): a new header,
        unless another task or process already replaced that token. Raises as above."""
        if isinstance(rejected, Mapping):
            value = rejected.get("Authorization", "")
            rejected = value.split(" ", 1)[1] if " " in value else value
        return await self._fresh_header(server, username, rejected or "")

    async def _fresh_header(
        self, server: ServerConfig, username: str, rejected: str | None
    ) -> dict[str, str]:
        try:
            tokens = await self.refresher.fresh(server, username, rejected=rejected)
        except ReauthRequired as exc:
            url = await self.login.login_url(server, username)
            raise ReauthRequired(
                exc.message, url, server_name=server.name, username=username
            ) from None
        return tokens.header()

    async def _auth_server_for(self, server: ServerConfig, tokens: TokenSet) -> AuthServerMetadata:
        return await self.auth_server(server)

    async def auth_server(self, server: ServerConfig) -> AuthServerMetadata:
        """An external server's template, else configured or discovered (RFC 9728 then RFC 8414)
        metadata, cached per process
        (failures for a short while, see :mod:`.discovery_cache`)."""
        template = template_of(server)
        if template is not None:
            return template_metadata(template)
        config = oauth_spec(server)
        configured = configured_metadata(server)
        if configured is not None:
            return configured
        if not server.url:
            raise InvalidRequest(f"server {server.name!r} has no URL to discover OAuth from")
        url = server.url

        async def find() -> AuthServerMetadata:
            async with self._http() as client:
                found = await discover(client, self._http.guard, url, config.resource_metadata_url)
            return replace(found, resource=config.resource) if config.resource else found

        inputs = (url, config.resource_metadata_url, config.resource)
        return await self._discovery.get(server.name, inputs, find)
