"""What OAuth adds to the tool-call path.

OAuth servers get one session per user (``domain.servers.session_scope``) whose HTTP client
carries :class:`OAuthBearerAuth`: a fresh token on every request and one refresh on a 401,
without reconnecting. Before a call, :meth:`UpstreamCredentials.prepare` makes a missing or
revoked grant a clean 401 ``reauth_required`` instead of a failed upstream connection, and puts
Google credentials into the arguments of Google stdio servers (mcp-api's ``OAUTH2_GOOGLE``).
"""

from __future__ import annotations

from typing import Any

import httpx2
from pydantic import SecretStr

from mcp_gateway.domain.servers import ServerConfig, oauth_enabled
from mcp_gateway.services.oauth.google import google_injection, is_google_server
from mcp_gateway.services.oauth.httpauth import OAuthBearerAuth
from mcp_gateway.services.oauth.service import OAuthService

GOOGLE_TOKENS_SECRET = "google_tokens"


class UpstreamCredentials:
    def __init__(self, oauth: OAuthService, google_credentials: SecretStr | None) -> None:
        self._oauth = oauth
        self._google_credentials = google_credentials

    def http_auth(self, server: ServerConfig, username: str) -> httpx2.Auth | None:
        """For ``UpstreamPool(http_auth=...)``: the auth of a user's own HTTP session."""
        return OAuthBearerAuth(self._oauth, server, username) if oauth_enabled(server) else None

    def applies_to(self, server: ServerConfig) -> bool:
        return oauth_enabled(server) or is_google_server(server)

    async def prepare(
        self, server: ServerConfig, username: str, tool: str, arguments: dict[str, Any]
    ) -> dict[str, Any]:
        """The call's arguments with Google credentials added (never the raw secret); raises
        ReauthRequired when the user has no usable grant for an OAuth server."""
        if oauth_enabled(server):
            await self._oauth.authorization_headers(server, username)
        if is_google_server(server):
            arguments = dict(arguments)
            tokens = arguments.pop(GOOGLE_TOKENS_SECRET, None)
            gauth = self._google_credentials
            arguments.update(
                google_injection(
                    server,
                    tool,
                    google_tokens=tokens if isinstance(tokens, str) else None,
                    gauth_file_content=gauth.get_secret_value() if gauth else None,
                )
            )
        return arguments
