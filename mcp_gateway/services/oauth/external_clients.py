"""External servers in the gateway-driven login: their ``oauthTemplate`` gives the
authorization server, and :class:`~.registration.ClientRegistry` the client.

An external server (``source: external``, ``authMode: oauth2``, an ``oauthTemplate``) needs no
discovery at login or refresh time: the template holds the endpoints. Its client comes from the
template's registration mode; ``manual`` reads the user's own client from their install
(:data:`InstallClient`, given by the per-user installs service), and so does any mode
whose template sets ``manualClientCredentialsAllowed`` when the user gave a client id (mcp-api
ignored those credentials: its fault 11).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from mcp_gateway.domain.oauth_template import (
    OAuthTemplate,
    is_external_oauth,
    parse_oauth_template,
)
from mcp_gateway.domain.servers import ServerConfig
from mcp_gateway.services.oauth.discovery import AuthServerMetadata
from mcp_gateway.services.oauth.grants import ClientAuth
from mcp_gateway.services.oauth.registration import ClientRegistry, ResolvedClient

# (server, username) -> the OAuth client the user configured on their install, if any.
InstallClient = Callable[[ServerConfig, str], Awaitable[ClientAuth | None]]
# (server, username) -> the scopes the user's install asks for (empty: the server's own).
InstallScopes = Callable[[ServerConfig, str], Awaitable[tuple[str, ...]]]


def template_of(server: ServerConfig) -> OAuthTemplate | None:
    """The checked template of an external OAuth server, None for any other server.
    Raises InvalidRequest when the stored template is not usable."""
    meta = server.metadata
    if not is_external_oauth(meta.source, meta.auth_mode, meta.oauth_template):
        return None
    return parse_oauth_template(meta.oauth_template)


def template_metadata(template: OAuthTemplate) -> AuthServerMetadata:
    return AuthServerMetadata(
        token_endpoint=template.token_endpoint,
        authorization_endpoint=template.authorization_endpoint,
        registration_endpoint=template.registration_endpoint,
        issuer=template.issuer,
        resource=template.resource_uri,
        auth_methods_supported=template.auth_methods,
        code_challenge_methods=template.code_challenge_methods,
    )


class ExternalOAuthClients:
    """Plugged into :class:`~.login.McpLogin`: the client and the extra authorization
    parameters of external servers. ``installs`` is set by the runtime once the per-user
    installs exist (until then manual mode has no client)."""

    def __init__(self, registry: ClientRegistry, installs: InstallClient | None = None) -> None:
        self.registry = registry
        self.installs = installs
        self.install_scopes: InstallScopes | None = None

    async def user_scopes(self, server: ServerConfig, username: str) -> tuple[str, ...]:
        """The scopes ``username``'s install asks for; empty when none (or no installs)."""
        if self.install_scopes is None or template_of(server) is None:
            return ()
        return await self.install_scopes(server, username)

    async def resolve(
        self,
        server: ServerConfig,
        username: str,
        redirect_uri: str,
        manual: ClientAuth | None = None,
    ) -> ResolvedClient | None:
        """The client for ``username``'s login to ``server``; None if not an external server.
        ``manual`` is the user's own client when the caller has it at hand (else it is read
        from :attr:`installs`). Raises what :meth:`ClientRegistry.resolve_client` raises."""
        template = template_of(server)
        if template is None:
            return None
        if manual is None and self.installs is not None:
            manual = await self.installs(server, username)
        mode = template.registration_mode
        if mode != "manual" and template.manual_client_credentials_allowed and manual:
            mode = "manual" if manual.client_id else mode
        return await self.registry.resolve_client(
            mode, template_metadata(template), redirect_uri, manual=manual
        )

    async def client_for(
        self, server: ServerConfig, username: str, redirect_uri: str
    ) -> ClientAuth | None:
        resolved = await self.resolve(server, username, redirect_uri)
        return resolved.auth if resolved is not None else None

    def login_extras(self, server: ServerConfig) -> tuple[tuple[str, ...], dict[str, str]]:
        """(scopes, extra authorization parameters) from the template; empty otherwise."""
        template = template_of(server)
        if template is None:
            return (), {}
        return template.scopes, dict(template.authorization_params)
