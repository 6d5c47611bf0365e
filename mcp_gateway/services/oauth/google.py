"""Google OAuth for stdio servers declaring mcp-api's ``MCP_AUTH_TYPE=OAUTH2_GOOGLE``.

A server exposing ``auth_get_authorization_url`` / ``auth_exchange_code`` runs the flow with
those tools, as mcp-api does (:mod:`.google_tools`), behind the gateway's sealed state.
Otherwise the gateway runs the authorization-code flow itself (PKCE S256, sealed single-use
``state``, like :mod:`.service`), with the client id/secret and endpoints from
``GOOGLE_OAUTH_CREDENTIALS`` (the JSON file Google's console gives: ``{"web": {...}}`` or
``{"installed": {...}}``, whose ``auth_uri`` / ``token_uri`` default to Google's). Either way
the tokens are stored as that user's secret ``google_tokens`` for the server, in
google-auth-library's credential shape (``expiry_date`` in milliseconds), and
:func:`google_injection` places it as ``userCredentials`` next to ``gauthFileContent`` into
every tool call whose tool name does not start with ``auth_``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import urlencode

from mcp_gateway.config import OAuthSettings
from mcp_gateway.crypto.keyring import Keyring
from mcp_gateway.domain.names import validate_username
from mcp_gateway.domain.servers import ServerConfig
from mcp_gateway.errors import GatewayError, InvalidRequest, ReauthRequired, ServerNotFound
from mcp_gateway.services.oauth.google_tools import (
    auth_tools,
    tool_authorization_url,
    tool_exchange,
    with_state,
)
from mcp_gateway.services.oauth.grants import ClientAuth, code_grant
from mcp_gateway.services.oauth.ssrf import GuardedClientFactory
from mcp_gateway.services.oauth.state import (
    LOGIN_LINK_TTL,
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
from mcp_gateway.services.upstream_port import UpstreamPort
from mcp_gateway.storage.ports import OAuthTokenStore, ServerStore

GOOGLE_AUTH_TYPE = "OAUTH2_GOOGLE"
GOOGLE_TOKENS_SECRET = "google_tokens"
GOOGLE_AUTH_URI = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
GOOGLE_CALLBACK_PATH = "/auth/google/callback"
GOOGLE_START_PATH = "/auth/google/start"
GOOGLE_LOGIN_PATH = "/auth/google/login"
DEFAULT_SCOPES = ("openid", "email", "profile")
#: Arguments of a Google server's tools that only the gateway fills in.
GOOGLE_ARGUMENTS = frozenset({GOOGLE_TOKENS_SECRET, "userCredentials", "gauthFileContent"})


def is_google_server(server: ServerConfig) -> bool:
    kind = server.env.get("MCP_AUTH_TYPE") or server.extra.get("mcpAuthType") or ""
    return str(kind).upper() == GOOGLE_AUTH_TYPE


def google_injection(
    server: ServerConfig,
    tool_name: str,
    *,
    google_tokens: str | None,
    gauth_file_content: str | None,
) -> dict[str, Any]:
    """Hidden arguments for a tool call on a Google server (pure: no I/O).

    ``google_tokens`` is the user's decrypted ``google_tokens`` secret for ``server`` (the
    tool-call service already loads every secret of (user, server) per call),
    ``gauth_file_content`` the ``GOOGLE_OAUTH_CREDENTIALS`` JSON. ``{}`` for other servers and
    for ``auth_*`` tools. Raises ReauthRequired when the user never logged in (the caller may
    add the login URL), InvalidRequest when a stored value is not JSON.
    """
    if not is_google_server(server) or tool_name.startswith("auth_"):
        return {}
    if not google_tokens:
        raise ReauthRequired(f"Google login required for server {server.name!r}")
    try:
        credentials = json.loads(google_tokens)
        gauth = json.loads(gauth_file_content) if gauth_file_content else {}
    except ValueError:
        raise InvalidRequest(
            f"stored Google credentials for server {server.name!r} are not valid JSON"
        ) from None
    return {"userCredentials": credentials, "gauthFileContent": gauth}


class SecretWriter(Protocol):
    """``SecretService.set`` (encrypts with secret_aad, drops the user's sessions)."""

    async def set(self, username: str, server: str, name: str, value: str) -> None: ...


class GoogleStore(OAuthTokenStore, ServerStore, Protocol):
    pass


def google_client(settings: OAuthSettings) -> tuple[ClientAuth, str, str]:
    """(client, auth_uri, token_uri) from ``GOOGLE_OAUTH_CREDENTIALS``. Raises InvalidRequest."""
    raw = settings.google_credentials.get_secret_value() if settings.google_credentials else ""
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        data = None
    if isinstance(data, dict):
        data = data.get("web") or data.get("installed") or data
    if not isinstance(data, dict) or not isinstance(data.get("client_id"), str):
        raise InvalidRequest("GOOGLE_OAUTH_CREDENTIALS is not set or has no client_id")
    secret = data.get("client_secret") if isinstance(data.get("client_secret"), str) else None
    client = ClientAuth(data["client_id"], secret, "client_secret_post" if secret else "none")
    auth_uri = data.get("auth_uri") or GOOGLE_AUTH_URI
    return client, auth_uri, data.get("token_uri") or GOOGLE_TOKEN_URI


class GoogleLogin:
    """``/auth/google/login`` and ``/auth/google/callback``."""

    def __init__(
        self,
        store: GoogleStore,
        keyring: Keyring,
        settings: OAuthSettings,
        secrets: SecretWriter,
        http: GuardedClientFactory | None = None,
        *,
        tools: UpstreamPort | None = None,
    ) -> None:
        """``tools``: the upstream pool, to use a server's own auth tools when it has them."""
        self._store = store
        self._keyring = keyring
        self._settings = settings
        self._secrets = secrets
        self._http = http or GuardedClientFactory(settings.allowed_hosts)
        self._tools = tools

    async def resolve_server(self, name: str | None) -> ServerConfig:
        """The named Google server, or the only one. Raises ServerNotFound/InvalidRequest."""
        if name:
            server = await self._store.get_server(name)
            if server is None or not is_google_server(server):
                raise ServerNotFound(name)
            return server
        found = [s for s in await self._store.list_servers() if is_google_server(s)]
        if len(found) != 1:
            raise InvalidRequest(
                "pass server=<name>: "
                + ("no server uses OAUTH2_GOOGLE" if not found else "several servers do")
            )
        return found[0]

    def ticket_url(self, server: ServerConfig, username: str) -> str:
        """The gateway URL that starts the Google login for (server, username) in the browser
        that opens it (see :mod:`.state`). Raises InvalidRequest."""
        validate_username(username)
        if not self._settings.public_url:
            raise InvalidRequest("set MCPGW_PUBLIC_URL to enable the Google login")
        ticket = LoginTicket("google", server.name, username)
        return login_link(self._keyring, self._settings.public_url, GOOGLE_START_PATH, ticket)

    def login_link(self, server: ServerConfig, username: str) -> tuple[str, float]:
        """(URL, expiry) of a signed browser link for ``POST /auth/google/login-link``:
        ``/auth/google/login?user_id=...&ticket=...`` that anyone holding it can open, for
        :data:`LOGIN_LINK_TTL` seconds, to link a Google account to ``username`` only (the
        ticket is AES-GCM sealed with the gateway keyring: it cannot be made or altered
        without it). Raises InvalidRequest."""
        validate_username(username)
        if not self._settings.public_url:
            raise InvalidRequest("set MCPGW_PUBLIC_URL to enable the Google login")
        expires = time.time() + LOGIN_LINK_TTL
        ticket = LoginTicket("google", server.name, username, expires_at=expires)
        url = login_link(self._keyring, self._settings.public_url, GOOGLE_LOGIN_PATH, ticket)
        return f"{url}&{urlencode({'user_id': username, 'server': server.name})}", expires

    async def begin(
        self, ticket_token: str, browser_secret: str, *, user_id: str | None = None
    ) -> StartedLogin:
        """Open a login link in a browser. ``user_id``, when the link names one, must be the
        ticket's (the ticket alone decides). Raises InvalidRequest, ServerNotFound."""
        ticket = open_ticket(self._keyring, ticket_token, kind="google")
        if user_id is not None and user_id != ticket.username:
            raise InvalidRequest("this login link was issued for another user")
        server = await self.resolve_server(ticket.server)
        return await self.start_login(server, ticket.username, browser_hash(browser_secret))

    async def start_login(self, server: ServerConfig, username: str, browser: str) -> StartedLogin:
        """Google's authorization URL for a flow bound to the browser whose cookie secret
        hashes to ``browser``: built by the server's ``auth_get_authorization_url`` when it
        has the auth tools, else by the gateway from ``GOOGLE_OAUTH_CREDENTIALS``."""
        validate_username(username)
        tools = self._tools
        properties = await self._auth_tools(server, username)
        if tools is not None and properties is not None:
            return await self._start_with_tools(tools, server, username, browser, properties)
        if not self._settings.public_url:
            raise InvalidRequest("set MCPGW_PUBLIC_URL to enable the Google login")
        client, auth_uri, _token_uri = google_client(self._settings)
        host = self._http.guard.check_url(auth_uri).host
        redirect_uri = self._settings.public_url.rstrip("/") + GOOGLE_CALLBACK_PATH
        verifier = new_verifier()
        state = LoginState(
            kind="google",
            server=server.name,
            username=username,
            code_verifier=verifier,
            redirect_uri=redirect_uri,
            browser_hash=browser,
        )
        scopes = server.extra.get("googleScopes") or server.env.get("GOOGLE_SCOPES")
        if isinstance(scopes, list):
            scopes = " ".join(str(s) for s in scopes)
        params = {
            "response_type": "code",
            "client_id": client.client_id or "",
            "redirect_uri": redirect_uri,
            "scope": str(scopes or " ".join(DEFAULT_SCOPES)),
            "state": seal_state(self._keyring, state),
            "code_challenge": challenge_s256(verifier),
            "code_challenge_method": "S256",
            "access_type": "offline",  # Google: issue a refresh token
            "prompt": "consent",
        }
        url = f"{auth_uri}{'&' if '?' in auth_uri else '?'}{urlencode(params)}"
        return StartedLogin(url, state, host)

    async def finish_login(
        self, code: str, state_token: str, cookies: Mapping[str, str]
    ) -> LoginState:
        """Check ``state`` and the flow's cookie among ``cookies``, consume the state,
        exchange ``code``, store ``google_tokens``.

        Raises InvalidRequest (bad/expired/replayed state, no code), Forbidden (another
        browser), token-endpoint errors.
        """
        state = await redeem_state(self._keyring, self._store, state_token, cookies, kind="google")
        if not code:
            raise InvalidRequest("OAuth callback without a code")
        if state.via == "tools" and self._tools is not None:
            server = await self.resolve_server(state.server)
            tokens = await tool_exchange(
                self._tools, server, state.username, code, state.tool_state
            )
            await self._secrets.set(state.username, state.server, GOOGLE_TOKENS_SECRET, tokens)
            return state
        client, _auth_uri, token_uri = google_client(self._settings)
        async with self._http() as http:
            body = await code_grant(
                http,
                self._http.guard,
                token_uri,
                code=code,
                redirect_uri=state.redirect_uri,
                code_verifier=state.code_verifier,
                auth=client,
            )
        credentials = {k: v for k, v in body.items() if k != "expires_in"}
        expires_in = body.get("expires_in")
        if isinstance(expires_in, int | float):
            credentials["expiry_date"] = int((time.time() + expires_in) * 1000)
        await self._secrets.set(
            state.username, state.server, GOOGLE_TOKENS_SECRET, json.dumps(credentials)
        )
        return state

    async def _auth_tools(self, server: ServerConfig, username: str) -> dict[str, Any] | None:
        """The URL tool's parameters if the server runs the flow with its tools. A server that
        cannot list its tools leaves the flow to the gateway when GOOGLE_OAUTH_CREDENTIALS is
        set; otherwise its error is the answer."""
        if self._tools is None:
            return None
        try:
            return await auth_tools(self._tools, server, username)
        except GatewayError:
            if self._settings.google_credentials is None:
                raise
            return None

    async def _start_with_tools(
        self,
        tools: UpstreamPort,
        server: ServerConfig,
        username: str,
        browser: str,
        properties: dict[str, Any],
    ) -> StartedLogin:
        base = (self._settings.public_url or "").rstrip("/")
        redirect_uri = base + GOOGLE_CALLBACK_PATH  # a path alone scopes the flow's cookie
        url, tool_state = await tool_authorization_url(
            tools,
            self._http.guard,
            server,
            username,
            properties,
            redirect_uri if base else None,
        )
        state = LoginState(
            kind="google",
            server=server.name,
            username=username,
            code_verifier="",  # the tool keeps its own PKCE verifier, if any
            redirect_uri=redirect_uri,
            browser_hash=browser,
            via="tools",
            tool_state=tool_state,
        )
        sealed = with_state(url, seal_state(self._keyring, state))
        return StartedLogin(sealed, state, self._http.guard.check_url(url).host)
