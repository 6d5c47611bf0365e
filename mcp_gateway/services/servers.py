"""Server definitions: CRUD on the store, kept in step with the live upstream pool."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from mcp_types import Tool

from mcp_gateway.domain.names import validate_server_name
from mcp_gateway.domain.servers import ServerConfig, ServerStatus
from mcp_gateway.errors import InvalidRequest, ServerNotFound
from mcp_gateway.services.injection import check_secret_specs
from mcp_gateway.services.upstream_port import UpstreamPort
from mcp_gateway.storage.ports import OAuthTokenStore, SecretStore, ServerStore, SessionStore
from mcp_gateway.upstream.state import ServerState

log = logging.getLogger("mcp_gateway.servers")

# Definitions changed by another process sharing the store are seen after this many seconds.
CONFIG_TTL = 5.0
# Fields a partial update may change (the name is the identity and never changes).
UPDATABLE = frozenset(f.name for f in dataclasses.fields(ServerConfig)) - {"name"}


class ServersStore(ServerStore, SecretStore, OAuthTokenStore, SessionStore, Protocol):
    pass


@dataclass(frozen=True, slots=True)
class ServerView:
    """A definition with its live pool state (logs and last error masked by the pool: each
    session masks every secret it was given, for as long as it lives)."""

    config: ServerConfig
    state: ServerState


def validate_server(server: ServerConfig) -> ServerConfig:
    """Check a definition's cross-field rules. Raises InvalidRequest naming the problem."""
    validate_server_name(server.name)
    if server.is_http:
        parts = urlsplit(server.url or "")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidRequest(f"server {server.name!r}: an HTTP transport needs an http(s) url")
    elif not server.command:
        raise InvalidRequest(f"server {server.name!r}: the stdio transport needs a command")
    check_secret_specs(server)
    return server


class ServerService:
    """Every write goes to the store first, then to the pool (``apply`` restarts a server only
    when its connection settings changed). Definitions are also kept in memory for the tool-call
    hot path (:meth:`config`)."""

    def __init__(
        self,
        store: ServersStore,
        pool: UpstreamPort,
        *,
        cache_ttl: float = CONFIG_TTL,
    ) -> None:
        self._store = store
        self._pool = pool
        self._ttl = cache_ttl
        self._configs: dict[str, tuple[ServerConfig, float]] = {}  # name -> (config, expiry)

    def _remember(self, server: ServerConfig) -> None:
        self._configs[server.name] = (server, time.monotonic() + self._ttl)

    async def load_all(self) -> None:
        """Hand every stored definition to the pool (which starts them in the background)."""
        for server in await self._store.list_servers():
            self._remember(server)
            await self._pool.apply(server)

    async def config(self, name: str) -> ServerConfig:
        """The current definition of ``name``: from memory (kept current by every write made
        through this service, and re-read from the store after ``cache_ttl`` seconds in case
        another process changed it). Raises ServerNotFound."""
        hit = self._configs.get(name)
        if hit is not None and hit[1] > time.monotonic():
            return hit[0]
        server = await self._store.get_server(validate_server_name(name))
        if server is None:
            self._configs.pop(name, None)
            raise ServerNotFound(name)
        self._remember(server)
        return server

    # -- the live registry (PackageService drives servers through these) --------------------

    async def apply(self, server: ServerConfig) -> None:
        """Start/restart/stop ``server`` in the pool (its definition is already stored)."""
        self._remember(server)
        await self._pool.apply(server)

    async def remove(self, name: str) -> None:
        """Stop ``name`` in the pool and forget its definition (already deleted or never
        stored)."""
        self._configs.pop(name, None)
        await self._pool.remove(name)

    async def list_tools(self, server: ServerConfig, *, username: str) -> list[Tool]:
        return await self._pool.list_tools(server, username=username)

    def _view(self, server: ServerConfig, states: Mapping[str, ServerState]) -> ServerView:
        state = states.get(server.name)
        if state is None:
            status = ServerStatus.DISCONNECTED if server.enabled else ServerStatus.DISABLED
            state = ServerState(status=status)
        return ServerView(server, state)

    async def list(self) -> list[ServerView]:
        states = self._pool.statuses()
        return [self._view(s, states) for s in await self._store.list_servers()]

    async def get(self, name: str) -> ServerView:
        server = await self._store.get_server(validate_server_name(name))
        if server is None:
            raise ServerNotFound(name)
        return self._view(server, self._pool.statuses())

    async def create(self, server: ServerConfig) -> ServerView:
        """Store and start a new server. Raises InvalidRequest, ServerAlreadyExists."""
        validate_server(server)
        await self._store.create_server(server)
        await self.apply(server)
        return self._view(server, self._pool.statuses())

    async def update(self, name: str, changes: Mapping[str, Any]) -> ServerView:
        """Apply a partial update (snake_case field -> value). Raises InvalidRequest,
        ServerNotFound."""
        unknown = set(changes) - UPDATABLE
        if unknown:
            raise InvalidRequest(f"cannot update field(s): {', '.join(sorted(unknown))}")
        current = await self._store.get_server(validate_server_name(name))
        if current is None:
            raise ServerNotFound(name)
        server = validate_server(dataclasses.replace(current, **changes))
        if server != current:
            await self._store.update_server(server)
            await self.apply(server)
        return self._view(server, self._pool.statuses())

    async def set_enabled(self, name: str, enabled: bool) -> ServerView:
        return await self.update(name, {"enabled": enabled})

    async def delete(self, name: str) -> None:
        """Stop the server and remove its definition, every user's secrets, OAuth tokens and
        persisted sessions. Raises ServerNotFound."""
        if await self._store.get_server(validate_server_name(name)) is None:
            raise ServerNotFound(name)
        await self.remove(name)
        secrets = await self._store.delete_server_secrets(name)
        tokens = await self._store.delete_server_tokens(name)
        await self._store.delete_server_sessions(name)
        # The definition goes last: an interrupted delete can simply be retried.
        await self._store.delete_server(name)
        log.info("deleted server %s (%d secrets, %d token sets)", name, secrets, tokens)
