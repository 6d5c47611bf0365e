"""The OAuth client a user logs in to an external server with (mcp-api's
``POST /mcp/user/servers/:name/oauth-client/resolve``) and the sealing of an install's client
secret (encrypted with the keyring, AAD (username, server, ``install_client_secret``); mcp-api
stored it in plaintext and returned it).

Registration modes (the server's ``oauthTemplate.registrationMode``): ``manual`` uses the
client id and secret of the user's install; ``dcr`` and ``cimd`` are resolved by
:attr:`UserOAuthClients.registrar`, the one place the discovery/registration service plugs in
(None: those modes answer 400). Manual credentials on a dcr/cimd server are refused unless the
template sets ``manualClientCredentialsAllowed``, and are then used (mcp-api ignored them).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from mcp_gateway.crypto.keyring import Keyring
from mcp_gateway.domain.servers import ServerConfig, oauth_enabled
from mcp_gateway.domain.user_servers import CLIENT_SECRET_FIELD, UserServerInstall, is_external
from mcp_gateway.errors import InvalidRequest
from mcp_gateway.services.oauth.grants import ClientAuth
from mcp_gateway.services.oauth.registration import ResolvedClient
from mcp_gateway.storage.ports import UserInstallStore

# (server, username, mode, mcp-api's oauthProvisioningContext) -> the client, for the dcr and
# cimd modes (publicApiOrigin, redirectUri, clientMetadataUrl, clientName in the context).
ClientRegistrar = Callable[[ServerConfig, str, str, Mapping[str, Any]], Awaitable[ResolvedClient]]


def registration_mode(server: ServerConfig) -> str:
    template = server.metadata.oauth_template or {}
    return str(template.get("registrationMode") or "manual")


def manual_allowed(server: ServerConfig) -> bool:
    template = server.metadata.oauth_template or {}
    return registration_mode(server) == "manual" or (
        template.get("manualClientCredentialsAllowed") is True
    )


def check_manual_credentials(server: ServerConfig, given: bool) -> None:
    """Raise InvalidRequest when manual client credentials are given for a dcr/cimd server
    that does not accept them (mcp-api's rule and message)."""
    if given and oauth_enabled(server) and not manual_allowed(server):
        raise InvalidRequest(
            f"server {server.name!r} does not accept manual client credential overrides"
        )


class UserOAuthClients:
    def __init__(self, store: UserInstallStore, keyring: Keyring) -> None:
        self._store = store
        self._keyring = keyring
        # DCR and CIMD client resolution plug in here (the discovery service's one call).
        self.registrar: ClientRegistrar | None = None

    def seal(self, username: str, server: str, value: str) -> bytes | None:
        if not value:
            return None
        return self._keyring.encrypt_token(username, server, CLIENT_SECRET_FIELD, value)

    def secret(self, install: UserServerInstall) -> str | None:
        if install.client_secret is None:
            return None
        return self._keyring.decrypt_token(
            install.username, install.server, CLIENT_SECRET_FIELD, install.client_secret
        )

    async def resolve(
        self, server: ServerConfig, username: str, context: Mapping[str, Any] | None = None
    ) -> ResolvedClient:
        """The client for ``username``'s login to the external OAuth server ``server``. Raises
        InvalidRequest (not an external OAuth server, no manual client id, mode unavailable),
        and what the registrar raises."""
        if not is_external(server) or not oauth_enabled(server):
            raise InvalidRequest(f"server {server.name!r} is not an external OAuth server")
        install = await self._store.get_install(server.name, username)
        mode = registration_mode(server)
        own = install is not None and bool(install.client_id)
        if mode == "manual" or (own and manual_allowed(server)):
            if install is None or not install.client_id:
                raise InvalidRequest(f"Manual OAuth clientId is not configured for user {username}")
            secret = self.secret(install)
            method = "client_secret_post" if secret else "none"
            return ResolvedClient("manual", install.client_id, secret, method)
        if self.registrar is None:
            raise InvalidRequest(f"OAuth registration mode {mode!r} is not available")
        return await self.registrar(server, username, mode, context or {})

    async def login_scopes(self, server: ServerConfig, username: str) -> tuple[str, ...]:
        """The scopes ``username``'s install of the external ``server`` asks for (empty:
        the server's own)."""
        if not is_external(server):
            return ()
        install = await self._store.get_install(server.name, username)
        return install.scopes if install is not None else ()

    async def login_client(self, server: ServerConfig, username: str) -> ClientAuth | None:
        """For the gateway-driven login (``ExternalOAuthClients.installs``): the user's own
        client of an external server, when their install has one."""
        if not is_external(server):
            return None
        install = await self._store.get_install(server.name, username)
        if install is None or not install.client_id:
            return None
        secret = self.secret(install)
        return ClientAuth(install.client_id, secret, "client_secret_post" if secret else "none")
