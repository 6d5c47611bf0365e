"""Servers of a user's own (mcp-api's ``/mcp/user/*``): the user's view of the catalogue, their
installs of external servers, their secrets for them, and the checks a tool call makes.

Rules (the faults of mcp-api it fixes are in docs/mcp-api-compat.md):

- An install is per (server, username) and only for external servers; ``enabled`` defaults to
  true. Its OAuth client secret is encrypted and never returned. How a POST/PUT body changes
  an install is :mod:`.user_installs`.
- Changing the OAuth client (id, secret or scopes) deletes that user's tokens and stored session
  and closes their live session; disabling an install closes the session; saving a secret does
  too (the next session carries it). Uninstalling removes the install, the user's tokens,
  session and secrets for that server.
- A tool call to an external server needs an enabled install (409 ``not_installed``); a missing
  OAuth grant is the usual 401 ``reauth_required`` with the login link.
- An external server's URL is checked by the SSRF guard at creation and refresh (a clean 400),
  and every connection of its sessions goes through the guard (:mod:`.user_server_auth`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx2

from mcp_gateway.crypto.keyring import Keyring
from mcp_gateway.domain.names import validate_username
from mcp_gateway.domain.oauth_template import parse_oauth_template
from mcp_gateway.domain.servers import (
    ServerConfig,
    oauth_enabled,
)
from mcp_gateway.domain.user_servers import (
    CONNECTED,
    NOT_REQUIRED,
    REAUTH_REQUIRED,
    UserServerInstall,
    declared_names,
    initial_auth_state,
    is_external,
)
from mcp_gateway.errors import (
    AuthNotConnected,
    Forbidden,
    InvalidRequest,
    NotInstalled,
    ReauthRequired,
    ServerNotFound,
)
from mcp_gateway.services.external_servers import (
    check_change,
    check_external_url,
    check_owner,
    check_owner_change,
    external_definition,
)
from mcp_gateway.services.oauth.registration import ResolvedClient
from mcp_gateway.services.oauth.service import OAuthService
from mcp_gateway.services.oauth.ssrf import SsrfGuard
from mcp_gateway.services.secrets import SecretService
from mcp_gateway.services.servers import ServerService, ServerView
from mcp_gateway.services.upstream_port import UpstreamPort
from mcp_gateway.services.user_installs import InstallInput, changed_install
from mcp_gateway.services.user_oauth_clients import (
    UserOAuthClients,
    check_manual_credentials,
)
from mcp_gateway.services.user_server_auth import session_auth
from mcp_gateway.storage.ports import OAuthTokenStore, SecretStore, SessionStore, UserInstallStore


class InstallsStore(UserInstallStore, SecretStore, OAuthTokenStore, SessionStore, Protocol):
    pass


@dataclass(frozen=True, slots=True)
class UserServerView:
    """What one user sees of one server."""

    config: ServerConfig
    username: str
    install: UserServerInstall | None
    auth_state: str
    configured_secret_names: tuple[str, ...] = field(repr=False)  # names, kept out anyway
    tools: tuple[dict[str, Any], ...] = field(repr=False)


class UserServerService:
    def __init__(
        self,
        store: InstallsStore,
        keyring: Keyring,
        servers: ServerService,
        secrets: SecretService,
        pool: UpstreamPort,
        oauth: OAuthService,
        guard: SsrfGuard,
    ) -> None:
        self._store = store
        self._servers = servers
        self._secrets = secrets
        self._pool = pool
        self._oauth = oauth
        self.guard = guard
        self.clients = UserOAuthClients(store, keyring)

    async def _server(self, name: str) -> ServerConfig:
        server = await self._servers.find(name)
        if server is None:
            raise ServerNotFound(name)
        return server

    async def _external(self, name: str) -> ServerConfig:
        server = await self._server(name)
        if not is_external(server):
            raise InvalidRequest(f"server {server.name!r} is not an external server")
        return server

    # -- views -----------------------------------------------------------------------------

    async def auth_state(self, server: ServerConfig, username: str) -> str:
        """mcp-api's authState, from the user's stored grant (the truth for every replica:
        a grant the authorization server refused is ``reauth_required`` there too)."""
        if not oauth_enabled(server):
            return NOT_REQUIRED
        return await self._oauth.auth_state(server, username)

    async def view(self, server: ServerConfig, username: str) -> UserServerView:
        install = (
            await self._store.get_install(server.name, username) if is_external(server) else None
        )
        names = await self._store.list_secret_names(username, server.name)
        if install is not None:
            tools = install.tools
        else:
            try:
                state = self._pool.status(server.name)
            except ServerNotFound:
                state = None
            shared = state.tools if state is not None and not is_external(server) else None
            tools = tuple(
                t.model_dump(by_alias=True, mode="json", exclude_none=True) for t in shared or ()
            )
        return UserServerView(
            server,
            username,
            install,
            await self.auth_state(server, username),
            tuple(names),
            tools,
        )

    async def list_views(self, username: str) -> list[UserServerView]:
        """Enabled platform servers and every external server (installed or not)."""
        username = validate_username(username)
        servers = await self._servers.list()
        return [
            await self.view(v.config, username)
            for v in servers
            if is_external(v.config) or v.config.enabled
        ]

    async def get_view(self, username: str, name: str) -> UserServerView:
        return await self.view(await self._server(name), validate_username(username))

    # -- the tool-call gate (ToolCallService.installs) -------------------------------------

    async def check_call(self, server: ServerConfig, username: str) -> None:
        """Raise NotInstalled unless ``username`` may call ``server`` (only external servers
        need an enabled install: one indexed read)."""
        if not is_external(server):
            return
        install = await self._store.get_install(server.name, username)
        if install is None or not install.enabled:
            raise NotInstalled(server.name, username, disabled=install is not None)

    async def visible(self, server: ServerConfig, username: str) -> bool:
        try:
            await self.check_call(server, username)
        except NotInstalled:
            return False
        return True

    # -- installs --------------------------------------------------------------------------

    async def get_install(self, username: str, name: str) -> UserServerInstall:
        server = await self._server(name)
        install = await self._store.get_install(server.name, validate_username(username))
        if install is None:
            raise NotInstalled(server.name, username)
        return install

    async def install(
        self, username: str, name: str, data: InstallInput, *, update: bool = False
    ) -> UserServerView:
        """Create (POST) or change (PUT: the install must exist) ``username``'s install."""
        username = validate_username(username)
        server = await self._external(name)
        check_manual_credentials(
            server, data.client_id is not None or data.client_secret is not None
        )
        current = await self._store.get_install(server.name, username)
        if update and current is None:
            raise NotInstalled(server.name, username)
        install, client_changed = changed_install(
            server, username, current, data, self.clients, now=time.time()
        )
        if client_changed:
            await self._store.delete_tokens(server.name, username)
            await self._store.delete_session(server.name, username)
        await self._store.put_install(install)
        if client_changed or (current is not None and current.enabled and not install.enabled):
            await self._pool.invalidate_user(server.name, username)
        return await self.view(server, username)

    async def uninstall(self, username: str, name: str) -> bool:
        """Remove the install and the user's tokens, session and secrets for an external
        server. Idempotent; a platform or unknown name is left alone (False)."""
        username = validate_username(username)
        server = await self._servers.find(name)
        if server is None or not is_external(server):
            return False
        removed = await self._store.delete_install(server.name, username)
        await self._purge_user(server.name, username)
        return removed

    async def _purge_user(self, server: str, username: str) -> None:
        await self._pool.invalidate_user(server, username)
        await self._store.delete_tokens(server, username)
        await self._store.delete_session(server, username)
        for secret in await self._store.list_secret_names(username, server):
            await self._store.delete_secret(username, server, secret)

    # -- secrets ---------------------------------------------------------------------------

    async def save_secrets(
        self, username: str, name: str, items: Sequence[tuple[str, str]]
    ) -> None:
        """Save declared secrets only (all checked before any is written)."""
        username = validate_username(username)
        server = await self._server(name)
        if is_external(server) and await self._store.get_install(server.name, username) is None:
            raise NotInstalled(server.name, username)
        declared = declared_names(server)
        for secret, value in items:
            if secret not in declared:
                raise InvalidRequest(
                    f"secret {secret!r} is not declared for server {server.name!r}"
                )
            if not value.strip():
                raise InvalidRequest(f"secret {secret!r} must be a non-empty string")
        for secret, value in items:
            await self._secrets.set(username, server.name, secret, value)  # closes the session

    # -- refresh ---------------------------------------------------------------------------

    async def refresh(self, username: str, name: str) -> UserServerView:
        """Connect as ``username`` (or reuse the session), list the tools, store them as this
        user's and update authState. Raises NotInstalled, BlockedDestination,
        ReauthRequired (authState becomes reauth_required), Upstream*."""
        username = validate_username(username)
        server = await self._server(name)
        if not is_external(server):
            return await self.view(server, username)
        install = await self._store.get_install(server.name, username)
        if install is None or not install.enabled:
            raise NotInstalled(server.name, username, disabled=install is not None)
        await self.check_url(server.url or "")
        running = await self._servers.config(server.name)
        try:
            tools = await self._pool.list_tools(running, username=username)
        except ReauthRequired as exc:
            await self._store.put_install(
                dataclasses.replace(
                    install,
                    auth_state=REAUTH_REQUIRED,
                    last_auth_error=exc.message[:500],
                    updated_at=time.time(),
                )
            )
            url = exc.authorization_url or await self._oauth.login.login_url(server, username)
            raise ReauthRequired(
                exc.message, url, server_name=server.name, username=username
            ) from None
        listed = tuple(t.model_dump(by_alias=True, mode="json", exclude_none=True) for t in tools)
        await self._store.put_install(
            dataclasses.replace(
                install,
                tools=listed,
                auth_state=CONNECTED if oauth_enabled(server) else NOT_REQUIRED,
                last_auth_error=None,
                updated_at=time.time(),
            )
        )
        return await self.view(server, username)

    async def server_tools(self, username: str, name: str) -> list[dict[str, Any]]:
        """mcp-api's ``GET /mcp/user/servers/:name/tools``: an external server's live list for
        this user (409 when not installed, disabled or not connected)."""
        username = validate_username(username)
        server = await self._server(name)
        if not is_external(server):
            return []  # the caller lists a platform server through ToolCallService
        install = await self._store.get_install(server.name, username)
        if install is None or not install.enabled:
            raise NotInstalled(server.name, username, disabled=install is not None)
        if oauth_enabled(server) and await self.auth_state(server, username) != CONNECTED:
            raise AuthNotConnected(server.name, username)
        return list((await self.refresh(username, name)).tools)

    # -- external servers ------------------------------------------------------------------

    async def check_url(self, url: str) -> None:
        await check_external_url(self.guard, url)

    async def create_external(self, username: str, config: ServerConfig) -> ServerView:
        """Register ``config`` as ``username``'s external server (see
        :func:`.external_servers.external_definition`) with the creator's URL secrets saved and
        their install created (enabled). Raises InvalidRequest, BlockedDestination,
        ServerAlreadyExists."""
        username = validate_username(username)
        config, values = external_definition(username, config)
        if oauth_enabled(config):  # refused now, not at the first login
            parse_oauth_template(config.metadata.oauth_template)
        await self.check_url(config.url or "")
        view = await self._servers.create(config)
        for secret, value in values.items():
            await self._secrets.set(username, config.name, secret, value)
        now = time.time()
        await self._store.put_install(
            UserServerInstall(
                config.name,
                username,
                auth_state=initial_auth_state(view.config),
                created_at=now,
                updated_at=now,
            )
        )
        return view

    async def check_owner(self, username: str, name: str) -> None:
        """Raise Forbidden unless ``username`` added the external server ``name`` (also when
        there is no such server: only admins get the idempotent answer for any name)."""
        server = await self._servers.find(name)
        if server is None:
            raise Forbidden(f"only an admin may change or delete server {name!r}")
        check_owner(server, validate_username(username))

    async def check_update(
        self, name: str, changes: Mapping[str, Any], owner: str | None = None
    ) -> None:
        """An update of an external server keeps its rules (:func:`check_change`); ``owner``
        (a non-admin key's username) must have added it and may change only
        :data:`OWNER_FIELDS` / :data:`OWNER_METADATA`. Raises Forbidden, InvalidRequest,
        BlockedDestination."""
        if owner is not None:
            await self.check_owner(owner, name)
            check_owner_change(changes)
        server = await self._servers.find(name)
        url = check_change(server, changes) if server is not None else None
        template = (changes.get("metadata") or {}).get("oauth_template")
        if server is not None and is_external(server) and template is not None:
            parse_oauth_template(template)
        if url is not None:
            await self.check_url(url)

    async def resolve_client(
        self, username: str, name: str, context: Mapping[str, Any] | None = None
    ) -> ResolvedClient:
        """mcp-api's ``oauth-client/resolve``; DCR/CIMD: ``clients.registrar``."""
        server = await self._server(name)
        return await self.clients.resolve(server, validate_username(username), context)

    # -- the pool's per-user HTTP sessions -------------------------------------------------

    def http_auth(
        self, server: ServerConfig, username: str, fallback: httpx2.Auth | None
    ) -> httpx2.Auth | None:
        """For ``UpstreamPool(http_auth=...)``: see :func:`.user_server_auth.session_auth`."""
        return session_auth(server, username, self._secrets, self.guard, fallback)
