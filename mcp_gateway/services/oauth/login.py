"""The gateway-driven login for MCP OAuth servers (authorization code, PKCE S256).

The browser flow: an API caller gets a login link (:meth:`McpLogin.ticket_url`, or the
``authorizationUrl`` of a 401 ``reauth_required``); the browser opening it gets a flow cookie
and the authorization-server URL (:meth:`McpLogin.begin`); the AS sends it back to the callback
(:meth:`McpLogin.finish_login`), which checks the state against that cookie (:mod:`.state`),
redeems the code and stores the tokens. Clients are registered (RFC 7591) once per server and
redirect URI when none is configured; an external server's client comes from its template's
registration mode (:mod:`.external_clients`: manual, a DCR client shared per issuer, CIMD).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol
from urllib.parse import urlencode

from mcp_gateway.config import OAuthSettings
from mcp_gateway.crypto.keyring import Keyring
from mcp_gateway.domain.names import validate_username
from mcp_gateway.domain.servers import ServerConfig, oauth_enabled
from mcp_gateway.errors import GatewayError, InvalidRequest, ServerNotFound
from mcp_gateway.services.oauth.discovery import AuthServerMetadata, oauth_spec
from mcp_gateway.services.oauth.external_clients import ExternalOAuthClients
from mcp_gateway.services.oauth.grants import ClientAuth, code_grant, register_client
from mcp_gateway.services.oauth.refresh import TokenRefresher
from mcp_gateway.services.oauth.ssrf import GuardedClientFactory
from mcp_gateway.services.oauth.state import (
    LoginState,
    LoginTicket,
    StartedLogin,
    browser_hash,
    challenge_s256,
    login_link,
    new_verifier,
    open_ticket,
    redeem_state,
    seal_state,
)
from mcp_gateway.services.oauth.tokens import TokenSet, seal
from mcp_gateway.storage.ports import OAuthTokenStore, ServerStore

CALLBACK_PATH = "/oauth/callback"
START_PATH = "/oauth/start"


class LoginStore(OAuthTokenStore, ServerStore, Protocol):
    pass


class SessionInvalidator(Protocol):
    async def invalidate_user(self, server_name: str, username: str) -> None: ...


def _check_oauth_server(server: ServerConfig) -> None:
    if not oauth_enabled(server):
        raise InvalidRequest(
            f"server {server.name!r} is not an HTTP server configured for OAuth (oauth block "
            "or mcpAuthType 'oauth')"
        )


class McpLogin:
    def __init__(
        self,
        store: LoginStore,
        keyring: Keyring,
        settings: OAuthSettings,
        http: GuardedClientFactory,
        auth_server: Callable[[ServerConfig], Awaitable[AuthServerMetadata]],
        refresher: TokenRefresher,
        sessions: SessionInvalidator | None = None,
        external: ExternalOAuthClients | None = None,
    ) -> None:
        self._store = store
        self._keyring = keyring
        self._settings = settings
        self._http = http
        self.auth_server = auth_server
        self.refresher = refresher
        self._sessions = sessions
        # External servers: client from their template's registration mode (.registration).
        self.external = external
        # Dynamically registered clients: the gateway is one OAuth client per server and
        # redirect URI, so each login does not register a new client at the AS.
        self._registered: dict[tuple[str, str, str], ClientAuth] = {}
        # A user's own OAuth client of a server (their install of an external server), if any.

    @property
    def redirect_uri(self) -> str | None:
        base = self._settings.public_url
        return base.rstrip("/") + CALLBACK_PATH if base else None

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
        it. Raises InvalidRequest (not an OAuth server, no public URL, bad username)."""
        validate_username(username)
        _check_oauth_server(server)
        if not self._settings.public_url:
            raise InvalidRequest("set MCPGW_PUBLIC_URL to enable gateway-driven OAuth login")
        ticket = LoginTicket("mcp", server.name, username)
        return login_link(self._keyring, self._settings.public_url, START_PATH, ticket)

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
        _check_oauth_server(server)
        redirect_uri = self.redirect_uri
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
        if self.external is not None:
            template_scopes, extras = self.external.login_extras(server)
            # The user's install may ask for its own scopes (mcp-api's oauthScopes).
            own = await self.external.user_scopes(server, username)
            scopes = own or scopes or template_scopes
            params = {**extras, **params}  # the template cannot override the gateway's own
        if scopes:
            params["scope"] = " ".join(scopes)
        sep = "&" if "?" in meta.authorization_endpoint else "?"
        url = f"{meta.authorization_endpoint}{sep}{urlencode(params)}"
        return StartedLogin(url, state, self._http.guard.check_url(url).host)

    async def _client_for(
        self, server: ServerConfig, username: str, meta: AuthServerMetadata, redirect_uri: str
    ) -> ClientAuth:
        if self.external is not None:
            # An external server's client is always the current one of its registration mode
            # (a changed manual client, a re-registered DCR client), never the last login's.
            external = await self.external.client_for(server, username, redirect_uri)
            if external is not None:
                return external
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
        state = await redeem_state(self._keyring, self._store, state_token, cookies, kind="mcp")
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
