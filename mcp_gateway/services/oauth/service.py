"""OAuthService: a user's upstream OAuth tokens, kept fresh, and the gateway-driven login.

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
from urllib.parse import urlencode

from mcp_gateway.config import OAuthSettings
from mcp_gateway.crypto.keyring import Keyring
from mcp_gateway.domain.names import validate_username
from mcp_gateway.domain.servers import ServerConfig, oauth_enabled
from mcp_gateway.errors import GatewayError, InvalidRequest, ReauthRequired, ServerNotFound
from mcp_gateway.services.oauth.discovery import (
    AuthServerMetadata,
    canonical_resource,
    configured_metadata,
    discover,
    oauth_spec,
)
from mcp_gateway.services.oauth.discovery_cache import DiscoveryCache
from mcp_gateway.services.oauth.grants import ClientAuth, code_grant, register_client
from mcp_gateway.services.oauth.refresh import TokenRefresher
from mcp_gateway.services.oauth.ssrf import GuardedClientFactory
from mcp_gateway.services.oauth.state import (
    LoginState,
    LoginTicket,
    StartedLogin,
    browser_hash,
    challenge_s256,
    check_browser,
    consume_state,
    cookie_name,
    new_verifier,
    open_state,
    open_ticket,
    seal_state,
    seal_ticket,
)
from mcp_gateway.services.oauth.tokens import AUTH_METHODS, TokenSet, seal
from mcp_gateway.storage.ports import OAuthTokenStore, ServerStore

CALLBACK_PATH = "/oauth/callback"
START_PATH = "/oauth/start"


class OAuthStore(OAuthTokenStore, ServerStore, Protocol):
    pass


class SessionInvalidator(Protocol):
    async def invalidate_user(self, server_name: str, username: str) -> None: ...


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
        # Dynamically registered clients: the gateway is one OAuth client per server and
        # redirect URI, so a login URL (also offered with every 401 reauth_required) does not
        # register a new client at the AS each time.
        self._registered: dict[tuple[str, str, str], ClientAuth] = {}
        self.refresher = TokenRefresher(store, keyring, self._http, self._auth_server_for)

    @property
    def redirect_uri(self) -> str | None:
        base = self._settings.public_url
        return base.rstrip("/") + CALLBACK_PATH if base else None

    # -- tokens ------------------------------------------------------------------------------

    async def store_tokens(self, server: ServerConfig, username: str, data: TokenInput) -> None:
        """Encrypt and store ``data`` for (server, username), replacing any previous tokens,
        and drop that user's upstream session so it reconnects with them.

        Raises InvalidRequest (not an HTTP server, bad auth method, empty token).
        """
        validate_username(username)
        if not server.is_http:
            raise InvalidRequest(
                f"server {server.name!r} is not a streamable_http or sse server: "
                "OAuth tokens apply only to HTTP upstreams"
            )
        if not oauth_enabled(server):
            # Its sessions are shared by every user: one user's token must never ride on them.
            raise InvalidRequest(
                f"server {server.name!r} is not configured for OAuth: give it an oauth block "
                "(or mcp-api's mcpAuthType 'oauth') first"
            )
        if not data.access_token:
            raise InvalidRequest("accessToken must not be empty")
        config = oauth_spec(server)
        client_id = data.client_id or config.client_id
        # The configured secret belongs to the configured client only.
        secret = data.client_secret or (
            config.client_secret if client_id == config.client_id else None
        )
        method = data.auth_method or config.auth_method
        method = method or ("client_secret_basic" if secret else "none")
        if method not in AUTH_METHODS:
            allowed = ", ".join(AUTH_METHODS)
            raise InvalidRequest(f"tokenEndpointAuthMethod must be one of {allowed}")
        now = time.time()
        tokens = TokenSet(
            server=server.name,
            username=username,
            access_token=data.access_token,
            refresh_token=data.refresh_token or None,
            client_secret=secret or None,
            code_verifier=data.code_verifier or None,
            token_type=data.token_type or "Bearer",
            expires_at=now + data.expires_in if data.expires_in else None,
            scopes=data.scopes,
            client_id=client_id,
            auth_method=method,
            redirect_uri=data.redirect_uri,
            resource=config.resource or canonical_resource(server.url),
            auth_server=configured_metadata(server),
            updated_at=now,
        )
        await self._store.put_tokens(seal(tokens, self._keyring))
        if self._sessions is not None:
            await self._sessions.invalidate_user(server.name, username)

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
            raise ReauthRequired(exc.message, await self.login_url(server, username)) from None
        return tokens.header()

    async def _auth_server_for(self, server: ServerConfig, tokens: TokenSet) -> AuthServerMetadata:
        return await self.auth_server(server)

    async def auth_server(self, server: ServerConfig) -> AuthServerMetadata:
        """Configured or discovered (RFC 9728 then RFC 8414) metadata, cached per process
        (failures for a short while, see :mod:`.discovery_cache`)."""
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

    # -- gateway-driven login ----------------------------------------------------------------

    async def login_url(self, server: ServerConfig, username: str) -> str | None:
        """A login link (the gateway's start page, see :meth:`ticket_url`) when a login can be
        started for ``server``, else None. Discovery here is cached (failures briefly)."""
        try:
            url = self.ticket_url(server, username)
            meta = await self.auth_server(server)
        except GatewayError:
            return None
        return url if meta.authorization_endpoint else None

    def ticket_url(self, server: ServerConfig, username: str) -> str:
        """The gateway URL that starts a login for (server, username) in the browser that opens
        it. Raises InvalidRequest (not an HTTP server, no public URL, bad username)."""
        validate_username(username)
        if not server.is_http:
            raise InvalidRequest(f"server {server.name!r} is not an HTTP upstream")
        if not self._settings.public_url:
            raise InvalidRequest("set MCPGW_PUBLIC_URL to enable gateway-driven OAuth login")
        ticket = seal_ticket(self._keyring, LoginTicket("mcp", server.name, username))
        return (
            f"{self._settings.public_url.rstrip('/')}{START_PATH}?{urlencode({'ticket': ticket})}"
        )

    async def begin(self, ticket_token: str, browser_secret: str) -> StartedLogin:
        """Open a login link in a browser: the flow bound to ``browser_secret`` (the cookie the
        caller sets). Raises InvalidRequest (bad or expired link), ServerNotFound, and what
        :meth:`start_login` raises."""
        ticket = open_ticket(self._keyring, ticket_token, kind="mcp")
        server = await self._store.get_server(ticket.server)
        if server is None:
            raise ServerNotFound(ticket.server)
        return await self.start_login(server, ticket.username, browser_hash(browser_secret))

    async def start_login(self, server: ServerConfig, username: str, browser: str) -> StartedLogin:
        """The authorization-server URL (PKCE S256, sealed single-use ``state`` bound to the
        browser whose cookie secret hashes to ``browser``) to send that browser to. Registers a
        client (RFC 7591) when none is known and the AS allows.

        Raises InvalidRequest (no public URL, no authorization endpoint, no client), discovery
        and registration errors.
        """
        validate_username(username)
        redirect_uri = self.redirect_uri
        if not server.is_http:
            raise InvalidRequest(f"server {server.name!r} is not an HTTP upstream")
        if redirect_uri is None:
            raise InvalidRequest("set MCPGW_PUBLIC_URL to enable gateway-driven OAuth login")
        meta = await self.auth_server(server)
        if not meta.authorization_endpoint:
            raise InvalidRequest(f"server {server.name!r}: the AS has no authorization endpoint")
        if meta.code_challenge_methods and "S256" not in meta.code_challenge_methods:
            raise InvalidRequest(f"server {server.name!r}: the AS does not support PKCE S256")
        self._http.guard.check_url(meta.authorization_endpoint)
        client = await self._client_for(server, username, meta, redirect_uri)
        verifier = new_verifier()
        state = LoginState(
            kind="mcp",
            server=server.name,
            username=username,
            code_verifier=verifier,
            client_id=client.client_id,
            client_secret=client.client_secret,
            auth_method=client.method,
            redirect_uri=redirect_uri,
            auth_server=meta.to_meta(),
            browser_hash=browser,
        )
        params = {
            "response_type": "code",
            "client_id": client.client_id or "",
            "redirect_uri": redirect_uri,
            "state": seal_state(self._keyring, state),
            "code_challenge": challenge_s256(verifier),
            "code_challenge_method": "S256",
        }
        if meta.resource:
            params["resource"] = meta.resource
        scopes = oauth_spec(server).scopes
        if scopes:
            params["scope"] = " ".join(scopes)
        sep = "&" if "?" in meta.authorization_endpoint else "?"
        url = f"{meta.authorization_endpoint}{sep}{urlencode(params)}"
        return StartedLogin(url, state, self._http.guard.check_url(url).host)

    async def _client_for(
        self, server: ServerConfig, username: str, meta: AuthServerMetadata, redirect_uri: str
    ) -> ClientAuth:
        previous = await self.refresher.load(server.name, username)
        if previous is not None and previous.client_id and previous.redirect_uri == redirect_uri:
            return ClientAuth(previous.client_id, previous.client_secret, previous.auth_method)
        config = oauth_spec(server)
        if config.client_id:
            default = "client_secret_basic" if config.client_secret else "none"
            return ClientAuth(config.client_id, config.client_secret, config.auth_method or default)
        if not meta.registration_endpoint:
            raise InvalidRequest(
                f"server {server.name!r}: no OAuth client id configured and the AS does not "
                "support dynamic client registration"
            )
        key = (server.name, meta.registration_endpoint, redirect_uri)
        registered = self._registered.get(key)
        if registered is not None:
            return registered
        async with self._http() as client:
            registered = await register_client(
                client,
                self._http.guard,
                meta.registration_endpoint,
                redirect_uri=redirect_uri,
                scopes=config.scopes,
            )
        self._registered[key] = registered
        return registered

    async def finish_login(
        self, code: str, state_token: str, cookies: Mapping[str, str]
    ) -> LoginState:
        """Check ``state`` and that the flow's cookie among ``cookies`` is the starting
        browser's, consume the state, exchange ``code`` and store the tokens.

        Raises InvalidRequest (bad, expired or replayed state), Forbidden (another browser),
        ServerNotFound, token errors.
        """
        state = open_state(self._keyring, state_token, kind="mcp")
        check_browser(state, cookies.get(cookie_name(state)))
        await consume_state(self._store, state)
        server = await self._store.get_server(state.server)
        if server is None:
            raise ServerNotFound(state.server)
        meta = AuthServerMetadata.from_meta(state.auth_server)
        if meta is None or not code:
            raise InvalidRequest("OAuth callback without a code")
        client = ClientAuth(state.client_id, state.client_secret, state.auth_method)
        async with self._http() as http:
            body = await code_grant(
                http,
                self._http.guard,
                meta.token_endpoint,
                code=code,
                redirect_uri=state.redirect_uri,
                code_verifier=state.code_verifier,
                auth=client,
                resource=meta.resource,
            )
        base = TokenSet(
            server=server.name,
            username=state.username,
            access_token="",
            client_secret=state.client_secret,
            client_id=state.client_id,
            auth_method=state.auth_method,
            redirect_uri=state.redirect_uri,
            resource=meta.resource,
            auth_server=meta,
        )
        await self._store.put_tokens(seal(base.with_response(body), self._keyring))
        if self._sessions is not None:
            await self._sessions.invalidate_user(server.name, state.username)
        return state
