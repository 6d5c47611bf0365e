"""Upstream credentials on the tool-call path: :class:`UpstreamCredentials`.

OAuth servers get one session per user (``domain.servers.session_scope``) whose HTTP client
carries :class:`OAuthBearerAuth`: a fresh token on every request and one refresh on a 401,
without reconnecting. On any other HTTP server, a user who stored tokens
(``POST /mcp/servers/{name}/oauth``, mcp-api's model) gets such a session of their own
(:meth:`UpstreamCredentials.own_session`); other users keep the shared one. Before a call,
:meth:`UpstreamCredentials.prepare` makes a missing or revoked grant a clean 401
``reauth_required`` instead of a failed upstream connection, and puts Google credentials into
the arguments of Google stdio servers (mcp-api's ``OAUTH2_GOOGLE``).

Google credentials come from the gateway only: the user's stored ``google_tokens`` secret and
``GOOGLE_OAUTH_CREDENTIALS``. A caller's own ``google_tokens``, ``userCredentials`` or
``gauthFileContent`` argument is dropped (it would skip the login check and have the gateway
send its client secret to wherever the caller points). Every injected credential, parsed or
not, is masked in what the upstream reports.
"""

from __future__ import annotations

import httpx2
from pydantic import SecretStr

from mcp_gateway.domain.redaction import secret_values
from mcp_gateway.domain.servers import ServerConfig, oauth_enabled
from mcp_gateway.errors import InvalidRequest, ReauthRequired
from mcp_gateway.services.injection import Injection
from mcp_gateway.services.oauth.google import (
    GOOGLE_ARGUMENTS,
    GOOGLE_TOKENS_SECRET,
    GoogleLogin,
    google_injection,
    is_google_server,
)
from mcp_gateway.services.oauth.httpauth import OAuthBearerAuth
from mcp_gateway.services.oauth.service import OAuthService


class UpstreamCredentials:
    def __init__(
        self,
        oauth: OAuthService,
        google_credentials: SecretStr | None,
        google: GoogleLogin | None = None,
    ) -> None:
        """``google`` makes a missing Google login's 401 carry a signed login link."""
        self._oauth = oauth
        self._google_credentials = google_credentials
        self._google = google

    def http_auth(self, server: ServerConfig, username: str) -> httpx2.Auth | None:
        """For ``UpstreamPool(http_auth=...)``: the auth of a user's own HTTP session (it adds
        nothing to the requests of a user without tokens on a server not configured for
        OAuth)."""
        return OAuthBearerAuth(self._oauth, server, username) if server.is_http else None

    async def own_session(self, server: ServerConfig, username: str) -> bool:
        """Whether ``username``'s calls need a session of their own on a server whose users
        otherwise share one: they stored OAuth tokens for it. One indexed store read per call
        (so every replica agrees at once); refreshes the token when due.

        Raises ReauthRequired (the user's tokens are dead: they must sign in again), and
        what :meth:`OAuthService.authorization_headers` raises.
        """
        if not server.is_http or oauth_enabled(server):
            return False  # not HTTP, or already one session per user
        return bool(await self._oauth.authorization_headers(server, username))

    def applies_to(self, server: ServerConfig) -> bool:
        return oauth_enabled(server) or is_google_server(server)

    async def prepare(
        self, server: ServerConfig, username: str, tool: str, injection: Injection
    ) -> Injection:
        """``injection`` (the user's stored secrets, placed) with Google credentials added;
        raises ReauthRequired when the user has no usable grant for an OAuth server, or never
        logged in with Google for a Google server."""
        if oauth_enabled(server):
            await self._oauth.authorization_headers(server, username)
        if not is_google_server(server):
            return injection
        # The stored secret only: a caller's argument of that name never gets here.
        stored = injection.args.get(GOOGLE_TOKENS_SECRET)
        tokens = stored if isinstance(stored, str) else None
        gauth = self._google_credentials.get_secret_value() if self._google_credentials else None
        try:
            args = google_injection(server, tool, google_tokens=tokens, gauth_file_content=gauth)
        except ReauthRequired as exc:
            raise ReauthRequired(
                exc.message,
                self._google_link(server, username),
                server_name=server.name,
                username=username,
            ) from None
        values = {form for raw in (tokens, gauth) if raw for form in secret_values(raw)}
        return injection.injecting(args, values, reserve=GOOGLE_ARGUMENTS)

    def _google_link(self, server: ServerConfig, username: str) -> str | None:
        if self._google is None:
            return None
        try:
            return self._google.login_link(server, username)[0]
        except InvalidRequest:  # no public URL configured: no link to offer
            return None
